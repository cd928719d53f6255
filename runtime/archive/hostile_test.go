package archive

import (
	"archive/tar"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// Outcomes of a hostile layer.
const (
	wantUnsafe = "unsafe" // error wrapping ErrUnsafe
	wantOK     = "ok"     // applied, harmlessly, as Docker would
	wantError  = "error"  // refused for a reason other than safety
)

// hostileEnv is a layer directory with a sentinel directory next to it; no
// hostile entry may touch the sentinel or add anything beside the two.
type hostileEnv struct {
	base, layer, sentinel string
}

func newHostileEnv(t testing.TB) hostileEnv {
	base := removableTempDir(t)
	e := hostileEnv{base: base, layer: filepath.Join(base, "layer"), sentinel: filepath.Join(base, "sentinel")}
	for _, d := range []string{e.layer, e.sentinel} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(e.sentinel, "keep"), []byte("k"), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// check reports anything created or changed outside the layer directory.
func (e hostileEnv) check(t testing.TB) {
	t.Helper()
	got, err := readDirNames(e.base)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"layer", "sentinel"}) {
		t.Errorf("entries next to the layer: %q", got)
	}
	got, err = readDirNames(e.sentinel)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(got, []string{"keep"}) {
		t.Errorf("sentinel entries: %q", got)
	}
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(e.sentinel, "keep"), &st); err != nil {
		t.Fatal(err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG || st.Size != 1 || st.Nlink != 1 || st.Mode&0o7777 != 0o644 {
		t.Errorf("sentinel file changed: mode %o size %d nlink %d", st.Mode, st.Size, st.Nlink)
	}
	if b, err := os.ReadFile(filepath.Join(e.sentinel, "keep")); err != nil || string(b) != "k" {
		t.Errorf("sentinel content: %q, %v", b, err)
	}
}

func TestApplyHostile(t *testing.T) {
	type hcase struct {
		name    string
		want    string
		entries func(e hostileEnv) []entry
		verify  func(t *testing.T, e hostileEnv)
	}
	abs := func(e hostileEnv) string { return strings.TrimPrefix(e.sentinel, "/") }
	whiteoutOf := func(name string) entry {
		return entry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o600}}
	}
	cases := []hcase{
		{name: "dotdot_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{reg("../sentinel/x", "evil")}
		}},
		{name: "absolute_etc_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{reg("/etc/x-lab-archive-test", "evil")}
		}},
		{name: "absolute_sentinel_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{reg(e.sentinel+"/x", "evil")}
		}},
		{name: "inner_dotdot_escape_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{reg("a/../../sentinel/x", "evil")}
		}},
		{name: "inner_dotdot_inside_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{reg("a/../b", "fine")}
		}, verify: func(t *testing.T, e hostileEnv) {
			wantFile(t, filepath.Join(e.layer, "b"), "fine")
		}},
		{name: "symlink_to_root_then_write_through_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", "/"), reg("link/"+abs(e)+"/x", "evil")}
		}},
		{name: "symlink_to_root_then_etc_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", "/"), reg("link/etc/x-lab-archive-test", "evil")}
		}},
		{name: "symlink_dotdot3_then_write_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", "../../.."), reg("link/x-lab-archive-test", "evil")}
		}, verify: func(t *testing.T, e hostileEnv) {
			escaped := filepath.Join(e.layer, "../../..", "x-lab-archive-test")
			if _, err := os.Lstat(escaped); err == nil {
				t.Error("file created three levels above the layer")
				os.Remove(escaped)
			}
		}},
		{name: "symlink_relative_to_sentinel_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", "../sentinel"), reg("link/x", "evil")}
		}},
		{name: "symlink_absolute_to_sentinel_then_dir_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", e.sentinel), dirEntry("link/newdir/")}
		}},
		{name: "nested_symlink_escape_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{dirEntry("sub/"), symlink("sub/l", "../../sentinel"), reg("sub/l/x", "evil")}
		}},
		{name: "symlink_chain_escape_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("a", "b"), symlink("b", "../sentinel"), reg("a/x", "evil")}
		}},
		{name: "symlink_inside_followed_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{dirEntry("d/"), dirEntry("s/"), symlink("s/l", "../d"), reg("s/l/x", "fine")}
		}, verify: func(t *testing.T, e hostileEnv) {
			wantFile(t, filepath.Join(e.layer, "d/x"), "fine")
		}},
		{name: "hardlink_dotdot_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{hardlink("h", "../../etc/passwd")}
		}},
		{name: "hardlink_to_sentinel_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{hardlink("h", "../sentinel/keep")}
		}},
		{name: "hardlink_absolute_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{hardlink("h", e.sentinel+"/keep")}
		}},
		{name: "hardlink_through_symlinked_parent_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", e.sentinel), hardlink("h", "link/keep")}
		}},
		{name: "hardlink_into_symlinked_parent_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{reg("f", "evil"), symlink("link", "../sentinel"), hardlink("link/h", "f")}
		}},
		{name: "hardlink_to_escaping_symlink_links_the_symlink_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", e.sentinel+"/keep"), hardlink("h", "link")}
		}, verify: func(t *testing.T, e hostileEnv) {
			if target, err := os.Readlink(filepath.Join(e.layer, "h")); err != nil || target != e.sentinel+"/keep" {
				t.Errorf("h: %q, %v; want a symlink", target, err)
			}
		}},
		{name: "symlink_then_file_replaces_link_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", e.sentinel+"/keep"), reg("link", "evil")}
		}, verify: func(t *testing.T, e hostileEnv) {
			wantFile(t, filepath.Join(e.layer, "link"), "evil")
		}},
		{name: "relative_symlink_then_file_replaces_link_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", "../sentinel/keep"), reg("link", "evil")}
		}, verify: func(t *testing.T, e hostileEnv) {
			wantFile(t, filepath.Join(e.layer, "link"), "evil")
		}},
		{name: "symlink_then_dir_replaces_link_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", e.sentinel), dirEntry("link/"), reg("link/x", "fine")}
		}, verify: func(t *testing.T, e hostileEnv) {
			wantFile(t, filepath.Join(e.layer, "link/x"), "fine")
		}},
		{name: "symlink_then_fifo_replaces_link_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", e.sentinel+"/keep"),
				{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "link", Mode: 0o600}}}
		}},
		{name: "file_over_hardlink_keeps_target_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{reg("f", "orig"), hardlink("h", "f"), reg("h", "new")}
		}, verify: func(t *testing.T, e hostileEnv) {
			wantFile(t, filepath.Join(e.layer, "f"), "orig")
			wantFile(t, filepath.Join(e.layer, "h"), "new")
		}},
		{name: "whiteout_dotdot_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{whiteoutOf("../sentinel/.wh.keep")}
		}},
		{name: "whiteout_of_dotdot_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{dirEntry("a/"), whiteoutOf("a/.wh...")}
		}},
		{name: "whiteout_through_symlink_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", e.sentinel), whiteoutOf("link/.wh.keep")}
		}},
		{name: "opaque_escaping_path_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{whiteoutOf("../sentinel/.wh..wh..opq")}
		}},
		{name: "opaque_through_symlink_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", e.sentinel), whiteoutOf("link/.wh..wh..opq")}
		}},
		{name: "root_replaced_by_file_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{reg(".", "evil")}
		}},
		{name: "long_name_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{reg(strings.Repeat(strings.Repeat("n", 200)+"/", 15)+"f", "fine")}
		}},
		{name: "long_component_error", want: wantError, entries: func(e hostileEnv) []entry {
			return []entry{reg(strings.Repeat("n", 300), "x")}
		}},
		{name: "long_escape_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{reg(strings.Repeat("a/", 2000)+strings.Repeat("../", 2001)+"sentinel/x", "evil")}
		}},
		{name: "dangling_symlink_parent_error", want: wantError, entries: func(e hostileEnv) []entry {
			return []entry{symlink("link", "missing"), reg("link/x", "x")}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			e := newHostileEnv(t)
			_, err := applyBytes(t, e.layer, buildTar(t, c.entries(e)...))
			switch c.want {
			case wantUnsafe:
				if !isUnsafe(err) {
					t.Errorf("err = %v, want ErrUnsafe", err)
				}
			case wantOK:
				if err != nil {
					t.Errorf("err = %v, want success", err)
				}
			case wantError:
				if err == nil || isUnsafe(err) {
					t.Errorf("err = %v, want a non-ErrUnsafe error", err)
				}
			}
			e.check(t)
			if _, err := os.Lstat("/etc/x-lab-archive-test"); err == nil {
				t.Error("/etc/x-lab-archive-test was created")
				os.Remove("/etc/x-lab-archive-test")
			}
			if c.verify != nil {
				c.verify(t, e)
			}
		})
	}
}

func wantFile(t *testing.T, p, body string) {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatalf("stat %s: %v", p, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFREG {
		t.Fatalf("%s: type %o, want regular file", p, st.Mode&unix.S_IFMT)
	}
	if b, err := os.ReadFile(p); err != nil || string(b) != body {
		t.Fatalf("%s: %q, %v; want %q", p, b, err, body)
	}
}
