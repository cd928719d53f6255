package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func requireRoot(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root (mknod, trusted xattrs, chown)")
	}
}

// entry is one member of a tar built in a test.
type entry struct {
	hdr  tar.Header
	body string
}

func reg(name, body string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: body}
}

func dirEntry(name string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func symlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) entry {
	return entry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target, Mode: 0o644}}
}

// buildTar writes entries owned by the calling user, so tests that only
// exercise path handling also run unprivileged.
func buildTar(t testing.TB, entries ...entry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.Format = tar.FormatPAX
		h.Uid, h.Gid = os.Getuid(), os.Getgid()
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write header %q: %v", h.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatalf("write body %q: %v", h.Name, err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func applyBytes(t testing.TB, dir string, data []byte) (int64, error) {
	t.Helper()
	return Apply(context.Background(), dir, bytes.NewReader(data))
}

type tarMember struct {
	hdr  *tar.Header
	body string
}

func readTar(t testing.TB, data []byte) []tarMember {
	t.Helper()
	tr := tar.NewReader(bytes.NewReader(data))
	var out []tarMember
	for {
		h, err := tr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return out
			}
			t.Fatalf("read tar: %v", err)
		}
		var b bytes.Buffer
		if _, err := b.ReadFrom(tr); err != nil {
			t.Fatal(err)
		}
		out = append(out, tarMember{hdr: h, body: b.String()})
	}
}

func names(ms []tarMember) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.hdr.Name)
	}
	return out
}

// Filesystem builders for tests that prepare layer directories by hand.

// mkdirT takes a raw st_mode permission (0o1777, not os.ModeSticky|0o777).
func mkdirT(t testing.TB, p string, mode uint32) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func writeT(t testing.TB, p, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlinkT(t testing.TB, target, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, p); err != nil {
		t.Fatal(err)
	}
}

func whiteoutT(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
}

func opaqueT(t testing.TB, p string) {
	t.Helper()
	if err := os.MkdirAll(p, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Setxattr(p, opaqueXattr, []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
}

// snapshot describes a tree in a comparable form: one line per path with
// type, mode, owner, mtime, content digest or target, device, xattrs and
// hardlink group.
func snapshot(t testing.TB, root string) []string {
	t.Helper()
	var out []string
	links := map[[2]uint64]string{}
	err := filepath.Walk(root, func(p string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		if rel == "." {
			return nil
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		line := fmt.Sprintf("%s type=%o mode=%o uid=%d gid=%d mtime=%d", rel,
			st.Mode&unix.S_IFMT, st.Mode&0o7777, st.Uid, st.Gid, st.Mtim.Sec)
		switch st.Mode & unix.S_IFMT {
		case unix.S_IFREG:
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			sum := sha256.Sum256(b)
			line += " sha=" + hex.EncodeToString(sum[:8])
		case unix.S_IFLNK:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			line += " target=" + target
		case unix.S_IFCHR, unix.S_IFBLK:
			line += fmt.Sprintf(" rdev=%d:%d", unix.Major(st.Rdev), unix.Minor(st.Rdev))
		}
		if st.Mode&unix.S_IFMT != unix.S_IFDIR && st.Nlink > 1 && !isWhiteout(&st) {
			id := [2]uint64{st.Dev, st.Ino}
			if first, ok := links[id]; ok {
				line += " link=" + first
			} else {
				links[id] = rel
			}
		}
		xnames, err := listXattrNames(p)
		if err != nil {
			return err
		}
		slices.Sort(xnames)
		for _, n := range xnames {
			v, err := getXattr(p, n)
			if err != nil {
				return err
			}
			line += fmt.Sprintf(" xattr:%s=%q", n, v)
		}
		out = append(out, line)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func diffLines(a, b []string) string {
	var sb strings.Builder
	for _, l := range a {
		if !slices.Contains(b, l) {
			sb.WriteString("- " + l + "\n")
		}
	}
	for _, l := range b {
		if !slices.Contains(a, l) {
			sb.WriteString("+ " + l + "\n")
		}
	}
	return sb.String()
}

// removableTempDir is t.TempDir that unprivileged runs can still clean up
// after a layer left read-only directories in it.
func removableTempDir(t testing.TB) string {
	dir := t.TempDir()
	t.Cleanup(func() {
		_ = filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err == nil && info.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return dir
}

func isUnsafe(err error) bool { return errors.Is(err, ErrUnsafe) }

// lookupHost resolves p in the merged view of layers and names the host entry
// it leads to ("" when absent), for tests that check which layer wins.
func lookupHost(layers []string, p string, followLast bool) (string, error) {
	roots, err := openRoots(layers)
	if err != nil {
		return "", err
	}
	defer closeAll(roots)
	r, err := resolve(roots, p, followLast)
	if err != nil {
		return "", err
	}
	defer r.close()
	return entryName(r.parent, r.name), nil
}
