package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"syscall"
	"time"

	"lab/runtime/cgroup"
	"lab/runtime/container"
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

// Wait blocks until the container is not running and returns its record. A shared
// flock on the run lock is granted exactly when the lab process running it lets go.
func (e *Engine) Wait(ctx context.Context, ref string) (*container.Container, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, err
	}
	for e.Containers.IsRunning(c.ID) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	return e.Containers.Get(c.ID)
}

// Stop sends SIGTERM (or the image's stop signal), then SIGKILL after timeout, like
// `docker stop`.
func (e *Engine) Stop(ctx context.Context, ref string, timeout time.Duration) (*container.Container, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, err
	}
	if !e.Containers.IsRunning(c.ID) {
		return c, nil
	}
	e.Kill(c.ID, syscall.SIGTERM)
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if got, err := e.Wait(wctx, c.ID); err == nil {
		return got, nil
	}
	e.Kill(c.ID, syscall.SIGKILL)
	return e.Wait(ctx, c.ID)
}
