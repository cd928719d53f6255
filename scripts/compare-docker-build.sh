#!/bin/bash
# Builds the same Dockerfiles with lab and with Docker's classic builder and compares
# what matters: the image config (Cmd, Entrypoint, Env, WorkingDir, User, Labels,
# ExposedPorts, Volumes, StopSignal), the files each build added or changed relative to
# its busybox (path, type, mode, owner, size, content digest or link target; mtimes
# are left out) and what a run of the image prints.
#
# Cases: runtime/build/testdata/compare/*/ and examples/apache. Docker is optional: with
# none running (and ../shared/tools/docker-beside absent) the script says so and exits 0.
#
#   scripts/compare-docker-build.sh            # all cases
#   scripts/compare-docker-build.sh copy args  # some
#   LAB=bin/lab scripts/compare-docker-build.sh
set -euo pipefail
export LC_ALL=C
cd "$(dirname "$0")/.."
repo=$PWD

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

tmp=$(mktemp -d)
cleanup() {
	# Images first, then the lab state (nothing is mounted outside a running lab).
	docker rmi -f $(docker images -q --filter "label=lab.compare=1") >/dev/null 2>&1 || true
	for t in "${tags[@]:-}"; do docker rmi -f "$t" >/dev/null 2>&1 || true; done
	[ -n "${KEEP:-}" ] && echo "kept $tmp" || rm -rf "$tmp"
}
tags=()
trap cleanup EXIT

LAB=${LAB:-}
if [ -z "$LAB" ]; then
	go build -o "$tmp/lab" . && LAB=$tmp/lab
fi
export LAB_ROOT=$tmp/lab-root
"$LAB" bootstrap busybox >/dev/null

# What a build added or changed: every path outside the runtime's own mounts, with
# type, mode, owner, size and a digest of the content (or the link target).
list='find / -xdev \( -path /proc -o -path /sys -o -path /dev \) -prune -o -print | sort |
while IFS= read -r f; do
	case "$f" in /etc/hostname|/etc/hosts|/etc/resolv.conf|/etc/mtab|/.dockerenv) continue;; esac
	s=$(stat -c "%F %a %u:%g" "$f")
	case "$s" in
	"regular file"*) echo "$f $s $(stat -c %s "$f") $(md5sum < "$f" | cut -c1-32)";;
	"symbolic link"*) echo "$f $s -> $(readlink "$f")";;
	*) echo "$f $s";;
	esac
done'
labfs() { "$LAB" run --rm --entrypoint /bin/sh -u 0 "$1" -c "$list"; }
dockerfs() { docker run --rm --network none --entrypoint /bin/sh -u 0 "$1" -c "$list"; }
labfs busybox | sort >"$tmp/lab-base.fs"
dockerfs busybox | sort >"$tmp/docker-base.fs"

config='import json, sys
c = json.load(sys.stdin)[0]["Config"]
keys = ["Cmd", "Entrypoint", "Env", "WorkingDir", "User", "Labels", "ExposedPorts", "Volumes", "StopSignal"]
print(json.dumps({k: (c.get(k) or None) for k in keys}, indent=1, sort_keys=True))'

cases=()
if [ $# -gt 0 ]; then
	for c in "$@"; do
		if [ "$c" = apache ]; then cases+=(examples/apache); else cases+=("runtime/build/testdata/compare/$c"); fi
	done
else
	for d in runtime/build/testdata/compare/*/; do cases+=("${d%/}"); done
	cases+=(examples/apache)
fi

failed=0
for c in "${cases[@]}"; do
	name=$(basename "$c")
	ctx=$tmp/ctx-$name
	cp -a "$c" "$ctx"
	[ -f "$ctx/prepare.sh" ] && (cd "$ctx" && sh ./prepare.sh)
	args=()
	if [ -f "$ctx/build-args" ]; then
		while IFS= read -r kv; do [ -n "$kv" ] && args+=(--build-arg "$kv"); done <"$ctx/build-args"
	fi
	run=()
	[ -f "$ctx/run" ] && run=(/bin/sh -c "$(cat "$ctx/run")")
	[ "$name" = apache ] && run=(/bin/sh -c 'httpd -p 8080 -h /www; sleep 0.3; wget -qO- http://127.0.0.1:8080/')
	tag=lab-compare-$name:latest
	tags+=("$tag")
	d=$tmp/out-$name
	mkdir -p "$d"
	if ! "$LAB" build -q -t "$tag" "${args[@]}" "$ctx" >"$d/lab.build" 2>&1; then
		echo "FAIL $name: lab build failed"; cat "$d/lab.build"; failed=1; continue
	fi
	if ! docker build -q --force-rm --network none -t "$tag" "${args[@]}" "$ctx" >"$d/docker.build" 2>&1; then
		echo "FAIL $name: docker build failed"; cat "$d/docker.build"; failed=1; continue
	fi
	"$LAB" inspect "$tag" | python3 -c "$config" >"$d/lab.config"
	docker image inspect "$tag" | python3 -c "$config" >"$d/docker.config"
	labfs "$tag" | sort | comm -13 "$tmp/lab-base.fs" - >"$d/lab.fs" || true
	# Docker mounts an anonymous volume on each VOLUME path when it runs the image,
	# creating the directory; that is the runtime's doing, not the build's.
	vols=$(python3 -c 'import json,sys; print("\n".join(json.load(sys.stdin).get("Volumes") or {}))' <"$d/docker.config")
	dockerfs "$tag" | sort | comm -13 "$tmp/docker-base.fs" - | grep -vxF -f <(for v in $vols; do echo "$v directory 755 0:0"; done; echo '#none') >"$d/docker.fs" || true
	"$LAB" run --rm "$tag" "${run[@]}" >"$d/lab.run" 2>&1 || true
	docker run --rm --network none "$tag" "${run[@]}" >"$d/docker.run" 2>&1 || true
	ok=1
	for what in config fs run; do
		if ! diff -u --label "docker $what" --label "lab $what" "$d/docker.$what" "$d/lab.$what" >"$d/$what.diff"; then
			ok=0
		fi
	done
	if [ $ok = 1 ]; then
		echo "ok   $name ($(wc -l <"$d/lab.fs") paths, same config, same run output)"
	else
		echo "FAIL $name"
		cat "$d"/*.diff
		failed=1
	fi
done
exit $failed
