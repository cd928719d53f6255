package proc

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lab/runtime/logging"
)

// initArg0 is argv[0] of the container init, whichever binary runs it; a binary that
// can be the init checks for it before anything else.
const initArg0 = "lab-init"

// IsInit reports whether this process was started as a container init.
func IsInit() bool { return len(os.Args) > 0 && os.Args[0] == initArg0 }

// InitBinary is the program lab starts as a container's init:
//
//   - $LAB_INIT when set (tests, unusual installs);
//   - else lab-init next to the running executable, as `make build` puts it: a small
//     program that links only the init side of this package and starts in a fraction
//     of the time the whole lab binary takes;
//   - else the running executable itself, whose main hands over to Init when IsInit
//     (a lab copied somewhere alone, `go run`, test binaries).
func InitBinary() string {
	if p := os.Getenv("LAB_INIT"); p != "" {
		return p
	}
	return besideInit()
}

var besideInit = sync.OnceValue(func() string {
	self, err := os.Executable()
	if err != nil {
		return "/proc/self/exe"
	}
	p := filepath.Join(filepath.Dir(self), "lab-init")
	if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
		return p
	}
	return self
})

// IO is the container's stdio. A nil Stdin reads as empty; an *os.File is handed to the
// container directly, anything else is copied through a pipe.
type IO struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// Tty, when set, is a pty slave that replaces all three: the container's stdio and
	// its controlling terminal, in a session of its own.
	Tty *os.File
}

// Hooks run on the parent's side at fixed points of a start.
type Hooks struct {
	// Created runs after the init process exists but before it has read its spec, so
	// nothing of the container has run yet: the place to put it in cgroups. An error
	// kills the init and fails the start.
	Created func(pid int) error
}

// Process is a started container. Lifecycle: Start, then exactly one Wait; Signal may
// be called in between from any goroutine.
type Process struct {
	cmd *exec.Cmd
}

// Start launches the container init with spec and returns once the command is
// executing (or with a *StartError when it could not be run).
func Start(spec *Spec, stdio IO, hooks Hooks) (*Process, error) {
	t0 := time.Now()
	if log := logging.L(); log.Enabled(context.Background(), slog.LevelDebug) {
		log.Debug("mount overlay", "target", spec.Rootfs, "lower", strings.Join(spec.Lower, ":"), "upper", spec.Upper, "work", spec.Work, "volatile", spec.Volatile)
		for _, b := range spec.Binds {
			log.Debug("mount bind", "source", b.Source, "target", b.Target)
		}
	}
	specR, specW, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	errR, errW, err := os.Pipe()
	if err != nil {
		specR.Close()
		specW.Close()
		return nil, err
	}
	defer errR.Close()
	cmd := &exec.Cmd{
		Path:       sealedInit(InitBinary()),
		Args:       []string{initArg0},
		Env:        []string{},
		Stdin:      stdio.Stdin,
		Stdout:     stdio.Stdout,
		Stderr:     stdio.Stderr,
		ExtraFiles: []*os.File{specR, errW},
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: syscall.CLONE_NEWNS | syscall.CLONE_NEWPID | syscall.CLONE_NEWUTS | syscall.CLONE_NEWIPC | syscall.CLONE_NEWNET,
			// The container must not outlive the lab process that owns it.
			Pdeathsig: syscall.SIGKILL,
			// Every container gets a session of its own, whatever its stdio: in the
			// caller's session it could open the caller's terminal as /dev/tty (and
			// type into it with TIOCSTI) and kill(0, sig) would reach the caller's
			// process group. Signals reach it only as lab forwards them.
			Setsid: true,
		},
	}
	// os/exec would make Wait wait for a goroutine copying a non-file stdin, which
	// blocks on its reader long after the container has exited (a session's pipe, a
	// terminal). Copy it ourselves and let the copy end when the reader does. A
	// terminal is never handed over as a file either: the container would hold an fd
	// of the user's terminal and could change its modes or read it after lab exits.
	var stdinW *os.File
	f, isFile := stdio.Stdin.(*os.File)
	if isFile && isTerminal(f) {
		isFile = false
	}
	if stdio.Stdin != nil && !isFile && stdio.Tty == nil {
		r, w, err := os.Pipe()
		if err != nil {
			specR.Close()
			specW.Close()
			errR.Close()
			errW.Close()
			return nil, err
		}
		defer r.Close()
		cmd.Stdin, stdinW = r, w
	}
	if stdio.Tty != nil {
		cmd.Stdin, cmd.Stdout, cmd.Stderr = stdio.Tty, stdio.Tty, stdio.Tty
		cmd.SysProcAttr.Setctty = true
		cmd.SysProcAttr.Ctty = 0
		spec.Console = stdio.Tty.Name()
	}
	err = cmd.Start()
	specR.Close()
	errW.Close()
	if err != nil {
		specW.Close()
		if stdinW != nil {
			stdinW.Close()
		}
		return nil, fmt.Errorf("start container init: %w", err)
	}
	if stdinW != nil {
		go func() {
			io.Copy(stdinW, stdio.Stdin)
			stdinW.Close()
		}()
	}
	if hooks.Created != nil {
		if err := hooks.Created(cmd.Process.Pid); err != nil {
			specW.Close()
			cmd.Process.Kill()
			cmd.Wait()
			return nil, err
		}
	}
	err = json.NewEncoder(specW).Encode(spec)
	specW.Close()
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("send spec: %w", err)
	}
	msg, _ := io.ReadAll(errR)
	logging.L().Debug("container init done, command executing", "pid", cmd.Process.Pid, logging.Since(t0))
	if len(msg) > 0 {
		cmd.Wait()
		var se StartError
		if json.Unmarshal(msg, &se) != nil || se.Code == 0 {
			return nil, &StartError{Code: 125, Msg: string(msg)}
		}
		return nil, &se
	}
	return &Process{cmd: cmd}, nil
}

// Pid is the container's pid 1 as seen from the host.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Signal sends sig to the container's pid 1.
func (p *Process) Signal(sig os.Signal) error { return p.cmd.Process.Signal(sig) }

// Wait waits for the container to exit and returns its exit code the way a shell
// reports it: the code, or 128+signal when it was killed.
func (p *Process) Wait() (int, error) {
	err := p.cmd.Wait()
	if p.cmd.ProcessState == nil {
		return -1, err
	}
	// A copy error on stdio after a clean exit is not the container's failure.
	ws := p.cmd.ProcessState.Sys().(syscall.WaitStatus)
	if ws.Signaled() {
		return 128 + int(ws.Signal()), nil
	}
	return ws.ExitStatus(), nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
