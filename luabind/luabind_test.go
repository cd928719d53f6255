package luabind

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/container"
	"lab/runtime/engine"
	"lab/runtime/proc"
	"lab/runtime/proc/inittest"
)

// base is a store with busybox bootstrapped once; each test works on a fork of it.
var (
	base     *engine.Engine
	baseSkip string
)

// Containers run through lab-init, built for the run (runtime/proc/inittest).
func TestMain(m *testing.M) {
	if proc.IsInit() {
		proc.Init()
	}
	inittest.Main(func() int { return setupAndRun(m) })
}

func setupAndRun(m *testing.M) int {
	if os.Geteuid() != 0 {
		baseSkip = "needs root: containers use real namespaces and overlay mounts"
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "luabind-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	base, err = engine.Open(dir)
	if err == nil {
		_, err = base.Bootstrap(context.Background(), "busybox")
	}
	if err != nil {
		baseSkip = "cannot bootstrap busybox: " + err.Error()
	}
	return m.Run()
}

type env struct {
	t   *testing.T
	L   *lua.LState
	eng *engine.Engine
	out *bytes.Buffer
	dir string
	// lastErr is the raw error of the last fails call, for ErrorCode.
	lastErr error
}

// newEnv gives a test a Lua state on its own fork of the busybox store, and checks at
// the end that no container is left running and nothing stays mounted.
func newEnv(t *testing.T, o Options) *env {
	t.Helper()
	if baseSkip != "" {
		t.Skip(baseSkip)
	}
	dir := t.TempDir()
	eng, err := base.Fork(filepath.Join(dir, "state"))
	if err != nil {
		t.Fatal(err)
	}
	out := &bytes.Buffer{}
	if o.Stdout == nil {
		o.Stdout = out
	}
	if o.Stderr == nil {
		o.Stderr = out
	}
	L := NewState(eng, o)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	L.SetContext(ctx)
	t.Cleanup(func() {
		L.Close()
		cancel()
		noneRunning(t, eng)
		b, _ := os.ReadFile("/proc/mounts")
		if strings.Contains(string(b), dir) {
			t.Errorf("mounts under %s leaked:\n%s", dir, b)
		}
	})
	return &env{t: t, L: L, eng: eng, out: out, dir: dir}
}

func noneRunning(t *testing.T, eng *engine.Engine) {
	t.Helper()
	cs, err := eng.Containers.List()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range cs {
		if c.State.Status == container.Running || eng.Containers.IsRunning(c.ID) {
			t.Errorf("container %s (%s) is still running", c.Name, c.Command())
		}
	}
}

// script writes src to a file named name in the test's dir and runs it, so failures
// carry that file name.
func (e *env) script(name, src string) error {
	e.t.Helper()
	path := filepath.Join(e.dir, name)
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return e.L.DoFile(path)
}

func (e *env) ok(src string) {
	e.t.Helper()
	if err := e.L.DoString(src); err != nil {
		e.t.Fatalf("script failed: %v\n%s", AsFailure(err), src)
	}
}

// eval returns the value of a Lua expression.
func (e *env) eval(expr string) lua.LValue {
	e.t.Helper()
	if err := e.L.DoString("__v = " + expr); err != nil {
		e.t.Fatalf("eval %s: %v", expr, AsFailure(err))
	}
	v := e.L.GetGlobal("__v")
	e.L.SetGlobal("__v", lua.LNil)
	return v
}

func (e *env) str(expr string) string {
	e.t.Helper()
	return e.eval(expr).String()
}

// fails runs src, which must raise; it returns the error as a Failure.
func (e *env) fails(src string) *Failure {
	e.t.Helper()
	err := e.L.DoString(src)
	if err == nil {
		e.t.Fatalf("script should have failed:\n%s", src)
	}
	e.lastErr = err
	return AsFailure(err)
}

// The seed tutorial exactly as design.md has it.
func TestSeedTutorial(t *testing.T) {
	e := newEnv(t, Options{})
	err := e.script("tutorial.lua", `
local lab = require("lab")                 -- also preloaded as the global `+"`lab`"+`
local c1 = lab.run("busybox", {"/bin/sh", "-c", "echo 'This is a really important file!!!!' > foo"})
assert(c1.status == "exited" and c1.exit_code == 0)
local c2 = lab.run("busybox", {"/bin/cat", "foo"})          -- a fresh container
assert(c2.exit_code == 1 and c2.stderr:find("No such file"))
assert(#lab.ps{all = true} == 2)
local img = c1:commit("ubuntu-foo")                          -- img.id == "sha256:<64 hex>"
assert(lab.run("ubuntu-foo", {"/bin/cat", "foo"}).stdout == "This is a really important file!!!!\n")
assert(lab.image("ubuntu-foo").id == img.id)
assert(img.id:match("^sha256:" .. string.rep("%x", 64) .. "$"))
assert(lab == _G.lab)
`)
	if err != nil {
		t.Fatal(err)
	}
}
