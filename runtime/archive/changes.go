package archive

import (
	"fmt"
	"path"
	"path/filepath"
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
	var out []Change
	if err := changesDir(upper, "/", lowers, &out); err != nil {
		return nil, fmt.Errorf("changes of %s: %w", upper, err)
	}
	slices.SortFunc(out, func(a, b Change) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// changesDir reports the entries of the upper directory dir, which is rel in
// the container; lower lists the lower directories merged at rel, nil if the
// lowers have no directory there.
func changesDir(dir, rel string, lower []string, out *[]Change) error {
	names, err := readDirNames(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		p := filepath.Join(dir, n)
		cp := path.Join(rel, n)
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return fmt.Errorf("stat %s: %w", p, err)
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
		if !isDir(&st) {
			continue
		}
		var childLower []string
		if existed && isDir(&below.st) {
			childLower = below.dirs
		}
		if childLower != nil {
			opaque, err := isOpaque(p)
			if err != nil {
				return err
			}
			if opaque {
				if err := hiddenDeletes(p, cp, childLower, out); err != nil {
					return err
				}
			}
		}
		if err := changesDir(p, cp, childLower, out); err != nil {
			return err
		}
	}
	return nil
}

// hiddenDeletes reports as D the entries visible in the lower directories
// that the opaque upper directory dir hides and does not itself contain.
func hiddenDeletes(dir, rel string, lower []string, out *[]Change) error {
	upperNames, err := readDirNames(dir)
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
		_, visible, err := lookupChild(lower, n)
		if err != nil {
			return err
		}
		if visible {
			*out = append(*out, Change{Kind: 'D', Path: path.Join(rel, n)})
		}
	}
	return nil
}
