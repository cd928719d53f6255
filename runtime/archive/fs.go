package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	whiteoutPrefix = ".wh."
	// whiteoutMetaPrefix marks aufs bookkeeping entries (.wh..wh.plnk and
	// friends); only the opaque marker among them means anything to overlay.
	whiteoutMetaPrefix = ".wh..wh."
	opaqueMarker       = ".wh..wh..opq"
	overlayXattrPrefix = "trusted.overlay."
	// userOverlayPrefix is where overlay keeps the same bookkeeping when mounted with
	// userxattr (rootless): as meaningful to a mount, as meaningless in a layer.
	userOverlayPrefix = "user.overlay."
	opaqueXattr       = "trusted.overlay.opaque"
	paxXattrPrefix    = "SCHILY.xattr."
)

// isWhiteout reports whether st describes an overlayfs whiteout.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func isDir(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFDIR }

// isOpaque reports whether the directory at p carries the overlay opaque
// xattr. A filesystem without xattr support cannot hold opaque directories,
// so ENOTSUP means "no".
func isOpaque(p string) (bool, error) {
	var buf [2]byte
	n, err := unix.Lgetxattr(p, opaqueXattr, buf[:])
	switch {
	case err == nil:
		return n == 1 && buf[0] == 'y', nil
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.ERANGE):
		// ERANGE: the value is longer than "y", so it is not "y".
		return false, nil
	default:
		return false, fmt.Errorf("read opaque xattr of %s: %w", p, err)
	}
}

// isOverlayXattr reports overlayfs's own xattrs, in either namespace.
func isOverlayXattr(name string) bool {
	return strings.HasPrefix(name, overlayXattrPrefix) || strings.HasPrefix(name, userOverlayPrefix)
}

// readXattrs returns the xattrs of p (not following a final symlink) except
// overlay's own bookkeeping, which describes the upper directory rather than
// the file and must not leak into layers.
func readXattrs(p string) (map[string]string, error) {
	names, err := listXattrNames(p)
	if err != nil {
		return nil, err
	}
	var out map[string]string
	for _, name := range names {
		if isOverlayXattr(name) {
			continue
		}
		val, err := getXattr(p, name)
		if errors.Is(err, unix.ENODATA) {
			// Removed between list and get; nothing to keep.
			continue
		}
		if err != nil {
			return nil, err
		}
		if out == nil {
			out = make(map[string]string)
		}
		out[name] = string(val)
	}
	return out, nil
}

func listXattrNames(p string) ([]string, error) {
	for {
		sz, err := unix.Llistxattr(p, nil)
		if errors.Is(err, unix.ENOTSUP) {
			return nil, nil
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
		}
		if sz == 0 {
			return nil, nil
		}
		buf := make([]byte, sz)
		sz, err = unix.Llistxattr(p, buf)
		if errors.Is(err, unix.ERANGE) {
			// The list grew between the two calls; ask again.
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("list xattrs of %s: %w", p, err)
		}
		var names []string
		for _, n := range strings.Split(string(buf[:sz]), "\x00") {
			if n != "" {
				names = append(names, n)
			}
		}
		return names, nil
	}
}

func getXattr(p, name string) ([]byte, error) {
	for {
		sz, err := unix.Lgetxattr(p, name, nil)
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, p, err)
		}
		buf := make([]byte, sz)
		sz, err = unix.Lgetxattr(p, name, buf)
		if errors.Is(err, unix.ERANGE) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("get xattr %s of %s: %w", name, p, err)
		}
		return buf[:sz], nil
	}
}

// readDirNames lists dir sorted, so every walk in this package is
// deterministic.
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	cerr := f.Close()
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", dir, err)
	}
	if cerr != nil {
		return nil, cerr
	}
	slices.Sort(names)
	return names, nil
}

// DirSize is the total size of the regular files below p (0 for what cannot be read),
// as `system df` and build-cache pruning count a tree's bytes.
func DirSize(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}
