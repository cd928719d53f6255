package proc

import (
	"errors"
	"fmt"
	"os"
	"strconv"

	"golang.org/x/sys/unix"
)

// nsGetParent is NS_GET_PARENT, _IO(0xb7, 0x2): the parent of a pid namespace.
const nsGetParent = 0xb702

// maxPidNsDepth is the kernel's MAX_PID_NS_LEVEL.
const maxPidNsDepth = 32

// Members lists the processes of the container whose pid 1 is pid, as seen from the
// host: every process in its pid namespace or in a namespace nested inside it (a
// container may make its own with a user namespace). A container without a cgroup
// has no other list of its processes, and freezing it needs every one.
func Members(pid int) ([]int, error) {
	var want unix.Stat_t
	if err := unix.Stat("/proc/"+strconv.Itoa(pid)+"/ns/pid", &want); err != nil {
		return nil, fmt.Errorf("pid namespace of %d: %w", pid, err)
	}
	d, err := os.Open("/proc")
	if err != nil {
		return nil, err
	}
	names, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	var out []int
	for _, n := range names {
		p, err := strconv.Atoi(n)
		if err != nil || p <= 0 {
			continue
		}
		in, err := inNamespace(p, &want)
		if err != nil {
			return nil, err
		}
		if in {
			out = append(out, p)
		}
	}
	return out, nil
}

// inNamespace reports whether process p's pid namespace is want or below it. A process
// that is gone is not a member.
func inNamespace(p int, want *unix.Stat_t) (bool, error) {
	fd, err := unix.Open("/proc/"+strconv.Itoa(p)+"/ns/pid", unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ESRCH) || errors.Is(err, unix.EACCES) {
			return false, nil
		}
		return false, fmt.Errorf("pid namespace of %d: %w", p, err)
	}
	defer func() { unix.Close(fd) }()
	for depth := 0; depth <= maxPidNsDepth; depth++ {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err != nil {
			return false, err
		}
		if st.Dev == want.Dev && st.Ino == want.Ino {
			return true, nil
		}
		// EPERM once the parent is outside our own namespace: the host's is the top.
		parent, err := unix.IoctlRetInt(fd, nsGetParent)
		if err != nil {
			return false, nil
		}
		unix.Close(fd)
		fd = parent
	}
	return false, nil
}
