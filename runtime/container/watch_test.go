package container

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func newTestStore(t *testing.T) *Store {
	t.Helper()
	dir := t.TempDir()
	s, err := NewStore(filepath.Join(dir, "containers"), filepath.Join(dir, "names"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func running(t *testing.T, s *Store, name string) (*Container, func()) {
	t.Helper()
	c := &Container{ID: NewID(), Name: name, Created: time.Now().UTC(), State: State{Status: Created}}
	if err := s.Create(c, nil); err != nil {
		t.Fatal(err)
	}
	unlock, err := s.Lock(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	c.State = State{Status: Running, Running: true, Pid: 1, StartedAt: time.Now().UTC()}
	if err := s.Save(c, false); err != nil {
		t.Fatal(err)
	}
	return c, unlock
}

// A Watch opened while the container runs reads how it ended after the process that
// ran it removed it (--rm), and the removal leaves nothing behind.
func TestWatchOutlivesRemoval(t *testing.T) {
	s := newTestStore(t)
	c, unlock := running(t, s, "web")
	w, err := s.Watch(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if !w.Running() {
		t.Fatal("the watch should see the run lock held")
	}
	go func() {
		time.Sleep(20 * time.Millisecond)
		c.State = State{Status: Exited, ExitCode: 3, StartedAt: c.State.StartedAt, FinishedAt: time.Now().UTC()}
		if err := s.Remove(c); err != nil {
			t.Error(err)
		}
		unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := w.Wait(ctx); err != nil {
		t.Fatal(err)
	}
	last, err := w.Last()
	if err != nil || last.Name != "web" || last.State.ExitCode != 3 || last.State.Status != Exited {
		t.Fatalf("Last after removal: %+v, %v", last, err)
	}
	if _, err := s.Get("web"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("removed container still found: %v", err)
	}
	for _, d := range []string{s.root, s.names} {
		if ents, _ := os.ReadDir(d); len(ents) != 0 {
			t.Fatalf("%s not empty after removal: %v", d, ents)
		}
	}
	// Too late to watch: the container is gone.
	if _, err := s.Watch(c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Watch of a removed container: %v", err)
	}
	// A lock taken on a file the remover held is refused.
	if _, err := s.Lock(c.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Lock of a removed container: %v", err)
	}
}

// A lab killed between writing the last record and removing the directory leaves a
// container that reads as it really ended, not as killed.
func TestCrashMidRemovalKeepsExitCode(t *testing.T) {
	s := newTestStore(t)
	c, unlock := running(t, s, "")
	end := *c
	end.State = State{Status: Exited, ExitCode: 5, StartedAt: c.State.StartedAt, FinishedAt: time.Now().UTC()}
	s.writeLast(&end) // what Remove does first
	unlock()          // the crash: the lock goes with the process, the directory stays
	got, err := s.Get(c.ID)
	if err != nil || got.State.Status != Exited || got.State.ExitCode != 5 {
		t.Fatalf("after a crash mid-removal: %+v, %v", got, err)
	}
	// Without the record it reads as killed, as before.
	os.Truncate(filepath.Join(s.Dir(c.ID), "lock"), 0)
	if got, _ := s.Get(c.ID); got.State.ExitCode != 137 {
		t.Fatalf("without a last record: exit %d, want 137", got.State.ExitCode)
	}
}
