package container

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// Watch follows one container through its end, and through its removal too: a --rm
// container is removed by the lab process that ran it the moment it exits, and
// whoever stopped it or waits for it must still learn how it ended. A Watch holds the
// container's lock file open; Remove writes the container's last record into that file
// before the directory goes, so the open file still has it when the path does not.
// Nothing outlives the last Watch: the kernel frees the unlinked file with it.
type Watch struct {
	s  *Store
	id string
	f  *os.File
}

// Watch opens the container's lock file. It fails with ErrNotFound once the
// container is removed.
func (s *Store) Watch(id string) (*Watch, error) {
	f, err := os.OpenFile(filepath.Join(s.Dir(id), "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("watch container: %w", err)
	}
	return &Watch{s: s, id: id, f: f}, nil
}

// Running reports whether a lab process holds the container's run lock.
func (w *Watch) Running() bool {
	err := w.s.flockNB(w.id, w.f, unix.LOCK_SH)
	if err == nil {
		unix.Flock(int(w.f.Fd()), unix.LOCK_UN)
	}
	return errors.Is(err, unix.EWOULDBLOCK)
}

// Wait returns once the container is not running (nil), or with ctx's error.
func (w *Watch) Wait(ctx context.Context) error {
	for w.Running() {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Last returns the container's record: the one in the store while the container
// exists, else the last state its remover left in the lock file. ErrNotFound means
// it was removed without a record for us (it never ran, or was removed before the
// Watch opened).
func (w *Watch) Last() (*Container, error) {
	c, err := w.s.load(w.id)
	if !errors.Is(err, ErrNotFound) {
		return c, err
	}
	b, rerr := io.ReadAll(io.NewSectionReader(w.f, 0, 1<<20))
	if rerr != nil || len(b) == 0 {
		return nil, err
	}
	c = &Container{}
	if jerr := json.Unmarshal(b, c); jerr != nil {
		return nil, err
	}
	return c, nil
}

// Close lets go of the lock file.
func (w *Watch) Close() error { return w.f.Close() }
