package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSymlinkHops matches the kernel's MAXSYMLINKS.
const maxSymlinkHops = 40

// mergedEntry is the entry a stack of layer directories shows for one name.
type mergedEntry struct {
	host string // host path of the visible (topmost) entry
	st   unix.Stat_t
	// dirs lists, topmost first, the host directories whose contents
	// make up this directory in the merged view; nil for non-directories.
	dirs []string
}

// lookupChild finds name in the merged directory formed by dirs (topmost
// first) the way overlayfs does: the topmost entry wins, a whiteout hides
// everything below it, and a directory merges with directories below it
// until a non-directory, a whiteout or an opaque directory ends the stack.
func lookupChild(dirs []string, name string) (mergedEntry, bool, error) {
	var e mergedEntry
	found := false
	for _, d := range dirs {
		p := filepath.Join(d, name)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return mergedEntry{}, false, fmt.Errorf("stat %s: %w", p, err)
		}
		if isWhiteout(&st) {
			break
		}
		if !found {
			e = mergedEntry{host: p, st: st}
			found = true
			if !isDir(&st) {
				break
			}
		} else if !isDir(&st) {
			break
		}
		e.dirs = append(e.dirs, p)
		opaque, err := isOpaque(p)
		if err != nil {
			return mergedEntry{}, false, err
		}
		if opaque {
			break
		}
	}
	return e, found, nil
}

// mergedNames lists the names present in any of dirs, sorted; whether each
// is visible is for lookupChild to decide.
func mergedNames(dirs []string) ([]string, error) {
	seen := make(map[string]bool)
	var names []string
	for _, d := range dirs {
		ns, err := readDirNames(d)
		if err != nil {
			return nil, err
		}
		for _, n := range ns {
			if !seen[n] {
				seen[n] = true
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return names, nil
}

// Lookup resolves the absolute in-container path p in the merged view of
// layers (topmost first, overlay form) to the host path of the visible
// entry. Symlinks are followed inside the merged view, the final component
// included: absolute targets start again at the merged root and ".." stops
// at it, so resolution never leaves the view; more than 40 hops fail with
// ELOOP. For a directory the result is its topmost layer copy, whose
// contents may be merged with lower layers. An absent path yields an error
// wrapping fs.ErrNotExist.
func Lookup(layers []string, p string) (string, error) {
	return lookup(layers, p, true)
}

// LookupNoFollow is Lookup without following a symlink in the final
// component, like lstat.
func LookupNoFollow(layers []string, p string) (string, error) {
	return lookup(layers, p, false)
}

func lookup(layers []string, p string, followLast bool) (string, error) {
	if len(layers) == 0 {
		return "", fmt.Errorf("lookup %q: no layers", p)
	}
	type frame struct {
		host string
		dirs []string
	}
	var stack []frame
	current := func() []string {
		if len(stack) == 0 {
			return layers
		}
		return stack[len(stack)-1].dirs
	}
	rest := splitPath(p)
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == ".." {
			if len(stack) > 0 {
				stack = stack[:len(stack)-1]
			}
			continue
		}
		e, ok, err := lookupChild(current(), c)
		if err != nil {
			return "", fmt.Errorf("lookup %q: %w", p, err)
		}
		if !ok {
			return "", fmt.Errorf("lookup %q: %w", p, fs.ErrNotExist)
		}
		switch e.st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			if len(rest) == 0 && !followLast {
				return e.host, nil
			}
			hops++
			if hops > maxSymlinkHops {
				return "", fmt.Errorf("lookup %q: %w", p, syscall.ELOOP)
			}
			target, err := readlink(e.host)
			if err != nil {
				return "", fmt.Errorf("lookup %q: %w", p, err)
			}
			if strings.HasPrefix(target, "/") {
				stack = stack[:0]
			}
			rest = append(splitPath(target), rest...)
			continue
		case unix.S_IFDIR:
			stack = append(stack, frame{host: e.host, dirs: e.dirs})
		default:
			if len(rest) > 0 {
				return "", fmt.Errorf("lookup %q: %s is not a directory: %w", p, e.host, fs.ErrNotExist)
			}
			return e.host, nil
		}
	}
	if len(stack) == 0 {
		// The merged root is visible whenever the top layer exists.
		var st unix.Stat_t
		if err := unix.Stat(layers[0], &st); err != nil {
			return "", fmt.Errorf("lookup %q: %w", p, err)
		}
		return layers[0], nil
	}
	return stack[len(stack)-1].host, nil
}

// splitPath splits p into components, dropping empty and "." ones.
func splitPath(p string) []string {
	var out []string
	for _, c := range strings.Split(p, "/") {
		if c != "" && c != "." {
			out = append(out, c)
		}
	}
	return out
}

func readlink(p string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlink(p, buf)
		if err != nil {
			return "", fmt.Errorf("readlink %s: %w", p, err)
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// WriteMerged writes the merged view of layers (topmost first, overlay form)
// to w as one flat tar without whiteouts, as `docker export` does. The
// format rules are those of WriteLayer; hardlinks are detected among the
// entries actually written.
func WriteMerged(ctx context.Context, w io.Writer, layers []string) error {
	if len(layers) == 0 {
		return errors.New("write merged: no layers")
	}
	t := newTreeWriter(ctx, w, TreeOptions{}, false)
	if err := t.walkMerged(layers, ""); err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	return nil
}

func (t *treeWriter) walkMerged(dirs []string, rel string) error {
	names, err := mergedNames(dirs)
	if err != nil {
		return err
	}
	for _, n := range names {
		e, ok, err := lookupChild(dirs, n)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		r := path.Join(rel, n)
		if err := t.entry(e.host, r, &e.st); err != nil {
			return err
		}
		if isDir(&e.st) {
			if err := t.walkMerged(e.dirs, r); err != nil {
				return err
			}
		}
	}
	return nil
}
