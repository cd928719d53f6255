package content

import (
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
