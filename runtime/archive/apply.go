package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUnsafe marks an entry that would land outside the layer directory; wrap it.
var ErrUnsafe = errors.New("unsafe layer entry")

// resolveFlags confines every path lookup of Apply to the layer directory:
// ".." above the starting fd, absolute symlinks and symlinks leaving the tree
// fail with EXDEV instead of being followed.
const resolveFlags = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS

const copyBufSize = 128 << 10

// dirMeta is what Apply postpones for directories until the whole layer is
// unpacked: creating children bumps a directory's mtime, and a read-only mode
// would stop later entries from being created inside it.
type dirMeta struct {
	mode         uint32
	atime, mtime time.Time
}

type applier struct {
	ctx     context.Context
	rootfd  int
	dirs    map[string]dirMeta
	order   []string
	buf     []byte
	written int64
}

// Apply unpacks an uncompressed OCI layer tar read from r into dir (which
// exists and is empty), converting OCI whiteouts to overlayfs form: an entry
// ".wh.NAME" becomes a character device 0:0 named NAME and ".wh..wh..opq"
// sets xattr trusted.overlay.opaque="y" on its directory. Other ".wh..wh."
// entries (aufs bookkeeping) are ignored, and trusted.overlay.* xattrs carried
// in the stream are dropped so a layer cannot forge overlay metadata.
//
// Ownership, modes (including setuid/setgid/sticky), mtimes, symlinks,
// hardlinks, fifos, device nodes and SCHILY.xattr PAX records are restored;
// xattrs failing with ENOTSUP or EPERM are skipped. Entries that would land
// outside dir — absolute names, names escaping with "..", parents or
// hardlink targets reached through symlinks that leave dir — fail with an
// error wrapping ErrUnsafe. An entry replacing an existing one removes it
// first, so writing over a symlink replaces the link, never its target.
//
// r is read to EOF even after the end-of-archive marker, so a digesting reader
// wrapped around it sees the whole blob. The result is the number of bytes of
// file content stored (without the holes of sparse files).
func Apply(ctx context.Context, dir string, r io.Reader) (int64, error) {
	rootfd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return 0, fmt.Errorf("apply layer: open %s: %w", dir, err)
	}
	defer unix.Close(rootfd)
	a := &applier{ctx: ctx, rootfd: rootfd, dirs: make(map[string]dirMeta)}
	n, err := a.run(r)
	if err != nil {
		return n, fmt.Errorf("apply layer: %w", err)
	}
	return n, nil
}

func (a *applier) run(r io.Reader) (int64, error) {
	tr := tar.NewReader(r)
	for {
		if err := a.ctx.Err(); err != nil {
			return a.written, err
		}
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		// ErrInsecurePath only appears under GODEBUG=tarinsecurepath=0 and
		// comes with a usable header; cleanName applies the stricter rules.
		if err != nil && !errors.Is(err, tar.ErrInsecurePath) {
			return a.written, fmt.Errorf("read tar: %w", err)
		}
		if err := a.entry(hdr, tr); err != nil {
			return a.written, fmt.Errorf("layer entry %q: %w", hdr.Name, err)
		}
	}
	if err := a.finishDirs(); err != nil {
		return a.written, err
	}
	if _, err := io.Copy(io.Discard, ctxReader{a.ctx, r}); err != nil {
		return a.written, fmt.Errorf("drain layer: %w", err)
	}
	return a.written, nil
}

// cleanName turns a tar entry name into a clean path relative to the layer
// root, refusing anything that names a place outside it.
func cleanName(name string) (string, error) {
	switch {
	case name == "":
		return "", errors.New("empty name")
	case strings.IndexByte(name, 0) >= 0:
		return "", fmt.Errorf("%w: NUL byte in name", ErrUnsafe)
	case path.IsAbs(name):
		return "", fmt.Errorf("%w: absolute path", ErrUnsafe)
	}
	c := path.Clean(name)
	if c == ".." || strings.HasPrefix(c, "../") {
		return "", fmt.Errorf("%w: path escapes the layer root", ErrUnsafe)
	}
	return c, nil
}

func (a *applier) entry(hdr *tar.Header, r io.Reader) error {
	if hdr.Typeflag == tar.TypeXGlobalHeader {
		return nil
	}
	name, err := cleanName(hdr.Name)
	if err != nil {
		return err
	}
	base := path.Base(name)
	switch {
	case base == opaqueMarker:
		return a.opaque(name)
	case strings.HasPrefix(base, whiteoutMetaPrefix):
		return nil
	case strings.HasPrefix(base, whiteoutPrefix):
		return a.whiteout(hdr, name)
	}
	if err := checkOwner(hdr); err != nil {
		return err
	}

	var linkTarget string
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeReg, tar.TypeGNUSparse, tar.TypeSymlink,
		tar.TypeChar, tar.TypeBlock, tar.TypeFifo:
	case tar.TypeLink:
		if linkTarget, err = cleanName(hdr.Linkname); err != nil {
			return fmt.Errorf("hardlink target %q: %w", hdr.Linkname, err)
		}
		if linkTarget == "." {
			return errors.New("hardlink to the layer root")
		}
		if linkTarget == name {
			// GNU tar emits these for files linked to themselves;
			// removing the "old" entry would destroy the target.
			return nil
		}
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
	if name == "." && hdr.Typeflag != tar.TypeDir {
		return fmt.Errorf("%w: non-directory replaces the layer root", ErrUnsafe)
	}

	pfd, base, err := a.openParent(name, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	keep, err := a.clear(pfd, base, name, hdr.Typeflag == tar.TypeDir)
	if err != nil {
		return err
	}

	switch hdr.Typeflag {
	case tar.TypeDir:
		return a.mkdir(hdr, pfd, base, name, keep)
	case tar.TypeReg, tar.TypeGNUSparse:
		return a.writeFile(hdr, r, pfd, base)
	case tar.TypeSymlink:
		if err := unix.Symlinkat(hdr.Linkname, pfd, base); err != nil {
			return fmt.Errorf("create symlink: %w", err)
		}
		return a.finish(hdr, pfd, base, false)
	case tar.TypeLink:
		return a.link(linkTarget, pfd, base)
	default:
		return a.mknod(hdr, pfd, base)
	}
}

func checkOwner(hdr *tar.Header) error {
	// -1 would mean "leave unchanged" to chown, and larger values wrap.
	if hdr.Uid < 0 || hdr.Gid < 0 || int64(hdr.Uid) >= math.MaxUint32 || int64(hdr.Gid) >= math.MaxUint32 {
		return fmt.Errorf("invalid owner %d:%d", hdr.Uid, hdr.Gid)
	}
	return nil
}

func (a *applier) mkdir(hdr *tar.Header, pfd int, base, name string, exists bool) error {
	if !exists {
		if err := unix.Mkdirat(pfd, base, 0o700); err != nil {
			return fmt.Errorf("create directory: %w", err)
		}
	}
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := setXattrs(hdr, func(k string, v []byte) error {
		return unix.Lsetxattr(procPath(pfd, base), k, v, 0)
	}); err != nil {
		return err
	}
	if _, seen := a.dirs[name]; !seen {
		a.order = append(a.order, name)
	}
	a.dirs[name] = dirMeta{mode: uint32(hdr.Mode) & 0o7777, atime: hdr.AccessTime, mtime: hdr.ModTime}
	return nil
}

func (a *applier) writeFile(hdr *tar.Header, r io.Reader, pfd int, base string) error {
	fd, err := openat2(pfd, base, unix.O_WRONLY|unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("create file: %w", err)
	}
	f := os.NewFile(uintptr(fd), base)
	defer f.Close()
	stored, err := a.copyContent(f, r, isSparse(hdr))
	a.written += stored
	if err != nil {
		return fmt.Errorf("write file: %w", err)
	}
	// chown before chmod: chown clears setuid/setgid; xattrs after chown,
	// which drops security.capability.
	if err := unix.Fchown(fd, hdr.Uid, hdr.Gid); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if err := unix.Fchmod(fd, uint32(hdr.Mode)&0o7777); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	if err := setXattrs(hdr, func(k string, v []byte) error {
		return unix.Fsetxattr(fd, k, v, 0)
	}); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("close file: %w", err)
	}
	return setTimes(pfd, base, hdr.AccessTime, hdr.ModTime)
}

// isSparse reports whether the tar reader will synthesise holes for this
// entry; only then can a tiny stream expand into a huge file, so only then
// are zero runs turned back into holes.
func isSparse(hdr *tar.Header) bool {
	if hdr.Typeflag == tar.TypeGNUSparse {
		return true
	}
	for k := range hdr.PAXRecords {
		if strings.HasPrefix(k, "GNU.sparse.") {
			return true
		}
	}
	return false
}

// copyContent copies a file's content and returns the bytes it stored: zero runs of
// a sparse entry become holes again and are not counted, so a 10 KB tar claiming a
// 1 TB file neither fills the disk nor reports a 1 TB layer.
func (a *applier) copyContent(f *os.File, r io.Reader, sparse bool) (int64, error) {
	if a.buf == nil {
		a.buf = make([]byte, copyBufSize)
	}
	var zero []byte
	if sparse {
		zero = make([]byte, copyBufSize)
	}
	var n, stored int64
	for {
		if err := a.ctx.Err(); err != nil {
			return stored, err
		}
		m, rerr := r.Read(a.buf)
		if m > 0 {
			chunk := a.buf[:m]
			if sparse && bytes.Equal(chunk, zero[:m]) {
				if _, err := f.Seek(int64(m), io.SeekCurrent); err != nil {
					return stored, err
				}
			} else if _, err := f.Write(chunk); err != nil {
				return stored, err
			} else {
				stored += int64(m)
			}
			n += int64(m)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return stored, rerr
		}
	}
	if sparse {
		// A trailing hole was only seeked over; give the file its size.
		if err := f.Truncate(n); err != nil {
			return stored, err
		}
	}
	return stored, nil
}

func (a *applier) link(target string, pfd int, base string) error {
	tfd, tbase, err := a.openParent(target, false)
	if err != nil {
		return fmt.Errorf("hardlink target: %w", err)
	}
	defer unix.Close(tfd)
	// Flags 0: a link to a symlink links the symlink itself, as tar does.
	if err := unix.Linkat(tfd, tbase, pfd, base, 0); err != nil {
		return fmt.Errorf("create hardlink: %w", err)
	}
	return nil
}

func (a *applier) mknod(hdr *tar.Header, pfd int, base string) error {
	var typ uint32
	switch hdr.Typeflag {
	case tar.TypeChar:
		typ = unix.S_IFCHR
	case tar.TypeBlock:
		typ = unix.S_IFBLK
	default:
		typ = unix.S_IFIFO
	}
	if hdr.Devmajor < 0 || hdr.Devminor < 0 || hdr.Devmajor > math.MaxUint32 || hdr.Devminor > math.MaxUint32 {
		return fmt.Errorf("invalid device number %d:%d", hdr.Devmajor, hdr.Devminor)
	}
	dev := unix.Mkdev(uint32(hdr.Devmajor), uint32(hdr.Devminor))
	if err := unix.Mknodat(pfd, base, typ|0o600, int(dev)); err != nil {
		return fmt.Errorf("create node: %w", err)
	}
	return a.finish(hdr, pfd, base, true)
}

// finish restores ownership, mode, xattrs and times of a just created
// non-directory, non-regular entry.
func (a *applier) finish(hdr *tar.Header, pfd int, base string, chmod bool) error {
	if err := unix.Fchownat(pfd, base, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown: %w", err)
	}
	if chmod {
		// Following is harmless here: base was created by us a moment
		// ago and is not a symlink.
		if err := unix.Fchmodat(pfd, base, uint32(hdr.Mode)&0o7777, 0); err != nil {
			return fmt.Errorf("chmod: %w", err)
		}
	}
	if err := setXattrs(hdr, func(k string, v []byte) error {
		return unix.Lsetxattr(procPath(pfd, base), k, v, 0)
	}); err != nil {
		return err
	}
	return setTimes(pfd, base, hdr.AccessTime, hdr.ModTime)
}

func (a *applier) whiteout(hdr *tar.Header, name string) error {
	dir, base := path.Split(name)
	target := strings.TrimPrefix(base, whiteoutPrefix)
	if target == "" || target == "." || target == ".." {
		return fmt.Errorf("%w: whiteout of %q", ErrUnsafe, target)
	}
	if err := checkOwner(hdr); err != nil {
		return err
	}
	tname := path.Join(dir, target)
	pfd, tbase, err := a.openParent(tname, true)
	if err != nil {
		return err
	}
	defer unix.Close(pfd)
	if _, err := a.clear(pfd, tbase, tname, false); err != nil {
		return err
	}
	// Mode 0 like the whiteouts overlayfs creates itself.
	if err := unix.Mknodat(pfd, tbase, unix.S_IFCHR, 0); err != nil {
		return fmt.Errorf("create whiteout: %w", err)
	}
	if err := unix.Fchownat(pfd, tbase, hdr.Uid, hdr.Gid, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("chown whiteout: %w", err)
	}
	return setTimes(pfd, tbase, hdr.AccessTime, hdr.ModTime)
}

func (a *applier) opaque(name string) error {
	dfd, err := a.resolveDir(path.Dir(name), true)
	if err != nil {
		return err
	}
	defer unix.Close(dfd)
	// fsetxattr needs a real descriptor; reopening "." of the O_PATH fd
	// cannot move anywhere else.
	fd, err := openat2(dfd, ".", unix.O_RDONLY|unix.O_DIRECTORY, 0)
	if err != nil {
		return fmt.Errorf("open opaque directory: %w", err)
	}
	defer unix.Close(fd)
	if err := unix.Fsetxattr(fd, opaqueXattr, []byte("y"), 0); err != nil {
		return fmt.Errorf("mark directory opaque: %w", err)
	}
	return nil
}

// clear removes whatever sits at base in pfd unless a directory entry meets
// an existing directory, which tar merges into. It reports whether base is
// kept.
func (a *applier) clear(pfd int, base, name string, dirEntry bool) (bool, error) {
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return false, nil
		}
		return false, fmt.Errorf("stat existing entry: %w", err)
	}
	if dirEntry && isDir(&st) {
		return true, nil
	}
	if err := removeAllAt(pfd, base); err != nil {
		return false, fmt.Errorf("remove existing entry: %w", err)
	}
	a.forgetDirs(name)
	return false, nil
}

// forgetDirs drops postponed metadata of directories that were just removed,
// so it cannot land on an unrelated directory created later at the same path.
func (a *applier) forgetDirs(name string) {
	prefix := name + "/"
	for k := range a.dirs {
		if k == name || strings.HasPrefix(k, prefix) {
			delete(a.dirs, k)
		}
	}
}

func (a *applier) finishDirs() error {
	done := make(map[string]bool, len(a.dirs))
	// Children first, so a parent made unsearchable last cannot block them.
	for _, name := range slices.Backward(a.order) {
		m, ok := a.dirs[name]
		if !ok || done[name] {
			continue
		}
		done[name] = true
		if err := a.ctx.Err(); err != nil {
			return err
		}
		if err := a.finishDir(name, m); err != nil {
			return fmt.Errorf("layer entry %q: %w", name, err)
		}
	}
	return nil
}

func (a *applier) finishDir(name string, m dirMeta) error {
	pfd, base, err := a.openParent(name, false)
	if errors.Is(err, ErrUnsafe) {
		return err
	}
	if err != nil {
		// A later entry replaced a parent; nothing left to restore.
		return nil
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstatat(pfd, base, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || !isDir(&st) {
		return nil
	}
	if err := unix.Fchmodat(pfd, base, m.mode, 0); err != nil {
		return fmt.Errorf("chmod: %w", err)
	}
	return setTimes(pfd, base, m.atime, m.mtime)
}

// openParent returns an O_PATH descriptor of the directory that holds name
// and name's last component. The root itself is returned as (root, ".").
func (a *applier) openParent(name string, create bool) (int, string, error) {
	if name == "." {
		fd, err := a.resolveDir(".", false)
		return fd, ".", err
	}
	fd, err := a.resolveDir(path.Dir(name), create)
	return fd, path.Base(name), err
}

// resolveDir opens rel, a clean relative path, as a directory beneath the
// root. With create, missing components are made with mode 0755 as tar does
// for parents that have no entry of their own.
func (a *applier) resolveDir(rel string, create bool) (int, error) {
	const flags = unix.O_PATH | unix.O_DIRECTORY
	fd, err := openat2(a.rootfd, rel, flags, 0)
	if err == nil {
		return fd, nil
	}
	if !create || !errors.Is(err, unix.ENOENT) {
		return -1, resolveErr(rel, err)
	}
	prev, err := openat2(a.rootfd, ".", flags, 0)
	if err != nil {
		return -1, resolveErr(".", err)
	}
	comps := strings.Split(rel, "/")
	for i, c := range comps {
		// Each prefix is resolved from the root, not from prev, so a
		// symlink like a/l -> ../b keeps working under RESOLVE_BENEATH.
		prefix := strings.Join(comps[:i+1], "/")
		fd, err := openat2(a.rootfd, prefix, flags, 0)
		if errors.Is(err, unix.ENOENT) {
			merr := unix.Mkdirat(prev, c, 0o755)
			if merr == nil {
				// Independent of the umask, for reproducible layers.
				merr = unix.Fchmodat(prev, c, 0o755, 0)
			}
			if merr != nil && !errors.Is(merr, unix.EEXIST) {
				unix.Close(prev)
				return -1, fmt.Errorf("create parent %q: %w", prefix, merr)
			}
			fd, err = openat2(a.rootfd, prefix, flags, 0)
		}
		unix.Close(prev)
		if err != nil {
			return -1, resolveErr(prefix, err)
		}
		prev = fd
	}
	return prev, nil
}

func resolveErr(rel string, err error) error {
	if errors.Is(err, unix.EXDEV) {
		return fmt.Errorf("%w: %q resolves outside the layer", ErrUnsafe, rel)
	}
	return fmt.Errorf("resolve %q: %w", rel, err)
}

// openat2 opens p beneath dirfd. The kernel asks for a retry with EAGAIN when
// a concurrent rename could have raced a ".." lookup.
func openat2(dirfd int, p string, flags int, mode uint32) (int, error) {
	how := unix.OpenHow{
		Flags:   uint64(flags) | unix.O_CLOEXEC,
		Mode:    uint64(mode),
		Resolve: resolveFlags,
	}
	for i := 0; ; i++ {
		fd, err := unix.Openat2(dirfd, p, &how)
		if (errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR)) && i < 32 {
			continue
		}
		return fd, err
	}
}

// removeAllAt removes name in dirfd and, for a directory, everything below
// it, never following symlinks.
func removeAllAt(dirfd int, name string) error {
	err := unix.Unlinkat(dirfd, name, 0)
	if err == nil || errors.Is(err, unix.ENOENT) {
		return nil
	}
	if !errors.Is(err, unix.EISDIR) {
		return err
	}
	fd, err := openat2(dirfd, name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	f := os.NewFile(uintptr(fd), name)
	names, err := f.Readdirnames(-1)
	if err != nil {
		f.Close()
		return err
	}
	for _, n := range names {
		if err := removeAllAt(fd, n); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Close(); err != nil {
		return err
	}
	return unix.Unlinkat(dirfd, name, unix.AT_REMOVEDIR)
}

// procPath names base inside the directory pfd for the l*xattr calls, which
// have no *at form: the magic link pins the already-verified directory and
// the final component is not followed.
func procPath(pfd int, base string) string {
	return "/proc/self/fd/" + strconv.Itoa(pfd) + "/" + base
}

// setXattrs applies the SCHILY.xattr records of hdr in sorted order.
func setXattrs(hdr *tar.Header, set func(name string, val []byte) error) error {
	var names []string
	for k := range hdr.PAXRecords {
		name, ok := strings.CutPrefix(k, paxXattrPrefix)
		if !ok || name == "" || isOverlayXattr(name) {
			continue
		}
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		err := set(name, []byte(hdr.PAXRecords[paxXattrPrefix+name]))
		if err == nil || errors.Is(err, unix.ENOTSUP) || errors.Is(err, unix.EPERM) {
			continue
		}
		return fmt.Errorf("set xattr %s: %w", name, err)
	}
	return nil
}

func setTimes(pfd int, base string, atime, mtime time.Time) error {
	if atime.IsZero() {
		atime = mtime
	}
	ts := []unix.Timespec{timespec(atime), timespec(mtime)}
	if err := unix.UtimesNanoAt(pfd, base, ts, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return fmt.Errorf("set times: %w", err)
	}
	return nil
}

func timespec(t time.Time) unix.Timespec {
	return unix.Timespec{Sec: t.Unix(), Nsec: int64(t.Nanosecond())}
}

// ctxReader makes long copies stop promptly when ctx is cancelled.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
