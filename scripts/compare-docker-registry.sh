#!/bin/bash
# Moves images between lab and Docker through archives and a registry, and checks that
# each side runs what the other made: `docker save | lab load`, `lab save | docker
# load`, and both pulling the same image from a docker-registry on 127.0.0.1 (same
# manifest digest, same image ID, same output). Docker is optional: with none running
# (and ../shared/tools/docker-beside absent) the script says so and exits 0.
#
#   LAB=bin/lab scripts/compare-docker-registry.sh
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
if ! command -v docker-registry >/dev/null; then
	echo "skip: docker-registry is not installed (make deps installs it)"
	exit 0
fi

tmp=$(mktemp -d)
reg_pid=
cleanup() {
	[ -z "$reg_pid" ] || kill "$reg_pid" 2>/dev/null || true
	docker rmi -f lab-compare/from-lab:1 "${REG:-none}/compare/busybox:1" >/dev/null 2>&1 || true
	rm -rf "$tmp"
}
trap cleanup EXIT

LAB=${LAB:-}
if [ -z "$LAB" ]; then
	go build -o "$tmp/lab" . && LAB=$tmp/lab
fi
export LAB_ROOT=$tmp/lab-root
"$LAB" bootstrap busybox >/dev/null
fails=0
check() { # name want got
	if [ "$2" = "$3" ]; then
		echo "ok    $1"
	else
		echo "FAIL  $1: want [$2], got [$3]"
		fails=$((fails + 1))
	fi
}

# 1. lab save | docker load: Docker runs lab's image.
"$LAB" tag busybox lab-compare/from-lab:1
"$LAB" save lab-compare/from-lab:1 | docker load >/dev/null
check "lab save | docker load | docker run" "from lab" "$(docker run --rm --network none lab-compare/from-lab:1 echo from lab)"
check "image ID kept by docker load" "$("$LAB" images -q --no-trunc lab-compare/from-lab:1)" "$(docker image inspect -f '{{.Id}}' lab-compare/from-lab:1)"

# 2. docker save | lab load: lab runs Docker's image.
docker save lab-compare/from-lab:1 >"$tmp/docker.tar"
LAB_ROOT=$tmp/lab-load "$LAB" load -i "$tmp/docker.tar" >/dev/null
check "docker save | lab load | lab run" "from docker" "$(LAB_ROOT=$tmp/lab-load "$LAB" run --rm lab-compare/from-lab:1 echo from docker)"
check "image ID kept by lab load" "$(docker image inspect -f '{{.Id}}' lab-compare/from-lab:1)" "$(LAB_ROOT=$tmp/lab-load "$LAB" images -q --no-trunc lab-compare/from-lab:1)"

# 3. Both pull what lab pushed to the same registry.
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
REG=127.0.0.1:$port
printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$tmp/registry" "$REG" >"$tmp/registry.yml"
docker-registry serve "$tmp/registry.yml" >"$tmp/registry.log" 2>&1 &
reg_pid=$!
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done
"$LAB" tag busybox "$REG/compare/busybox:1"
pushed=$("$LAB" push "$REG/compare/busybox:1" | sed -n 's/.*digest: \(sha256:[0-9a-f]*\).*/\1/p')
docker pull -q "$REG/compare/busybox:1" >/dev/null
LAB_ROOT=$tmp/lab-pull "$LAB" pull -q "$REG/compare/busybox:1" >/dev/null
check "docker pull: RepoDigest is lab's push" "$REG/compare/busybox@$pushed" "$(docker image inspect -f '{{index .RepoDigests 0}}' "$REG/compare/busybox:1")"
check "lab pull: same digest" "$pushed" "$(LAB_ROOT=$tmp/lab-pull "$LAB" images --format json | jq -r .Digest)"
check "same image ID on both" "$(docker image inspect -f '{{.Id}}' "$REG/compare/busybox:1")" "$(LAB_ROOT=$tmp/lab-pull "$LAB" images -q --no-trunc)"
check "both run it alike" "$(docker run --rm --network none "$REG/compare/busybox:1" sh -c 'echo $PATH; ls /bin | wc -l')" \
	"$(LAB_ROOT=$tmp/lab-pull "$LAB" run --rm "$REG/compare/busybox:1" sh -c 'echo $PATH; ls /bin | wc -l')"

echo
if [ "$fails" -gt 0 ]; then
	echo "$fails difference(s)"
	exit 1
fi
echo "lab and Docker agree"
