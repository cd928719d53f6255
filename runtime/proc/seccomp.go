package proc

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// confine sets no_new_privs when asked and installs the seccomp filter; Init calls it
// twice, and it acts once, in runc's order. Without no_new_privs, loading a filter
// needs CAP_SYS_ADMIN, which the command usually does not keep: so the filter goes in
// early (late == false), before the capabilities are dropped and the user is set, and
// must allow what the init does after it (capset, setuid, chdir, execve: Docker's
// profile does). With no_new_privs it goes in late, just before exec, so that it
// filters as little of the init's own work as possible. Either way it is installed on
// the init's locked thread, the one that execs: the command inherits it.
func confine(s *Spec, late bool) error {
	if !late && s.NoNewPrivs {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return fmt.Errorf("set no_new_privs: %w", err)
		}
	}
	if late != s.NoNewPrivs || len(s.Seccomp) == 0 {
		return nil
	}
	if len(s.Seccomp)%8 != 0 || len(s.Seccomp)/8 > unix.BPF_MAXINSNS {
		return fmt.Errorf("seccomp filter: malformed program of %d bytes", len(s.Seccomp))
	}
	// The bytes are struct sock_filter entries already (8 bytes each, native order).
	prog := unix.SockFprog{Len: uint16(len(s.Seccomp) / 8), Filter: (*unix.SockFilter)(unsafe.Pointer(&s.Seccomp[0]))}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	if errno == unix.ENOSYS {
		// Kernels before 3.17 have only the prctl form.
		errno = 0
		if err := unix.Prctl(unix.PR_SET_SECCOMP, unix.SECCOMP_MODE_FILTER, uintptr(unsafe.Pointer(&prog)), 0, 0); err != nil {
			return fmt.Errorf("install seccomp filter: %w", err)
		}
	}
	if errno != 0 {
		return fmt.Errorf("install seccomp filter: %w", errno)
	}
	return nil
}
