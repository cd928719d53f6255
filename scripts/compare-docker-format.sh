#!/bin/bash
# Runs the same --format templates and --filter combinations against lab and Docker on
# the same small scene (two exited busybox containers, one tagged image) and diffs the
# outputs and exit codes. Only what both can print identically is compared: names,
# states, commands, template helpers, inspect fields; IDs and times differ by nature.
#
# Docker is optional: with none running (and ../shared/tools/docker-beside absent) the
# script says so and exits 0.
#
#   LAB=bin/lab scripts/compare-docker-format.sh
set -uo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
repo=$PWD
LAB=${LAB:-$repo/bin/lab}

if ! docker version >/dev/null 2>&1; then
	beside=$repo/../shared/tools/docker-beside
	[ -x "$beside" ] || beside=/work/shared/tools/docker-beside
	if [ -x "$beside" ] && out=$("$beside" 2>/dev/null); then
		eval "$out"
	fi
fi
if ! docker version >/dev/null 2>&1; then
	echo "skip: no Docker engine to compare with (start one, or see ../shared/tools/docker-beside)"
	exit 0
fi
if ! docker image inspect busybox >/dev/null 2>&1; then
	echo "skip: Docker has no busybox image (docker-beside loads one)"
	exit 0
fi

export LAB_ROOT
LAB_ROOT=$(mktemp -d /tmp/lab-compare-format-XXXXXX)
cleanup() {
	docker rm -f cmpfmt-ok cmpfmt-bad >/dev/null 2>&1
	docker rmi cmpfmt-tools:2 >/dev/null 2>&1
	rm -rf "$LAB_ROOT"
}
trap cleanup EXIT
cleanup
mkdir -p "$LAB_ROOT"

"$LAB" bootstrap busybox >/dev/null || exit 1
for tool in docker "$LAB"; do
	net=()
	[ "$tool" = docker ] && net=(--network none)
	"$tool" run "${net[@]}" --name cmpfmt-ok busybox echo hi >/dev/null
	"$tool" run "${net[@]}" --name cmpfmt-bad busybox sh -c 'exit 3' >/dev/null
	"$tool" tag busybox cmpfmt-tools:2
done

fail=0
check() {
	local d l dc lc
	d=$(docker "$@" 2>/dev/null); dc=$?
	l=$("$LAB" "$@" 2>/dev/null); lc=$?
	if [ "$d" = "$l" ] && [ "$dc" = "$lc" ]; then
		echo "same   $*"
		[ -n "${VERBOSE:-}" ] && printf '  %s (exit %s)\n' "$d" "$dc"
	else
		echo "DIFF   $*"
		echo "  docker (exit $dc): $(printf '%q' "$d")"
		echo "  lab    (exit $lc): $(printf '%q' "$l")"
		fail=1
	fi
}
check ps -a -f name=cmpfmt --format '{{.Names}}_{{.State}}_{{.Command}}'
check ps -a -f name=cmpfmt --format 'table {{.Names}}\t{{.State}}\t{{upper .Command}}'
check ps -a -f name=cmpfmt -f exited=3 --format '{{.Names}}'
check ps -f name=cmpfmt -f status=exited --format '{{.Names}}'
check ps -a -f name=cmpfmt-ok -f name=cmpfmt-bad -f status=exited --format '{{.Names}}'
check ps -a -f name=cmpfmt-ok -f status=running --format '{{.Names}}'
check ps -a -f name=cmpfmt -f ancestor=busybox --format '{{.Names}}'
check ps -a -f name=cmpfmt --format '{{.Label "x"}}|{{.Networks}}|{{.Mounts}}|{{.Ports}}|{{.LocalVolumes}}'
check ps -a -f name=cmpfmt --format '{{join (split .Names "-") "+"}}_{{title .State}}_{{pad .State 1 1}}|{{truncate .Names 4}}|{{lower "AB"}}'
check images -f reference='cmpfmt*' --format '{{.Repository}}:{{.Tag}}_{{.Digest}}_{{.Containers}}'
check images -f reference='cmpfmt-tools:*' --format 'table {{.Repository}}\t{{.Tag}}'
check images -f dangling=true -f reference='cmpfmt*' -q
check inspect -f '{{.State.ExitCode}}_{{.Name}}_{{json .Config.Cmd}}_{{range .Config.Cmd}}<{{.}}>{{end}}_{{index .Config.Cmd 0}}' cmpfmt-bad
check inspect --format '{{.State.Status}}_{{.Config.Tty}}_{{len .Args}}' cmpfmt-ok
check ps -f bogus=1
check ps -f status=nope
check ps -a --format '{{.Nope'
check images -f dangling=maybe
check start cmpfmt-nope
check rmi -f cmpfmt-nope
check ps extra
exit $fail
