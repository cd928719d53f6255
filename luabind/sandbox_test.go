package luabind

import (
	"context"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"
)

func TestSandboxRemovesHostAccess(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		assert(os.execute == nil and os.exit == nil and os.remove == nil and os.rename == nil and os.setenv == nil and os.tmpname == nil)
		assert(io.popen == nil and io.open == nil and io.lines == nil and io.read == nil)
		assert(dofile == nil and loadfile == nil)
		assert(require("os") == os and require("os").execute == nil)
		assert(debug == nil and coroutine == nil)
		assert(type(os.time()) == "number" and type(os.clock()) == "number" and os.date("%Y") and os.getenv("PATH"))
		assert(loadstring("return 1 + 1")() == 2, "compiling a string stays")
	`)
	u := newEnv(t, Options{Unsafe: true})
	u.ok(`
		assert(type(os.execute) == "function" and type(io.popen) == "function")
		assert(type(dofile) == "function" and type(loadfile) == "function")
		io.write("unsafe io.write still goes to Stdout\n")
	`)
	if got := u.out.String(); got != "unsafe io.write still goes to Stdout\n" {
		t.Errorf("unsafe io.write output = %q", got)
	}
}

func TestStringRepBomb(t *testing.T) {
	e := newEnv(t, Options{})
	start := time.Now()
	f := e.fails(`local s = string.rep("x", 1e10)`)
	if !strings.Contains(f.Msg, "string.rep: result would exceed 64 MiB") || f.Where != "<string>:1" {
		t.Errorf("string.rep bomb: %+v", f)
	}
	f = e.fails(`local s = ("abc"):rep(1e8, ",")`)
	if !strings.Contains(f.Msg, "exceed 64 MiB") {
		t.Errorf("method form of string.rep: %+v", f)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("refusing took %s", time.Since(start))
	}
	e.ok(`assert(string.rep("ab", 3, "-") == "ab-ab-ab" and ("x"):rep(0) == "" and ("x"):rep(-1) == "")
		assert(#string.rep("x", 1024 * 1024) == 1048576)`)
}

func TestDeepRecursionIsALuaError(t *testing.T) {
	e := newEnv(t, Options{})
	for _, src := range []string{
		`local function f(n) return 1 + f(n + 1) end f(1)`,
		`local function f(n) local a, b, c, d, e, g, h = 1, 2, 3, 4, 5, 6, 7 return f(n + 1) + a end f(1)`,
		`local t = setmetatable({}, {__index = function(t, k) return t[k] end}) local x = t.x`,
		`local function f() return pcall(f) end assert(f()) error("unwound")`,
	} {
		start := time.Now()
		err := e.L.DoString(src)
		if err == nil {
			t.Errorf("%s: no error", src)
			continue
		}
		if f := AsFailure(err); f.Msg == "" || time.Since(start) > 5*time.Second {
			t.Errorf("%s: %+v after %s", src, f, time.Since(start))
		}
	}
	// The state is still usable afterwards.
	e.ok(`assert(1 + 1 == 2)`)
}

func TestContextStopsScripts(t *testing.T) {
	e := newEnv(t, Options{})
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	e.L.SetContext(ctx)
	start := time.Now()
	err := e.L.DoString(`while true do end`)
	if err == nil || !strings.Contains(AsFailure(err).Msg, "context deadline exceeded") {
		t.Fatalf("busy loop: %v", err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("busy loop ran %s past a 300ms deadline", d)
	}

	// A container running when the context ends is killed, and the call raises.
	ctx2, cancel2 := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel2()
	e.L.SetContext(ctx2)
	start = time.Now()
	err = e.L.DoString(`lab.run("busybox", "sleep 30", {name = "sleeper"})`)
	if err == nil {
		t.Fatal("sleep 30 under a 500ms context returned normally")
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("container ran %s past a 500ms deadline", d)
	}
	if f := AsFailure(err); !strings.Contains(f.Msg, "lab.run: context deadline exceeded") {
		t.Errorf("cancelled run: %+v", f)
	}
	noneRunning(t, e.eng)
	c, err := e.eng.Containers.Get("sleeper")
	if err != nil || c.State.Status != "exited" || c.State.ExitCode != 137 {
		t.Errorf("the killed container: %+v %v", c, err)
	}
}

// gopher-lua panics from inside its own recovery when the data stack overflows while
// entering a function; a tiny stack reaches that path at once.
func TestProtectRecoversVMPanics(t *testing.T) {
	L := lua.NewState(lua.Options{RegistrySize: 1024, RegistryMaxSize: 8192, CallStackSize: 256})
	defer L.Close()
	err := DoString(L, `local function f(...) return f(1, 2, 3, ...) end f()`)
	if err == nil || AsFailure(err).Msg == "" {
		t.Fatalf("runaway varargs: %v", err)
	}
	if err := Protect(func() error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestAssert(t *testing.T) {
	e := newEnv(t, Options{})
	for src, want := range map[string]string{
		`assert(false)`:                  "<string>:1: assertion failed!",
		`assert(nil, "custom")`:          "<string>:1: custom",
		`assert(1 == 2, 42)`:             "<string>:1: 42",
		`assert(pcall(lab.run, "nope"))`: "<string>:1: lab.run: no such image: nope:latest",
		`assert()`:                       "<string>:1: bad argument #1 to assert (value expected)",
	} {
		if f := e.fails(src); f.Where+": "+f.Msg != want {
			t.Errorf("%s: %s: %s, want %s", src, f.Where, f.Msg, want)
		}
	}
	e.fails(`assert(false, "plain")`)
	if ErrorCode(e.lastErr) != 0 {
		t.Error("a plain assert failure is no lab error")
	}
	e.fails(`assert(pcall(lab.run, "nope"))`)
	if ErrorCode(e.lastErr) != 125 {
		t.Errorf("assert(pcall(...)) lost the lab error: code %d", ErrorCode(e.lastErr))
	}
	e.ok(`local a, b, c = assert(1, 2, 3) assert(a == 1 and b == 2 and c == 3)`)
}
