package engine_test

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lab/runtime/container"
	"lab/runtime/engine"
)

// A --rm container is removed by the lab process that ran it the moment it exits,
// which races the stop, kill, wait or rm -f that ended it: each must still report
// the container it addressed (and wait its exit code), never "no such container".
// The race is run many times, every verb at once on containers of its own.
func TestAutoRemoveRace(t *testing.T) {
	e := newStore(t)
	ctx := context.Background()
	rounds := 100
	if testing.Short() {
		rounds = 20
	}
	type verb struct {
		name string
		cmd  []string
		act  func(name string) (*container.Container, error)
		code int // the exit code the container must end with
	}
	verbs := []verb{
		{"stop", []string{"sleep", "100"}, func(n string) (*container.Container, error) { return e.Stop(ctx, n, time.Minute, syscall.SIGKILL) }, 137},
		{"kill", []string{"sleep", "100"}, func(n string) (*container.Container, error) { return e.Kill(n, syscall.SIGKILL) }, 137},
		{"rmf", []string{"sleep", "100"}, func(n string) (*container.Container, error) { return e.Remove(n, true) }, 137},
		{"wait", []string{"sh", "-c", "read x; exit 3"}, nil, 3},
	}
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		errs := make(chan error, 2*len(verbs))
		for _, v := range verbs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				name := fmt.Sprintf("%s%d", v.name, round)
				stdin, release := io.Pipe()
				defer release.Close()
				type end struct {
					c   *container.Container
					err error
				}
				ran := make(chan end, 1)
				go func() {
					c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: v.cmd, Name: name, AutoRemove: true, OpenStdin: true}, engine.StartOptions{IO: engine.IO{Stdin: stdin}})
					ran <- end{c, err}
				}()
				id, err := waitRunning(e, name)
				if err != nil {
					errs <- fmt.Errorf("%s: %v", name, err)
					return
				}
				var got *container.Container
				if v.act != nil {
					got, err = v.act(name)
				} else {
					waited := make(chan end, 1)
					go func() { c, err := e.Wait(ctx, name); waited <- end{c, err} }()
					// Let the container go only once wait holds its lock file open,
					// so that the removal surely races a wait already under way.
					var w end
				watching:
					for openers(e, id) < 2 {
						select {
						case w = <-waited:
							break watching // it failed before watching
						case <-time.After(time.Millisecond):
						}
					}
					release.Close()
					if w.c == nil && w.err == nil {
						w = <-waited
					}
					got, err = w.c, w.err
				}
				switch {
				case err != nil:
					errs <- fmt.Errorf("%s of a --rm container: %v", v.name, err)
				case got == nil || got.Name != name:
					errs <- fmt.Errorf("%s returned %+v, want the container %s", v.name, got, name)
				case v.name == "wait" && got.State.ExitCode != v.code:
					errs <- fmt.Errorf("wait: exit code %d, want %d", got.State.ExitCode, v.code)
				}
				r := <-ran
				if r.err != nil || r.c.State.ExitCode != v.code {
					errs <- fmt.Errorf("%s: the run ended with %v, exit %d, want exit %d", name, r.err, r.c.State.ExitCode, v.code)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Errorf("round %d: %v", round, err)
		}
		if t.Failed() {
			break
		}
	}
	if cs, _ := e.Containers.List(); len(cs) != 0 {
		t.Errorf("%d containers left", len(cs))
	}
	for _, d := range []string{"containers", "names"} {
		if ents, _ := os.ReadDir(filepath.Join(e.Root, d)); len(ents) != 0 {
			t.Errorf("%s/ not empty: %v", d, ents)
		}
	}
}

// waitRunning returns the ID of the named container once it runs.
func waitRunning(e *engine.Engine, name string) (string, error) {
	for i := 0; i < 3000; i++ {
		if c, err := e.Containers.Get(name); err == nil && c.State.Status == container.Running {
			return c.ID, nil
		}
		time.Sleep(2 * time.Millisecond)
	}
	return "", fmt.Errorf("did not start")
}

// openers counts this process's descriptors open on the container's lock file.
func openers(e *engine.Engine, id string) int {
	lock := filepath.Join(e.Containers.Dir(id), "lock")
	ents, _ := os.ReadDir("/proc/self/fd")
	n := 0
	for _, ent := range ents {
		if p, err := os.Readlink(filepath.Join("/proc/self/fd", ent.Name())); err == nil && strings.HasPrefix(p, lock) {
			n++
		}
	}
	return n
}
