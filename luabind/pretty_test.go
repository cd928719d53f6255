package luabind

import (
	"regexp"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

func TestPrettyValues(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	eval := func(expr string) lua.LValue {
		t.Helper()
		if err := L.DoString("__v = " + expr); err != nil {
			t.Fatal(err)
		}
		return L.GetGlobal("__v")
	}
	for expr, want := range map[string]string{
		`"plain string"`:      "plain string",
		`42`:                  "42",
		`nil`:                 "nil",
		`true`:                "true",
		`{}`:                  "{}",
		`{1, "two", false}`:   `{ 1, "two", false }`,
		`{b = 1, a = "x"}`:    `{ a = "x", b = 1 }`,
		`{1, 2, [10] = true}`: `{ 1, 2, [10] = true }`,
		`{["with space"] = 1, [2.5] = 2, _ok = 3}`: `{ [2.5] = 2, _ok = 3, ["with space"] = 1 }`,
		`{nested = {deeper = {list = {1, 2, 3}}}}`: `{ nested = { deeper = { list = { 1, 2, 3 } } } }`,
		`{text = "line\nbreak \"quoted\""}`:        `{ text = "line\nbreak \"quoted\"" }`,
		`{long = string.rep("x", 70), n = 1}`:      "{\n  long = \"" + strings.Repeat("x", 70) + "\",\n  n = 1,\n}",
		`{inner = {a = string.rep("y", 70)}}`:      "{\n  inner = {\n    a = \"" + strings.Repeat("y", 70) + "\",\n  },\n}",
	} {
		if got := Pretty(eval(expr)); got != want {
			t.Errorf("Pretty(%s) =\n%s\nwant\n%s", expr, got, want)
		}
	}
	if got := Pretty(eval(`(function() local t = {name = "loop"} t.self = t t.list = {t} return t end)()`)); got != `{ list = { <cycle> }, name = "loop", self = <cycle> }` {
		t.Errorf("cycles: %s", got)
	}
	// A table shared, not cyclic, prints in full each time.
	if got := Pretty(eval(`(function() local s = {1} return {a = s, b = s} end)()`)); got != `{ a = { 1 }, b = { 1 } }` {
		t.Errorf("shared: %s", got)
	}
	if got := Pretty(eval(`print`)); !strings.HasPrefix(got, "function: ") {
		t.Errorf("function: %s", got)
	}
}

func TestPrettyLabValues(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		c = lab.run("busybox", "touch /x", {name = "pretty"})
		img = lab.image("busybox")
	`)
	row := Pretty(e.eval("c"))
	if row != e.str("tostring(c)") || !strings.HasSuffix(row, "pretty") || !strings.Contains(row, "Exited (0)") {
		t.Errorf("Pretty(c) = %q, tostring(c) = %q", row, e.str("tostring(c)"))
	}
	if got := Pretty(e.eval("img")); got != e.str("tostring(img)") || !strings.HasPrefix(got, "busybox ") {
		t.Errorf("Pretty(img) = %q", got)
	}
	for _, expr := range []string{"lab.ps{all = true}", "{c}"} {
		got := Pretty(e.eval(expr))
		if lines := strings.Split(got, "\n"); len(lines) != 2 || !strings.HasPrefix(lines[0], "CONTAINER ID") || !strings.HasSuffix(lines[1], "pretty") {
			t.Errorf("Pretty(%s) =\n%s", expr, got)
		}
	}
	for _, expr := range []string{"lab.images()", "{img}"} {
		if got := Pretty(e.eval(expr)); !regexp.MustCompile(`^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\nbusybox\s+latest\s`).MatchString(got) {
			t.Errorf("Pretty(%s) =\n%s", expr, got)
		}
	}
	if got := Pretty(e.eval("c:diff()")); got != "A /x" {
		t.Errorf("Pretty(diff) = %q", got)
	}
	if got := Pretty(e.eval("img:history()")); !strings.HasPrefix(got, "IMAGE ") {
		t.Errorf("Pretty(history) = %q", got)
	}
	if got := Pretty(e.eval(`select(2, pcall(lab.run, "nope"))`)); got != "lab.run: no such image: nope:latest" {
		t.Errorf("Pretty(error) = %q", got)
	}
	if got := Pretty(e.eval(`{c, 1}`)); !regexp.MustCompile(`^\{ <container [0-9a-f]{12} pretty>, 1 \}$`).MatchString(got) {
		t.Errorf("Pretty(mixed list) = %q", got)
	}
	if got := Pretty(e.eval(`{img = img}`)); !regexp.MustCompile(`^\{ img = <image [0-9a-f]{12} busybox:latest> \}$`).MatchString(got) {
		t.Errorf("Pretty(image in a table) = %q", got)
	}
}

func TestNames(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`lab.run("busybox", "true", {name = "named-one"})`)
	names := Names(e.eng)
	set := map[string]bool{}
	for _, n := range names {
		set[n] = true
	}
	for _, want := range []string{"lab.run", "lab.ps", "lab.expect", "lab.extended_for_test", "commit", "stdout", "layers", "exit_code", "busybox:latest", "named-one"} {
		if !set[want] {
			t.Errorf("Names lacks %q: %v", want, names)
		}
	}
	for i := 1; i < len(names); i++ {
		if names[i-1] >= names[i] {
			t.Fatalf("Names not sorted and unique at %q, %q", names[i-1], names[i])
		}
	}
}
