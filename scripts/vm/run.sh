#!/bin/bash
# Boots a throwaway Linux guest under qemu and runs one shell script in it as root, to
# test lab on a kernel configured unlike this host's (cgroup v2 only today; later older
# kernels, user namespaces). The guest is an initramfs: static busybox, lab's binaries
# (bin/lab and any bin/lab-*), the kernel modules asked for, the script and any extra
# files. Its console is the serial port, copied to stdout; the script's exit status
# comes back as this script's, through a marker line the guest prints before powering
# off. A guest that hangs is killed after the timeout and counts as a failure.
#
# usage: scripts/vm/run.sh [options] GUEST_SCRIPT
#   -a ARGS      extra kernel command line (e.g. "cgroup_no_v1=all")
#   -f SRC[=DST] copy a host file or directory into the guest's /lab (DST relative to it)
#   -M MODULE    load this kernel module (and what it depends on) before the script; repeatable
#   -t SECONDS   give up after this long (default 900)
#   -m MIB       guest memory (default 1536)
#   -c CPUS      guest CPUs (default 2)
# Environment: VM_KERNEL (default: the newest /boot/vmlinuz-*, Debian's linux-image-amd64),
# LAB_BIN (directory holding lab's binaries, default bin/ of this checkout),
# VM_LOG (where to keep the console log; default a temporary file, removed).
#
# The guest's kernel needs /lib/modules/<its version>/ on this host (installed with the
# kernel package); qemu uses KVM when /dev/kvm can be opened, plain emulation otherwise.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)

append="" timeout_s=900 mem=1536 cpus=2
extras=() modules=()
while getopts "a:f:M:t:m:c:" opt; do
	case $opt in
	a) append="$append $OPTARG" ;;
	f) extras+=("$OPTARG") ;;
	M) modules+=("$OPTARG") ;;
	t) timeout_s=$OPTARG ;;
	m) mem=$OPTARG ;;
	c) cpus=$OPTARG ;;
	*) exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-a ARGS] [-f SRC[=DST]] [-M MODULE] [-t S] [-m MIB] [-c N] GUEST_SCRIPT" >&2; exit 2; }
script=$1

die() { echo "vm: $*" >&2; exit 1; }
command -v qemu-system-x86_64 >/dev/null || die "no qemu-system-x86_64: apt-get install qemu-system-x86"
command -v cpio >/dev/null || die "no cpio: apt-get install cpio"
kernel=${VM_KERNEL:-$(ls /boot/vmlinuz-* 2>/dev/null | sort -V | tail -n 1)}
[ -n "$kernel" ] && [ -r "$kernel" ] || die "no kernel in /boot: apt-get install linux-image-amd64"
kver=${kernel##*/vmlinuz-}
[ -d "/lib/modules/$kver" ] || die "no /lib/modules/$kver for $kernel"
# A static binary has no PT_INTERP (type 3) program header.
is_static() {
	local f=$1 off size n i
	[ -f "$f" ] || return 1
	off=$(od -An -t u8 -j 32 -N 8 "$f") size=$(od -An -t u2 -j 54 -N 2 "$f") n=$(od -An -t u2 -j 56 -N 2 "$f")
	for ((i = 0; i < n; i++)); do
		[ "$(od -An -t u4 -j $((off + i * size)) -N 4 "$f")" -eq 3 ] && return 1
	done
	return 0
}
busybox=/bin/busybox
is_static "$busybox" 2>/dev/null || die "no static busybox: apt-get install busybox-static"
bindir=${LAB_BIN:-$repo/bin}
[ -x "$bindir/lab" ] || die "no $bindir/lab: make build"

work=$(mktemp -d /tmp/lab-vm-XXXXXX)
log=${VM_LOG:-$work/console.log}
trap 'rm -rf "$work"' EXIT
root=$work/root
mkdir -p "$root"/{bin,lab/bin,lib/modules,proc,sys,dev,tmp,run,newroot}

cp "$busybox" "$root/bin/busybox"
cp "$here/init" "$root/init"
cp "$script" "$root/lab/test.sh"
# The guest has no libc: lab and its helpers must be static (make build).
for f in "$bindir"/lab "$bindir"/lab-*; do
	[ -e "$f" ] || continue
	is_static "$f" || die "$f is not statically linked: build it with CGO_ENABLED=0 (make build)"
	cp "$f" "$root/lab/bin/"
done
for x in ${extras[@]+"${extras[@]}"}; do
	src=${x%%=*} dst=${x#*=}
	[ "$dst" = "$x" ] && dst=$(basename "$src")
	mkdir -p "$(dirname "$root/lab/$dst")"
	cp -a "$src" "$root/lab/$dst"
done
# Modules in load order, dependencies first; Debian's are uncompressed, others may not be.
: >"$root/lib/modules/order"
for m in ${modules[@]+"${modules[@]}"}; do
	modprobe --show-depends -S "$kver" "$m" | while read -r kind path _; do
		[ "$kind" = insmod ] || continue
		name=$(basename "$path")
		case $name in
		*.ko.xz) xz -dc "$path" >"$root/lib/modules/${name%.xz}"; name=${name%.xz} ;;
		*.ko.zst) zstd -qdc "$path" >"$root/lib/modules/${name%.zst}"; name=${name%.zst} ;;
		*.ko.gz) gzip -dc "$path" >"$root/lib/modules/${name%.gz}"; name=${name%.gz} ;;
		*) cp "$path" "$root/lib/modules/$name" ;;
		esac
		grep -qx "$name" "$root/lib/modules/order" || echo "$name" >>"$root/lib/modules/order"
	done
done
# Uncompressed: unpacking is cheaper than gunzip under emulation.
(cd "$root" && find . -mindepth 1 | cpio --quiet -o -H newc -R 0:0) >"$work/initrd"

accel=(-accel tcg -cpu max)
if [ -r /dev/kvm ] && [ -w /dev/kvm ] && (exec 3<>/dev/kvm) 2>/dev/null; then
	accel=(-accel kvm -cpu host)
fi
echo "vm: $kernel, ${accel[1]}, $cpus CPUs, ${mem} MiB, initramfs $(($(stat -c %s "$work/initrd") >> 20)) MiB, timeout ${timeout_s}s"
start=$(date +%s)
set +e
timeout --kill-after=10 "$timeout_s" qemu-system-x86_64 "${accel[@]}" -smp "$cpus" -m "$mem" \
	-nodefaults -display none -no-reboot -serial stdio -monitor none \
	-kernel "$kernel" -initrd "$work/initrd" \
	-append "console=ttyS0 panic=-1 quiet loglevel=3 $append" </dev/null | tr -d '\r' | tee "$log"
status=${PIPESTATUS[0]}
set -e
result=$(sed -n 's/^LAB-VM-RESULT \([0-9]*\)$/\1/p' "$log" | tail -n 1)
echo "vm: guest ran $(($(date +%s) - start))s"
if [ -z "$result" ]; then
	[ "$status" = 124 ] && die "guest timed out after ${timeout_s}s"
	die "guest stopped without a result (qemu exit $status)"
fi
[ "$result" = 0 ] || echo "vm: guest script failed with exit $result" >&2
exit "$result"
