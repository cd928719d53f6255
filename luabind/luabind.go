package luabind

import (
	"context"
	"fmt"
	"io"
	"os"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
)

// Options configure a new Lua state.
type Options struct {
	Stdout, Stderr io.Writer // print() and io.write go to Stdout; nil = os.Stdout/os.Stderr
	// Echo also streams container output to Stdout/Stderr while lab.run runs (CLI
	// scripts: true; scenarios: false unless -v). The output is captured either way.
	Echo bool
	// EchoSessions also streams lab.spawn sessions' output to Stdout as it comes
	// (lab test -v), so a transcript shows what the script talked to.
	EchoSessions bool
	// Unsafe opens os and io fully and keeps dofile/loadfile/os.execute/io.popen.
	Unsafe bool
	// Dir is the script's directory: relative host paths (lab.import, lab.export,
	// lab.build's context, lab.read_file, lab.fixture) resolve against it, so a
	// scenario finds its fixtures wherever `lab test` is started. "" = the working
	// directory.
	Dir string
	// Script names the script for its golden files (testdata/<Script>/<name>.golden
	// beside it); UpdateGolden (lab test -update) writes them instead of comparing.
	Script       string
	UpdateGolden bool
	// MemoryLimit caps the live heap while the state runs under SetContext (bytes;
	// 0 = DefaultMemoryLimit, negative = no cap).
	MemoryLimit int64
}

// Limits that turn runaway scripts into Lua errors instead of exhausting the process.
// The data stack may hold 256 registers for every frame of a full call stack, so deep
// recursion meets the call-stack limit first: gopher-lua crashes when the data stack
// overflows while it enters a function (see Protect). It grows in large steps because
// each growth copies it whole.
const (
	callStackSize    = 4096     // Lua call frames: deep recursion ends in "lua callstack overflow"
	registrySize     = 16 << 10 // initial data stack slots (16 bytes each)
	registryMaxSize  = 1 << 20  // 16 MiB at most
	registryGrowStep = 64 << 10
	maxStringRep     = 64 << 20 // string.rep results larger than this are refused
)

var extensions []func(L *lua.LState, mod *lua.LTable, eng *engine.Engine)

// bindingKey is where Loader leaves the state's *binding in the Lua registry.
const bindingKey = "lab.binding"

// Extend registers extra module functions from other files of this package. Call it
// from init(); f runs for every new state, after the built-in functions are in mod, so
// it may also replace one of them.
func Extend(f func(L *lua.LState, mod *lua.LTable, eng *engine.Engine)) {
	extensions = append(extensions, f)
}

// binding is the state one LState's lab module works on. It is only touched from the
// goroutine running that LState, so it needs no lock.
type binding struct {
	eng    *engine.Engine
	opts   Options
	recent []*ctr   // containers run lately, to name the source of a failing output
	cases  []string // made by lab.cases, in order
}

// NewState returns a fresh sandboxed LState with the lab module preloaded
// (require("lab")) and set as the global `lab`. Never share it between goroutines;
// run it under SetContext(L, ctx) for cancellation, timeouts and the memory cap, and
// Close it when done.
func NewState(eng *engine.Engine, o Options) *lua.LState {
	if o.Stdout == nil {
		o.Stdout = os.Stdout
	}
	if o.Stderr == nil {
		o.Stderr = os.Stderr
	}
	L := lua.NewState(lua.Options{
		SkipOpenLibs:        true,
		CallStackSize:       callStackSize,
		RegistrySize:        registrySize,
		RegistryMaxSize:     registryMaxSize,
		RegistryGrowStep:    registryGrowStep,
		MinimizeStackMemory: true,
	})
	b := &binding{eng: eng, opts: o}
	b.openLibs(L)
	b.registerTypes(L)
	L.PreloadModule("lab", b.Loader)
	// Loading through require leaves the one module table in package.loaded, so the
	// global and require("lab") are the same table.
	L.Push(L.GetGlobal("require"))
	L.Push(lua.LString("lab"))
	if err := Protect(func() error { return L.PCall(1, 1, nil) }); err != nil {
		// Only a broken extension gets here; scripts then fail on the missing `lab`.
		fmt.Fprintf(o.Stderr, "lab: loading the lab module: %v\n", AsFailure(err))
		return L
	}
	L.SetGlobal("lab", L.Get(-1))
	L.Pop(1)
	return L
}

// Loader builds the lab module table; it is registered with PreloadModule.
func (b *binding) Loader(L *lua.LState) int {
	mod := L.NewTable()
	L.SetFuncs(mod, namedFuncs("lab.", b.moduleFuncs()))
	mod.RawSetString("version", lua.LString("1"))
	// Extensions find this state's binding (its options and output) in the registry.
	L.G.Registry.RawSetString(bindingKey, &lua.LUserData{Value: b})
	for _, f := range extensions {
		f(L, mod, b.eng)
	}
	L.Push(mod)
	return 1
}

// openLibs opens the sandboxed standard library: only what cannot reach the host.
func (b *binding) openLibs(L *lua.LState) {
	libs := []struct {
		name string
		open lua.LGFunction
	}{
		{lua.LoadLibName, lua.OpenPackage},
		{lua.BaseLibName, lua.OpenBase},
		{lua.TabLibName, lua.OpenTable},
		{lua.StringLibName, lua.OpenString},
		{lua.MathLibName, lua.OpenMath},
		{lua.OsLibName, lua.OpenOs},
	}
	if b.opts.Unsafe {
		libs = append(libs, []struct {
			name string
			open lua.LGFunction
		}{
			{lua.IoLibName, lua.OpenIo},
			{lua.CoroutineLibName, lua.OpenCoroutine},
			{lua.DebugLibName, lua.OpenDebug},
		}...)
	}
	for _, lib := range libs {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}

	L.SetGlobal("print", L.NewFunction(b.print))
	L.SetGlobal("assert", L.NewFunction(assert))
	str := L.GetGlobal("string").(*lua.LTable)
	str.RawSetString("rep", L.NewFunction(named("string.rep", safeRep)))
	for name, f := range map[string]lua.LGFunction{"find": strFind, "match": strMatch, "gmatch": strGmatch, "gsub": strGsub} {
		str.RawSetString(name, L.NewFunction(named("string."+name, f)))
	}

	if b.opts.Unsafe {
		// Even unsafe scripts print where the caller asked.
		L.GetGlobal("io").(*lua.LTable).RawSetString("write", L.NewFunction(named("io.write", b.write(b.opts.Stdout, false))))
		return
	}
	for _, name := range []string{"dofile", "loadfile"} {
		L.SetGlobal(name, lua.LNil)
	}
	b.confineRequire(L)
	full := L.GetGlobal("os").(*lua.LTable)
	small := L.NewTable()
	for _, name := range []string{"time", "clock", "date", "getenv", "difftime"} {
		small.RawSetString(name, full.RawGetString(name))
	}
	L.SetGlobal("os", small)
	// require("os") must not hand back the full table either.
	if loaded, ok := L.GetField(L.GetGlobal("package"), "loaded").(*lua.LTable); ok {
		loaded.RawSetString("os", small)
	}

	iot := L.NewTable()
	iot.RawSetString("write", L.NewFunction(named("io.write", b.write(b.opts.Stdout, false))))
	for name, w := range map[string]io.Writer{"stdout": b.opts.Stdout, "stderr": b.opts.Stderr} {
		f := L.NewTable()
		f.RawSetString("write", L.NewFunction(named("io."+name+":write", b.write(w, true))))
		iot.RawSetString(name, f)
	}
	L.SetGlobal("io", iot)
}

func (b *binding) print(L *lua.LState) int {
	var sb strings.Builder
	for i := 1; i <= L.GetTop(); i++ {
		if i > 1 {
			sb.WriteByte('\t')
		}
		v := L.Get(i)
		if t, ok := v.(*lua.LTable); ok && L.GetMetaField(t, "__tostring") == lua.LNil {
			// A plain table prints as the REPL shows it, not as "table: 0x...".
			sb.WriteString(Pretty(t))
			continue
		}
		sb.WriteString(L.ToStringMeta(v).String())
	}
	sb.WriteByte('\n')
	if _, err := io.WriteString(b.opts.Stdout, sb.String()); err != nil {
		L.RaiseError("print: %v", err)
	}
	return 0
}

// write is io.write (method is false) or io.stdout:write (method skips self).
func (b *binding) write(w io.Writer, method bool) lua.LGFunction {
	return func(L *lua.LState) int {
		first := 1
		if method {
			first = 2
		}
		var sb strings.Builder
		for i := first; i <= L.GetTop(); i++ {
			switch v := L.Get(i).(type) {
			case lua.LString, lua.LNumber:
				sb.WriteString(v.String())
			default:
				argError(L, i, "string expected, got "+v.Type().String())
			}
		}
		if _, err := io.WriteString(w, sb.String()); err != nil {
			L.RaiseError("write: %v", err)
		}
		if method {
			L.Push(L.Get(1))
			return 1
		}
		return 0
	}
}

// assert raises a non-string message as it is (as Lua 5.3 does), so
// assert(pcall(...)) and assert(ok, err) keep a lab error's code and an assertion
// failure's detail; gopher-lua's would complain that the message is not a string.
func assert(L *lua.LState) int {
	if L.GetTop() == 0 {
		L.RaiseError("bad argument #1 to assert (value expected)")
	}
	if lua.LVAsBool(L.Get(1)) {
		return L.GetTop()
	}
	switch msg := L.Get(2).(type) {
	case *lua.LNilType:
		L.G.Registry.RawSetString(assertKey, lua.LString("assertion failed!"))
		L.RaiseError("assertion failed!")
	case lua.LString, lua.LNumber:
		L.G.Registry.RawSetString(assertKey, lua.LString(msg.String()))
		L.RaiseError("%s", msg.String())
	default:
		L.G.Registry.RawSetString(assertKey, msg)
		L.Error(msg, 0)
	}
	return 0
}

// safeRep is string.rep refusing results too large to be anything but a mistake.
func safeRep(L *lua.LState) int {
	s := checkString(L, 1)
	n := checkInt(L, 2)
	sep := optStr(L, 3, "")
	if n <= 0 {
		L.Push(lua.LString(""))
		return 1
	}
	unit := int64(len(s) + len(sep))
	if unit > 0 && int64(n) > (maxStringRep+int64(len(sep)))/unit {
		L.RaiseError("string.rep: result would exceed %d MiB", maxStringRep>>20)
	}
	var sb strings.Builder
	sb.Grow(n*len(s) + (n-1)*len(sep))
	for i := 0; i < n; i++ {
		if i > 0 {
			sb.WriteString(sep)
		}
		sb.WriteString(s)
	}
	L.Push(lua.LString(sb.String()))
	return 1
}

// ctx is the state's context, or Background when the caller set none.
func ctx(L *lua.LState) context.Context {
	if c := L.Context(); c != nil {
		return c
	}
	return context.Background()
}
