package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// want is what one entry of a layer tar should have left in the unpacked directory.
type want struct {
	typ    uint32
	size   int64
	sum    [32]byte // regular files
	link   string   // symlinks
	rdev   uint64   // devices
	target string   // hardlinks: the entry whose content they share
}

// Verify checks that the unpacked layer directory dir still holds what the layer tar r
// put there: every file, symlink, device, fifo and whiteout the tar leaves is present
// with its type and content, and no other non-directory is. It returns one line per
// difference (nil when the tree is intact). Directories, modes, owners, times and
// xattrs are not compared: the check is for files lost or altered after unpacking.
func Verify(ctx context.Context, dir string, r io.Reader) ([]string, error) {
	exp := map[string]*want{}
	drop := func(p string) {
		for k := range exp {
			if k == p || strings.HasPrefix(k, p+"/") {
				delete(exp, k)
			}
		}
	}
	tr := tar.NewReader(r)
	for {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("verify layer: %w", err)
		}
		if hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := cleanName(hdr.Name)
		if err != nil {
			return nil, fmt.Errorf("verify layer: %w", err)
		}
		base := path.Base(name)
		switch {
		case base == opaqueMarker || strings.HasPrefix(base, whiteoutMetaPrefix):
			continue
		case strings.HasPrefix(base, whiteoutPrefix):
			p := path.Join(path.Dir(name), strings.TrimPrefix(base, whiteoutPrefix))
			drop(p)
			exp[p] = &want{typ: unix.S_IFCHR}
			continue
		}
		if hdr.Typeflag != tar.TypeDir {
			drop(name)
		}
		switch hdr.Typeflag {
		case tar.TypeReg, tar.TypeGNUSparse:
			h := sha256.New()
			n, err := io.Copy(h, tr)
			if err != nil {
				return nil, fmt.Errorf("verify layer: %w", err)
			}
			w := &want{typ: unix.S_IFREG, size: n}
			copy(w.sum[:], h.Sum(nil))
			exp[name] = w
		case tar.TypeSymlink:
			exp[name] = &want{typ: unix.S_IFLNK, link: hdr.Linkname}
		case tar.TypeLink:
			t, err := cleanName(hdr.Linkname)
			if err != nil || t == name {
				continue
			}
			if src, ok := exp[t]; ok {
				cp := *src
				cp.target = t
				exp[name] = &cp
			}
		case tar.TypeChar, tar.TypeBlock:
			typ := uint32(unix.S_IFCHR)
			if hdr.Typeflag == tar.TypeBlock {
				typ = unix.S_IFBLK
			}
			exp[name] = &want{typ: typ, rdev: unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))}
		case tar.TypeFifo:
			exp[name] = &want{typ: unix.S_IFIFO}
		}
	}
	root, err := openRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("verify layer: %w", err)
	}
	defer root.Close()
	var diffs []string
	seen := map[string]bool{}
	if err := verifyDir(ctx, root, "", exp, seen, &diffs); err != nil {
		return nil, fmt.Errorf("verify layer %s: %w", dir, err)
	}
	var missing []string
	for p := range exp {
		if !seen[p] {
			missing = append(missing, p)
		}
	}
	slices.Sort(missing)
	for _, p := range missing {
		diffs = append(diffs, "/"+p+" is missing")
	}
	return diffs, nil
}

func verifyDir(ctx context.Context, d *os.File, rel string, exp map[string]*want, seen map[string]bool, diffs *[]string) error {
	names, err := listNames(d)
	if err != nil {
		return err
	}
	for _, n := range names {
		if err := ctx.Err(); err != nil {
			return err
		}
		p := path.Join(rel, n)
		var st unix.Stat_t
		if err := lstatAt(d, n, &st); err != nil {
			return err
		}
		typ := st.Mode & unix.S_IFMT
		if typ == unix.S_IFDIR {
			sub, err := openDirAt(d, n)
			if err != nil {
				return err
			}
			err = verifyDir(ctx, sub, p, exp, seen, diffs)
			sub.Close()
			if err != nil {
				return err
			}
			continue
		}
		w, ok := exp[p]
		if !ok {
			*diffs = append(*diffs, "/"+p+" is not in the layer")
			continue
		}
		seen[p] = true
		if typ != w.typ {
			*diffs = append(*diffs, fmt.Sprintf("/%s changed type", p))
			continue
		}
		switch typ {
		case unix.S_IFREG:
			if st.Size != w.size {
				*diffs = append(*diffs, fmt.Sprintf("/%s has %d bytes, the layer %d", p, st.Size, w.size))
				continue
			}
			f, err := openFileAt(d, n, &st)
			if err != nil {
				return err
			}
			h := sha256.New()
			_, err = io.Copy(h, ctxReader{ctx, f})
			f.Close()
			if err != nil {
				return err
			}
			if !bytes.Equal(h.Sum(nil), w.sum[:]) {
				*diffs = append(*diffs, "/"+p+" has changed")
			}
		case unix.S_IFLNK:
			if l, err := readlinkAt(d, n); err != nil || l != w.link {
				*diffs = append(*diffs, "/"+p+" points elsewhere")
			}
		case unix.S_IFCHR, unix.S_IFBLK:
			if uint64(st.Rdev) != w.rdev {
				*diffs = append(*diffs, "/"+p+" is another device")
			}
		}
	}
	return nil
}
