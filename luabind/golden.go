package luabind

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
)

// Golden files and scrubbing: compare a transcript with a file kept beside the
// scenario, after replacing what legitimately varies between runs.
func init() {
	Extend(func(L *lua.LState, mod *lua.LTable, _ *engine.Engine) {
		mod.RawSetString("scrub", L.NewFunction(named("lab.scrub", scrubFn)))
	})
}

// goldenPath is testdata/<script>/<name>.golden beside the script.
func (b *binding) goldenPath(L *lua.LState, name string) string {
	if name == "" || strings.ContainsAny(name, "/\\") || name == "." || name == ".." {
		argError(L, 2, "a golden file's name is a plain file name, got "+fmt.Sprintf("%q", name))
	}
	script := b.opts.Script
	if script == "" {
		script = "stdin"
	}
	return b.resolve(filepath.Join("testdata", script, name+".golden"))
}

// xGolden is expect(x):golden(name): x (text, or any value rendered as print shows
// it) must equal the golden file; with Options.UpdateGolden (lab test -update) the
// file is written instead.
func (b *binding) xGolden(L *lua.LState) int {
	x := checkExpect(L)
	path := b.goldenPath(L, checkString(L, 2))
	var got string
	switch v := x.v.(type) {
	case lua.LString:
		got = string(v)
	default:
		got = Pretty(v)
		if !strings.HasSuffix(got, "\n") {
			got += "\n"
		}
	}
	if b.opts.UpdateGolden {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err == nil {
			err = os.WriteFile(path, []byte(got), 0o644)
		} else {
			b.raise(L, "golden", err, 1, nil)
		}
		return self(L)
	}
	want, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		b.failOn(L, x, fmt.Sprintf("golden file %s does not exist (lab test -update writes it)", path), "")
	}
	if err != nil {
		b.raise(L, "golden", err, 1, nil)
	}
	if string(want) != got {
		b.failOn(L, x, fmt.Sprintf("output differs from golden file %s (lab test -update rewrites it)", path),
			"diff (-golden +actual):\n"+lineDiff(string(want), got))
	}
	return self(L)
}

// scrubbers replace what differs between two runs of the same scenario, in this order
// (longest forms first, so a digest is not also taken for an id). Each distinct value
// gets its own numbered placeholder, so "the same id twice" stays visible.
var scrubbers = []struct {
	re   *regexp.Regexp
	name string
}{
	{regexp.MustCompile(`sha256:[0-9a-f]{64}`), "digest"},
	{regexp.MustCompile(`\b[0-9a-f]{64}\b`), "id"},
	{regexp.MustCompile(`\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)\b`), "time"},
	{regexp.MustCompile(`\b\d{4}-\d\d-\d\d \d\d:\d\d:\d\d( [+-]\d{4} \w+)?\b`), "time"},
	{regexp.MustCompile(`(Less than a second|About an? \w+|\d+ \w+) ago\b`), "ago"},
	{regexp.MustCompile(`\b[0-9a-f]{12}\b`), "short-id"},
	{regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|us|ms|s)\b`), "duration"},
}

// Scrub replaces ids, digests, times and durations in s with stable placeholders
// (<id1>, <digest1>, <time1>, <ago1>, <short-id1>, <duration1>), numbering each kind by
// first appearance. A short id that is the prefix of a full id seen gets that id's
// number, so a ps row and its inspect line agree.
func Scrub(s string) string {
	seen := map[string]map[string]int{}
	short := map[string]int{}
	for _, sc := range scrubbers {
		kind := sc.name
		if seen[kind] == nil {
			seen[kind] = map[string]int{}
		}
		s = sc.re.ReplaceAllStringFunc(s, func(m string) string {
			if kind == "short-id" {
				if n, ok := short[m]; ok {
					return fmt.Sprintf("<id%d>", n)
				}
			}
			n, ok := seen[kind][m]
			if !ok {
				n = len(seen[kind]) + 1
				seen[kind][m] = n
			}
			if kind == "id" && len(m) == 64 {
				short[m[:12]] = n
			}
			if kind == "duration" {
				return "<duration>" // how long something took never matters to a transcript
			}
			return fmt.Sprintf("<%s%d>", kind, n)
		})
	}
	return s
}

// scrubFn is lab.scrub(s [, {[lua_pattern] = replacement, ...}]).
func scrubFn(L *lua.LState) int {
	s := Scrub(checkString(L, 1))
	if t, ok := L.Get(2).(*lua.LTable); ok {
		var err error
		t.ForEach(func(k, v lua.LValue) {
			if err != nil {
				return
			}
			// string.gsub does the work, so patterns are Lua patterns as everywhere.
			gsub := L.GetField(L.GetGlobal("string"), "gsub")
			L.Push(gsub)
			L.Push(lua.LString(s))
			L.Push(k)
			L.Push(v)
			if err = L.PCall(3, 1, nil); err == nil {
				s = L.Get(-1).String()
				L.Pop(1)
			}
		})
		if err != nil {
			L.RaiseError("lab.scrub: %v", err)
		}
	} else if L.GetTop() >= 2 && L.Get(2) != lua.LNil {
		argError(L, 2, "table of pattern = replacement expected")
	}
	L.Push(lua.LString(s))
	return 1
}
