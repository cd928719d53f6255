package luabind

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"sort"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
)

// checkOpts is the options table at n (nil when absent), refusing keys not in allowed
// so a typo in an option name is an error rather than silently ignored.
func checkOpts(L *lua.LState, n int, allowed ...string) *lua.LTable {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return nil
	case *lua.LTable:
		var bad string
		v.ForEach(func(k, _ lua.LValue) {
			ks, ok := k.(lua.LString)
			if bad != "" {
				return
			}
			if !ok {
				bad = "option names must be strings, got " + k.Type().String()
				return
			}
			for _, a := range allowed {
				if string(ks) == a {
					return
				}
			}
			bad = "unknown option '" + string(ks) + "' (known: " + strings.Join(allowed, ", ") + ")"
		})
		if bad != "" {
			argError(L, n, bad)
		}
		return v
	default:
		argError(L, n, "options table expected, got "+typeName(v))
		return nil
	}
}

func optString(L *lua.LState, n int, t *lua.LTable, key string) (string, bool) {
	if t == nil {
		return "", false
	}
	switch v := t.RawGetString(key).(type) {
	case *lua.LNilType:
		return "", false
	case lua.LString:
		return string(v), true
	case lua.LNumber:
		return v.String(), true
	default:
		argError(L, n, "option '"+key+"' must be a string, got "+typeName(v))
		return "", false
	}
}

func optBool(L *lua.LState, n int, t *lua.LTable, key string) bool {
	if t == nil {
		return false
	}
	switch v := t.RawGetString(key).(type) {
	case *lua.LNilType:
		return false
	case lua.LBool:
		return bool(v)
	default:
		argError(L, n, "option '"+key+"' must be a boolean, got "+typeName(v))
		return false
	}
}

// optTimeout reads the timeout option in seconds (fractions allowed).
func optTimeout(L *lua.LState, n int, t *lua.LTable) time.Duration {
	if t == nil {
		return 0
	}
	switch v := t.RawGetString("timeout").(type) {
	case *lua.LNilType:
		return 0
	case lua.LNumber:
		f := float64(v)
		if f <= 0 || math.IsNaN(f) || f > 1e9 {
			argError(L, n, "option 'timeout' must be a positive number of seconds")
		}
		return time.Duration(f * float64(time.Second))
	default:
		argError(L, n, "option 'timeout' must be a number of seconds, got "+typeName(v))
		return 0
	}
}

// optStringList reads an option that is a list of strings or a single string.
func optStringList(L *lua.LState, n int, t *lua.LTable, key string) []string {
	if t == nil {
		return nil
	}
	switch v := t.RawGetString(key).(type) {
	case *lua.LNilType:
		return nil
	case lua.LString:
		return []string{string(v)}
	case *lua.LTable:
		return listOfStrings(L, n, v, "option '"+key+"'")
	default:
		argError(L, n, "option '"+key+"' must be a string or a list of strings, got "+typeName(v))
		return nil
	}
}

// listOfStrings reads a Lua sequence whose items are all strings (numbers converted).
func listOfStrings(L *lua.LState, n int, t *lua.LTable, what string) []string {
	size := seqLen(t)
	count := 0
	t.ForEach(func(lua.LValue, lua.LValue) { count++ })
	if count != size {
		argError(L, n, what+" must be a list (keys 1..n)")
	}
	out := make([]string, 0, size)
	for i := 1; i <= size; i++ {
		switch v := t.RawGetInt(i).(type) {
		case lua.LString:
			out = append(out, string(v))
		case lua.LNumber:
			out = append(out, v.String())
		default:
			argError(L, n, what+" item "+lua.LNumber(i).String()+" must be a string, got "+typeName(v))
		}
	}
	return out
}

// optEnv reads env as a list of "K=V" strings, a map of K = V, or both mixed;
// map entries are sorted so the container's environment is reproducible.
func optEnv(L *lua.LState, n int, t *lua.LTable) []string {
	if t == nil {
		return nil
	}
	v := t.RawGetString("env")
	if v == lua.LNil {
		return nil
	}
	et, ok := v.(*lua.LTable)
	if !ok {
		argError(L, n, "option 'env' must be a table, got "+typeName(v))
	}
	var list []string
	var named []string
	size := seqLen(et)
	et.ForEach(func(k, val lua.LValue) {
		var s string
		switch val := val.(type) {
		case lua.LString:
			s = string(val)
		case lua.LNumber, lua.LBool:
			s = val.String()
		default:
			argError(L, n, "option 'env': value of "+k.String()+" must be a string, got "+typeName(val))
		}
		if kn, ok := k.(lua.LNumber); ok && float64(kn) >= 1 && int(kn) <= size && float64(int(kn)) == float64(kn) {
			if !strings.Contains(s, "=") || strings.HasPrefix(s, "=") {
				argError(L, n, "option 'env': item "+k.String()+" must read NAME=value, got \""+s+"\"")
			}
			return
		}
		ks, ok := k.(lua.LString)
		if !ok || ks == "" || strings.Contains(string(ks), "=") {
			argError(L, n, "option 'env': bad variable name "+k.String())
		}
		named = append(named, string(ks)+"="+s)
	})
	for i := 1; i <= size; i++ {
		list = append(list, et.RawGetInt(i).String())
	}
	sort.Strings(named)
	return append(list, named...)
}

// checkCmd reads a command: nil (the image's), a string (run by /bin/sh -c) or a
// list of strings (exec form).
func checkCmd(L *lua.LState, n int) []string {
	switch v := L.Get(n).(type) {
	case *lua.LNilType:
		return nil
	case lua.LString:
		return []string{"/bin/sh", "-c", string(v)}
	case *lua.LTable:
		cmd := listOfStrings(L, n, v, "command")
		if len(cmd) == 0 {
			argError(L, n, "command is an empty list")
		}
		return cmd
	default:
		argError(L, n, "command expected (a string, a list of strings or nil), got "+typeName(v))
		return nil
	}
}

func checkPath(L *lua.LState, n int) string {
	v, ok := L.Get(n).(lua.LString)
	if !ok || v == "" {
		argError(L, n, "path expected, got "+typeName(L.Get(n)))
	}
	return string(v)
}

func checkRef(L *lua.LState, n int) string {
	v, ok := L.Get(n).(lua.LString)
	if !ok || v == "" {
		argError(L, n, "image reference expected, got "+typeName(L.Get(n)))
	}
	return string(v)
}

// optRef is an optional reference: a string, or nil / absent for none.
func optRef(L *lua.LState, n int) string {
	if L.Get(n) == lua.LNil {
		return ""
	}
	return checkRef(L, n)
}

func stringList(L *lua.LState, ss []string) *lua.LTable {
	t := L.CreateTable(len(ss), 0)
	for _, s := range ss {
		t.Append(lua.LString(s))
	}
	return t
}

// toLua converts a JSON-shaped Go value (maps, slices, strings, numbers, times) to
// Lua through its JSON form, so every struct and map converts by one rule.
func toLua(L *lua.LState, v any) lua.LValue {
	data, err := json.Marshal(v)
	if err != nil {
		return lua.LNil
	}
	var generic any
	if err := json.Unmarshal(data, &generic); err != nil {
		return lua.LNil
	}
	return jsonToLua(L, generic)
}

func jsonToLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case nil:
		return lua.LNil
	case bool:
		return lua.LBool(v)
	case float64:
		return lua.LNumber(v)
	case string:
		return lua.LString(v)
	case []any:
		t := L.CreateTable(len(v), 0)
		for _, x := range v {
			t.Append(jsonToLua(L, x))
		}
		return t
	case map[string]any:
		t := L.CreateTable(0, len(v))
		for k, x := range v {
			t.RawSetString(k, jsonToLua(L, x))
		}
		return t
	}
	return lua.LNil
}

// maxCapture bounds the output kept per stream of one run; the log keeps it all.
const maxCapture = 64 << 20

// capture collects a run's output, and echoes it when the state was asked to.
type capture struct {
	mu       sync.Mutex // the streams are copied by separate goroutines
	out, err bytes.Buffer
	cut      bool
}

func (b *binding) capture(so *engine.StartOptions) *capture {
	cp := &capture{}
	var echoOut, echoErr io.Writer
	if b.opts.Echo {
		echoOut, echoErr = b.opts.Stdout, b.opts.Stderr
	}
	so.Stdout = cp.stream(&cp.out, echoOut)
	so.Stderr = cp.stream(&cp.err, echoErr)
	return cp
}

func (cp *capture) stream(buf *bytes.Buffer, echo io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		cp.mu.Lock()
		defer cp.mu.Unlock()
		keep := p
		if room := maxCapture - buf.Len(); len(keep) > room {
			keep = keep[:max(room, 0)]
			cp.cut = true
		}
		buf.Write(keep)
		if echo != nil {
			// A closed terminal must not stop the container or the capture.
			echo.Write(p)
		}
		return len(p), nil
	})
}

func (cp *capture) into(c *ctr) {
	cp.mu.Lock()
	defer cp.mu.Unlock()
	c.stdout, c.stderr = cp.out.String(), cp.err.String()
	c.truncated = cp.cut
	c.captured = true
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// seqLen is the length of t's sequence 1..n up to the first nil. gopher-lua's Len
// may count past holes in the array part, which would print or pass nils.
func seqLen(t *lua.LTable) int {
	n := 0
	for t.RawGetInt(n+1) != lua.LNil {
		n++
	}
	return n
}
