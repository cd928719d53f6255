#!/bin/bash
# The classic Docker tutorial, typed into lab's CLI: an image is read-only, every run is
# a fresh container, a container keeps its state until removed, and commit makes it an image.
# Run by `make demo`; LAB (the binary) and LAB_ROOT (the state directory) may be set.
set -euo pipefail
LAB=${LAB:-lab}
say() { printf '\n\033[1m# %s\033[0m\n' "$*"; }
show() { printf '$ lab %s\n' "$*"; "$LAB" "$@"; }

say "Run a container from busybox; it writes a file, then exits."
show run --name tutorial-first busybox /bin/sh -c "echo 'This is a really important file!!!!' > foo"

say "Run the image again: a fresh container from the same image, so foo is not there."
show run --name tutorial-second busybox /bin/cat foo || echo "(exit $?: as on Docker)"

say "Both containers still exist, exited, each with its own state."
show ps -a

say "The latest container only:"
show ps -l

say "What the first container changed relative to its image:"
show diff tutorial-first

say "Commit that container: its changes become a new image."
show commit tutorial-first ubuntu-foo

say "A container of the new image has the file."
show run --rm ubuntu-foo /bin/cat foo

show images
show history ubuntu-foo

say "A stopped container can be started again, on its own filesystem."
show start -a tutorial-first
show run --rm ubuntu-foo ls -l foo

say "Clean up."
show rm tutorial-first tutorial-second
show rmi ubuntu-foo
