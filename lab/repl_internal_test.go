//go:build !lean

package lab

import (
	"io"
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

// A paste's markers are found even when a read splits them; what is typed around a
// paste reaches readline, with one Enter where the paste was.
func TestPasteReader(t *testing.T) {
	in := "ab\x1b[200~x = 1\ry = 2\r\x1b[201~cd"
	for split := 1; split < len(in); split++ {
		p := &pasteReader{r: &chunkedReader{parts: []string{in[:split], in[split:]}}}
		var got []byte
		b := make([]byte, 3)
		for {
			n, err := p.Read(b)
			got = append(got, b[:n]...)
			if err != nil {
				break
			}
		}
		if string(got) != "ab\rcd" || p.take() != "x = 1\ny = 2\n" {
			t.Fatalf("split at %d: readline got %q", split, got)
		}
	}
}

type chunkedReader struct{ parts []string }

func (c *chunkedReader) Read(b []byte) (int, error) {
	if len(c.parts) == 0 {
		return 0, io.EOF
	}
	n := copy(b, c.parts[0])
	c.parts[0] = c.parts[0][n:]
	if c.parts[0] == "" {
		c.parts = c.parts[1:]
	}
	return n, nil
}

// The scanner says a chunk is open only when it surely is.
func TestChunkScanner(t *testing.T) {
	for src, open := range map[string]bool{
		"t = {":                          true,
		"t = {1, 2}":                     false,
		"for i = 1, 2 do":                true,
		"for i = 1, 2 do end":            false,
		"while x do f(x)":                true,
		"if x then y() else z() end":     false,
		"s = [==[ long":                  true,
		"s = [==[ long ]] ]==]":          false,
		"--[[ comment":                   true,
		"-- do":                          false,
		"s = 'do ( {'":                   false,
		"s = \"a\\":                      true,
		"x = \"unterminated":             false,
		"f = function() return t[1] end": false,
	} {
		c := newChunkScanner()
		for _, l := range strings.Split(src, "\n") {
			c.feed(l)
		}
		if c.open() != open {
			t.Errorf("%q: open = %v, want %v", src, c.open(), open)
		}
	}
}
