package archive

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"golang.org/x/sys/unix"
)

// mountOverlay mounts an overlay at a new directory and unmounts it before
// the temporary directories are removed.
func mountOverlay(t *testing.T, opts string) string {
	t.Helper()
	mnt := t.TempDir()
	if err := unix.Mount("overlay", mnt, "overlay", 0, opts); err != nil {
		t.Fatalf("mount overlay: %v", err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(mnt, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", mnt, err)
		}
	})
	return mnt
}

func writeTreeBytes(t *testing.T, dir string) []byte {
	t.Helper()
	var buf bytes.Buffer
	mustT(t, WriteTree(context.Background(), &buf, dir, TreeOptions{}))
	return buf.Bytes()
}

// TestOverlayKernel checks the package against the kernel: a layer unpacked
// by Apply is mounted, the container's changes are read back with Changes,
// WriteMerged and Lookup, and the committed layer, mounted again, shows the
// same tree.
func TestOverlayKernel(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	lower, upper, work := filepath.Join(root, "lower"), filepath.Join(root, "upper"), filepath.Join(root, "work")
	for _, d := range []string{lower, upper, work} {
		mustT(t, os.Mkdir(d, 0o755))
	}
	base := buildTar(t,
		dirEntry("etc/"), reg("etc/passwd", "p"), reg("etc/hosts", "h"),
		dirEntry("srv/"), reg("srv/keep", "k"), reg("srv/drop", "d"),
		dirEntry("usr/"), dirEntry("usr/bin/"), reg("usr/bin/sh", "sh"),
		symlink("bin", "usr/bin"),
	)
	if _, err := applyBytes(t, lower, base); err != nil {
		t.Fatal(err)
	}

	mnt := mountOverlay(t, "lowerdir="+lower+",upperdir="+upper+",workdir="+work)
	in := func(rel string) string { return filepath.Join(mnt, rel) }
	mustT(t, os.Remove(in("etc/passwd")))
	mustT(t, os.WriteFile(in("etc/hosts"), []byte("h2"), 0o644))
	mustT(t, os.RemoveAll(in("srv")))
	mustT(t, os.Mkdir(in("srv"), 0o755))
	mustT(t, os.WriteFile(in("srv/keep"), []byte("k2"), 0o644))
	mustT(t, os.MkdirAll(in("new/sub"), 0o755))
	mustT(t, os.WriteFile(in("new/sub/f"), []byte("n"), 0o644))
	mustT(t, os.Remove(in("usr/bin/sh")))
	mustT(t, os.WriteFile(in("bin/tool"), []byte("t"), 0o755))

	got, err := Changes(upper, []string{lower})
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, c.String())
	}
	want := []string{
		"C /etc", "C /etc/hosts", "D /etc/passwd",
		"A /new", "A /new/sub", "A /new/sub/f",
		"C /srv", "D /srv/drop", "C /srv/keep",
		"C /usr", "C /usr/bin", "D /usr/bin/sh", "A /usr/bin/tool",
	}
	if !slices.Equal(lines, want) {
		t.Errorf("Changes:\n%s", diffLines(want, lines))
	}

	// Our merged view must be the kernel's, byte for byte.
	kernelView := writeTreeBytes(t, mnt)
	var merged bytes.Buffer
	mustT(t, WriteMerged(context.Background(), &merged, []string{upper, lower}))
	if !bytes.Equal(merged.Bytes(), kernelView) {
		t.Errorf("WriteMerged differs from the mounted view:\n%s",
			diffLines(names(readTar(t, kernelView)), names(readTar(t, merged.Bytes()))))
	}
	for _, p := range []string{"/etc/hosts", "/srv/keep", "/bin/tool", "/usr/bin/tool", "/new/sub/f"} {
		host, err := lookupHost([]string{upper, lower}, p, true)
		if err != nil {
			t.Errorf("Lookup(%q): %v", p, err)
			continue
		}
		a, _ := os.ReadFile(host)
		b, _ := os.ReadFile(in(p))
		if !bytes.Equal(a, b) {
			t.Errorf("Lookup(%q) -> %s holds %q, mount shows %q", p, host, a, b)
		}
	}

	// Commit the upper as a layer and stack it read-only on the base.
	var layer bytes.Buffer
	mustT(t, WriteLayer(context.Background(), &layer, upper))
	committed := filepath.Join(root, "committed")
	mustT(t, os.Mkdir(committed, 0o755))
	if _, err := Apply(context.Background(), committed, &layer); err != nil {
		t.Fatal(err)
	}
	image := mountOverlay(t, "lowerdir="+committed+":"+lower)
	if imageView := writeTreeBytes(t, image); !bytes.Equal(imageView, kernelView) {
		t.Errorf("committed layer mounts differently:\n%s",
			diffLines(names(readTar(t, kernelView)), names(readTar(t, imageView))))
	}
}
