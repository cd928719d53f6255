package build

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// parseDockerfile never panics and fails only with one-line *Error values.
func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		"FROM busybox\nRUN echo hi\n",
		"# escape=`\nFROM busybox\nRUN echo `\n  hi\n",
		"ARG A=1\nFROM ${A}\nCOPY --from=0 --chown=1:2 a b\n",
		"FROM busybox AS x\nRUN <<EOF\nhi\nEOF\n",
		"FROM busybox\nHEALTHCHECK --interval=1s CMD true\nONBUILD RUN x\n",
		"# check=skip=all\nFROM busybox\n",
		"FROM a\nENV A B C\nLABEL \"\"=x\nEXPOSE\n",
		"\ufeffFROM x\n\\\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, s string) {
		df, err := parseDockerfile("Dockerfile", []byte(s))
		if err == nil {
			if df == nil || len(df.stages) == 0 {
				t.Fatalf("no error and no stage for %q", s)
			}
			return
		}
		var e *Error
		if !errors.As(err, &e) {
			t.Fatalf("error %T %v for %q", err, err, s)
		}
		if e.Line < 0 || e.Line > strings.Count(s, "\n")+2 {
			t.Fatalf("line %d out of range for %q: %v", e.Line, s, err)
		}
	})
}

// Symlinks resolve inside a tree, as in a chroot, and never leave it.
func TestResolve(t *testing.T) {
	root := t.TempDir()
	for _, d := range []string{"a/b", "c"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	os.WriteFile(filepath.Join(root, "a/b/f"), []byte("f"), 0o644)
	os.Symlink("/a/b", filepath.Join(root, "abs"))
	os.Symlink("../../../../a", filepath.Join(root, "c/up"))
	os.Symlink("f", filepath.Join(root, "a/b/rel"))
	os.Symlink("loop", filepath.Join(root, "loop"))
	os.Symlink("c/file", filepath.Join(root, "c-file"))
	os.WriteFile(filepath.Join(root, "c/file"), nil, 0o644)
	tr := &dirTree{root: root}
	for _, tc := range []struct {
		p, rel string
		exists bool
		err    string
	}{
		{"abs/f", "a/b/f", true, ""},
		{"/abs/rel", "a/b/f", true, ""},
		{"c/up/b/f", "a/b/f", true, ""},
		{"../../a/./b/../b/f", "a/b/f", true, ""},
		{"abs/new/deeper", "a/b/new/deeper", false, ""},
		{"c-file/x", "", false, "not a directory"},
		{"loop", "", false, "too many levels"},
		{"/", "", true, ""},
	} {
		rel, n, err := resolve(tr, tc.p, true)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("resolve %q: err %v, want %q", tc.p, err, tc.err)
			}
			continue
		}
		if err != nil || rel != tc.rel || (n != nil) != tc.exists {
			t.Errorf("resolve %q = %q, %v, %v; want %q, exists %v", tc.p, rel, n != nil, err, tc.rel, tc.exists)
		}
	}
	// Without following the last component a symlink is itself.
	if rel, n, _ := resolve(tr, "abs", false); rel != "abs" || n == nil || !n.isLink() {
		t.Errorf("resolve abs without following: %q %+v", rel, n)
	}
}

// The layer view merges layers as overlayfs does: whiteouts hide, opaque directories
// stop the merge, upper entries win.
func TestLayerTree(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: whiteouts are character devices")
	}
	upper, lower := t.TempDir(), t.TempDir()
	for _, d := range []string{"dir", "opq", "gone"} {
		os.MkdirAll(filepath.Join(lower, d), 0o755)
		os.WriteFile(filepath.Join(lower, d, "low"), []byte("low"), 0o644)
	}
	os.WriteFile(filepath.Join(lower, "shadowed"), []byte("low"), 0o644)
	os.MkdirAll(filepath.Join(upper, "dir"), 0o700)
	os.WriteFile(filepath.Join(upper, "dir", "up"), []byte("up"), 0o644)
	os.MkdirAll(filepath.Join(upper, "opq"), 0o755)
	if err := setOpaque(filepath.Join(upper, "opq")); err != nil {
		t.Skip("no trusted xattrs here:", err)
	}
	os.WriteFile(filepath.Join(upper, "opq", "up"), []byte("up"), 0o644)
	mkWhiteout(t, filepath.Join(upper, "gone"))
	os.WriteFile(filepath.Join(upper, "shadowed"), []byte("up"), 0o644)
	lt := newLayerTree([]string{upper, lower})
	names := func(rel string) string {
		ns, err := lt.names(rel)
		if err != nil {
			t.Fatal(err)
		}
		var vis []string
		for _, n := range ns {
			if _, err := lt.lstat(join(rel, n)); err == nil {
				vis = append(vis, n)
			}
		}
		return strings.Join(vis, " ")
	}
	if got := names(""); got != "dir opq shadowed" {
		t.Errorf("root: %q", got)
	}
	if got := names("dir"); got != "low up" {
		t.Errorf("dir: %q", got)
	}
	if got := names("opq"); got != "up" {
		t.Errorf("opaque dir: %q", got)
	}
	n, err := lt.lstat("shadowed")
	if err != nil || !strings.HasPrefix(n.host, upper) {
		t.Errorf("shadowed: %+v %v", n, err)
	}
	if n, _ := lt.lstat("dir"); n.st.Mode&0o777 != 0o700 {
		t.Errorf("a merged directory has its topmost copy's mode, got %o", n.st.Mode&0o777)
	}
	if _, err := lt.lstat("gone/low"); err == nil {
		t.Errorf("a whited-out directory's contents must not show")
	}
}

func setOpaque(p string) error {
	return unix.Setxattr(p, "trusted.overlay.opaque", []byte("y"), 0)
}

func mkWhiteout(t *testing.T, p string) {
	t.Helper()
	if err := unix.Mknod(p, unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
}
