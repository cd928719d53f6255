package luabind

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
)

// Host files a script reads: its fixtures. Scripts are trusted code run as root, so any
// path is allowed; relative ones resolve against the script's directory (Options.Dir).
func init() {
	Extend(func(L *lua.LState, mod *lua.LTable, _ *engine.Engine) {
		b := bindingOf(L, nil)
		mod.RawSetString("read_file", L.NewFunction(named("lab.read_file", b.readFile)))
		mod.RawSetString("fixture", L.NewFunction(named("lab.fixture", b.fixture)))
		mod.RawSetString("exit", L.NewFunction(named("lab.exit", exitFn)))
	})
}

// resolve makes a host path relative to the script's directory. A relative path that
// names nothing there but exists from the working directory (a script that builds its
// paths from arg[0], written before paths were the script's) keeps that meaning.
func (b *binding) resolve(p string) string {
	if b.opts.Dir == "" || filepath.IsAbs(p) {
		return p
	}
	in := filepath.Join(b.opts.Dir, p)
	if _, err := os.Stat(in); err != nil {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return in
}

// readFile is lab.read_file(path) -> the file's content.
func (b *binding) readFile(L *lua.LState) int {
	data, err := os.ReadFile(b.resolve(checkPath(L, 1)))
	if err != nil {
		b.raise(L, "lab.read_file", err, 1, nil)
	}
	L.Push(lua.LString(data))
	return 1
}

// fixture is lab.fixture(name) -> the absolute path of testdata/name beside the
// script, which must exist: for lab.build{context = lab.fixture("app")}, lab.import.
func (b *binding) fixture(L *lua.LState) int {
	name := checkPath(L, 1)
	if filepath.IsAbs(name) {
		argError(L, 1, "a fixture name is relative to testdata/, got "+name)
	}
	p, err := filepath.Abs(b.resolve(filepath.Join("testdata", name)))
	if err == nil {
		_, err = os.Stat(p)
	}
	if err != nil {
		b.raise(L, "lab.fixture", err, 1, nil)
	}
	L.Push(lua.LString(p))
	return 1
}

// exitSignal is what lab.exit raises: the script ends with this status.
type exitSignal struct{ code int }

func (e *exitSignal) String() string { return fmt.Sprintf("lab.exit(%d)", e.code) }

// exitFn is lab.exit([code]): end the script now with code (default 0), as os.exit
// would, but unwinding so containers and sessions are cleaned up.
func exitFn(L *lua.LState) int {
	code := 0
	if L.GetTop() >= 1 {
		switch v := L.Get(1).(type) {
		case lua.LBool:
			if !v {
				code = 1
			}
		default:
			code = checkInt(L, 1)
		}
	}
	if code < 0 || code > 255 {
		argError(L, 1, fmt.Sprintf("exit code must be 0-255, got %d", code))
	}
	ud := L.NewUserData()
	ud.Value = &exitSignal{code: code}
	L.Error(ud, 0)
	return 0
}

// ExitCode reports whether err (from a call into a state) is a lab.exit, and its code.
func ExitCode(err error) (int, bool) {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return 0, false
	}
	if ud, ok := ae.Object.(*lua.LUserData); ok {
		if e, ok := ud.Value.(*exitSignal); ok {
			return e.code, true
		}
	}
	return 0, false
}
