package luabind

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestClosest(t *testing.T) {
	names := []string{"commit", "created", "exit_code", "id", "short_id", "status", "stdout"}
	for key, want := range map[string]string{
		"exitcode": "exit_code", "ExitCode": "exit_code", "comit": "commit", "shortid": "short_id",
		"stdot": "stdout", "zzzzzz": "", "xx": "", "statuss": "status",
	} {
		if got := closest(key, names); got != want {
			t.Errorf("closest(%q) = %q, want %q", key, got, want)
		}
	}
	if d := editDistance("kitten", "sitting"); d != 3 {
		t.Errorf("editDistance = %d", d)
	}
}

// Reading a field that does not exist names it and the closest one, for Containers and
// Images; fields that are nil for now (started of a created container) stay nil.
func TestUnknownFieldsRaise(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`c = lab.create("busybox", "true"); img = lab.image("busybox")`)
	if f := e.fails(`return c.exitcode`); f.Msg != "no field 'exitcode' on Container (did you mean exit_code?)" {
		t.Errorf("c.exitcode: %q", f.Msg)
	}
	if f := e.fails(`c:comit("x")`); !strings.Contains(f.Msg, "no field 'comit' on Container (did you mean commit?)") {
		t.Errorf("c:comit: %q", f.Msg)
	}
	if f := e.fails(`return img.tgas`); f.Msg != "no field 'tgas' on Image (did you mean tags?)" {
		t.Errorf("img.tgas: %q", f.Msg)
	}
	if v := e.eval(`c.started`); v != lua.LNil {
		t.Errorf("c.started of a created container: %v", v)
	}
}

// A failing comparison of tables says, element by element, where they differ.
func TestTableDiff(t *testing.T) {
	e := newEnv(t, Options{})
	f := e.fails(`lab.expect({a = 1, b = {x = "p", y = {1, 2, 3}}, c = true}):eq({a = 1, b = {x = "q", y = {1, 2}}, d = 4})`)
	for _, want := range []string{"differences:", `b.x: expected "q", got "p"`, "b.y[3]: unexpected 3", "c: unexpected true", "d: missing (expected 4)"} {
		if !strings.Contains(f.Detail, want) {
			t.Errorf("detail lacks %q:\n%s", want, f.Detail)
		}
	}
}

func TestScrub(t *testing.T) {
	id := "84a0d869636b1f2e3d4c5b6a7980a1b2c3d4e5f60718293a4b5c6d7e8f901234"
	in := "CONTAINER " + id[:12] + " created 2026-12-01T00:55:03.123Z, 5 seconds ago, took 38ms\n" +
		"image sha256:" + id + " id " + id + " again " + id[:12] + " other 0123456789ab"
	want := "CONTAINER <id1> created <time1>, <ago1>, took <duration>\n" +
		"image <digest1> id <id1> again <id1> other <short-id1>"
	if got := Scrub(in); got != want {
		t.Errorf("Scrub:\n got %q\nwant %q", got, want)
	}
}
