package proc

import (
	"errors"
	"fmt"
	"os"
	"path"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sys/unix"
)

// Hardening, the parts of runc's defaults that keep a hostile container away from the
// host once its root filesystem is in place. Each step names the attack it stops.

// maskedPaths are Docker's: kernel interfaces that leak host state or let root in a
// container poke the host's hardware. Files are covered with /dev/null, directories
// with an empty read-only tmpfs; paths this kernel does not have are skipped.
var maskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
	"/sys/firmware", "/sys/devices/virtual/powercap",
}

// readonlyPaths are Docker's: host-wide kernel settings that stay readable.
var readonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

// harden runs in the init after pivot_root, while it still has every capability, and
// before it switches to the container's user. A privileged container, as on Docker,
// sees /proc unmasked.
func harden(s *Spec) error {
	if err := devNodev(); err != nil {
		return err
	}
	if !s.Privileged {
		for _, p := range maskedPaths {
			if err := maskPath(p); err != nil {
				return err
			}
		}
		for _, p := range readonlyPaths {
			if err := readonlyPath(p); err != nil {
				return err
			}
		}
	}
	// CVE-2024-21626: a descriptor the init inherited or opened (the Go runtime's own,
	// a host directory) must not reach the command. Close-on-exec keeps the error pipe
	// working until the exec that closes it.
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		if err := cloexecFrom(3); err != nil {
			return fmt.Errorf("close inherited descriptors: %w", err)
		}
	}
	return nil
}

// devNodev stops a container from reaching a host device through a node it makes
// itself: root in the container keeps CAP_MKNOD (as on Docker), and /dev is the one
// writable place not mounted nodev. Docker stops this with the devices cgroup; lab
// needs no cgroup: each node lab made is bind-mounted onto itself (a mount of its own
// that keeps device access) and then /dev itself is remounted nodev, so any node made
// later in /dev cannot be opened. The image's own files are on the nodev overlay.
func devNodev() error {
	for _, d := range devices {
		p := "/dev/" + d.name
		if err := unix.Mount(p, p, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", p, err)
		}
	}
	if err := unix.Mount("", "/dev", "", unix.MS_REMOUNT|unix.MS_BIND|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_STRICTATIME, ""); err != nil {
		return fmt.Errorf("remount /dev nodev: %w", err)
	}
	return nil
}

// openKernelPath opens p (under /proc or /sys, after pivot_root) as an O_PATH handle,
// refusing symlinks so the mount lands exactly on the named file. ok is false when the
// path does not exist on this kernel.
func openKernelPath(p string) (fd int, ok bool, err error) {
	fd, err = unix.Openat2(unix.AT_FDCWD, p, &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC | unix.O_NOFOLLOW,
		Resolve: unix.RESOLVE_NO_SYMLINKS,
	})
	if errors.Is(err, unix.ENOENT) {
		return -1, false, nil
	}
	if err != nil {
		return -1, false, fmt.Errorf("open %s: %w", p, err)
	}
	return fd, true, nil
}

func maskPath(p string) error {
	fd, ok, err := openKernelPath(p)
	if !ok {
		return err
	}
	defer unix.Close(fd)
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	target := "/proc/self/fd/" + strconv.Itoa(fd)
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		err = unix.Mount("tmpfs", target, "tmpfs", unix.MS_RDONLY|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, "")
	} else {
		err = unix.Mount("/dev/null", target, "", unix.MS_BIND, "")
	}
	if err != nil {
		return fmt.Errorf("mask %s: %w", p, err)
	}
	return nil
}

func readonlyPath(p string) error {
	fd, ok, err := openKernelPath(p)
	if !ok {
		return err
	}
	defer unix.Close(fd)
	target := "/proc/self/fd/" + strconv.Itoa(fd)
	if err := unix.Mount(target, target, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind %s: %w", p, err)
	}
	// The handle still names the covered file; the remount needs the new mount on top.
	fd2, _, err := openKernelPath(p)
	if err != nil || fd2 < 0 {
		return fmt.Errorf("reopen %s: %v", p, err)
	}
	defer unix.Close(fd2)
	target = "/proc/self/fd/" + strconv.Itoa(fd2)
	flags := uintptr(unix.MS_BIND | unix.MS_REMOUNT | unix.MS_RDONLY | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC)
	if err := unix.Mount("", target, "", flags, ""); err != nil {
		return fmt.Errorf("make %s read-only: %w", p, err)
	}
	return nil
}

// cloexecFrom is the fallback for kernels before close_range (5.11).
func cloexecFrom(min int) error {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return err
	}
	for _, e := range ents {
		if fd, err := strconv.Atoi(e.Name()); err == nil && fd >= min {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}

// dropCapabilities shrinks the bounding set to caps (everything else is dropped from
// it, so no exec, setuid or file capabilities included, can regain it) and sets the
// permitted and effective sets to the same; inheritable and ambient stay empty
// (CVE-2022-24769). Capabilities belong to a thread: this runs on the init's locked
// thread, the one that execs. The container's user, set afterwards, keeps none of
// them unless it is root.
func dropCapabilities(caps []int) error {
	keep := map[uintptr]bool{}
	for _, c := range caps {
		keep[uintptr(c)] = true
	}
	last := uintptr(unix.CAP_LAST_CAP)
	if b, err := os.ReadFile("/proc/sys/kernel/cap_last_cap"); err == nil {
		if n, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
			last = uintptr(n)
		}
	}
	for c := uintptr(0); c <= last; c++ {
		if keep[c] {
			continue
		}
		if err := unix.Prctl(unix.PR_CAPBSET_DROP, c, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
			return fmt.Errorf("drop capability %d: %w", c, err)
		}
	}
	if err := unix.Prctl(unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("clear ambient capabilities: %w", err)
	}
	// A capability lab itself lacks (root on some hosts has no CAP_SYS_RESOURCE) cannot
	// be given: --privileged and --cap-add ALL mean all that lab has.
	var have, data [2]unix.CapUserData
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	if err := unix.Capget(&hdr, &have[0]); err != nil {
		return fmt.Errorf("get capabilities: %w", err)
	}
	for _, c := range caps {
		data[c/32].Effective |= 1 << (c % 32) & have[c/32].Permitted
		data[c/32].Permitted |= 1 << (c % 32) & have[c/32].Permitted
	}
	if err := unix.Capset(&hdr, &data[0]); err != nil {
		return fmt.Errorf("set capabilities: %w", err)
	}
	return nil
}

// enterWorkdir makes cwd the working directory, creating what is missing, with every
// lookup confined to the container's root and no /proc magic link followed: a workdir
// such as /proc/self/fd/7 could otherwise name a directory of the host through a
// descriptor the init holds (CVE-2024-21626), and creating the missing parts through it
// would write to the host.
func enterWorkdir(cwd string) error {
	rel := strings.TrimPrefix(path.Clean("/"+cwd), "/")
	if rel == "" {
		rel = "."
	}
	root, err := unix.Open("/", unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(root)
	how := &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_DIRECTORY | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	}
	fd, err := unix.Openat2(root, rel, how)
	if errors.Is(err, unix.ENOENT) {
		fd, err = mkdirIn(root, rel, how)
	}
	if errors.Is(err, unix.ELOOP) && strings.HasPrefix(rel, "proc/") {
		return fmt.Errorf("refused: it resolves through a /proc magic link, outside the container's root")
	}
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := unix.Fchdir(fd); err != nil {
		return err
	}
	// Belt and braces, as runc does since the CVE: the kernel must see the new working
	// directory inside this mount namespace's root.
	if wd, err := unix.Getwd(); err != nil || !strings.HasPrefix(wd, "/") {
		return fmt.Errorf("refused: the working directory is outside the container's root")
	}
	return nil
}

// mkdirIn creates the missing components of rel one at a time, each created in its
// already resolved parent and each prefix resolved again from the root.
func mkdirIn(root int, rel string, how *unix.OpenHow) (int, error) {
	comps := strings.Split(rel, "/")
	for i := range comps {
		prefix := strings.Join(comps[:i+1], "/")
		fd, err := unix.Openat2(root, prefix, how)
		if errors.Is(err, unix.ENOENT) {
			parent := root
			if i > 0 {
				if parent, err = unix.Openat2(root, strings.Join(comps[:i], "/"), how); err != nil {
					return -1, err
				}
			}
			err = unix.Mkdirat(parent, comps[i], 0o755)
			if parent != root {
				unix.Close(parent)
			}
			if err != nil && !errors.Is(err, unix.EEXIST) {
				return -1, err
			}
			fd, err = unix.Openat2(root, prefix, how)
		}
		if err != nil {
			return -1, err
		}
		if i == len(comps)-1 {
			return fd, nil
		}
		unix.Close(fd)
	}
	return -1, unix.ENOENT
}

// sealedInit returns the path the parent executes as the container init: the init
// binary (path) seen through a detached, read-only bind mount of it. The init's
// /proc/self/exe, and that of any container process that gets to exec it (an
// entrypoint of /proc/self/exe, or #!/proc/self/exe), then names a file on a read-only
// mount, so root in the container cannot open the host's binary for writing through
// /proc/<pid>/exe (CVE-2019-5736). runc once copied itself into a sealed memfd for
// this; a read-only mount costs no copy. The mount is attached nowhere and vanishes
// with the last user. It is made once per binary and process. Kernels without
// open_tree/mount_setattr (before 5.12) fall back to the plain path.
func sealedInit(path string) string {
	sealedMu.Lock()
	defer sealedMu.Unlock()
	p, ok := sealed[path]
	if !ok {
		p = sealInit(path)
		sealed[path] = p
	}
	return p
}

var (
	sealedMu sync.Mutex
	sealed   = map[string]string{} // init binary -> /proc/self/fd/N of its read-only mount
)

func sealInit(path string) string {
	fd, err := unix.OpenTree(unix.AT_FDCWD, path, unix.OPEN_TREE_CLONE|unix.OPEN_TREE_CLOEXEC)
	if err != nil {
		return path
	}
	defer unix.Close(fd)
	attr := unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY | unix.MOUNT_ATTR_NOSUID | unix.MOUNT_ATTR_NODEV}
	if err := unix.MountSetattr(fd, "", unix.AT_EMPTY_PATH, &attr); err != nil {
		return path
	}
	// A high descriptor number, far from the 0..n that exec.Cmd's child dup2s its
	// files onto; close-on-exec, so the init does not inherit it.
	hi, err := unix.FcntlInt(uintptr(fd), unix.F_DUPFD_CLOEXEC, 100)
	if err != nil {
		return path
	}
	return "/proc/self/fd/" + strconv.Itoa(hi)
}
