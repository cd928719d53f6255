//go:build !lean

package lab

import (
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// What the REPL does with each input: run it as an expression, as a statement, ask for
// more lines, or report the error.
func TestCompileInput(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	cases := []struct {
		src  string
		want string // "expr", "stmt", "more", "error"
	}{
		{"1 + 1", "expr"},
		{"=1 + 1", "expr"},
		{"lab", "expr"},
		{"x = 1", "stmt"},
		{"for i=1,2 do print(i) end", "stmt"},
		{"for i=1,2 do", "more"},
		{"for i=1,2 do\nprint(i)", "more"},
		{"x = {", "more"},
		{"{1, 2,", "more"},
		{"f(", "more"},
		{"1 +", "more"},
		{"s = [[long", "more"},
		{"--[[ comment", "more"},
		{"print('a", "error"}, // a short string cannot continue on the next line
		{"x = = 1", "error"},
		{"end", "error"},
	}
	for _, c := range cases {
		fn, more, err := compileInput(L, c.src)
		got := "error"
		switch {
		case more:
			got = "more"
		case err == nil && fn != nil:
			got = "stmt"
			if _, e := L.Load(strings.NewReader("return "+strings.TrimPrefix(c.src, "=")), "x"); e == nil {
				got = "expr"
			}
		}
		if got != c.want {
			t.Errorf("%q: got %s, want %s (err %v)", c.src, got, c.want, err)
		}
	}
}

func TestWordBefore(t *testing.T) {
	cases := []struct {
		line, word string
		quoted     bool
	}{
		{"lab.r", "lab.r", false},
		{"x = lab.r", "lab.r", false},
		{"c:com", "c:com", false},
		{`lab.run("bu`, "bu", true},
		{`lab.run('busybox', "ec`, "ec", true},
		{`lab.run("a\"b`, `a\"b`, true},
		{`lab.run("busybox") + `, "", false},
		{"", "", false},
	}
	for _, c := range cases {
		w, q := wordBefore(c.line)
		if w != c.word || q != c.quoted {
			t.Errorf("wordBefore(%q) = %q, %v; want %q, %v", c.line, w, q, c.word, c.quoted)
		}
	}
}
