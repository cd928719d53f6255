package content

import (
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// LockFile takes an exclusive flock on path (created if missing) and returns the
// function that releases it. The kernel drops the lock if the process dies, so a crash
// never leaves the store locked.
func LockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
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
	return func() { f.Close() }, nil
}
