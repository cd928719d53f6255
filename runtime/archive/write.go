package archive

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// TreeOptions adjusts WriteTree for reproducible base images.
type TreeOptions struct {
	// ModTime, when set, replaces every entry's mtime.
	ModTime *time.Time
	// RootOwned writes every entry with uid and gid 0.
	RootOwned bool
	// ClampTime, when set, caps every entry's mtime at it (SOURCE_DATE_EPOCH, as
	// BuildKit's rewrite-timestamp does): times older than it stay, so a layer's bytes
	// depend on the change alone, not on when it was made.
	ClampTime *time.Time
}

// WriteLayer walks an overlayfs upper directory and writes it to w as an
// uncompressed OCI layer tar. Overlay whiteouts (character devices 0:0)
// become empty ".wh.NAME" regular files and a directory carrying
// trusted.overlay.opaque="y" is followed by a "DIR/.wh..wh..opq" entry.
//
// Entries are written parents first with siblings sorted by name, so the same
// tree always gives the same bytes; names are relative, directories end in
// "/". PAX format; uid, gid, mode and mtime (whole seconds) are kept,
// user/group names are left empty, hardlinks within the tree become TypeLink
// entries to the first path written, xattrs other than trusted.overlay.* are
// kept as SCHILY.xattr records, and device nodes and fifos are kept. Sockets
// are skipped because tar cannot represent them. The upper directory itself
// has no entry.
func WriteLayer(ctx context.Context, w io.Writer, upper string) error {
	return WriteLayerWith(ctx, w, upper, TreeOptions{})
}

// WriteLayerWith is WriteLayer with TreeOptions (ClampTime for reproducible commits).
func WriteLayerWith(ctx context.Context, w io.Writer, upper string, opts TreeOptions) error {
	t := newTreeWriter(ctx, w, opts, true)
	if err := t.walkRoot(upper); err != nil {
		return fmt.Errorf("write layer %s: %w", upper, err)
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("write layer %s: %w", upper, err)
	}
	return nil
}

// WriteTree writes the plain directory tree at root to w as a tar with the
// same format rules as WriteLayer but without whiteout conversion. It is
// meant for building base images from a prepared root filesystem.
func WriteTree(ctx context.Context, w io.Writer, root string, opts TreeOptions) error {
	t := newTreeWriter(ctx, w, opts, false)
	if err := t.walkRoot(root); err != nil {
		return fmt.Errorf("write tree %s: %w", root, err)
	}
	if err := t.tw.Close(); err != nil {
		return fmt.Errorf("write tree %s: %w", root, err)
	}
	return nil
}

type fileID struct{ dev, ino uint64 }

type treeWriter struct {
	ctx       context.Context
	tw        *tar.Writer
	opts      TreeOptions
	whiteouts bool
	links     map[fileID]string
	buf       []byte
}

func newTreeWriter(ctx context.Context, w io.Writer, opts TreeOptions, whiteouts bool) *treeWriter {
	return &treeWriter{
		ctx:       ctx,
		tw:        tar.NewWriter(w),
		opts:      opts,
		whiteouts: whiteouts,
		links:     make(map[fileID]string),
	}
}

func (t *treeWriter) walkRoot(root string) error {
	d, err := openRoot(root)
	if err != nil {
		return err
	}
	defer d.Close()
	return t.walk(d, "")
}

// walk writes the entries below the open directory dir, which is rel in the
// tree; see at.go for why everything is relative to dir.
func (t *treeWriter) walk(dir *os.File, rel string) error {
	names, err := listNames(dir)
	if err != nil {
		return err
	}
	for _, n := range names {
		r := path.Join(rel, n)
		var st unix.Stat_t
		if err := lstatAt(dir, n, &st); err != nil {
			return err
		}
		if !isDir(&st) {
			if err := t.entry(dir, n, nil, r, &st); err != nil {
				return err
			}
			continue
		}
		sub, err := openDirAt(dir, n)
		if err != nil {
			return err
		}
		err = t.entry(dir, n, sub, r, &st)
		if err == nil {
			err = t.walk(sub, r)
		}
		sub.Close()
		if err != nil {
			return err
		}
	}
	return nil
}

// entry writes the entry name of directory dir, described by st, under the tar
// name rel; self is the entry opened when it is a directory.
func (t *treeWriter) entry(dir *os.File, name string, self *os.File, rel string, st *unix.Stat_t) error {
	if err := t.ctx.Err(); err != nil {
		return err
	}
	typ := st.Mode & unix.S_IFMT
	if typ == unix.S_IFSOCK {
		return nil
	}
	hdr := &tar.Header{
		Format:  tar.FormatPAX,
		Name:    rel,
		Mode:    int64(st.Mode & 0o7777),
		Uid:     int(st.Uid),
		Gid:     int(st.Gid),
		ModTime: time.Unix(int64(st.Mtim.Sec), 0),
	}
	if t.opts.RootOwned {
		hdr.Uid, hdr.Gid = 0, 0
	}
	if t.opts.ModTime != nil {
		hdr.ModTime = time.Unix(t.opts.ModTime.Unix(), 0)
	}
	if c := t.opts.ClampTime; c != nil && hdr.ModTime.After(*c) {
		hdr.ModTime = time.Unix(c.Unix(), 0)
	}

	if t.whiteouts && !isWhiteout(st) && strings.HasPrefix(path.Base(rel), whiteoutPrefix) {
		// In a layer the name means a deletion (or aufs bookkeeping): the file would
		// come back as a whiteout of something else, or vanish.
		return fmt.Errorf("/%s: a name starting with %q cannot be stored in a layer (it marks a deletion there)", rel, whiteoutPrefix)
	}
	if t.whiteouts && isWhiteout(st) {
		hdr.Name = path.Join(path.Dir(rel), whiteoutPrefix+path.Base(rel))
		hdr.Typeflag = tar.TypeReg
		hdr.Mode = 0o600
		return t.writeHeader(hdr)
	}

	switch typ {
	case unix.S_IFDIR:
		hdr.Typeflag = tar.TypeDir
		hdr.Name += "/"
	case unix.S_IFREG:
		hdr.Typeflag = tar.TypeReg
		hdr.Size = st.Size
	case unix.S_IFLNK:
		target, err := readlinkAt(dir, name)
		if err != nil {
			return err
		}
		hdr.Typeflag = tar.TypeSymlink
		hdr.Linkname = target
	case unix.S_IFCHR, unix.S_IFBLK:
		hdr.Typeflag = tar.TypeChar
		if typ == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor = int64(unix.Major(uint64(st.Rdev)))
		hdr.Devminor = int64(unix.Minor(uint64(st.Rdev)))
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	default:
		return fmt.Errorf("%s: unknown file type %#o", entryName(dir, name), typ)
	}

	if typ != unix.S_IFDIR && st.Nlink > 1 {
		id := fileID{uint64(st.Dev), uint64(st.Ino)}
		if first, ok := t.links[id]; ok {
			hdr.Typeflag = tar.TypeLink
			hdr.Linkname = first
			hdr.Size = 0
			hdr.Devmajor, hdr.Devminor = 0, 0
			return t.writeHeader(hdr)
		}
		t.links[id] = rel
	}

	xattrs, err := readXattrs(procPath(int(dir.Fd()), name))
	if err != nil {
		return err
	}
	for k, v := range xattrs {
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = make(map[string]string, len(xattrs))
		}
		hdr.PAXRecords[paxXattrPrefix+k] = v
	}
	if err := t.writeHeader(hdr); err != nil {
		return err
	}
	if typ == unix.S_IFREG && hdr.Size > 0 {
		if err := t.copyFile(dir, name, st); err != nil {
			return err
		}
	}
	if t.whiteouts && typ == unix.S_IFDIR && self != nil {
		opaque, err := isOpaqueDir(self)
		if err != nil {
			return err
		}
		if opaque {
			// Inherits the directory's attributes so the marker adds
			// nothing a reader could interpret.
			return t.writeHeader(&tar.Header{
				Format:   tar.FormatPAX,
				Typeflag: tar.TypeReg,
				Name:     rel + "/" + opaqueMarker,
				Mode:     hdr.Mode & 0o777,
				Uid:      hdr.Uid,
				Gid:      hdr.Gid,
				ModTime:  hdr.ModTime,
			})
		}
	}
	return nil
}

func (t *treeWriter) writeHeader(hdr *tar.Header) error {
	if err := t.tw.WriteHeader(hdr); err != nil {
		return fmt.Errorf("write header %q: %w", hdr.Name, err)
	}
	return nil
}

// copyFile copies exactly st.Size bytes of the regular file name in dir: the
// header is already written, so a file that changed since the stat must fail
// rather than corrupt the stream.
func (t *treeWriter) copyFile(dir *os.File, name string, st *unix.Stat_t) error {
	f, err := openFileAt(dir, name, st)
	if err != nil {
		return err
	}
	defer f.Close()
	if t.buf == nil {
		t.buf = make([]byte, copyBufSize)
	}
	n, err := io.CopyBuffer(t.tw, io.LimitReader(ctxReader{t.ctx, f}, st.Size), t.buf)
	if err != nil {
		return fmt.Errorf("copy %s: %w", f.Name(), err)
	}
	if n != st.Size {
		return fmt.Errorf("copy %s: file shrank while being archived", f.Name())
	}
	return nil
}
