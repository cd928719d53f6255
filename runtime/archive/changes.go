package archive

import (
	"fmt"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// Change is one line of `docker diff`.
type Change struct {
	Kind byte   // 'A' added, 'C' changed, 'D' deleted
	Path string // absolute in-container path, e.g. "/root/foo"
}

func (c Change) String() string { return string(c.Kind) + " " + c.Path }

// Changes compares an overlay upper directory with the read-only lower
// layer directories beneath it (topmost first, overlay form as produced by
// Apply) and returns the changes sorted by path like `docker diff`.
//
// A whiteout in upper is D; any other upper entry is C when the merged lowers
// show something at its path (including directories overlay copied up only
// to hold a change) and A otherwise, with every path below a new directory
// listed too. An opaque upper directory hides what was below it: its lower
// children that upper does not bring back are reported D.
func Changes(upper string, lowers []string) ([]Change, error) {
	up, err := openRoot(upper)
	if err != nil {
		return nil, fmt.Errorf("changes of %s: %w", upper, err)
	}
	defer up.Close()
	var lower []*os.File
	if len(lowers) > 0 {
		if lower, err = openRoots(lowers); err != nil {
			return nil, fmt.Errorf("changes of %s: %w", upper, err)
		}
		defer closeAll(lower)
	}
	var out []Change
	if err := changesDir(up, "/", lower, &out); err != nil {
		return nil, fmt.Errorf("changes of %s: %w", upper, err)
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// changesDir reports the entries of the open upper directory dir, which is rel
// in the container; lower holds the lower directories merged at rel, nil if
// the lowers have no directory there.
func changesDir(dir *os.File, rel string, lower []*os.File, out *[]Change) error {
	names, err := listNames(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		cp := path.Join(rel, n)
		var st unix.Stat_t
		if err := lstatAt(dir, n, &st); err != nil {
			return err
		}
		if isWhiteout(&st) {
			*out = append(*out, Change{Kind: 'D', Path: cp})
			continue
		}
		var below mergedEntry
		existed := false
		if len(lower) > 0 {
			if below, existed, err = lookupChild(lower, n); err != nil {
				return err
			}
		}
		kind := byte('A')
		if existed {
			kind = 'C'
		}
		*out = append(*out, Change{Kind: kind, Path: cp})
		if isDir(&st) {
			var childLower []*os.File
			if existed && isDir(&below.st) {
				childLower = below.dirs
			}
			err = changesSubdir(dir, n, cp, childLower, out)
		}
		closeAll(below.dirs)
		if err != nil {
			return err
		}
	}
	return nil
}

func changesSubdir(dir *os.File, name, rel string, lower []*os.File, out *[]Change) error {
	sub, err := openDirAt(dir, name)
	if err != nil {
		return err
	}
	defer sub.Close()
	if lower != nil {
		opaque, err := isOpaqueDir(sub)
		if err != nil {
			return err
		}
		if opaque {
			if err := hiddenDeletes(sub, rel, lower, out); err != nil {
				return err
			}
		}
	}
	return changesDir(sub, rel, lower, out)
}

// hiddenDeletes reports as D the entries visible in the lower directories
// that the opaque upper directory dir hides and does not itself contain.
func hiddenDeletes(dir *os.File, rel string, lower []*os.File, out *[]Change) error {
	upperNames, err := listNames(dir)
	if err != nil {
		return err
	}
	names, err := mergedNames(lower)
	if err != nil {
		return err
	}
	for _, n := range names {
		if _, inUpper := slices.BinarySearch(upperNames, n); inUpper {
			continue
		}
		e, visible, err := lookupChild(lower, n)
		if err != nil {
			return err
		}
		closeAll(e.dirs)
		if visible {
			*out = append(*out, Change{Kind: 'D', Path: path.Join(rel, n)})
		}
	}
	return nil
}
