package archive

import (
	"archive/tar"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// Breakout shapes from containerd's archive tests that TestApplyHostile does not
// spell out: a link made to an escaping symlink and then written over, metadata
// entries aimed through a symlinked parent, whiteouts replacing an escaping link, and
// lookups that loop. Each must stay inside the layer (the sentinel is untouched).
func TestApplyBreakoutShapes(t *testing.T) {
	cases := []struct {
		name    string
		want    string
		entries func(e hostileEnv) []entry
		verify  func(t *testing.T, e hostileEnv)
	}{
		{name: "hardlink_to_escaping_symlink_then_file_over_it_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{symlink("l", e.sentinel+"/keep"), hardlink("h", "l"), reg("h", "evil")}
		}, verify: func(t *testing.T, e hostileEnv) {
			wantFile(t, filepath.Join(e.layer, "h"), "evil")
			if target, err := os.Readlink(filepath.Join(e.layer, "l")); err != nil || target != e.sentinel+"/keep" {
				t.Errorf("l: %q %v", target, err)
			}
		}},
		{name: "dir_mode_through_symlinked_parent_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("l", e.sentinel), {hdr: tar.Header{Typeflag: tar.TypeDir, Name: "l/sub/", Mode: 0o777}}}
		}},
		{name: "fifo_through_symlinked_parent_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("l", "../sentinel"), {hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "l/p", Mode: 0o600}}}
		}},
		{name: "symlink_through_symlinked_parent_unsafe", want: wantUnsafe, entries: func(e hostileEnv) []entry {
			return []entry{symlink("l", e.sentinel), symlink("l/new", "/etc/passwd")}
		}},
		{name: "whiteout_replaces_escaping_link_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{symlink("l", e.sentinel), reg(".wh.l", "")}
		}, verify: func(t *testing.T, e hostileEnv) {
			var st unix.Stat_t
			if err := unix.Lstat(filepath.Join(e.layer, "l"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
				t.Errorf("l is not a whiteout: mode %o rdev %d %v", st.Mode, st.Rdev, err)
			}
		}},
		{name: "symlink_loop_parent_error", want: wantError, entries: func(e hostileEnv) []entry {
			return []entry{symlink("a", "b"), symlink("b", "a"), reg("a/x", "x")}
		}},
		{name: "hardlink_to_directory_error", want: wantError, entries: func(e hostileEnv) []entry {
			return []entry{dirEntry("d/"), hardlink("h", "d")}
		}},
		{name: "hardlink_to_missing_target_error", want: wantError, entries: func(e hostileEnv) []entry {
			return []entry{hardlink("h", "nothing")}
		}},
		{name: "file_replaces_dir_holding_escaping_link_ok", want: wantOK, entries: func(e hostileEnv) []entry {
			return []entry{dirEntry("d/"), symlink("d/l", e.sentinel), reg("d", "flat")}
		}, verify: func(t *testing.T, e hostileEnv) {
			wantFile(t, filepath.Join(e.layer, "d"), "flat")
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
			if c.verify != nil && err == nil {
				c.verify(t, e)
			}
		})
	}
}
