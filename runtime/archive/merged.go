package archive

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

// maxSymlinkHops matches the kernel's MAXSYMLINKS.
const maxSymlinkHops = 40

// mergedEntry is the entry a stack of open layer directories shows for one name.
type mergedEntry struct {
	parent *os.File // the directory holding the visible (topmost) entry
	name   string
	st     unix.Stat_t
	// dirs holds, topmost first and open, the directories whose contents make up
	// this directory in the merged view; nil for non-directories. The caller
	// closes them.
	dirs []*os.File
}

// lookupChild finds name in the merged directory formed by dirs (topmost
// first) the way overlayfs does: the topmost entry wins, a whiteout hides
// everything below it, and a directory merges with directories below it
// until a non-directory, a whiteout or an opaque directory ends the stack.
func lookupChild(dirs []*os.File, name string) (mergedEntry, bool, error) {
	var e mergedEntry
	found := false
	fail := func(err error) (mergedEntry, bool, error) {
		closeAll(e.dirs)
		return mergedEntry{}, false, err
	}
	for _, d := range dirs {
		var st unix.Stat_t
		if err := lstatAt(d, name, &st); err != nil {
			if errors.Is(err, unix.ENOENT) {
				continue
			}
			return fail(err)
		}
		if isWhiteout(&st) {
			break
		}
		if !found {
			e = mergedEntry{parent: d, name: name, st: st}
			found = true
			if !isDir(&st) {
				break
			}
		} else if !isDir(&st) {
			break
		}
		sub, err := openDirAt(d, name)
		if err != nil {
			return fail(err)
		}
		e.dirs = append(e.dirs, sub)
		opaque, err := isOpaqueDir(sub)
		if err != nil {
			return fail(err)
		}
		if opaque {
			break
		}
	}
	return e, found, nil
}

// mergedNames lists the names present in any of dirs, sorted; whether each
// is visible is for lookupChild to decide.
func mergedNames(dirs []*os.File) ([]string, error) {
	seen := make(map[string]bool)
	var names []string
	for _, d := range dirs {
		ns, err := listNames(d)
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

// openRoots opens the root of every layer, topmost first.
func openRoots(layers []string) ([]*os.File, error) {
	if len(layers) == 0 {
		return nil, errors.New("no layers")
	}
	out := make([]*os.File, 0, len(layers))
	for _, l := range layers {
		f, err := openRoot(l)
		if err != nil {
			closeAll(out)
			return nil, err
		}
		out = append(out, f)
	}
	return out, nil
}

// resolved is where a path of the merged view led: the entry name in directory
// parent (name "." for a directory reached as a whole, such as the root).
type resolved struct {
	parent *os.File
	name   string
	st     unix.Stat_t
	close  func()
}

// resolve finds the absolute in-container path p in the merged view of the
// open layer roots the way a chroot would (RESOLVE_IN_ROOT done in userspace,
// because the view is a stack of directories, not one): every component is
// looked up relative to the open directories of its parent, symlinks are read
// with readlinkat and followed inside the view (absolute targets start again
// at the merged root, ".." stops at it), the final one only when followLast is
// set; more than 40 hops fail with ELOOP. An absent path yields an error
// wrapping fs.ErrNotExist. The caller calls close when done with the result.
func resolve(roots []*os.File, p string, followLast bool) (resolved, error) {
	var stack []mergedEntry // directories entered, each holding its open dirs
	closeStack := func(n int) {
		for len(stack) > n {
			closeAll(stack[len(stack)-1].dirs)
			stack = stack[:len(stack)-1]
		}
	}
	current := func() []*os.File {
		if len(stack) == 0 {
			return roots
		}
		return stack[len(stack)-1].dirs
	}
	fail := func(err error) (resolved, error) {
		closeStack(0)
		return resolved{}, fmt.Errorf("lookup %q: %w", p, err)
	}
	rest := splitPath(p)
	hops := 0
	for len(rest) > 0 {
		c := rest[0]
		rest = rest[1:]
		if c == ".." {
			closeStack(max(len(stack)-1, 0))
			continue
		}
		e, ok, err := lookupChild(current(), c)
		if err != nil {
			return fail(err)
		}
		if !ok {
			return fail(fs.ErrNotExist)
		}
		switch e.st.Mode & unix.S_IFMT {
		case unix.S_IFLNK:
			if len(rest) == 0 && !followLast {
				return resolved{parent: e.parent, name: e.name, st: e.st, close: func() { closeStack(0) }}, nil
			}
			hops++
			if hops > maxSymlinkHops {
				return fail(syscall.ELOOP)
			}
			target, err := readlinkAt(e.parent, e.name)
			if err != nil {
				return fail(err)
			}
			if strings.HasPrefix(target, "/") {
				closeStack(0)
			}
			rest = append(splitPath(target), rest...)
			continue
		case unix.S_IFDIR:
			stack = append(stack, e)
		default:
			if len(rest) > 0 {
				return fail(fmt.Errorf("%s is not a directory: %w", entryName(e.parent, e.name), fs.ErrNotExist))
			}
			return resolved{parent: e.parent, name: e.name, st: e.st, close: func() { closeStack(0) }}, nil
		}
	}
	top := roots[0]
	if len(stack) > 0 {
		top = stack[len(stack)-1].dirs[0]
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(top.Fd()), &st); err != nil {
		return fail(err)
	}
	return resolved{parent: top, name: ".", st: st, close: func() { closeStack(0) }}, nil
}

// ReadFile reads the regular file at the absolute in-container path p of the
// merged view of layers (topmost first, overlay form), resolving p as a chroot
// at the view's root would and never leaving it: see resolve. Reading a
// directory fails with EISDIR; anything but a regular file is refused.
func ReadFile(layers []string, p string) ([]byte, error) {
	roots, err := openRoots(layers)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", p, err)
	}
	defer closeAll(roots)
	r, err := resolve(roots, p, true)
	if err != nil {
		return nil, err
	}
	defer r.close()
	if r.st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return nil, &fs.PathError{Op: "read", Path: p, Err: syscall.EISDIR}
	}
	f, err := openFileAt(r.parent, r.name, &r.st)
	if err != nil {
		return nil, fmt.Errorf("read %q: %w", p, err)
	}
	defer f.Close()
	return io.ReadAll(f)
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

// WriteMerged writes the merged view of layers (topmost first, overlay form)
// to w as one flat tar without whiteouts, as `docker export` does. The
// format rules are those of WriteLayer; hardlinks are detected among the
// entries actually written.
func WriteMerged(ctx context.Context, w io.Writer, layers []string) error {
	roots, err := openRoots(layers)
	if err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	defer closeAll(roots)
	t := newTreeWriter(ctx, w, TreeOptions{}, false)
	if err := t.walkMerged(roots, ""); err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("write merged: %w", err)
	}
	return nil
}

func (t *treeWriter) walkMerged(dirs []*os.File, rel string) error {
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
		var self *os.File
		if len(e.dirs) > 0 {
			self = e.dirs[0]
		}
		err = t.entry(e.parent, e.name, self, r, &e.st)
		if err == nil && isDir(&e.st) {
			err = t.walkMerged(e.dirs, r)
		}
		closeAll(e.dirs)
		if err != nil {
			return err
		}
	}
	return nil
}
