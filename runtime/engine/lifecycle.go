package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"lab/runtime/cgroup"
	"lab/runtime/container"
	"lab/runtime/logging"
)

// Detach starts a container in the background, the way lab works without a daemon: a
// new lab process in its own session ("lab start -a ID", re-executed from this binary)
// becomes the container's monitor: it holds the run lock, keeps the output in the log
// and records the exit. Detach returns once the container runs (or has already ended).
func (e *Engine) Detach(ctx context.Context, ref string) (*container.Container, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, &ExitError{Code: 125, Err: err}
	}
	if e.Containers.IsRunning(c.ID) {
		return c, nil
	}
	before := c.State.StartedAt
	devnull, err := os.OpenFile(os.DevNull, os.O_RDWR, 0)
	if err != nil {
		return nil, err
	}
	defer devnull.Close()
	cmd := exec.Command("/proc/self/exe", "start", "-a", c.ID)
	cmd.Env = append(os.Environ(), "LAB_ROOT="+e.Root)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = devnull, devnull, devnull
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, &ExitError{Code: 125, Err: fmt.Errorf("start monitor: %w", err)}
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	for {
		cur, err := e.Containers.Get(c.ID)
		if errors.Is(err, container.ErrNotFound) && c.Config.AutoRemove {
			return c, nil // it ran, ended and was removed before we looked
		}
		if err != nil {
			return nil, &ExitError{Code: 125, Err: err}
		}
		if cur.State.StartedAt.After(before) {
			return cur, nil
		}
		if cur.State.Error != "" && cur.State.Error != c.State.Error {
			// The command could not be run (126/127): the start failed.
			return cur, &ExitError{Code: cur.State.ExitCode, Err: fmt.Errorf("%s", cur.State.Error)}
		}
		select {
		case <-exited:
			cur, err := e.Containers.Get(c.ID)
			if err == nil && cur.State.Error != "" {
				return cur, &ExitError{Code: cur.State.ExitCode, Err: fmt.Errorf("%s", cur.State.Error)}
			}
			if err == nil && cur.State.StartedAt.After(before) {
				return cur, nil
			}
			return cur, &ExitError{Code: 125, Err: fmt.Errorf("container %s did not start", c.ShortID())}
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Kill sends sig to a running container's pid 1.
func (e *Engine) Kill(ref string, sig syscall.Signal) (*container.Container, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, err
	}
	if !e.Containers.IsRunning(c.ID) || c.State.Pid <= 0 {
		return nil, fmt.Errorf("cannot kill container: %s: container %s is not running", ref, c.ShortID())
	}
	if err := syscall.Kill(c.State.Pid, sig); err != nil {
		return nil, fmt.Errorf("kill %s: %w", c.ShortID(), err)
	}
	if sig == syscall.SIGKILL {
		// A frozen process dies only once thawed; a lab killed mid-commit may have
		// left the container frozen.
		cgroup.Thaw(c.ID)
	}
	return c, nil
}

// Wait blocks until the container is not running and returns its last record, also
// when the end removed it (--rm).
func (e *Engine) Wait(ctx context.Context, ref string) (*container.Container, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, err
	}
	w, err := e.Containers.Watch(c.ID)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	if err := w.Wait(ctx); err != nil {
		return nil, err
	}
	return w.Last()
}

// Stop sends sig (0: the image's STOPSIGNAL, else SIGTERM), then SIGKILL after timeout,
// like `docker stop`, and returns the container's last record. A container that its
// end removed (--rm) counts as stopped: the record returned is then the one it had
// when it was removed, or, if even that is gone, the one it had when Stop began.
func (e *Engine) Stop(ctx context.Context, ref string, timeout time.Duration, sig syscall.Signal) (*container.Container, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, err
	}
	// Watch before signalling: the exit may remove the container at once.
	w, err := e.Containers.Watch(c.ID)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	last := func() (*container.Container, error) {
		if got, err := w.Last(); err == nil {
			return got, nil
		}
		return c, nil
	}
	if !w.Running() {
		return last()
	}
	if sig == 0 {
		sig = e.stopSignal(c)
	}
	logging.L().Debug("stop", "container", c.ShortID(), "signal", unix.SignalName(sig), "timeout", timeout)
	if pid := e.pidOf(c.ID); pid > 0 {
		syscall.Kill(pid, sig)
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if w.Wait(wctx) == nil {
		return last()
	}
	logging.L().Debug("stop: timeout, killing", "container", c.ShortID())
	// Again until it ends: a container caught between taking its run lock and
	// recording its pid has no pid to signal yet.
	for {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if pid := e.pidOf(c.ID); pid > 0 {
			syscall.Kill(pid, syscall.SIGKILL)
		}
		wctx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
		err := w.Wait(wctx)
		cancel()
		if err == nil {
			return last()
		}
	}
}

// pidOf is the host pid of a running container's init, 0 when none is recorded.
func (e *Engine) pidOf(id string) int {
	c, err := e.Containers.Get(id)
	if err != nil || c.State.Status != container.Running {
		return 0
	}
	return c.State.Pid
}

// stopSignal is the image's STOPSIGNAL, or SIGTERM.
func (e *Engine) stopSignal(c *container.Container) syscall.Signal {
	img, err := e.Images.Get(c.Image)
	if err != nil || img.Config.Config.StopSignal == "" {
		return syscall.SIGTERM
	}
	name := strings.ToUpper(img.Config.Config.StopSignal)
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n)
	}
	if s := unix.SignalNum("SIG" + strings.TrimPrefix(name, "SIG")); s != 0 {
		return s
	}
	return syscall.SIGTERM
}
