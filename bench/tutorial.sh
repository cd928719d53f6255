#!/bin/bash
# bench/tutorial.sh CLI: the seed tutorial's steps through a Docker-style CLI, `docker`
# or `bin/lab` (the same commands work on both), for bench/run.sh to time.
set -euo pipefail
d=${1:?usage: bench/tutorial.sh CLI}
$d run --network none --name bench-first busybox /bin/sh -c "echo 'This is a really important file!!!!' > foo"
$d run --network none --name bench-second busybox /bin/cat foo 2>/dev/null || true
$d ps -a
$d ps -l
$d diff bench-first
$d commit bench-first bench-foo >/dev/null
$d run --network none --rm bench-foo /bin/cat foo
$d images
$d history bench-foo
$d start -a bench-first
$d run --network none --rm bench-foo ls -l foo
$d rm bench-first bench-second >/dev/null
$d rmi bench-foo >/dev/null
