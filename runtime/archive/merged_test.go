package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
)

// mergedLayers builds three layer directories (topmost first) exercising
// whiteouts, opaque directories, a file hiding a directory and symlinks.
func mergedLayers(t *testing.T) []string {
	t.Helper()
	root := t.TempDir()
	layers := []string{filepath.Join(root, "l0"), filepath.Join(root, "l1"), filepath.Join(root, "l2")}
	for _, d := range layers {
		mustT(t, os.Mkdir(d, 0o755))
	}
	in := func(i int, rel string) string { return filepath.Join(layers[i], rel) }

	writeT(t, in(2, "etc/passwd"), "p2")
	writeT(t, in(2, "etc/group"), "g2")
	writeT(t, in(2, "bin/sh"), "sh2")
	writeT(t, in(2, "data/a"), "a2")
	writeT(t, in(2, "data/b"), "b2")
	writeT(t, in(2, "lib/x"), "x2")
	writeT(t, in(2, "old"), "old2")

	writeT(t, in(1, "etc/passwd"), "p1")
	whiteoutT(t, in(1, "etc/group"))
	opaqueT(t, in(1, "data"))
	writeT(t, in(1, "data/c"), "c1")
	symlinkT(t, "sh", in(1, "bin/bash"))
	symlinkT(t, "/etc/passwd", in(1, "abs"))
	symlinkT(t, "../../../../../../../etc/shadow", in(1, "escape"))
	symlinkT(t, "../../../../../../../etc/passwd", in(1, "esc2"))

	symlinkT(t, "/etc", in(0, "lnkdir"))
	whiteoutT(t, in(0, "old"))
	writeT(t, in(0, "lib"), "lib0")
	symlinkT(t, "loop2", in(0, "loop1"))
	symlinkT(t, "loop1", in(0, "loop2"))
	symlinkT(t, "bin/../etc/./passwd", in(0, "dots"))
	return layers
}

func TestLookup(t *testing.T) {
	requireRoot(t)
	layers := mergedLayers(t)
	in := func(i int, rel string) string { return filepath.Join(layers[i], rel) }
	found := map[string]string{
		"/":                   layers[0],
		"/etc/passwd":         in(1, "etc/passwd"),
		"/etc/../etc/passwd":  in(1, "etc/passwd"),
		"/../../etc/passwd":   in(1, "etc/passwd"),
		"etc/passwd":          in(1, "etc/passwd"),
		"/etc":                in(1, "etc"),
		"/data/c":             in(1, "data/c"),
		"/data/b/..":          "",
		"/bin/sh":             in(2, "bin/sh"),
		"/bin/bash":           in(2, "bin/sh"), // relative link resolved across layers
		"/abs":                in(1, "etc/passwd"),
		"/lnkdir/passwd":      in(1, "etc/passwd"),
		"/lnkdir/../bin/bash": in(2, "bin/sh"),
		"/esc2":               in(1, "etc/passwd"),
		"/dots":               in(1, "etc/passwd"),
		"/lib":                in(0, "lib"),
	}
	for p, want := range found {
		got, err := lookupHost(layers, p, true)
		if want == "" {
			if !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("Lookup(%q) = %q, %v; want not exist", p, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("Lookup(%q) = %q, %v; want %q", p, got, err, want)
		}
	}
	for _, p := range []string{"/etc/group", "/data/a", "/old", "/lib/x", "/escape", "/nope", "/bin/nope/x"} {
		if got, err := lookupHost(layers, p, true); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Lookup(%q) = %q, %v; want not exist", p, got, err)
		}
	}
	if _, err := lookupHost(layers, "/loop1", true); !errors.Is(err, syscall.ELOOP) {
		t.Errorf("Lookup(/loop1): %v, want ELOOP", err)
	}
	if got, err := lookupHost(layers, "/abs", false); err != nil || got != in(1, "abs") {
		t.Errorf("LookupNoFollow(/abs) = %q, %v", got, err)
	}
}

func TestWriteMerged(t *testing.T) {
	requireRoot(t)
	layers := mergedLayers(t)
	var buf bytes.Buffer
	if err := WriteMerged(context.Background(), &buf, layers); err != nil {
		t.Fatal(err)
	}
	members := readTar(t, buf.Bytes())
	want := []string{
		"abs", "bin/", "bin/bash", "bin/sh", "data/", "data/c", "dots", "esc2", "escape",
		"etc/", "etc/passwd", "lib", "lnkdir", "loop1", "loop2",
	}
	if got := names(members); !slices.Equal(got, want) {
		t.Errorf("merged entries:\n%s", diffLines(want, got))
	}
	bodies := map[string]string{}
	for _, m := range members {
		bodies[m.hdr.Name] = m.body
		if m.hdr.Typeflag == tar.TypeChar {
			t.Errorf("%q: whiteout in merged output", m.hdr.Name)
		}
		if _, ok := m.hdr.PAXRecords[paxXattrPrefix+opaqueXattr]; ok {
			t.Errorf("%q: opaque xattr in merged output", m.hdr.Name)
		}
	}
	for name, body := range map[string]string{"etc/passwd": "p1", "bin/sh": "sh2", "lib": "lib0", "data/c": "c1"} {
		if bodies[name] != body {
			t.Errorf("%s = %q, want %q", name, bodies[name], body)
		}
	}
	var again bytes.Buffer
	mustT(t, WriteMerged(context.Background(), &again, layers))
	if !bytes.Equal(buf.Bytes(), again.Bytes()) {
		t.Error("WriteMerged output differs between runs")
	}
}
