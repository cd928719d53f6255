// Package inittest lets a test binary run its containers through lab-init, the init
// `make build` ships, instead of itself: Use builds lab-init once into a temporary
// directory and points $LAB_INIT at it. It is imported by tests only.
package inittest

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
)

// Use builds lab-init and sets $LAB_INIT for this process and its children. The
// returned function removes the build; call it after m.Run. A $LAB_INIT already set
// names a lab-init built beforehand (a test binary run where there is no Go toolchain,
// as in make test-cgroup2's guest) and is used as it is.
func Use() (func(), error) {
	if p := os.Getenv("LAB_INIT"); p != "" {
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("LAB_INIT: %w", err)
		}
		return func() {}, nil
	}
	dir, err := os.MkdirTemp("", "lab-init-")
	if err != nil {
		return nil, err
	}
	bin := filepath.Join(dir, "lab-init")
	cmd := exec.Command("go", "build", "-o", bin, "lab/runtime/proc/labinit")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("build lab-init: %v\n%s", err, out)
	}
	// Read-only and on a private path: the init is what containers must never write.
	if err := os.Chmod(bin, 0o555); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	os.Setenv("LAB_INIT", bin)
	return func() { os.RemoveAll(dir) }, nil
}

// Main is a TestMain body: it runs the tests with lab-init as every container's init
// and exits with their status.
func Main(run func() int) {
	done, err := Use()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := run()
	done()
	os.Exit(code)
}
