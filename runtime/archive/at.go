package archive

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"
)

// A running container changes its upper directory while lab reads it (commit, export,
// diff, c:read). A host path string built from names read a moment earlier can then
// run through a directory the container has just swapped for a symlink to "/", and
// the read lands on the host (CVE-2018-15664 is that bug in `docker cp`). So every
// walk here goes through directory file descriptors: a directory is opened relative
// to its already open parent with O_NOFOLLOW, and its entries are stat'ed, read,
// listed and opened relative to that descriptor. A swap then shows the symlink as an
// entry or fails the open (ELOOP, ENOTDIR); it is never followed. Only the roots
// (lab's own layer and upper directories) are opened by path.

// errChanged reports an entry swapped while it was being read.
var errChanged = errors.New("changed while being read")

// openRoot opens a tree's root directory. It is lab's own path, so symlinks in it are
// followed (a forked store links its layer directories).
func openRoot(p string) (*os.File, error) {
	fd, err := unix.Open(p, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: err}
	}
	return os.NewFile(uintptr(fd), p), nil
}

// openDirAt opens the directory name inside dir, refusing a symlink.
func openDirAt(dir *os.File, name string) (*os.File, error) {
	fd, err := unix.Openat(int(dir.Fd()), name, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ELOOP) || errors.Is(err, unix.ENOTDIR) {
			err = fmt.Errorf("%w (%w)", errChanged, err)
		}
		return nil, &fs.PathError{Op: "open", Path: entryName(dir, name), Err: err}
	}
	return os.NewFile(uintptr(fd), entryName(dir, name)), nil
}

// lstatAt describes name inside dir without following it.
func lstatAt(dir *os.File, name string, st *unix.Stat_t) error {
	if err := unix.Fstatat(int(dir.Fd()), name, st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
		return &fs.PathError{Op: "stat", Path: entryName(dir, name), Err: err}
	}
	return nil
}

// readlinkAt reads the target of the symlink name inside dir.
func readlinkAt(dir *os.File, name string) (string, error) {
	for size := 256; ; size *= 2 {
		buf := make([]byte, size)
		n, err := unix.Readlinkat(int(dir.Fd()), name, buf)
		if err != nil {
			return "", &fs.PathError{Op: "readlink", Path: entryName(dir, name), Err: err}
		}
		if n < size {
			return string(buf[:n]), nil
		}
	}
}

// openFileAt opens the regular file name inside dir for reading. It never opens
// anything else: a device node or fifo opened on the host could block or act on a
// host device, so the entry is first pinned with O_PATH, checked, then reopened
// through that descriptor. With want set, the file must still be the inode want
// describes.
func openFileAt(dir *os.File, name string, want *unix.Stat_t) (*os.File, error) {
	pfd, err := unix.Openat(int(dir.Fd()), name, unix.O_PATH|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: entryName(dir, name), Err: err}
	}
	defer unix.Close(pfd)
	var st unix.Stat_t
	if err := unix.Fstat(pfd, &st); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: entryName(dir, name), Err: err}
	}
	if want != nil && (st.Ino != want.Ino || st.Dev != want.Dev) {
		return nil, &fs.PathError{Op: "open", Path: entryName(dir, name), Err: errChanged}
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFREG:
	case unix.S_IFDIR:
		return nil, &fs.PathError{Op: "read", Path: entryName(dir, name), Err: unix.EISDIR}
	default:
		return nil, &fs.PathError{Op: "open", Path: entryName(dir, name), Err: errors.New("not a regular file")}
	}
	fd, err := unix.Open(fdPath(pfd), unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: entryName(dir, name), Err: err}
	}
	return os.NewFile(uintptr(fd), entryName(dir, name)), nil
}

// listNames lists dir sorted, through a descriptor of its own so that dir's offset
// is untouched and the same directory can be listed again.
func listNames(dir *os.File) ([]string, error) {
	f, err := openDirAt(dir, ".")
	if err != nil {
		return nil, err
	}
	names, err := f.Readdirnames(-1)
	cerr := f.Close()
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", dir.Name(), err)
	}
	if cerr != nil {
		return nil, cerr
	}
	slices.Sort(names)
	return names, nil
}

func fdPath(fd int) string { return "/proc/self/fd/" + strconv.Itoa(fd) }

// entryName is the host path of name in dir, for messages only.
func entryName(dir *os.File, name string) string {
	if name == "." {
		return dir.Name()
	}
	return dir.Name() + "/" + name
}

// isOpaqueDir reports whether the open directory d carries the overlay opaque xattr.
func isOpaqueDir(d *os.File) (bool, error) {
	var buf [2]byte
	n, err := unix.Fgetxattr(int(d.Fd()), opaqueXattr, buf[:])
	switch {
	case err == nil:
		return n == 1 && buf[0] == 'y', nil
	case errors.Is(err, unix.ENODATA), errors.Is(err, unix.ENOTSUP), errors.Is(err, unix.ERANGE):
		return false, nil
	default:
		return false, fmt.Errorf("read opaque xattr of %s: %w", d.Name(), err)
	}
}

func closeAll(fs []*os.File) {
	for _, f := range fs {
		f.Close()
	}
}
