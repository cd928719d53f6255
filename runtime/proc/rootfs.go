package proc

import (
	"errors"
	"fmt"
	"os"

	"strings"

	"golang.org/x/sys/unix"
)

// device is a node created in the container's private /dev.
type device struct {
	name         string
	major, minor uint32
}

var devices = []device{
	{"null", 1, 3}, {"zero", 1, 5}, {"full", 1, 7},
	{"random", 1, 8}, {"urandom", 1, 9}, {"tty", 5, 0},
}

var devLinks = [][2]string{
	{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"},
	{"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}, {"/proc/kcore", "core"},
}

// setupRootfs mounts the container's root filesystem and pivots into it. The sequence:
// stop mount propagation to the host, mount the overlay, mount the API filesystems on
// targets resolved inside the new root (so a symlink planted in an image or a previous
// run cannot redirect a mount onto the host), then pivot_root and drop the old root.
func setupRootfs(s *Spec) error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if s.Scratch != "" {
		if err := makeScratch(s); err != nil {
			return err
		}
	}
	opts := "lowerdir=" + strings.Join(s.Lower, ":") + ",upperdir=" + s.Upper + ",workdir=" + s.Work
	var err error = unix.EINVAL
	if s.Volatile {
		// Without it, the overlay's unmount when the container ends syncs the upper
		// dir's whole filesystem (milliseconds, more on a busy disk). Kernels before
		// 5.10 refuse the option: mount as usual there.
		err = unix.Mount("overlay", s.Rootfs, "overlay", unix.MS_NODEV, opts+",volatile")
	}
	if errors.Is(err, unix.EINVAL) {
		err = unix.Mount("overlay", s.Rootfs, "overlay", unix.MS_NODEV, opts)
	}
	if err != nil {
		return fmt.Errorf("mount overlay: %w", err)
	}
	root, err := unix.Open(s.Rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("open rootfs: %w", err)
	}
	defer unix.Close(root)
	const nosuidNodevNoexec = unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC
	if err := mountAt(root, "/proc", "proc", "proc", nosuidNodevNoexec, ""); err != nil {
		return err
	}
	if err := mountAt(root, "/dev", "tmpfs", "tmpfs", unix.MS_NOSUID|unix.MS_STRICTATIME, "mode=755,size=65536k"); err != nil {
		return err
	}
	dev := s.Rootfs + "/dev/"
	// The nodes below are made by host path: refuse a /dev that is not a real directory
	// of the new root (a symlink there would be followed on the host's side).
	var st unix.Stat_t
	if err := unix.Lstat(s.Rootfs+"/dev", &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return fmt.Errorf("mount /dev: not a directory in the container's root")
	}
	for _, d := range devices {
		if err := unix.Mknod(dev+d.name, unix.S_IFCHR|0o666, int(unix.Mkdev(d.major, d.minor))); err != nil {
			return fmt.Errorf("mknod /dev/%s: %w", d.name, err)
		}
		// mknod honours the umask; the nodes must be usable by everyone, as on Docker.
		if err := unix.Chmod(dev+d.name, 0o666); err != nil {
			return err
		}
	}
	for _, l := range devLinks {
		if err := unix.Symlink(l[0], dev+l[1]); err != nil {
			return fmt.Errorf("link /dev/%s: %w", l[1], err)
		}
	}
	for _, m := range []struct {
		dir, fstype string
		flags       uintptr
		data        string
	}{
		{"pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5"},
		{"shm", "tmpfs", nosuidNodevNoexec, "mode=1777,size=65536k"},
		{"mqueue", "mqueue", nosuidNodevNoexec, ""},
	} {
		if err := unix.Mkdir(dev+m.dir, 0o755); err != nil {
			return fmt.Errorf("mkdir /dev/%s: %w", m.dir, err)
		}
		if err := unix.Mount(m.fstype, dev+m.dir, m.fstype, m.flags, m.data); err != nil {
			return fmt.Errorf("mount /dev/%s: %w", m.dir, err)
		}
	}
	if s.Console != "" {
		// /dev/console is the container's terminal, as on Docker: the pty slave bound
		// over an empty file in the container's private /dev.
		if err := os.WriteFile(dev+"console", nil, 0o600); err != nil {
			return fmt.Errorf("make /dev/console: %w", err)
		}
		if err := unix.Mount(s.Console, dev+"console", "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind /dev/console: %w", err)
		}
	}
	sysFlags := uintptr(unix.MS_RDONLY | nosuidNodevNoexec)
	if s.Privileged {
		sysFlags &^= unix.MS_RDONLY // as on Docker
	}
	if err := mountAt(root, "/sys", "sysfs", "sysfs", sysFlags, ""); err != nil {
		return err
	}
	for _, b := range s.Binds {
		if err := mountAt(root, b.Target, b.Source, "", unix.MS_BIND, ""); err != nil {
			return err
		}
	}
	if err := unix.Chdir(s.Rootfs); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	// The old root is now stacked under the new one at "/": keep unmount events from
	// reaching the host, then detach it.
	if err := unix.Mount("", ".", "", unix.MS_SLAVE|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("make old root slave: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detach old root: %w", err)
	}
	return unix.Chdir("/")
}

// makeScratch covers s.Scratch with a tmpfs private to this mount namespace and makes
// the overlay's directories and the given files in it.
func makeScratch(s *Spec) error {
	if err := unix.Mount("tmpfs", s.Scratch, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0700"); err != nil {
		return fmt.Errorf("mount scratch tmpfs: %w", err)
	}
	for _, d := range []string{s.Upper, s.Work, s.Rootfs} {
		if !strings.HasPrefix(d, s.Scratch+"/") {
			return fmt.Errorf("scratch: %s is not inside %s", d, s.Scratch)
		}
		if err := unix.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("scratch: %w", err)
		}
		// The upper dir's mode is the container's / (mkdir honours the umask).
		if err := unix.Chmod(d, 0o755); err != nil {
			return fmt.Errorf("scratch: %w", err)
		}
	}
	for name, data := range s.ScratchFiles {
		if strings.Contains(name, "/") {
			return fmt.Errorf("scratch: file name %q", name)
		}
		if err := os.WriteFile(s.Scratch+"/"+name, []byte(data), 0o644); err != nil {
			return fmt.Errorf("scratch: %w", err)
		}
	}
	return nil
}

// mountAt mounts onto target resolved strictly inside root, through the /proc/self/fd
// handle of the resolved target, so no symlink can point the mount elsewhere.
func mountAt(root int, target, source, fstype string, flags uintptr, data string) error {
	fd, err := unix.Openat2(root, strings.TrimPrefix(target, "/"), &unix.OpenHow{
		Flags:   unix.O_PATH | unix.O_CLOEXEC,
		Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS,
	})
	if err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	defer unix.Close(fd)
	if err := unix.Mount(source, fmt.Sprintf("/proc/self/fd/%d", fd), fstype, flags, data); err != nil {
		return fmt.Errorf("mount %s: %w", target, err)
	}
	return nil
}
