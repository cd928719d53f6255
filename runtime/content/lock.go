package content

import (
	"errors"
	"fmt"
	"os"
	"time"

	"golang.org/x/sys/unix"

	"lab/runtime/logging"
)

// LockFile takes an exclusive flock on path (created if missing) and returns the
// function that releases it. The kernel drops the lock if the process dies, so a crash
// never leaves the store locked.
func LockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	t0 := time.Now()
	for {
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		if err != unix.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	// The wait is time spent behind another lab process using the store.
	logging.L().Debug("lock", "path", path, "waited", time.Since(t0))
	t1 := time.Now()
	return func() {
		f.Close()
		logging.L().Debug("unlock", "path", path, "held", time.Since(t1))
	}, nil
}

// Liveness of an ingest file or a temporary directory is a lock its process holds on
// it for as long as it works there, not its age: a long import may leave its temp
// files untouched for minutes, and a killed process drops its lock at once.

// lockLive takes an exclusive flock on f, held until f is closed.
func lockLive(f *os.File) error {
	for {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err != unix.EINTR {
			return err
		}
	}
}

// TempDir makes a directory like os.MkdirTemp and holds a lock on it, which marks it
// in use (see InUse) until release is called.
func TempDir(parent, pattern string) (dir string, release func(), err error) {
	dir, err = os.MkdirTemp(parent, pattern)
	if err != nil {
		return "", nil, err
	}
	f, err := os.Open(dir)
	if err == nil {
		err = lockLive(f)
	}
	if err != nil {
		if f != nil {
			f.Close()
		}
		os.Remove(dir)
		return "", nil, fmt.Errorf("lock %s: %w", dir, err)
	}
	return dir, func() { f.Close() }, nil
}

// InUse reports whether a live lab process holds the lock of the ingest file or
// temporary directory p.
func InUse(p string) bool {
	f, err := os.OpenFile(p, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return false
	}
	defer f.Close()
	return errors.Is(lockLive(f), unix.EWOULDBLOCK)
}
