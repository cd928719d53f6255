package build

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/bzip2"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"lab/runtime/engine"
)

// owner is the uid and gid COPY --chown gives what it writes.
type owner struct{ uid, gid int }

// entry is one thing a COPY or ADD step writes into its layer, with the metadata it
// gets in the image.
type entry struct {
	name     string // path in the image, relative to its root
	typ      byte   // tar type flag
	mode     int64  // permission bits, setuid/setgid/sticky included
	uid, gid int
	mtime    time.Time
	size     int64
	link     string // symlink target
	host     string // where a regular file's data (or an archive) is read from
	devmajor int64
	devminor int64
	// archive marks a local tar ADD unpacks under name.
	archive bool
	// keepOwner leaves an unpacked archive's entries with their own owners.
	keepOwner bool
	// The source's device and inode, and its link count (see keepHardLinks).
	inode [2]uint64
	nlink uint64
}

// copySpec is one COPY or ADD after variable expansion.
type copySpec struct {
	add     bool
	srcs    []string
	dest    string // as written, relative to WORKDIR when not absolute
	workdir string
	own     *owner // nil: root
	chmod   *int64
	unpack  bool // ADD: unpack local archives
}

// errNotFound is the classic builder's wording for a missing source.
func errNotFound(src string) error {
	return fmt.Errorf("file not found in build context or excluded by .dockerignore: stat %s: file does not exist", src)
}

func hasMeta(p string) bool { return strings.ContainsAny(p, "*?[") }

// glob expands a source pattern in t one component at a time, as filepath.Glob does
// on a real directory, following symlinked directories inside t.
func glob(t tree, pattern string) ([]string, error) {
	comps := split(pattern)
	cur := []string{""}
	for _, c := range comps {
		if _, err := path.Match(c, ""); err != nil {
			return nil, fmt.Errorf("%s: %w", pattern, err)
		}
		var next []string
		for _, base := range cur {
			rel, n, err := resolve(t, base, true)
			if err != nil || n == nil || !n.isDir() {
				continue
			}
			if !hasMeta(c) {
				if _, err := t.lstat(join(rel, c)); err == nil {
					next = append(next, join(rel, c))
				}
				continue
			}
			names, err := t.names(rel)
			if err != nil {
				return nil, err
			}
			for _, name := range names {
				if ok, _ := path.Match(c, name); !ok {
					continue
				}
				if _, err := t.lstat(join(rel, name)); err == nil {
					next = append(next, join(rel, name))
				}
			}
		}
		cur = next
	}
	return cur, nil
}

// source is one source of a COPY after globbing: the path as the user gave it (its
// base name names the copy) and where it lives in the tree.
type source struct {
	given string
	rel   string
	n     node
}

// plan lists what a COPY or ADD writes, reading sources from src and resolving the
// destination in img, the image the layer goes on.
func plan(src, img tree, s copySpec, fromContext bool) ([]entry, error) {
	var sources []source
	for _, p := range s.srcs {
		if strings.Contains(p, "://") || strings.HasPrefix(p, "git@") {
			if s.add {
				return nil, fmt.Errorf("ADD from a URL is not supported: lab builds offline (%s)", p)
			}
			return nil, fmt.Errorf("source can't be a URL for COPY")
		}
		if fromContext {
			if c := path.Clean(p); c == ".." || strings.HasPrefix(c, "../") {
				return nil, fmt.Errorf("forbidden path outside the build context: %s", p)
			}
		}
		given := []string{p}
		if hasMeta(p) {
			m, err := glob(src, p)
			if err != nil {
				return nil, err
			}
			if len(m) == 0 {
				return nil, fmt.Errorf("no source files were specified")
			}
			given = m
		}
		for _, g := range given {
			rel, n, err := resolve(src, g, true)
			if err != nil {
				return nil, err
			}
			if n == nil || n.hidden && !hasIncluded(src, rel) {
				return nil, errNotFound(p)
			}
			sources = append(sources, source{given: g, rel: rel, n: *n})
		}
	}
	destIsDir := s.dest == "." || strings.HasSuffix(s.dest, "/") || strings.HasSuffix(s.dest, "/.")
	if len(sources) > 1 && !destIsDir {
		return nil, fmt.Errorf("When using %s with more than one source file, the destination must be a directory and end with a /", instrName(s.add))
	}
	dest := s.dest
	if !path.IsAbs(dest) {
		wd := s.workdir
		if wd == "" {
			wd = "/"
		}
		dest = path.Join(wd, dest)
	}
	destRel, dn, err := resolve(img, dest, true)
	if err != nil {
		return nil, err
	}
	destExists := dn != nil && dn.isDir()
	if destExists {
		destIsDir = true
	}
	if dn != nil && !destExists {
		for _, sc := range sources {
			if destIsDir || sc.n.isDir() {
				return nil, fmt.Errorf("cannot copy to non-directory: %s", dest)
			}
		}
	}
	var out []entry
	for _, sc := range sources {
		switch {
		case sc.n.isDir():
			if !destExists && destRel != "" {
				out = append(out, dirEntry(destRel, sc.n, s))
			}
			if err := walk(src, sc.rel, destRel, s, &out); err != nil {
				return nil, err
			}
		case s.add && s.unpack && fromContext && sc.n.typ() == unix.S_IFREG && isArchive(sc.n.host):
			if !destExists && destRel != "" {
				out = append(out, dirEntry(destRel, sc.n, s))
			}
			e := fileEntry(destRel, sc.n, s)
			e.archive, e.keepOwner = true, s.own == nil
			out = append(out, e)
		default:
			target := destRel
			if destIsDir {
				target = join(destRel, path.Base(sc.given))
			}
			if target == "" {
				return nil, fmt.Errorf("cannot copy a file over the root directory")
			}
			out = append(out, fileEntry(target, sc.n, s))
		}
	}
	keepHardLinks(out)
	return out, nil
}

// keepHardLinks turns every later copy of a file that an earlier entry already copies
// (same device and inode: hard links within the copied tree) into a hard link to that
// entry, as Docker's COPY keeps them, instead of a second copy of the data.
func keepHardLinks(entries []entry) {
	first := map[[2]uint64]string{}
	for i, e := range entries {
		if e.typ != tar.TypeReg || e.archive || e.nlink < 2 {
			continue
		}
		if name, ok := first[e.inode]; ok && name != e.name {
			entries[i].typ, entries[i].link, entries[i].size, entries[i].host = tar.TypeLink, name, 0, ""
			continue
		}
		first[e.inode] = e.name
	}
}

func instrName(add bool) string {
	if add {
		return "ADD"
	}
	return "COPY"
}

// hasIncluded reports whether a directory .dockerignore excludes still holds something
// an exception pattern brings back.
func hasIncluded(t tree, rel string) bool {
	names, err := t.names(rel)
	if err != nil {
		return false
	}
	for _, n := range names {
		c, err := t.lstat(join(rel, n))
		if err != nil {
			continue
		}
		if !c.hidden || hasIncluded(t, join(rel, n)) {
			return true
		}
	}
	return false
}

// walk adds what directory rel of t holds, under target.
func walk(t tree, rel, target string, s copySpec, out *[]entry) error {
	names, err := t.names(rel)
	if err != nil {
		return err
	}
	for _, name := range names {
		c, err := t.lstat(join(rel, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue // excluded, or gone since it was listed
		}
		if err != nil {
			return err
		}
		if c.typ() == unix.S_IFSOCK {
			continue // tar cannot hold a socket
		}
		tgt := join(target, name)
		if !c.isDir() {
			*out = append(*out, fileEntry(tgt, c, s))
			continue
		}
		var sub []entry
		if err := walk(t, join(rel, name), tgt, s, &sub); err != nil {
			return err
		}
		if c.hidden && len(sub) == 0 {
			continue
		}
		d := fileEntry(tgt, c, s)
		*out = append(append(*out, d), sub...)
	}
	return nil
}

// dirEntry is the directory a COPY creates to hold a directory's contents: like the
// classic builder's, 0755 and owned by --chown's owner or root.
func dirEntry(name string, n node, s copySpec) entry {
	e := entry{name: name, typ: tar.TypeDir, mode: 0o755, mtime: mtime(n)}
	if s.own != nil {
		e.uid, e.gid = s.own.uid, s.own.gid
	}
	return e
}

func mtime(n node) time.Time { return time.Unix(n.st.Mtim.Sec, 0).UTC() }

// fileEntry describes source n copied to name. Copies belong to root (or --chown's
// owner) whatever their owner was, and keep their mode and mtime.
func fileEntry(name string, n node, s copySpec) entry {
	e := entry{name: name, mode: int64(n.st.Mode & 0o7777), mtime: mtime(n), host: n.host}
	if s.own != nil {
		e.uid, e.gid = s.own.uid, s.own.gid
	}
	switch n.typ() {
	case unix.S_IFDIR:
		e.typ = tar.TypeDir
	case unix.S_IFREG:
		e.typ, e.size = tar.TypeReg, n.st.Size
		e.inode, e.nlink = [2]uint64{n.st.Dev, n.st.Ino}, uint64(n.st.Nlink)
	case unix.S_IFLNK:
		e.typ = tar.TypeSymlink
		e.link, _ = os.Readlink(n.host)
	case unix.S_IFCHR:
		e.typ = tar.TypeChar
	case unix.S_IFBLK:
		e.typ = tar.TypeBlock
	case unix.S_IFIFO:
		e.typ = tar.TypeFifo
	}
	if e.typ == tar.TypeChar || e.typ == tar.TypeBlock {
		e.devmajor, e.devminor = int64(unix.Major(n.st.Rdev)), int64(unix.Minor(n.st.Rdev))
	}
	if s.chmod != nil && e.typ != tar.TypeSymlink {
		e.mode = *s.chmod
	}
	return e
}

// checksum identifies what the entries would write, contents included and mtimes
// left out, so that touching a file does not invalidate the cache but editing it does.
func checksum(entries []entry) (string, error) {
	h := sha256.New()
	buf := make([]byte, 128<<10)
	for _, e := range entries {
		fmt.Fprintf(h, "%q %c %o %d:%d %q %d,%d %t %t\n", e.name, e.typ, e.mode, e.uid, e.gid, e.link, e.devmajor, e.devminor, e.archive, e.keepOwner)
		if e.typ != tar.TypeReg {
			continue
		}
		if err := hashFile(h, e.host, buf); err != nil {
			return "", err
		}
		io.WriteString(h, "\n")
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func hashFile(h hash.Hash, p string, buf []byte) error {
	f, err := os.Open(p)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.CopyBuffer(h, f, buf)
	return err
}

// layerWriter writes a COPY or ADD layer. A layer must carry every directory above
// what it adds, or overlay would show that directory with the layer's defaults instead
// of the image's own mode and owner: so each parent is written first, with the image's
// metadata when the image has it, or as a new directory when it does not.
type layerWriter struct {
	ctx    context.Context
	tw     *tar.Writer
	img    tree
	done   map[string]bool
	newDir entry // template for parents the image lacks
	buf    []byte
	clamp  *time.Time // SOURCE_DATE_EPOCH: mtimes are capped at it (reproducible layers)
}

func writeLayer(ctx context.Context, w io.Writer, img tree, entries []entry, own *owner) error {
	lw := &layerWriter{ctx: ctx, tw: tar.NewWriter(w), img: img, done: map[string]bool{}, buf: make([]byte, 128<<10), clamp: engine.SourceDateEpoch()}
	lw.newDir = entry{typ: tar.TypeDir, mode: 0o755}
	if len(entries) > 0 {
		lw.newDir.mtime = entries[0].mtime
	}
	if own != nil {
		lw.newDir.uid, lw.newDir.gid = own.uid, own.gid
	}
	for _, e := range entries {
		var err error
		if e.archive {
			err = lw.unpack(e)
		} else {
			err = lw.write(e)
		}
		if err != nil {
			return err
		}
	}
	return lw.tw.Close()
}

func (w *layerWriter) parents(name string) error {
	comps := split(path.Dir(name))
	for i := range comps {
		p := strings.Join(comps[:i+1], "/")
		if w.done[p] {
			continue
		}
		d := w.newDir
		d.name = p
		if n, err := w.img.lstat(p); err == nil && n.isDir() {
			d.mode, d.uid, d.gid, d.mtime = int64(n.st.Mode&0o7777), int(n.st.Uid), int(n.st.Gid), mtime(n)
		}
		if err := w.header(d); err != nil {
			return err
		}
		w.done[p] = true
	}
	return nil
}

func (w *layerWriter) header(e entry) error {
	if err := w.ctx.Err(); err != nil {
		return err
	}
	hdr := &tar.Header{
		Format: tar.FormatPAX, Typeflag: e.typ, Name: e.name, Mode: e.mode, Uid: e.uid, Gid: e.gid,
		ModTime: e.mtime, Linkname: e.link, Devmajor: e.devmajor, Devminor: e.devminor,
	}
	if w.clamp != nil && hdr.ModTime.After(*w.clamp) {
		hdr.ModTime = *w.clamp // reproducible: see engine.SourceDateEpoch
	}
	if e.typ == tar.TypeDir {
		hdr.Name += "/"
	}
	if e.typ == tar.TypeReg {
		hdr.Size = e.size
	}
	return w.tw.WriteHeader(hdr)
}

func (w *layerWriter) write(e entry) error {
	if err := w.parents(e.name); err != nil {
		return err
	}
	if e.typ == tar.TypeDir {
		if w.done[e.name] {
			return nil // already written, as the parent of an earlier entry
		}
		w.done[e.name] = true
	}
	if err := w.header(e); err != nil {
		return err
	}
	if e.typ != tar.TypeReg || e.size == 0 {
		return nil
	}
	f, err := os.Open(e.host)
	if err != nil {
		return err
	}
	defer f.Close()
	n, err := io.CopyBuffer(w.tw, io.LimitReader(f, e.size), w.buf)
	if err != nil {
		return fmt.Errorf("copy %s: %w", e.host, err)
	}
	if n != e.size {
		return fmt.Errorf("copy %s: file changed size while being copied", e.host)
	}
	return nil
}

// unpack writes the entries of the local archive e.host under e.name, as ADD does.
func (w *layerWriter) unpack(e entry) error {
	f, err := os.Open(e.host)
	if err != nil {
		return err
	}
	defer f.Close()
	r, done, err := decompress(f)
	if err != nil {
		return fmt.Errorf("unpack %s: %w", path.Base(e.host), err)
	}
	defer done()
	tr := tar.NewReader(r)
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return fmt.Errorf("unpack %s: %w", path.Base(e.host), err)
		}
		// Names are confined below the destination whatever they say.
		name := strings.TrimPrefix(path.Clean("/"+hdr.Name), "/")
		if name == "" || hdr.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		if strings.HasPrefix(path.Base(name), ".wh.") {
			return fmt.Errorf("unpack %s: entry %q uses the layer whiteout prefix .wh.", path.Base(e.host), hdr.Name)
		}
		full := join(e.name, name)
		if err := w.parents(full); err != nil {
			return err
		}
		out := &tar.Header{
			Format: tar.FormatPAX, Typeflag: hdr.Typeflag, Name: full, Mode: hdr.Mode & 0o7777,
			Uid: hdr.Uid, Gid: hdr.Gid, ModTime: hdr.ModTime.Truncate(time.Second), Linkname: hdr.Linkname,
			Devmajor: hdr.Devmajor, Devminor: hdr.Devminor, Size: hdr.Size,
		}
		if !e.keepOwner {
			out.Uid, out.Gid = e.uid, e.gid
		}
		switch hdr.Typeflag {
		case tar.TypeDir:
			out.Name += "/"
			w.done[full] = true
		case tar.TypeLink:
			out.Linkname = join(e.name, strings.TrimPrefix(path.Clean("/"+hdr.Linkname), "/"))
		case tar.TypeReg:
			out.Typeflag = tar.TypeReg
		case tar.TypeSymlink, tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
		default:
			continue // GNU sparse and friends: nothing a plain layer can say
		}
		if out.Typeflag != tar.TypeReg {
			out.Size = 0
		}
		for k, v := range hdr.PAXRecords {
			if strings.HasPrefix(k, "SCHILY.xattr.") && !strings.HasPrefix(k, "SCHILY.xattr.trusted.overlay.") {
				if out.PAXRecords == nil {
					out.PAXRecords = map[string]string{}
				}
				out.PAXRecords[k] = v
			}
		}
		if err := w.tw.WriteHeader(out); err != nil {
			return err
		}
		if out.Size > 0 {
			if _, err := io.CopyBuffer(w.tw, tr, w.buf); err != nil {
				return fmt.Errorf("unpack %s: %w", path.Base(e.host), err)
			}
		}
	}
}

// Compression magic numbers, as Docker's archive package knows them.
var (
	magicGzip  = []byte{0x1f, 0x8b, 0x08}
	magicBzip2 = []byte{0x42, 0x5a, 0x68}
	magicXz    = []byte{0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00}
	magicZstd  = []byte{0x28, 0xb5, 0x2f, 0xfd}
)

// decompress returns r's plain content: gzip and bzip2 natively, xz and zstd through
// the host's tools, as Docker does.
func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReader(r)
	head, _ := br.Peek(6)
	switch {
	case bytes.HasPrefix(head, magicGzip):
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case bytes.HasPrefix(head, magicBzip2):
		return bzip2.NewReader(br), func() {}, nil
	case bytes.HasPrefix(head, magicXz):
		return filter(br, "xz", "-d", "-c", "-q")
	case bytes.HasPrefix(head, magicZstd):
		return filter(br, "zstd", "-d", "-c", "-q")
	}
	return br, func() {}, nil
}

func filter(r io.Reader, name string, args ...string) (io.Reader, func(), error) {
	p, err := exec.LookPath(name)
	if err != nil {
		return nil, nil, fmt.Errorf("this archive needs the host's %s program to unpack: %w", name, err)
	}
	cmd := exec.Command(p, args...)
	cmd.Stdin = r
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, nil, err
	}
	return out, func() { out.Close(); cmd.Wait() }, nil
}

// isArchive reports whether ADD unpacks the file: it is a tar, maybe compressed.
func isArchive(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	r, done, err := decompress(f)
	if err != nil {
		return false
	}
	defer done()
	_, err = tar.NewReader(r).Next()
	return err == nil
}
