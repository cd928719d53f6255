#!/bin/bash
# bench/run.sh: lab's benchmarks in one run (`make bench`). It prints medians and the
# ratios between them, measured side by side in this one run, and writes the same table
# to bench/results.md with the machine and the date. Nothing here passes or fails on a
# time: a shared machine's numbers move, the ratios within one run much less.
#
# Whole commands are timed with hyperfine; in-process work (engine.Run, commit, import)
# with Go benchmarks in runtime/engine. Docker and podman rows are skipped, with a note,
# when they are not available.
#
# Environment: RUNS (hyperfine runs per command, default 30, spread over ROUNDS=3
# interleaved rounds), N (lab.run calls in the Lua loop, default 1000), BENCH_DOCKER=0
# to leave Docker and podman out, BENCH_PULL=0 to skip the registry pull rows, BENCH_DIR (scratch space, default a new directory
# under /var/tmp: a disk, not tmpfs, so store numbers are real), BENCH_GO=0 to skip
# the Go benchmarks.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH=/usr/local/go/bin:$PATH
GO=${GO:-go}
RUNS=${RUNS:-30}
N=${N:-1000}
OUT=bench/results.md

log() { printf '\033[1m== %s\033[0m\n' "$*" >&2; }

# --- tools -------------------------------------------------------------------------
need() { # command package
	command -v "$1" >/dev/null && return
	log "installing $2"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null
}
need hyperfine hyperfine
need jq jq
need unshare util-linux
[ -x /usr/bin/time ] || need /usr/bin/time time
if ! dpkg -s busybox-static >/dev/null 2>&1; then
	log "installing busybox-static"
	apt-get update -qq >/dev/null
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq busybox-static >/dev/null
fi

# bin/lab (lean), bin/lab-full beside it for the Lua side, bin/lab-init: as shipped.
log "building bin/lab, bin/lab-full, bin/lab-init"
make -s build
LAB=$PWD/bin/lab

WORK=${BENCH_DIR:-$(mktemp -d /var/tmp/lab-bench.XXXXXX)}
mkdir -p "$WORK"
cleanup_docker() {
	docker rm -f bench-first bench-second >/dev/null 2>&1 || true
	docker rmi -f bench-foo bench-imported >/dev/null 2>&1 || true
}
cleanup() {
	[ -z "${DOCKER_OK:-}" ] || cleanup_docker
	[ -n "${BENCH_DIR:-}" ] || rm -rf "$WORK"
}
trap cleanup EXIT
export LAB_ROOT=$WORK/store
"$LAB" bootstrap busybox >/dev/null

# The floor runs chroot on the same busybox tree lab's containers see.
ROOTFS=$WORK/rootfs
mkdir -p "$ROOTFS"
"$LAB" create --name bench-export busybox >/dev/null
"$LAB" export bench-export | tar -x -C "$ROOTFS"
"$LAB" rm bench-export >/dev/null

# --- Docker and podman, when present -----------------------------------------------
DOCKER_OK= PODMAN_OK= NOTES=()
if [ "${BENCH_DOCKER:-1}" != 0 ]; then
	# ../shared from the main checkout, ../../shared from a worktree under wt/.
	beside=$(cd .. && pwd)/shared/tools/docker-beside
	[ -x "$beside" ] || beside=$(cd ../.. && pwd)/shared/tools/docker-beside
	if ! docker version >/dev/null 2>&1 && [ -x "$beside" ]; then
		log "starting Docker beside lab ($beside)"
		eval "$("$beside")" || true
	fi
	if docker version >/dev/null 2>&1; then
		if ! docker image inspect busybox >/dev/null 2>&1; then
			tar -C "$ROOTFS" -cf - . | docker import -c 'CMD ["sh"]' - busybox >/dev/null
		fi
		DOCKER_OK=1
	else
		NOTES+=("Docker rows skipped: no working \`docker\` (set DOCKER_HOST, or install docker.io).")
	fi
	if command -v podman >/dev/null; then
		if ! podman image exists busybox 2>/dev/null; then
			tar -C "$ROOTFS" -cf - . | podman import -c 'CMD ["sh"]' - busybox >/dev/null 2>&1 || true
		fi
		# Root without CAP_SYS_RESOURCE (as here) cannot have podman raise its default
		# rlimits; fixed limits below the hard ones work everywhere.
		PODMAN="podman run --rm --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
		if $PODMAN busybox /bin/true >/dev/null 2>&1; then
			PODMAN_OK=1
		else
			NOTES+=("podman row skipped: \`podman run\` does not work here.")
		fi
	else
		NOTES+=("podman row skipped: podman is not installed (apt-get install podman).")
	fi
else
	NOTES+=("Docker and podman rows skipped: BENCH_DOCKER=0.")
fi

# --- helpers -----------------------------------------------------------------------
# Commands compared with each other are timed in ROUNDS interleaved rounds (A B C, A B
# C, ...) and each one's median is taken over all its runs, so that a change of load
# on a shared machine falls on every command alike instead of on whichever ran last.
#
# job NAME CMD [hyperfine options...]: add a command to the next `timeall`.
# timeall [RUNS]: time the jobs added so far; their medians (seconds) land in M[NAME].
ROUNDS=${ROUNDS:-3}
declare -A M
JOBS=()
job() {
	local name=$1
	shift
	JOBS+=("$name")
	declare -ga "JOB_$name"
	local -n args=JOB_$name
	args=("$@")
	: >"$WORK/times.$name"
}
timeall() {
	local runs=${1:-$RUNS} per r name
	per=$(((runs + ROUNDS - 1) / ROUNDS))
	for r in $(seq "$ROUNDS"); do
		for name in "${JOBS[@]}"; do
			local -n args=JOB_$name
			log "round $r/$ROUNDS: ${args[0]}"
			hyperfine -N --warmup 2 --runs "$per" --export-json "$WORK/hf.json" "${args[@]:1}" "${args[0]}" >/dev/null
			jq -r '.results[0].times[]' "$WORK/hf.json" >>"$WORK/times.$name"
		done
	done
	for name in "${JOBS[@]}"; do
		M[$name]=$(sort -g "$WORK/times.$name" | awk '{ t[NR] = $1 } END { print (NR % 2 ? t[(NR + 1) / 2] : (t[NR / 2] + t[NR / 2 + 1]) / 2) }')
	done
	JOBS=()
}
ms() { awk -v s="$1" 'BEGIN { printf "%.2f ms", s * 1000 }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
mbps() { awk -v bytes="$1" -v s="$2" 'BEGIN { printf "%.0f MB/s", bytes / 1048576 / s }'; }

ROWS=()
row() { ROWS+=("| $1 | $2 | $3 | $4 | $5 |"); }

# --- 1. one container --------------------------------------------------------------
job lab "$LAB run --rm busybox /bin/true"
job floor "unshare --mount --pid --uts --ipc --net --fork chroot $ROOTFS /bin/true"
# What the seccomp filter costs a start: the same run without it.
job lab_unconfined "$LAB run --rm --security-opt seccomp=unconfined busybox /bin/true"
if [ "$($GO env CGO_ENABLED)" = 1 ]; then
	# bin/lab links the C library (os/user, net): show what a static build would give.
	CGO_ENABLED=0 $GO build -o "$WORK/lab-static" .
	job lab_static "$WORK/lab-static run --rm busybox /bin/true"
fi
# The same start through the whole lab (bin/lab-full) re-executed as the init: what
# the lean binary and lab-init save.
mkdir -p "$WORK/full"
cp bin/lab-full "$WORK/full/lab"
job lab_full "$WORK/full/lab run --rm busybox /bin/true"
[ -z "$DOCKER_OK" ] || job docker "docker run --rm --network none busybox /bin/true"
[ -z "$PODMAN_OK" ] || job podman "$PODMAN busybox /bin/true"
timeall
row '`lab run --rm busybox /bin/true`' "$(ms "${M[lab]}")" "floor \`unshare -mpuin --fork chroot\`: $(ms "${M[floor]}")" "lab/floor $(ratio "${M[lab]}" "${M[floor]}")" '≤ 2'
row '' '' "same, \`--security-opt seccomp=unconfined\` (no filter): $(ms "${M[lab_unconfined]}")" "default/unconfined $(ratio "${M[lab]}" "${M[lab_unconfined]}")" ''
if [ -n "${M[lab_static]:-}" ]; then
	row '' '' "same, lab built with CGO_ENABLED=0: $(ms "${M[lab_static]}")" "static/floor $(ratio "${M[lab_static]}" "${M[floor]}")" ''
fi
row '' '' "same with the full lab as CLI and init (no lean build, no lab-init): $(ms "${M[lab_full]}")" "full/floor $(ratio "${M[lab_full]}" "${M[floor]}")" ''
if [ -n "$DOCKER_OK" ]; then
	row '' '' "\`docker run --rm --network none\`: $(ms "${M[docker]}")" "docker/lab $(ratio "${M[docker]}" "${M[lab]}")" '≥ 30'
fi
if [ -n "$PODMAN_OK" ]; then
	row '' '' "\`podman run --rm --network none\`: $(ms "${M[podman]}")" "podman/lab $(ratio "${M[podman]}" "${M[lab]}")" ''
fi

# --- 1b. scaling: the same verbs on stores of 1 and 200 images, 0, 100 and 1000 containers
log "populating stores for the scaling table"
declare -A STORE
for spec in 1:0 1:100 1:1000 200:0 200:1000; do
	imgs=${spec%:*} ctrs=${spec#*:}
	st=$WORK/scale-$imgs-$ctrs
	if [ "$imgs" = 200 ] && [ -d "$WORK/scale-200-0" ]; then
		cp -a "$WORK/scale-200-0" "$st"
		LAB_ROOT=$st "$LAB" bench/populate.lua 1 "$ctrs"
	else
		LAB_ROOT=$st "$LAB" bootstrap busybox >/dev/null
		LAB_ROOT=$st "$LAB" bench/populate.lua "$imgs" "$ctrs"
	fi
	STORE[$spec]=$st
done
SCALE_SPECS=(1:0 1:100 1:1000 200:0 200:1000)
for verb in run ps psa images; do
	case $verb in
	run) args="run --rm busybox /bin/true" ;;
	ps) args="ps" ;;
	psa) args="ps -a" ;;
	images) args="images" ;;
	esac
	for spec in "${SCALE_SPECS[@]}"; do
		job "sc_${verb}_${spec/:/_}" "env LAB_ROOT=${STORE[$spec]} $LAB $args" --output=null
	done
done
timeall
SCALE=("| \`lab …\` on a store of | $(for spec in "${SCALE_SPECS[@]}"; do printf '%s img, %s ctr | ' "${spec%:*}" "${spec#*:}"; done) 200 img, 1000 ctr ÷ 1 img, 0 ctr | target |"
	"|---|$(for _ in "${SCALE_SPECS[@]}"; do printf -- '---|'; done)---|---|")
for verb in run ps psa images; do
	case $verb in
	run) label='`run --rm busybox /bin/true`' target='≤ 1.10' ;;
	ps) label='`ps` (running only)' target='flat' ;;
	psa) label='`ps -a`' target='≤ 15 ms at 1000' ;;
	images) label='`images`' target='≤ 10 ms at 200' ;;
	esac
	line="| $label |"
	for spec in "${SCALE_SPECS[@]}"; do
		line="$line $(ms "${M[sc_${verb}_${spec/:/_}]}") |"
	done
	line="$line $(ratio "${M[sc_${verb}_200_1000]}" "${M[sc_${verb}_1_0]}") | $target |"
	SCALE+=("$line")
done

# --- 2. N runs in one Lua script ---------------------------------------------------
log "bin/lab bench/runs.lua $N"
coproc RUNSLUA { exec "$LAB" bench/runs.lua "$N" 2>&1; }
pid=$RUNSLUA_PID
rss() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$pid/status" 2>/dev/null || echo 0; }
rss_start= rss_end= hwm= result=
while IFS= read -r line <&"${RUNSLUA[0]}"; do
	case $line in
	"mark start") rss_start=$(rss VmRSS) ;;
	"mark end") rss_end=$(rss VmRSS) hwm=$(rss VmHWM) ;;
	result*) result=$line ;;
	*) echo "runs.lua: $line" >&2 ;;
	esac
done
wait "$pid"
val() { sed -n "s/.* $1=\([^ ]*\).*/\1/p" <<<"$result"; }
total=$(val total_s)
row "$N × \`lab.run\` of /bin/true in one Lua script" "total $(awk -v t="$total" 'BEGIN { printf "%.2f s", t }'), median $(val median_ms) ms (p90 $(val p90_ms) ms)" "" "" '≤ 5 s'
row "RSS of that lab process" "start $((rss_start / 1024)) MiB, end $((rss_end / 1024)) MiB, peak $((hwm / 1024)) MiB" "" "growth $(awk -v a="$rss_start" -v b="$rss_end" 'BEGIN { printf "%.1f MiB", (b - a) / 1024 }')" '≤ 5 MiB'

# --- 3. the tutorial ---------------------------------------------------------------
# A run interrupted earlier may have left the tutorial's names behind on Docker.
[ -z "$DOCKER_OK" ] || cleanup_docker
job tut_lua "$LAB bench/tutorial.lua" --output=null
job tut_cli "bash bench/tutorial.sh $LAB" --output=null
[ -z "$DOCKER_OK" ] || job tut_docker "bash bench/tutorial.sh docker" --output=null
timeall
row 'seed tutorial as a Lua script (`bench/tutorial.lua`)' "$(ms "${M[tut_lua]}")" "same steps, lab CLI: $(ms "${M[tut_cli]}")" "cli/lua $(ratio "${M[tut_cli]}" "${M[tut_lua]}")" ''
if [ -n "$DOCKER_OK" ]; then
	row '' '' "same steps, Docker CLI: $(ms "${M[tut_docker]}")" "docker/lua $(ratio "${M[tut_docker]}" "${M[tut_lua]}")" '≥ 20'
fi
peak=$(/usr/bin/time -f %M "$LAB" bench/tutorial.lua 2>&1 >/dev/null | tail -1)
row 'peak RSS of `lab bench/tutorial.lua`' "$((peak / 1024)) MiB" '' '' ''

# --- 4. import ---------------------------------------------------------------------
log "making a 100 MB rootfs tar"
IMP=$WORK/imp
rm -rf "$IMP"
cp -a "$ROOTFS" "$IMP"
mkdir -p "$IMP/data"
for i in $(seq 100); do head -c 1048576 /dev/urandom >"$IMP/data/f$i"; done
tar -C "$IMP" -cf "$WORK/rootfs.tar" .
rm -rf "$IMP"
size=$(stat -c %s "$WORK/rootfs.tar")
job import "$LAB import $WORK/rootfs.tar bench-imported" --prepare "bash -c '$LAB rmi bench-imported >/dev/null 2>&1 || true'"
[ -z "$DOCKER_OK" ] || job docker_import "docker import $WORK/rootfs.tar bench-imported" --prepare "bash -c 'docker rmi -f bench-imported >/dev/null 2>&1 || true'"
timeall 12
"$LAB" rmi bench-imported >/dev/null
imp_row="$(mbps "$size" "${M[import]}") ($(ms "${M[import]}") for $((size / 1048576)) MB)"
imp_cmp=""
imp_ratio=""
if [ -n "$DOCKER_OK" ]; then
	imp_cmp="\`docker import\`: $(mbps "$size" "${M[docker_import]}")"
	imp_ratio="docker/lab $(ratio "${M[docker_import]}" "${M[import]}")"
fi
row '`lab import` of a 100 MB rootfs tar' "$imp_row" "$imp_cmp" "$imp_ratio" ''

# --- 5. pull of a ~200 MB image from a registry on loopback -----------------------
# Debian's docker-registry on 127.0.0.1 serves one image of two gzip layers (~200 MB
# unpacked, ~150 MB compressed); lab pull, docker pull and skopeo copy fetch it from
# the same registry, each into an empty store every run. skopeo only copies blobs
# (no unpacking), lab and Docker verify, decompress and unpack.
if [ "${BENCH_PULL:-1}" != 0 ]; then
	need docker-registry docker-registry
	need skopeo skopeo
	REG_PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	REG=127.0.0.1:$REG_PORT
	mkdir -p "$WORK/registry"
	printf 'version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: %s\n' "$WORK/registry/data" "$REG" >"$WORK/registry/config.yml"
	docker-registry serve "$WORK/registry/config.yml" >"$WORK/registry/log" 2>&1 &
	REG_PID=$!
	trap 'kill $REG_PID 2>/dev/null || true; cleanup' EXIT
	for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$REG_PORT) 2>/dev/null && break; sleep 0.1; done
	log "making a ~200 MB image and pushing it to $REG"
	BIG=$WORK/big
	rm -rf "$BIG"
	mkdir -p "$BIG/a" "$BIG/b"
	for i in $(seq 100); do head -c 786432 /dev/urandom | base64 -w 0 >"$BIG/a/f$i"; head -c 786432 /dev/urandom | base64 -w 0 >"$BIG/b/f$i"; done
	# Two gzip layers as a registry would serve them: a docker-archive made by lab,
	# recompressed by skopeo on the way into the registry.
	tar -C "$BIG" -cf "$WORK/big-a.tar" a
	"$LAB" import "$WORK/big-a.tar" bench-big-a >/dev/null
	printf 'FROM bench-big-a\nCOPY b /b\n' >"$BIG/Dockerfile"
	"$LAB" build -q -t bench-big "$BIG" >/dev/null
	"$LAB" save -o "$WORK/big.tar" bench-big
	skopeo copy -q --dest-tls-verify=false --dest-compress docker-archive:"$WORK/big.tar" "docker://$REG/bench/big:1"
	rm -rf "$BIG" "$WORK/big.tar" "$WORK/big-a.tar"
	"$LAB" rmi bench-big bench-big-a >/dev/null
	PULL_ROOT=$WORK/pullstore
	job pull_lab "env LAB_ROOT=$PULL_ROOT $LAB pull -q $REG/bench/big:1" --prepare "rm -rf $PULL_ROOT"
	job pull_skopeo "skopeo copy -q --src-tls-verify=false docker://$REG/bench/big:1 oci:$WORK/skopeo-oci:big" --prepare "rm -rf $WORK/skopeo-oci"
	[ -z "$DOCKER_OK" ] || job pull_docker "docker pull -q $REG/bench/big:1" --prepare "bash -c 'docker rmi -f $REG/bench/big:1 >/dev/null 2>&1 || true'"
	timeall 6
	pull_size=$(env LAB_ROOT=$PULL_ROOT "$LAB" images --format json | jq -r .Size)
	row "\`lab pull\` of a $pull_size image (2 gzip layers) from loopback" "$(ms "${M[pull_lab]}")" "\`skopeo copy\` to an OCI dir (no unpacking): $(ms "${M[pull_skopeo]}")" "lab/skopeo $(ratio "${M[pull_lab]}" "${M[pull_skopeo]}")" ''
	if [ -n "$DOCKER_OK" ]; then
		row '' '' "\`docker pull\`: $(ms "${M[pull_docker]}")" "docker/lab $(ratio "${M[pull_docker]}" "${M[pull_lab]}")" ''
		docker rmi -f "$REG/bench/big:1" >/dev/null 2>&1 || true
	fi
	rm -rf "$PULL_ROOT" "$WORK/skopeo-oci"
	kill $REG_PID 2>/dev/null || true
else
	NOTES+=("pull rows skipped: BENCH_PULL=0.")
fi

# --- 6. in-process: engine.Run, commit, import (Go benchmarks) ---------------------
if [ "${BENCH_GO:-1}" != 0 ]; then
	log "go test -bench (runtime/engine)"
	BENCH_OUT=$WORK/gobench.txt
	LAB_BENCH_DIR=$WORK $GO test -run '^$' -count 1 -timeout 30m \
		-bench 'BenchmarkRunRm$|BenchmarkCommitOneFile$|BenchmarkCommit100MB$|BenchmarkImport100MB$' \
		-benchtime 20x ./runtime/engine/ | tee "$BENCH_OUT" >&2
	# metric BENCH UNIT: the value reported before UNIT on BENCH's line.
	metric() { awk -v b="$1" -v u="$2" '$1 ~ "^"b"(-[0-9]+)?$" { for (i = 3; i <= NF; i++) if ($i == u) print $(i - 1) }' "$BENCH_OUT"; }
	row '`engine.Run` (--rm, /bin/true) in process' "median $(metric BenchmarkRunRm median-ms) ms" '' '' ''
	row 'commit: one changed file over a 100 MB image' "median $(metric BenchmarkCommitOneFile median-ms) ms" '' '' '≤ 5 ms'
	row 'commit: container that wrote 100 MB' "$(metric BenchmarkCommit100MB median-MB/s) MB/s (median $(metric BenchmarkCommit100MB median-ms) ms)" '' '' '≥ 1024 MB/s'
	row 'import of a 100 MB rootfs tar in process' "$(metric BenchmarkImport100MB median-MB/s) MB/s (median $(metric BenchmarkImport100MB median-ms) ms)" '' '' ''
	log "go test -bench (runtime/seccomp)"
	$GO test -run '^$' -count 1 -bench . -benchtime 200x ./runtime/seccomp/ | tee "$BENCH_OUT" >&2
	row "seccomp: compiling Docker's default profile" "$(awk -v n="$(metric BenchmarkCompileDefault ns/op)" 'BEGIN { printf "%.2f ms", n / 1e6 }')" \
		"reading it from the store's cache: $(awk -v n="$(metric BenchmarkDefaultCached ns/op)" 'BEGIN { printf "%.1f µs", n / 1e3 }')" '' ''
else
	NOTES+=("Go benchmarks (commit, in-process run and import) skipped: BENCH_GO=0.")
fi

# --- table -------------------------------------------------------------------------
cpu=$(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo)
mem=$(awk '/^MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)
rev=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
git diff --quiet 2>/dev/null || rev="$rev+changes"
{
	echo "# lab benchmarks"
	echo
	echo "$(date -u '+%Y-%m-%d %H:%M UTC'), lab $rev, $($GO version | cut -d' ' -f3), static binaries from \`make build\` (CGO_ENABLED=0)"
	echo "on $(uname -sr), $(nproc) × $cpu, $mem; load average $(cut -d' ' -f1-3 /proc/loadavg) at the end."
	echo
	echo "Produced by \`make bench\` (\`bench/run.sh\`): RUNS=$RUNS hyperfine runs per command in $ROUNDS"
	echo "interleaved rounds, N=$N. Times are medians; ratios are between medians of this run."
	echo
	echo "| measurement | lab | compared with | ratio | target |"
	echo "|---|---|---|---|---|"
	printf '%s\n' "${ROWS[@]}"
	echo
	echo "Scaling (each command through \`env LAB_ROOT=…\`, which adds one exec to every cell alike):"
	echo
	printf '%s\n' "${SCALE[@]}"
	if [ ${#NOTES[@]} -gt 0 ]; then
		echo
		printf -- '- %s\n' "${NOTES[@]}"
	fi
} >"$WORK/table.md"
cp "$WORK/table.md" "$OUT"
cat "$OUT"
