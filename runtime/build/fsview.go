package build

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/moby/patternmatcher"
	"golang.org/x/sys/unix"
)

// tree is a read-only file tree COPY and ADD read from, or that a step's destination is
// resolved in: the build context (a host directory filtered by .dockerignore) or an
// image (a stack of unpacked layers read the way overlayfs would show them). Paths are
// clean, relative to the tree's root ("" is the root) and free of symlinks: resolve
// turns a user's path into one.
type tree interface {
	// lstat describes the entry at rel without following a final symlink. A missing or
	// excluded entry yields an error wrapping fs.ErrNotExist.
	lstat(rel string) (node, error)
	// names lists the entries of directory rel, sorted; some may be invisible to lstat.
	names(rel string) ([]string, error)
}

// node is one entry of a tree.
type node struct {
	host string // where its data lives on the host
	st   unix.Stat_t
	// hidden marks a directory .dockerignore excludes but that is walked anyway because
	// an exception ("!pattern") may bring back something inside it.
	hidden bool
}

func (n node) typ() uint32  { return n.st.Mode & unix.S_IFMT }
func (n node) isDir() bool  { return n.typ() == unix.S_IFDIR }
func (n node) isLink() bool { return n.typ() == unix.S_IFLNK }

// maxHops matches the kernel's MAXSYMLINKS.
const maxHops = 40

// split splits p into its non-empty components other than ".".
func split(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// resolve finds p in t the way a chroot at t's root would: symlinks are followed inside
// the tree (absolute targets restart at its root, ".." stops there), the last component
// only when followLast is set. It returns the symlink-free relative path. When p, or a
// parent of it, does not exist, n is nil and rel still names where it would be, so that
// a destination can be created there; a parent that is not a directory is an error.
func resolve(t tree, p string, followLast bool) (rel string, n *node, err error) {
	rest := split(p)
	var done []string
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == ".." {
			if len(done) > 0 {
				done = done[:len(done)-1]
			}
			continue
		}
		cur := join(strings.Join(done, "/"), c)
		e, err := t.lstat(cur)
		if errors.Is(err, fs.ErrNotExist) {
			// Nothing below a missing entry exists either; the remainder is new.
			all := append(append(done, c), rest...)
			return path.Clean(strings.Join(all, "/")), nil, nil
		}
		if err != nil {
			return "", nil, err
		}
		if e.isLink() && (len(rest) > 0 || followLast) {
			hops++
			if hops > maxHops {
				return "", nil, fmt.Errorf("%s: %w", p, syscall.ELOOP)
			}
			target, err := os.Readlink(e.host)
			if err != nil {
				return "", nil, err
			}
			if strings.HasPrefix(target, "/") {
				done = done[:0]
			}
			rest = append(split(target), rest...)
			continue
		}
		if len(rest) > 0 && !e.isDir() {
			return "", nil, fmt.Errorf("%s: %s is not a directory", p, "/"+cur)
		}
		done = append(done, c)
		if len(rest) == 0 {
			return cur, &e, nil
		}
	}
	root, err := t.lstat("")
	if err != nil {
		return "", nil, err
	}
	return "", &root, nil
}

// dirTree is the build context: a host directory with .dockerignore applied.
type dirTree struct {
	root string
	pm   *patternmatcher.PatternMatcher // nil: nothing is ignored
}

func (t *dirTree) lstat(rel string) (node, error) {
	p := filepath.Join(t.root, filepath.FromSlash(rel))
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return node{}, &fs.PathError{Op: "stat", Path: rel, Err: err}
	}
	n := node{host: p, st: st}
	if rel != "" && t.pm != nil {
		ignored, err := t.pm.MatchesOrParentMatches(rel)
		if err != nil {
			return node{}, err
		}
		if ignored {
			if !n.isDir() || !t.pm.Exclusions() {
				return node{}, &fs.PathError{Op: "stat", Path: rel, Err: fs.ErrNotExist}
			}
			n.hidden = true
		}
	}
	return n, nil
}

func (t *dirTree) names(rel string) ([]string, error) {
	f, err := os.Open(filepath.Join(t.root, filepath.FromSlash(rel)))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ns, err := f.Readdirnames(-1)
	if err != nil {
		return nil, err
	}
	slices.Sort(ns)
	return ns, nil
}

// layerTree is an image's filesystem: its unpacked layers, topmost first, merged the
// way overlayfs merges them (the topmost entry wins, a whiteout hides what is below,
// directories merge down to the first opaque one), so that nothing needs mounting.
type layerTree struct {
	layers []string
	stacks map[string][]string // directory rel -> the host dirs that make it up, topmost first
}

func newLayerTree(layers []string) *layerTree {
	return &layerTree{layers: layers, stacks: map[string][]string{"": layers}}
}

// stack returns the host directories whose union is directory rel.
func (t *layerTree) stack(rel string) ([]string, error) {
	if s, ok := t.stacks[rel]; ok {
		return s, nil
	}
	dir, name := path.Split(rel)
	parent, err := t.stack(strings.TrimSuffix(dir, "/"))
	if err != nil {
		return nil, err
	}
	_, s, err := child(parent, name)
	if err != nil {
		return nil, err
	}
	if s == nil {
		return nil, &fs.PathError{Op: "stat", Path: rel, Err: syscall.ENOTDIR}
	}
	t.stacks[rel] = s
	return s, nil
}

// child looks name up in the union of dirs. For a directory it also returns the host
// directories that make up its contents.
func child(dirs []string, name string) (node, []string, error) {
	var top node
	found := false
	var stack []string
	for _, d := range dirs {
		p := filepath.Join(d, name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) || errors.Is(err, unix.ENOTDIR) {
				continue
			}
			return node{}, nil, fmt.Errorf("stat %s: %w", p, err)
		}
		if st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			break // a whiteout: nothing below shows
		}
		isDir := st.Mode&unix.S_IFMT == unix.S_IFDIR
		if !found {
			top, found = node{host: p, st: st}, true
		}
		if !isDir {
			break
		}
		if top.isDir() {
			stack = append(stack, p)
		}
		if opaque(p) {
			break
		}
	}
	if !found {
		return node{}, nil, &fs.PathError{Op: "stat", Path: name, Err: fs.ErrNotExist}
	}
	if !top.isDir() {
		stack = nil
	}
	return top, stack, nil
}

// opaque reports whether overlay would hide what lower layers hold under directory p.
func opaque(p string) bool {
	var buf [1]byte
	n, err := unix.Lgetxattr(p, "trusted.overlay.opaque", buf[:])
	return err == nil && n == 1 && buf[0] == 'y'
}

func (t *layerTree) lstat(rel string) (node, error) {
	if rel == "" {
		if len(t.layers) == 0 {
			// An image with no layers (FROM scratch) is an empty root directory.
			return node{st: unix.Stat_t{Mode: unix.S_IFDIR | 0o755}}, nil
		}
		// Stat, not Lstat: a forked store links its layer directories.
		var st unix.Stat_t
		if err := unix.Stat(t.layers[0], &st); err != nil {
			return node{}, err
		}
		return node{host: t.layers[0], st: st}, nil
	}
	dir, name := path.Split(rel)
	parent, err := t.stack(strings.TrimSuffix(dir, "/"))
	if err != nil {
		if errors.Is(err, syscall.ENOTDIR) {
			return node{}, &fs.PathError{Op: "stat", Path: rel, Err: fs.ErrNotExist}
		}
		return node{}, err
	}
	n, s, err := child(parent, name)
	if err == nil && s != nil {
		t.stacks[rel] = s
	}
	return n, err
}

func (t *layerTree) names(rel string) ([]string, error) {
	dirs, err := t.stack(rel)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var out []string
	for _, d := range dirs {
		f, err := os.Open(d)
		if err != nil {
			return nil, err
		}
		ns, err := f.Readdirnames(-1)
		f.Close()
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if !seen[n] {
				seen[n] = true
				out = append(out, n)
			}
		}
	}
	slices.Sort(out)
	return out, nil
}
