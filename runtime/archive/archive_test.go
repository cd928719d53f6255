package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// buildUpper fills root with every kind of entry an overlay upper directory
// can hold, with distinct owners, modes and whole-second mtimes.
func buildUpper(t *testing.T, root string) {
	t.Helper()
	p := func(rel string) string { return filepath.Join(root, rel) }
	mkdirT(t, p("etc"), 0o755)
	writeT(t, p("etc/passwd"), "root:x:0:0::/root:/bin/sh\n")
	mustT(t, os.Chown(p("etc/passwd"), 1000, 1001))
	writeT(t, p("bin/su"), "#!su")
	mustT(t, unix.Chmod(p("bin/su"), 0o4755))
	writeT(t, p("bin/sg"), "#!sg")
	mustT(t, unix.Chmod(p("bin/sg"), 0o2711))
	mkdirT(t, p("tmp"), 0o1777)
	mkdirT(t, p("sgid"), 0o2775)
	mkdirT(t, p("ro"), 0o555)
	symlinkT(t, "usr/lib", p("lib"))
	symlinkT(t, "/etc/passwd", p("abs"))
	mustT(t, os.Lchown(p("abs"), 5, 6))
	writeT(t, p("bin/a"), "same inode")
	mustT(t, os.Link(p("bin/a"), p("bin/b")))
	mustT(t, os.Link(p("bin/a"), p("etc/a-link")))
	mkdirT(t, p("run"), 0o755)
	mustT(t, unix.Mkfifo(p("run/fifo"), 0o620))
	mkdirT(t, p("dev"), 0o755)
	mustT(t, unix.Mknod(p("dev/null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))))
	mustT(t, unix.Mknod(p("dev/sda"), unix.S_IFBLK|0o660, int(unix.Mkdev(8, 0))))
	mustT(t, os.Chmod(p("dev/null"), 0o666))
	mustT(t, os.Chmod(p("dev/sda"), 0o660))
	whiteoutT(t, p("gone"))
	whiteoutT(t, p("etc/old"))
	// overlayfs shares one inode between whiteouts; they must stay
	// separate whiteouts, not become hardlinks.
	mustT(t, os.Link(p("gone"), p("etc/also-gone")))
	opaqueT(t, p("opq"))
	writeT(t, p("opq/file"), "x")
	writeT(t, p("empty"), "")
	mustT(t, unix.Lsetxattr(p("etc/passwd"), "user.note", []byte("hi"), 0))
	mustT(t, unix.Lsetxattr(p("bin/su"), "trusted.lab", []byte{0, 1, 2}, 0))
	mustT(t, unix.Lsetxattr(p("tmp"), "user.dir", []byte("d"), 0))
	// overlay bookkeeping other than opaque must not leak into layers.
	mustT(t, unix.Lsetxattr(p("etc"), "trusted.overlay.origin", []byte("o"), 0))
	mustT(t, unix.Lsetxattr(p("etc"), "user.overlay.origin", []byte("o"), 0))
	long := strings.Repeat("l", 120)
	writeT(t, p(long+"/"+long+"/"+long+"/file"), "deep")

	// Whole-second mtimes, children before parents so directory times
	// stick.
	var all []string
	mustT(t, filepath.Walk(root, func(path string, _ os.FileInfo, err error) error {
		all = append(all, path)
		return err
	}))
	for i, path := range slices.Backward(all) {
		if path == root {
			continue
		}
		ts := []unix.Timespec{{Sec: 1600000000 + int64(i)*7}, {Sec: 1600000000 + int64(i)*7}}
		mustT(t, unix.UtimesNanoAt(unix.AT_FDCWD, path, ts, unix.AT_SYMLINK_NOFOLLOW))
	}
}

func mustT(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func writeLayerBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := WriteLayer(context.Background(), &buf, dir); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestLayerRoundTrip(t *testing.T) {
	requireRoot(t)
	src, dst := t.TempDir(), t.TempDir()
	buildUpper(t, src)
	data := writeLayerBytes(t, src)

	n, err := applyBytes(t, dst, data)
	if err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, m := range readTar(t, data) {
		if m.hdr.Typeflag == tar.TypeReg {
			want += m.hdr.Size
		}
	}
	if n != want {
		t.Errorf("Apply wrote %d bytes, want %d", n, want)
	}

	wantSnap := snapshot(t, src)
	// WriteLayer drops overlay bookkeeping; only opaque comes back,
	// through the marker entry.
	for i, l := range wantSnap {
		wantSnap[i] = strings.Replace(strings.Replace(l, ` xattr:trusted.overlay.origin="o"`, "", 1), ` xattr:user.overlay.origin="o"`, "", 1)
	}
	if d := diffLines(wantSnap, snapshot(t, dst)); d != "" {
		t.Errorf("tree after round trip differs:\n%s", d)
	}
	if again := writeLayerBytes(t, dst); !bytes.Equal(again, data) {
		t.Error("WriteLayer of the applied layer differs from the original layer")
	}
}

func TestWriteLayerFormat(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	buildUpper(t, src)
	members := readTar(t, writeLayerBytes(t, src))
	got := names(members)

	byName := map[string]*tar.Header{}
	for _, m := range members {
		h := m.hdr
		byName[h.Name] = h
		if strings.HasPrefix(h.Name, "/") || strings.HasPrefix(h.Name, "./") {
			t.Errorf("%q: not relative", h.Name)
		}
		if (h.Typeflag == tar.TypeDir) != strings.HasSuffix(h.Name, "/") {
			t.Errorf("%q: trailing slash does not match type %q", h.Name, h.Typeflag)
		}
		if h.Uname != "" || h.Gname != "" {
			t.Errorf("%q: uname/gname %q/%q", h.Name, h.Uname, h.Gname)
		}
		if h.Format != tar.FormatPAX && h.Format != tar.FormatUSTAR {
			t.Errorf("%q: format %v", h.Name, h.Format)
		}
		for k := range h.PAXRecords {
			if strings.HasPrefix(k, paxXattrPrefix+"trusted.overlay.") || strings.HasPrefix(k, paxXattrPrefix+"user.overlay.") {
				t.Errorf("%q: overlay xattr %s leaked", h.Name, k)
			}
		}
	}
	for _, name := range []string{".wh.gone", "etc/.wh.old", "etc/.wh.also-gone"} {
		h := byName[name]
		if h == nil || h.Typeflag != tar.TypeReg || h.Size != 0 {
			t.Errorf("whiteout %q: %+v", name, h)
		}
	}
	if i := slices.Index(got, "opq/"); i < 0 || i+1 >= len(got) || got[i+1] != "opq/"+opaqueMarker {
		t.Errorf("opaque marker does not follow its directory: %q", got)
	}
	if h := byName["bin/b"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "bin/a" {
		t.Errorf("bin/b: %+v, want hardlink to bin/a", h)
	}
	if h := byName["etc/a-link"]; h == nil || h.Typeflag != tar.TypeLink || h.Linkname != "bin/a" {
		t.Errorf("etc/a-link: %+v, want hardlink to bin/a", h)
	}
	if h := byName["bin/su"]; h == nil || h.Mode != 0o4755 || h.PAXRecords[paxXattrPrefix+"trusted.lab"] != "\x00\x01\x02" {
		t.Errorf("bin/su: %+v", h)
	}
	if h := byName["dev/sda"]; h == nil || h.Typeflag != tar.TypeBlock || h.Devmajor != 8 || h.Devminor != 0 {
		t.Errorf("dev/sda: %+v", h)
	}
	if h := byName["tmp/"]; h == nil || h.Mode != 0o1777 {
		t.Errorf("tmp/: %+v", h)
	}
	// Parents first, siblings by name.
	for i, name := range got {
		dir := filepath.Dir(strings.TrimSuffix(name, "/"))
		if dir != "." && !slices.Contains(got[:i], dir+"/") {
			t.Errorf("%q written before its directory", name)
		}
	}
}

func TestWriteDeterministic(t *testing.T) {
	requireRoot(t)
	src := t.TempDir()
	buildUpper(t, src)
	if a, b := writeLayerBytes(t, src), writeLayerBytes(t, src); !bytes.Equal(a, b) {
		t.Error("WriteLayer output differs between runs")
	}
	mt := time.Unix(1234567890, 0)
	tree := func() []byte {
		var buf bytes.Buffer
		mustT(t, WriteTree(context.Background(), &buf, src, TreeOptions{ModTime: &mt, RootOwned: true}))
		return buf.Bytes()
	}
	a, b := tree(), tree()
	if !bytes.Equal(a, b) {
		t.Error("WriteTree output differs between runs")
	}
	for _, m := range readTar(t, a) {
		h := m.hdr
		if h.Uid != 0 || h.Gid != 0 || !h.ModTime.Equal(mt) {
			t.Errorf("%q: owner %d:%d mtime %v", h.Name, h.Uid, h.Gid, h.ModTime)
		}
		if strings.Contains(h.Name, whiteoutPrefix) {
			t.Errorf("%q: WriteTree converted whiteouts", h.Name)
		}
		// The first of the two whiteouts sharing an inode.
		if h.Name == "etc/also-gone" && h.Typeflag != tar.TypeChar {
			t.Errorf("etc/also-gone: type %q, want the character device kept", h.Typeflag)
		}
	}
}

func TestApplyWhiteouts(t *testing.T) {
	requireRoot(t)
	dir := t.TempDir()
	data := buildTar(t,
		dirEntry("a/"),
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "a/.wh..wh..opq"}},
		reg("a/keep", "k"),
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: ".wh.gone"}},
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "b/c/.wh.x"}},
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "d/.wh..wh..opq"}},
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: ".wh..wh.plnk"}},
		entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "f", PAXRecords: map[string]string{
			paxXattrPrefix + "trusted.overlay.redirect": "/etc",
			paxXattrPrefix + "user.overlay.redirect":    "/etc",
			paxXattrPrefix + "user.kept":                "v",
		}}},
	)
	if _, err := applyBytes(t, dir, data); err != nil {
		t.Fatal(err)
	}
	for _, w := range []string{"gone", "b/c/x"} {
		var st unix.Stat_t
		mustT(t, unix.Lstat(filepath.Join(dir, w), &st))
		if !isWhiteout(&st) {
			t.Errorf("%s: mode %o rdev %d, want whiteout", w, st.Mode, st.Rdev)
		}
	}
	for _, d := range []string{"a", "d"} {
		if ok, err := isOpaque(filepath.Join(dir, d)); err != nil || !ok {
			t.Errorf("%s: opaque %v, %v", d, ok, err)
		}
	}
	var st unix.Stat_t
	mustT(t, unix.Lstat(filepath.Join(dir, "b"), &st))
	if st.Mode&0o7777 != 0o755 {
		t.Errorf("implicit parent mode %o, want 755", st.Mode&0o7777)
	}
	got, err := readDirNames(dir)
	mustT(t, err)
	if !slices.Equal(got, []string{"a", "b", "d", "f", "gone"}) {
		t.Errorf("layer root: %q", got)
	}
	for _, x := range []string{"trusted.overlay.redirect", "user.overlay.redirect"} {
		if _, err := getXattr(filepath.Join(dir, "f"), x); err == nil {
			t.Errorf("overlay xattr %s from the stream was applied", x)
		}
	}
	if v, err := getXattr(filepath.Join(dir, "f"), "user.kept"); err != nil || string(v) != "v" {
		t.Errorf("user.kept: %q, %v", v, err)
	}
}

func TestApplyReplaceAndMerge(t *testing.T) {
	dir := removableTempDir(t)
	ro := entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "ro/", Mode: 0o555, ModTime: time.Unix(1000, 0)}}
	data := buildTar(t,
		reg("x", "file"), dirEntry("x/"), reg("x/in", "in"), // dir over file
		dirEntry("y/"), reg("y/deep/z", "z"), reg("y", "file"), // file over dir
		ro, reg("ro/f", "f"), // read-only directory still filled
		entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "m/", Mode: 0o700}},
		reg("m/a", "a"),
		entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "m/", Mode: 0o750, ModTime: time.Unix(2000, 0)}}, // dir over dir: merged, last metadata wins
		hardlink("self", "self"),
	)
	if _, err := applyBytes(t, dir, data); err != nil {
		t.Fatal(err)
	}
	wantFile(t, filepath.Join(dir, "x/in"), "in")
	wantFile(t, filepath.Join(dir, "y"), "file")
	wantFile(t, filepath.Join(dir, "ro/f"), "f")
	wantFile(t, filepath.Join(dir, "m/a"), "a")
	for name, want := range map[string]struct {
		mode  uint32
		mtime int64
	}{"ro": {0o555, 1000}, "m": {0o750, 2000}} {
		var st unix.Stat_t
		mustT(t, unix.Lstat(filepath.Join(dir, name), &st))
		if st.Mode&0o7777 != want.mode || st.Mtim.Sec != want.mtime {
			t.Errorf("%s: mode %o mtime %d, want %o %d", name, st.Mode&0o7777, st.Mtim.Sec, want.mode, want.mtime)
		}
	}
}

func TestApplyRootEntry(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "layer")
	mustT(t, os.Mkdir(dir, 0o700))
	root := entry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: "./", Mode: 0o755, ModTime: time.Unix(3000, 0)}}
	if _, err := applyBytes(t, dir, buildTar(t, root, reg("./f", "f"))); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	mustT(t, unix.Lstat(dir, &st))
	if st.Mode&0o7777 != 0o755 || st.Mtim.Sec != 3000 {
		t.Errorf("layer root: mode %o mtime %d", st.Mode&0o7777, st.Mtim.Sec)
	}
	wantFile(t, filepath.Join(dir, "f"), "f")
}

func TestApplyCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := Apply(ctx, t.TempDir(), bytes.NewReader(buildTar(t, reg("a", "a"))))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}
}

func TestApplyDrainsReader(t *testing.T) {
	data := append(buildTar(t, reg("a", "a")), make([]byte, 4096)...)
	r := bytes.NewReader(data)
	if _, err := Apply(context.Background(), t.TempDir(), r); err != nil {
		t.Fatal(err)
	}
	if r.Len() != 0 {
		t.Errorf("%d bytes left unread", r.Len())
	}
}

func TestApplyCorruptTar(t *testing.T) {
	data := buildTar(t, reg("a", strings.Repeat("a", 2000)))
	_, err := Apply(context.Background(), t.TempDir(), bytes.NewReader(data[:1000]))
	if err == nil || !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("err = %v, want unexpected EOF", err)
	}
}

func TestChangeString(t *testing.T) {
	if got := (Change{Kind: 'A', Path: "/foo"}).String(); got != "A /foo" {
		t.Errorf("String() = %q", got)
	}
}

// A file or directory literally named ".wh.NAME" in an upper directory cannot be
// written into a layer, where the name would mean "NAME was deleted".
func TestWriteLayerRefusesWhiteoutNames(t *testing.T) {
	for _, mk := range []func(p string) error{
		func(p string) error { return os.MkdirAll(filepath.Join(p, "x"), 0o755) },
		func(p string) error { return os.WriteFile(p, nil, 0o644) },
	} {
		dir := t.TempDir()
		mustT(t, os.Mkdir(filepath.Join(dir, "etc"), 0o755))
		mustT(t, mk(filepath.Join(dir, "etc", ".wh.passwd")))
		err := WriteLayer(context.Background(), io.Discard, dir)
		if err == nil || !strings.Contains(err.Error(), `/etc/.wh.passwd: a name starting with ".wh." cannot be stored in a layer`) {
			t.Errorf("want a refusal, got %v", err)
		}
	}
}

// A GNU sparse entry stays sparse on disk and counts its data, not its holes.
func TestApplySparse(t *testing.T) {
	requireRoot(t)
	if _, err := exec.LookPath("tar"); err != nil {
		t.Skip("GNU tar not installed")
	}
	src := t.TempDir()
	f, err := os.Create(filepath.Join(src, "big"))
	mustT(t, err)
	mustT(t, f.Truncate(16<<30))
	_, err = f.WriteAt([]byte("data"), 8<<30)
	mustT(t, err)
	mustT(t, f.Close())
	tarball := filepath.Join(t.TempDir(), "sparse.tar")
	if out, err := exec.Command("tar", "--sparse", "-C", src, "-cf", tarball, "big").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v: %s", err, out)
	}
	data, err := os.ReadFile(tarball)
	mustT(t, err)
	dir := t.TempDir()
	n, err := applyBytes(t, dir, data)
	mustT(t, err)
	if n < 4 || n > 1<<20 {
		t.Errorf("Apply counted %d bytes, want the chunk holding the 4 bytes of data", n)
	}
	var st unix.Stat_t
	mustT(t, unix.Stat(filepath.Join(dir, "big"), &st))
	if st.Size != 16<<30 || st.Blocks*512 > 1<<20 {
		t.Errorf("big: size %d, %d bytes allocated", st.Size, st.Blocks*512)
	}
	b := make([]byte, 4)
	g, err := os.Open(filepath.Join(dir, "big"))
	mustT(t, err)
	defer g.Close()
	_, err = g.ReadAt(b, 8<<30)
	mustT(t, err)
	if string(b) != "data" {
		t.Errorf("data at 8 GiB: %q", b)
	}
}
