package engine

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// Fork makes a fresh state directory at dir that starts with e's images, shared rather
// than copied: blobs are hard-linked (they are read-only, so neither side can change
// the other's) and unpacked layers are symlinked. Containers are not carried over, and
// nothing done in the fork reaches e. The scenario runner gives each scenario a fork.
func (e *Engine) Fork(dir string) (*Engine, error) {
	n, err := Open(dir)
	if err != nil {
		return nil, err
	}
	ds, err := e.Content.Digests()
	if err != nil {
		return nil, fmt.Errorf("fork store: %w", err)
	}
	for _, d := range ds {
		src, _ := e.Content.Path(d)
		dst, _ := n.Content.Path(d)
		if err := os.Link(src, dst); err != nil && !errors.Is(err, fs.ErrExist) {
			// Another filesystem: a symlink still shares without copying.
			if err := os.Symlink(src, dst); err != nil && !errors.Is(err, fs.ErrExist) {
				return nil, fmt.Errorf("fork store: %w", err)
			}
		}
	}
	ents, err := os.ReadDir(filepath.Join(e.Root, "layers"))
	if err != nil {
		return nil, fmt.Errorf("fork store: %w", err)
	}
	for _, ent := range ents {
		name := ent.Name()
		if strings.HasPrefix(name, ".") || name == "init" {
			continue
		}
		err := os.Symlink(filepath.Join(e.Root, "layers", name), filepath.Join(n.Root, "layers", name))
		if err != nil && !errors.Is(err, fs.ErrExist) {
			return nil, fmt.Errorf("fork store: %w", err)
		}
	}
	idx, err := os.ReadFile(filepath.Join(e.Root, "index.json"))
	if err != nil {
		return nil, fmt.Errorf("fork store: %w", err)
	}
	if err := os.WriteFile(filepath.Join(n.Root, "index.json"), idx, 0o644); err != nil {
		return nil, fmt.Errorf("fork store: %w", err)
	}
	return n, nil
}
