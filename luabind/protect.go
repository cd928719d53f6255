package luabind

import (
	"fmt"

	lua "github.com/yuin/gopher-lua"
)

// DoFile is L.DoFile through Protect.
func DoFile(L *lua.LState, path string) error {
	return Protect(func() error { return L.DoFile(path) })
}

// DoString is L.DoString through Protect.
func DoString(L *lua.LState, src string) error {
	return Protect(func() error { return L.DoString(src) })
}

// PCall is L.PCall through Protect.
func PCall(L *lua.LState, nargs, nret int, errfunc *lua.LFunction) error {
	return Protect(func() error { return L.PCall(nargs, nret, errfunc) })
}

// Protect runs f, turning a Go panic that escapes gopher-lua's own protection into an
// error. gopher-lua has such paths: a data-stack overflow while entering a function
// (a vararg call chain growing without end, say) panics again while the error is being
// located, from inside PCall's recovery. The error reads like any Lua error (an
// *lua.ApiError, so AsFailure works); the state is then inconsistent and must be
// closed, not reused.
func Protect(f func() error) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &lua.ApiError{Type: lua.ApiErrorPanic, Object: lua.LString(fmt.Sprintf("lua: script aborted by an internal error (%v); the Lua state must be discarded", r))}
		}
	}()
	return f()
}
