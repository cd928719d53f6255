// Command syscallprobe is built by the seccomp tests (CGO_ENABLED=0, so static) and run
// inside a container: it makes system calls that Docker's default seccomp profile
// refuses and prints, one line each, "name: ok" or "name: ERRNO".
package main

import (
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "child" {
		return // the process cloned into a new user namespace: it exists, that is all
	}
	report("keyctl", func() error {
		// Host root's own user keyring: a container without its user namespace shares it.
		_, err := unix.KeyctlInt(unix.KEYCTL_GET_KEYRING_ID, unix.KEY_SPEC_USER_KEYRING, 0, 0, 0)
		return err
	})
	report("add_key", func() error {
		_, err := unix.AddKey("user", "lab-probe", []byte("x"), unix.KEY_SPEC_PROCESS_KEYRING)
		return err
	})
	report("unshare_newuser", func() error {
		// A Go program has threads, so an allowed call fails with EINVAL, not EPERM.
		return unix.Unshare(unix.CLONE_NEWUSER)
	})
	report("clone_newuser", func() error {
		cmd := exec.Command("/proc/self/exe", "child")
		cmd.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWUSER}
		err := cmd.Run()
		if e, ok := err.(*os.SyscallError); ok {
			return e.Err
		}
		if pe, ok := err.(*os.PathError); ok {
			return pe.Err
		}
		return err
	})
	report("perf_event_open", func() error {
		attr := unix.PerfEventAttr{Type: unix.PERF_TYPE_SOFTWARE, Config: unix.PERF_COUNT_SW_CPU_CLOCK}
		attr.Size = uint32(unsafe.Sizeof(attr))
		fd, err := unix.PerfEventOpen(&attr, 0, -1, -1, unix.PERF_FLAG_FD_CLOEXEC)
		if err == nil {
			unix.Close(fd)
		}
		return err
	})
	report("uname", func() error {
		var u unix.Utsname
		return unix.Uname(&u)
	})
}

func report(name string, f func() error) {
	err := f()
	switch e := err.(type) {
	case nil:
		fmt.Printf("%s: ok\n", name)
	case syscall.Errno:
		fmt.Printf("%s: %s\n", name, unix.ErrnoName(e))
	default:
		fmt.Printf("%s: %v\n", name, err)
	}
}
