package engine

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"lab/runtime/container"
	"lab/runtime/content"
	"lab/runtime/image"
	"lab/runtime/lineage"
)

// Engine is one open lab state directory. It is safe to use from one goroutine at a
// time per container; separate processes may share a state directory.
type Engine struct {
	Root       string
	Content    *content.Store
	Images     *image.Store
	Containers *container.Store
	Lineage    *lineage.Store
}

// DefaultRoot is $LAB_ROOT, else /var/lib/lab for root, else $XDG_DATA_HOME/lab.
func DefaultRoot() string {
	if r := os.Getenv("LAB_ROOT"); r != "" {
		return r
	}
	if os.Geteuid() == 0 {
		return "/var/lib/lab"
	}
	if x := os.Getenv("XDG_DATA_HOME"); x != "" {
		return filepath.Join(x, "lab")
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, ".local", "share", "lab")
}

// Open opens (creating if needed) the state directory at root.
func Open(root string) (*Engine, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	cs, err := content.Open(root)
	if err != nil {
		return nil, err
	}
	is, err := image.NewStore(cs, root)
	if err != nil {
		return nil, err
	}
	ct, err := container.NewStore(filepath.Join(root, "containers"), filepath.Join(root, "names"))
	if err != nil {
		return nil, err
	}
	return &Engine{Root: root, Content: cs, Images: is, Containers: ct, Lineage: lineage.Open(root)}, nil
}

// initLayer returns the shared lower layer holding the mount points every container
// needs, so that creating them never shows up in a container's diff or commit (Docker's
// "-init" layer, made once for all containers).
func (e *Engine) initLayer() (string, error) {
	dir := filepath.Join(e.Root, "layers", "init")
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	tmp, err := os.MkdirTemp(filepath.Join(e.Root, "layers"), ".init-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(tmp)
	for _, d := range []string{"proc", "sys", "dev", "etc"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return "", err
		}
	}
	for _, f := range []string{"etc/hostname", "etc/hosts", "etc/resolv.conf"} {
		if err := os.WriteFile(filepath.Join(tmp, f), nil, 0o644); err != nil {
			return "", err
		}
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr != nil {
			return "", fmt.Errorf("make init layer: %w", err)
		}
	}
	return dir, nil
}

// ExitError carries the exit status a failed operation maps to (125, 126, 127).
type ExitError struct {
	Code int
	Err  error
}

func (e *ExitError) Error() string { return e.Err.Error() }
func (e *ExitError) Unwrap() error { return e.Err }

// Code returns the exit status err maps to: its ExitError code, else fallback.
func Code(err error, fallback int) int {
	var ee *ExitError
	if errors.As(err, &ee) {
		return ee.Code
	}
	return fallback
}
