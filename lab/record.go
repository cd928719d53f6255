//go:build !lean

package lab

import (
	"context"
	"fmt"
	"os"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"lab/luabind"
)

func init() {
	register(map[string]*command{"record": {
		usage: "FILE.lua",
		short: "Open the REPL and write the session as a replayable scenario",
		run: func(ctx context.Context, a *app, args []string) error {
			if err := needArgs(a, args, 1, 1); err != nil {
				return err
			}
			f, ok := a.stdin.(*os.File)
			if !ok || !isTerminal(f) {
				return &statusError{code: 1, msg: "lab record: the REPL needs a terminal on stdin"}
			}
			rec, err := newRecorder(args[0])
			if err != nil {
				return &statusError{code: 1, msg: "lab record: " + err.Error()}
			}
			code := runREPLRecording(ctx, a, rec)
			if err := rec.close(); err != nil {
				return &statusError{code: 1, msg: "lab record: " + err.Error()}
			}
			fmt.Fprintf(a.stderr, "recorded %d statements in %s (replay: lab test %s)\n", rec.n, args[0], args[0])
			if code != 0 {
				return &statusError{code: code}
			}
			return nil
		},
	}})
}

// recorder writes a REPL session as a scenario: each statement as typed, and for each
// value the REPL printed an assertion that the replay must reproduce it. Values that
// vary between runs (ids, times) are compared through lab.scrub.
type recorder struct {
	f *os.File
	n int
}

func newRecorder(path string) (*recorder, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(f, "-- Recorded with `lab record %s`; replay with `lab test %s`.\n", path, path)
	return &recorder{f: f}, nil
}

func (r *recorder) close() error { return r.f.Close() }

// statement records src as the REPL ran it: vals are what it printed, err what it raised.
func (r *recorder) statement(L *lua.LState, src string, vals []lua.LValue, err error) error {
	var b strings.Builder
	expr := strings.TrimPrefix(src, "=")
	isExpr := false
	if _, lerr := L.Load(strings.NewReader("return "+expr), "record"); lerr == nil {
		isExpr = true
	}
	switch {
	case err != nil:
		if _, ok := luabind.ExitCode(err); ok {
			return nil // exit() ends the session, not the scenario
		}
		// The failure is part of what was explored: the replay must fail the same way.
		_, msg, _ := failure(err)
		if i := strings.LastIndex(msg, ": "); i >= 0 && strings.HasPrefix(msg, "stdin:") {
			msg = msg[i+2:]
		}
		body := src
		if isExpr {
			body = "return " + expr
		}
		fmt.Fprintf(&b, "lab.expect(function()\n%s\nend):raises(%s)\n", body, luaQuote(firstLine(msg)))
	case isExpr && len(vals) > 0:
		fmt.Fprintf(&b, "_ = %s\n", expr)
		b.WriteString(assertion("_", vals[0]))
	default:
		b.WriteString(src + "\n")
	}
	r.n++
	_, werr := r.f.WriteString(b.String())
	return werr
}

// assertion is Lua checking that the value in name equals v as the REPL saw it.
func assertion(name string, v lua.LValue) string {
	switch x := v.(type) {
	case lua.LString:
		s := string(x)
		if sc := luabind.Scrub(s); sc != s {
			return fmt.Sprintf("lab.expect(lab.scrub(%s)):eq(%s)\n", name, luaQuote(sc))
		}
		return fmt.Sprintf("lab.expect(%s):eq(%s)\n", name, luaQuote(s))
	case lua.LNumber, lua.LBool:
		return fmt.Sprintf("lab.expect(%s):eq(%s)\n", name, x.String())
	case *lua.LNilType:
		return fmt.Sprintf("lab.expect(%s):is_nil()\n", name)
	case *lua.LTable:
		if lit, ok := literal(x, 0); ok {
			return fmt.Sprintf("lab.expect(%s):eq(%s)\n", name, lit)
		}
		return fmt.Sprintf("lab.expect(%s):len(%d)\n", name, x.Len())
	case *lua.LUserData:
		switch luabind.Kind(x) {
		case "container":
			s := fmt.Sprintf("lab.expect(%s):status(%s):exit_code(%s)", name,
				luaQuote(luabind.Field(x, "status").String()), luabind.Field(x, "exit_code").String())
			if out, ok := luabind.Field(x, "stdout").(lua.LString); ok && luabind.Scrub(string(out)) == string(out) {
				s += ":stdout(" + luaQuote(string(out)) + ")"
			}
			return s + "\n"
		case "image":
			if tags, ok := luabind.Field(x, "tags").(*lua.LTable); ok && tags.Len() > 0 {
				return fmt.Sprintf("lab.expect(%s):has_tag(%s)\n", name, luaQuote(tags.RawGetInt(1).String()))
			}
			return fmt.Sprintf("lab.expect(%s):not_nil()\n", name)
		}
	}
	return fmt.Sprintf("lab.expect(%s):not_nil()\n", name)
}

// literal writes a table of plain data (strings, numbers, booleans, nested such
// tables) as a Lua table constructor; ok is false for anything else.
func literal(t *lua.LTable, depth int) (string, bool) {
	if depth > 8 {
		return "", false
	}
	var keys []lua.LValue
	ok := true
	t.ForEach(func(k, _ lua.LValue) { keys = append(keys, k) })
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	var parts []string
	n := t.Len()
	for i := 1; i <= n; i++ {
		s, good := literalValue(t.RawGetInt(i), depth)
		ok = ok && good
		parts = append(parts, s)
	}
	for _, k := range keys {
		if num, isNum := k.(lua.LNumber); isNum && float64(num) == float64(int(num)) && int(num) >= 1 && int(num) <= n {
			continue
		}
		ks, good := literalValue(k, depth)
		if _, isStr := k.(lua.LString); isStr && isLuaName(k.String()) {
			ks = k.String()
		} else {
			ks = "[" + ks + "]"
		}
		vs, vgood := literalValue(t.RawGet(k), depth)
		ok = ok && good && vgood
		parts = append(parts, ks+" = "+vs)
	}
	return "{" + strings.Join(parts, ", ") + "}", ok
}

func literalValue(v lua.LValue, depth int) (string, bool) {
	switch x := v.(type) {
	case lua.LString:
		return luaQuote(string(x)), luabind.Scrub(string(x)) == string(x)
	case lua.LNumber, lua.LBool:
		return x.String(), true
	case *lua.LTable:
		return literal(x, depth+1)
	}
	return "", false
}

func isLuaName(s string) bool {
	if s == "" {
		return false
	}
	for i, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && c >= '0' && c <= '9') {
			return false
		}
	}
	switch s {
	case "and", "break", "do", "else", "elseif", "end", "false", "for", "function", "if", "in", "local", "nil", "not", "or", "repeat", "return", "then", "true", "until", "while":
		return false
	}
	return true
}

// luaQuote is s as a Lua 5.1 string literal (decimal escapes for control bytes and
// anything outside printable ASCII).
func luaQuote(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c == '\n':
			b.WriteString(`\n`)
		case c == '\t':
			b.WriteString(`\t`)
		case c < 0x20 || c >= 0x7f:
			fmt.Fprintf(&b, `\%03d`, c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('"')
	return b.String()
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
