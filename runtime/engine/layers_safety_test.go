package engine_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"lab/runtime/content"
	"lab/runtime/engine"
	"lab/runtime/image"
	"lab/runtime/reference"
)

// Hostile and damaged tarballs go through `lab import` end to end, as a user would
// feed them: a refused one ends with one clear error line and leaves the store's
// blobs/, layers/, ingest/ and index.json exactly as they were; an accepted one is
// confined to the image (checked from inside a container) and the host's sentinel
// files are untouched. The per-entry cases of containerd's archive breakout tests are
// ported one level down, in runtime/archive (TestApplyHostile, FuzzApply).
func TestImportHostileLayers(t *testing.T) {
	e := newStore(t)
	root := e.Root
	// A sentinel outside the store that hostile entries aim at.
	sentinelDir := t.TempDir()
	sentinel := filepath.Join(sentinelDir, "keep")
	if err := os.WriteFile(sentinel, []byte("host"), 0o644); err != nil {
		t.Fatal(err)
	}
	rel := strings.Repeat("../", 30) + strings.TrimPrefix(sentinelDir, "/")
	valid := buildTar(t, dir("d/"), file("d/f", "fine"))
	gz := func(b []byte) []byte {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		zw.Write(b)
		zw.Close()
		return buf.Bytes()
	}
	corruptGzip := gz(valid)
	corruptGzip[len(corruptGzip)/2] ^= 0xff
	badChecksum := bytes.Clone(valid)
	badChecksum[148] ^= 0x01

	// Every entry-based case is busybox's files followed by the hostile entries, so a
	// refusal comes after most of a layer was already unpacked, and an accepted image
	// has a shell to look at itself with.
	base := exportBusybox(t, e)
	buildTar := func(t *testing.T, entries ...tarEntry) []byte { return withEntries(t, base, entries...) }
	cases := []struct {
		name string
		tar  []byte
		msg  string // refused: the error names this; "" means accepted
		// check runs in a container of the accepted image.
		check [][2]string // command, expected output
	}{
		{name: "dotdot", tar: buildTar(t, file(rel+"/x", "evil")), msg: "unsafe layer entry"},
		{name: "absolute", tar: buildTar(t, file(sentinelDir+"/x", "evil")), msg: "unsafe layer entry"},
		{name: "absolute etc", tar: buildTar(t, file("/etc/lab-safety-test", "evil")), msg: "unsafe layer entry"},
		{name: "symlink to root then write through it", tar: buildTar(t, symlink("link", "/"), file("link"+sentinelDir+"/x", "evil")), msg: "unsafe layer entry"},
		{name: "symlink to root then etc", tar: buildTar(t, symlink("link", "/"), file("link/etc/lab-safety-test", "evil")), msg: "unsafe layer entry"},
		{name: "relative symlink escape then write", tar: buildTar(t, symlink("link", rel), file("link/x", "evil")), msg: "unsafe layer entry"},
		{name: "symlink chain escape", tar: buildTar(t, symlink("a", "b"), symlink("b", sentinelDir), file("a/x", "evil")), msg: "unsafe layer entry"},
		{name: "symlinked parent dir then mkdir", tar: buildTar(t, symlink("link", sentinelDir), dir("link/sub/")), msg: "unsafe layer entry"},
		{name: "hardlink outside", tar: buildTar(t, hardlink("h", rel+"/keep")), msg: "unsafe layer entry"},
		{name: "hardlink absolute", tar: buildTar(t, hardlink("h", sentinel)), msg: "unsafe layer entry"},
		{name: "hardlink through symlinked parent", tar: buildTar(t, symlink("link", sentinelDir), hardlink("h", "link/keep")), msg: "unsafe layer entry"},
		{name: "hardlink placed through symlinked parent", tar: buildTar(t, file("f", "x"), symlink("link", sentinelDir), hardlink("link/h", "f")), msg: "unsafe layer entry"},
		{name: "whiteout through symlink", tar: buildTar(t, symlink("link", sentinelDir), file("link/.wh.keep", "")), msg: "unsafe layer entry"},
		{name: "opaque marker through symlink", tar: buildTar(t, symlink("link", sentinelDir), file("link/.wh..wh..opq", "")), msg: "unsafe layer entry"},
		{name: "truncated", tar: valid[:700], msg: "unexpected EOF"},
		{name: "truncated mid-layer", tar: base[:len(base)/2], msg: "unexpected EOF"},
		{name: "bad header checksum", tar: badChecksum, msg: "invalid tar header"},
		{name: "corrupt gzip", tar: corruptGzip, msg: "flate: corrupt input"},
		{name: "truncated gzip", tar: gz(valid)[:40], msg: "EOF"},
		{name: "not a tar", tar: []byte(strings.Repeat("hello, world\n", 100)), msg: "tar"},
		// Accepted, harmlessly: the later entry replaces the link itself.
		{name: "symlink then file of the same name", tar: buildTar(t, symlink("link", sentinel), file("link", "replaced")),
			check: [][2]string{{"cat /link", "replaced"}}},
		{name: "symlink then dir of the same name", tar: buildTar(t, symlink("link", sentinelDir), dir("link/"), file("link/x", "inside")),
			check: [][2]string{{"cat /link/x", "inside"}}},
		// A link pointing out is only a name: inside the container it resolves
		// against the container's root.
		{name: "dangling absolute symlink kept as a link", tar: buildTar(t, symlink("link", sentinel)),
			check: [][2]string{{"readlink /link; cat /link 2>&1 >/dev/null | grep -c 'No such file'", sentinel + "\n1"}}},
		{name: "hardlink to a symlink that points out links the symlink", tar: buildTar(t, symlink("link", sentinel), hardlink("h", "link")),
			check: [][2]string{{"readlink /h", sentinel}}},
		{name: "inner dotdot that stays inside", tar: buildTar(t, file("a/../b", "fine")),
			check: [][2]string{{"cat /b", "fine"}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			before := snap(t, root)
			r := labCLI(t, root, bytes.NewReader(tc.tar), "import", "-", "hostile:test")
			after := snap(t, root)
			if b, _ := os.ReadFile(sentinel); string(b) != "host" {
				t.Fatalf("host sentinel changed: %q", b)
			}
			if ents, _ := os.ReadDir(sentinelDir); len(ents) != 1 {
				t.Fatalf("entries created next to the sentinel: %v", ents)
			}
			if _, err := os.Lstat("/etc/lab-safety-test"); err == nil {
				os.Remove("/etc/lab-safety-test")
				t.Fatal("/etc/lab-safety-test was created on the host")
			}
			if tc.msg != "" {
				if r.code != 1 {
					t.Fatalf("import exit %d, want 1 (stdout %q stderr %q)", r.code, r.stdout, r.stderr)
				}
				lines := strings.Split(strings.TrimSpace(r.stderr), "\n")
				if len(lines) != 1 || !strings.HasPrefix(lines[0], "lab import: ") || !strings.Contains(lines[0], tc.msg) {
					t.Errorf("want one error line naming %q, got:\n%s", tc.msg, r.stderr)
				}
				if d := before.diff(after); d != "" {
					t.Errorf("a refused import changed the store: %s", d)
				}
				return
			}
			if r.code != 0 {
				t.Fatalf("import: exit %d: %s", r.code, r.stderr)
			}
			for _, c := range tc.check {
				out, code := runOut(t, e, "hostile:test", "sh", "-c", c[0])
				if code != 0 || strings.TrimSpace(out) != c[1] {
					t.Errorf("%s: exit %d, output %q, want %q", c[0], code, out, c[1])
				}
			}
			mustCLI(t, root, "rmi", "hostile:test")
		})
	}
}

// Damaged input never gets into blobs/: a blob whose bytes do not match the digest it
// is committed under, a stored layer that rotted on disk (its unpacking fails on the
// diff ID and leaves no layer directory), and manifests or configs that rotted.
func TestCorruptInputRefused(t *testing.T) {
	e := newStore(t)
	ctx := context.Background()

	t.Run("wrong digest", func(t *testing.T) {
		before := snap(t, e.Root)
		w, err := e.Content.Writer()
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(w, "some bytes")
		_, err = w.Commit(digest.Digest("sha256:"+strings.Repeat("0", 64)), -1)
		if !errors.Is(err, content.ErrDigestMismatch) {
			t.Fatalf("commit under a wrong digest: %v", err)
		}
		w2, _ := e.Content.Writer()
		io.WriteString(w2, "some bytes")
		if _, err := w2.Commit("", 3); !errors.Is(err, content.ErrDigestMismatch) {
			t.Fatalf("commit with a wrong size: %v", err)
		}
		if d := before.diff(snap(t, e.Root)); d != "" {
			t.Errorf("store changed: %s", d)
		}
	})

	t.Run("rotten layer blob", func(t *testing.T) {
		if _, err := e.Import(ctx, bytes.NewReader(buildTar(t, file("f", strings.Repeat("x", 4096)))), "rot:layer", "", nil); err != nil {
			t.Fatal(err)
		}
		img, err := e.Images.Get("rot:layer")
		if err != nil {
			t.Fatal(err)
		}
		// Rot the blob and drop its unpacked copy, so the next run must unpack it.
		p, _ := e.Content.Path(img.Layers[0].Digest)
		rot(t, p)
		os.RemoveAll(filepath.Join(e.Root, "layers", img.Config.RootFS.DiffIDs[0].Encoded()))
		before := snap(t, e.Root)
		_, err = e.Run(ctx, engine.CreateOptions{Image: "rot:layer", Cmd: []string{"true"}, AutoRemove: true}, engine.StartOptions{})
		if !errors.Is(err, content.ErrDigestMismatch) {
			t.Fatalf("running an image whose layer rotted: %v", err)
		}
		if d := before.diff(snap(t, e.Root)); d != "" {
			t.Errorf("failed unpack changed the store: %s", d)
		}
		r, err := e.Fsck(ctx, engine.FsckOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if !hasLine(r.Problems, "is corrupt") {
			t.Errorf("fsck did not report the rotten blob: %+v", r)
		}
		// Clean up for the next case (a --rm container whose start failed may stay).
		if cs, _ := e.Containers.List(); len(cs) > 0 {
			for _, c := range cs {
				e.Remove(c.ID, true)
			}
		}
		if _, err := e.RemoveImage("rot:layer", false); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("rotten manifest", func(t *testing.T) {
		img, err := e.Import(ctx, bytes.NewReader(buildTar(t, file("g", "g"))), "rot:manifest", "", nil)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := e.Content.Path(img.Manifest.Digest)
		rot(t, p)
		// It fails alone: the others are listed, it is reported as damaged.
		imgs, bad, err := e.Images.ListDamaged()
		if err != nil || len(imgs) == 0 || len(bad) != 1 || !errors.Is(bad[0].Err, content.ErrDigestMismatch) {
			t.Fatalf("listing with a rotten manifest: %d images, %v, %v", len(imgs), bad, err)
		}
		r, err := e.Fsck(ctx, engine.FsckOptions{})
		if err != nil || !hasLine(r.Problems, "image rot:manifest is damaged") {
			t.Fatalf("fsck: %v %+v", err, r)
		}
		r, err = e.Fsck(ctx, engine.FsckOptions{Repair: true})
		if err != nil || !hasLine(r.Repaired, "removed damaged image rot:manifest") {
			t.Fatalf("fsck --repair: %v %+v", err, r)
		}
		if r, err = e.Fsck(ctx, engine.FsckOptions{}); err != nil || !r.OK() || len(r.Leftovers) != 0 {
			t.Fatalf("after repair: %v %+v", err, r)
		}
		if _, err := e.Images.Get("busybox"); err != nil {
			t.Fatalf("busybox lost: %v", err)
		}
	})
}

// rot flips one byte of a read-only blob in place.
func rot(t *testing.T, p string) {
	t.Helper()
	os.Chmod(p, 0o644)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o444); err != nil {
		t.Fatal(err)
	}
}

func hasLine(lines []string, sub string) bool {
	for _, l := range lines {
		if strings.Contains(l, sub) {
			return true
		}
	}
	return false
}

// Device nodes in a layer are kept, as Docker keeps them, but the container's root
// filesystem is mounted nodev: a node naming the host's disk cannot be opened. Nor can
// one that root in the container makes itself in /dev (it keeps CAP_MKNOD, as on
// Docker), because lab remounts /dev nodev and keeps only its own nodes usable.
func TestDeviceNodesCannotReachHost(t *testing.T) {
	e := newStore(t)
	maj, min := hostBlockDevice(t)
	layer := buildTar(t, node("blk", tar.TypeBlock, maj, min), node("mem", tar.TypeChar, 1, 1), node("kmsg", tar.TypeChar, 1, 11),
		tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "suid", Mode: 0o4755, Size: 2}, body: "#!"})
	script := `
ls -l /blk /mem /kmsg /suid | cut -c1-10
for n in /blk /mem /kmsg; do dd if=$n of=/dev/null bs=512 count=1 2>&1 | grep -q 'Permission denied' && echo "$n denied"; done
mknod /dev/sdx b ` + itoa(maj) + ` ` + itoa(min) + ` && echo mknod ok
dd if=/dev/sdx of=/dev/null bs=512 count=1 2>&1 | grep -q 'Permission denied' && echo "/dev/sdx denied"
mknod /tmp/sdx b ` + itoa(maj) + ` ` + itoa(min) + ` && dd if=/tmp/sdx of=/dev/null bs=512 count=1 2>&1 | grep -q 'Permission denied' && echo "/tmp/sdx denied"
head -c 4 /dev/zero | wc -c
`
	if _, err := layeredImage(t, e, "devices:test", layer); err != nil {
		t.Fatal(err)
	}
	out, code := runOut(t, e, "devices:test", "sh", "-c", script)
	want := "brw-rw-rw-\ncrw-rw-rw-\ncrw-rw-rw-\n-rwsr-xr-x\n/blk denied\n/mem denied\n/kmsg denied\nmknod ok\n/dev/sdx denied\n/tmp/sdx denied\n4\n"
	if code != 0 || out != want {
		t.Fatalf("exit %d, output:\n%s\nwant:\n%s", code, out, want)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// layeredImage publishes ref as busybox's layers with the given layer tars on top,
// each unpacked through the same path as any pulled or imported layer.
func layeredImage(t testing.TB, e *engine.Engine, ref string, layers ...[]byte) (*image.Image, error) {
	t.Helper()
	base, err := e.Images.Get("busybox")
	if err != nil {
		return nil, err
	}
	var ls []image.Layer
	for i, l := range base.Layers {
		ls = append(ls, image.Layer{Desc: l, DiffID: base.Config.RootFS.DiffIDs[i]})
	}
	for _, b := range layers {
		l, err := e.Images.ImportLayer(context.Background(), bytes.NewReader(b))
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
	}
	r, err := reference.ParseTagged(ref)
	if err != nil {
		return nil, err
	}
	return e.Images.Create(base.Config, ls, &r)
}
