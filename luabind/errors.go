package luabind

import (
	"errors"
	"fmt"
	"regexp"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
)

// Error is a failed lab operation as Lua sees it: raised as a userdata whose fields
// are message, code and where (plus container when the operation had made one), and
// whose tostring is the message, so pcall users can branch on err.code.
type Error struct {
	Message string // "lab.run: no such image: nope:latest"
	Code    int    // the exit status the CLI would give: 125, 126, 127, or 1
	Where   string // "file:line" of the Lua caller
	ctr     *ctr   // the container the operation left behind, if any
}

func (e *Error) Error() string { return e.Message }

// Failure describes a failed assertion or Lua error for the runners: Where is
// "file:line", Msg the message, Detail extra lines (expected vs actual, line diff,
// container output tail and exit code).
type Failure struct{ Where, Msg, Detail string }

func (f *Failure) Error() string {
	s := f.Msg
	if f.Where != "" {
		s = f.Where + ": " + s
	}
	if f.Detail != "" {
		s += "\n" + f.Detail
	}
	return s
}

const (
	errorType   = "lab.Error"
	failureType = "lab.Failure"
)

func (b *binding) registerErrorTypes(L *lua.LState) {
	mt := L.NewTypeMetatable(errorType)
	mt.RawSetString("__name", lua.LString(errorType))
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		e := L.CheckUserData(1).Value.(*Error)
		switch L.CheckString(2) {
		case "message":
			L.Push(lua.LString(e.Message))
		case "code":
			L.Push(lua.LNumber(e.Code))
		case "where":
			L.Push(lua.LString(e.Where))
		case "container":
			if e.ctr == nil {
				L.Push(lua.LNil)
			} else {
				L.Push(b.newContainer(L, e.ctr))
			}
		default:
			L.Push(lua.LNil)
		}
		return 1
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(L.CheckUserData(1).Value.(*Error).Message))
		return 1
	}))
	mt.RawSetString("__concat", L.NewFunction(concatAsStrings))

	fm := L.NewTypeMetatable(failureType)
	fm.RawSetString("__name", lua.LString(failureType))
	fm.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		f := L.CheckUserData(1).Value.(*Failure)
		switch L.CheckString(2) {
		case "message":
			L.Push(lua.LString(f.Msg))
		case "where":
			L.Push(lua.LString(f.Where))
		case "detail":
			L.Push(lua.LString(f.Detail))
		default:
			L.Push(lua.LNil)
		}
		return 1
	}))
	fm.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(L.CheckUserData(1).Value.(*Failure).Error()))
		return 1
	}))
	fm.RawSetString("__concat", L.NewFunction(concatAsStrings))
}

// concatAsStrings lets "text" .. err work on error values as it does on strings.
func concatAsStrings(L *lua.LState) int {
	L.Push(lua.LString(L.ToStringMeta(L.Get(1)).String() + L.ToStringMeta(L.Get(2)).String()))
	return 1
}

// raise raises a lab error for op from err. fallback is the code when err carries
// none (125 for the run family, 1 otherwise, as the CLI exits); c is the container the
// operation left behind, if any.
func (b *binding) raise(L *lua.LState, op string, err error, fallback int, c *ctr) {
	var me *MemoryLimitError
	if errors.As(ctx(L).Err(), &me) {
		// The engine saw only a cancelled context; say why it was cancelled.
		err = me
	}
	e := &Error{Message: op + ": " + engine.Clip(err.Error()), Code: engine.Code(err, fallback), Where: where(L), ctr: c}
	ud := L.NewUserData()
	ud.Value = e
	L.SetMetatable(ud, L.GetTypeMetatable(errorType))
	L.Error(ud, 0)
}

// fail raises an assertion failure located at the Lua caller.
func fail(L *lua.LState, msg, detail string) { failAt(L, 1, msg, detail) }

// failAt raises an assertion failure located at the level-th Lua function up the stack.
func failAt(L *lua.LState, level int, msg, detail string) {
	ud := L.NewUserData()
	ud.Value = &Failure{Where: whereAt(L, level), Msg: msg, Detail: strings.TrimRight(detail, "\n")}
	L.SetMetatable(ud, L.GetTypeMetatable(failureType))
	L.Error(ud, 0)
}

// where is "file:line" of the innermost Lua function on the stack: the script line
// that called into Go, even through pcall or a metamethod.
func where(L *lua.LState) string { return whereAt(L, 1) }

// whereAt is "file:line" of the n-th Lua function up the stack (1: the innermost).
func whereAt(L *lua.LState, n int) string {
	first := ""
	for level := 1; level < 64; level++ {
		dbg, ok := L.GetStack(level)
		if !ok {
			break
		}
		if _, err := L.GetInfo("Sl", dbg, lua.LNil); err != nil {
			continue
		}
		if dbg.Source != "" && dbg.CurrentLine > 0 {
			pos := fmt.Sprintf("%s:%d", dbg.Source, dbg.CurrentLine)
			if first == "" {
				first = pos
			}
			if n--; n == 0 {
				return pos
			}
		}
	}
	return first // fewer callers than asked: the innermost is still the best guess
}

var (
	posPrefix    = regexp.MustCompile(`^([^\s:][^:\n]*:\d+):\s?`)
	syntaxPrefix = regexp.MustCompile(`^(\S+) line:(\d+)\(column:\d+\)\s*`)
	tracebackPos = regexp.MustCompile(`(?m)^\s+([^\s\[][^:\n]*:\d+):`)
)

// AsFailure extracts a Failure from an error returned by L.DoFile, L.DoString or
// L.PCall: an assertion failure as raised, a lab error with its position, or any other
// Lua error with the position split from its message. It returns nil for nil.
func AsFailure(err error) *Failure {
	if err == nil {
		return nil
	}
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		var f *Failure
		if errors.As(err, &f) {
			return f
		}
		return &Failure{Msg: err.Error()}
	}
	f := failureOf(ae.Object)
	if f.Where == "" {
		if m := tracebackPos.FindStringSubmatch(ae.StackTrace); m != nil {
			f.Where = m[1]
		}
	}
	return f
}

func failureOf(v lua.LValue) *Failure {
	switch v := v.(type) {
	case *lua.LUserData:
		switch x := v.Value.(type) {
		case *Failure:
			cp := *x
			return &cp
		case *Error:
			f := &Failure{Where: x.Where, Msg: x.Message}
			if x.ctr != nil {
				f.Detail = x.ctr.tail()
			}
			return f
		case *skipSignal:
			return &Failure{Msg: "skipped: " + x.reason}
		}
	case lua.LString:
		s := string(v)
		if m := posPrefix.FindStringSubmatch(s); m != nil {
			return &Failure{Where: m[1], Msg: s[len(m[0]):]}
		}
		if m := syntaxPrefix.FindStringSubmatch(s); m != nil {
			return &Failure{Where: m[1] + ":" + m[2], Msg: strings.Join(strings.Fields(s[len(m[0]):]), " ")}
		}
		return &Failure{Msg: s}
	case *lua.LTable:
		// error({message = ...}) from a script: use the message when there is one.
		if m, ok := v.RawGetString("message").(lua.LString); ok {
			return &Failure{Msg: string(m)}
		}
		return &Failure{Msg: "error object is a table: " + Pretty(v)}
	case *lua.LNilType:
		return &Failure{Msg: "error with a nil value"}
	}
	return &Failure{Msg: v.String()}
}

// ErrorCode returns the code of a lab error raised in Lua (125, 126, 127 or 1), or 0
// when err is not one.
func ErrorCode(err error) int {
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		if ud, ok := ae.Object.(*lua.LUserData); ok {
			if e, ok := ud.Value.(*Error); ok {
				return e.Code
			}
		}
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return 0
}

// fnKey is the registry slot naming the lab function running now, for argument
// errors: gopher-lua can only name a function from its call site, which under pcall
// reads "(anonymous)".
const fnKey = "lab.function"

// named wraps f so argument errors raised while it runs name it. A name with ':' is a
// method, whose self is not counted among the arguments, as Lua's own errors count.
func named(name string, f lua.LGFunction) lua.LGFunction {
	return func(L *lua.LState) int {
		reg := L.G.Registry
		prev := reg.RawGetString(fnKey)
		reg.RawSetString(fnKey, lua.LString(name))
		defer reg.RawSetString(fnKey, prev)
		return f(L)
	}
}

func namedFuncs(prefix string, fs map[string]lua.LGFunction) map[string]lua.LGFunction {
	out := make(map[string]lua.LGFunction, len(fs))
	for name, f := range fs {
		out[name] = named(prefix+name, f)
	}
	return out
}

// argError raises "bad argument #n to NAME (msg)" for the running lab function.
func argError(L *lua.LState, n int, msg string) {
	name := "?"
	if s, ok := L.G.Registry.RawGetString(fnKey).(lua.LString); ok {
		name = string(s)
	}
	if i := strings.LastIndexByte(name, ':'); i >= 0 {
		if n == 1 {
			L.RaiseError("calling %s on bad self (%s)", name, msg)
		}
		n--
	}
	L.RaiseError("bad argument #%d to %s (%s)", n, name, msg)
}

// checkString is the string at n (numbers convert, as in Lua).
func checkString(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		return string(v)
	case lua.LNumber:
		return v.String()
	}
	argError(L, n, "string expected, got "+typeName(L.Get(n)))
	return ""
}

func optStr(L *lua.LState, n int, def string) string {
	if L.Get(n) == lua.LNil {
		return def
	}
	return checkString(L, n)
}

func checkInt(L *lua.LState, n int) int {
	v, ok := L.Get(n).(lua.LNumber)
	if !ok || float64(v) != float64(int(v)) {
		argError(L, n, "integer expected, got "+typeName(L.Get(n)))
	}
	return int(v)
}
