package luabind

import (
	"errors"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
)

// lab.skip(reason) ends a scenario early as skipped rather than failed (a condition it
// needs does not hold on this machine). It raises a value the scenario runner
// recognises with SkipReason; a script run outside `lab test` simply stops with it.
func init() {
	Extend(func(L *lua.LState, mod *lua.LTable, _ *engine.Engine) {
		mt := L.NewTypeMetatable("lab.Skip")
		mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LString("skipped: " + L.CheckUserData(1).Value.(*skipSignal).reason))
			return 1
		}))
		mod.RawSetString("skip", L.NewFunction(func(L *lua.LState) int {
			ud := L.NewUserData()
			ud.Value = &skipSignal{reason: L.OptString(1, "skipped")}
			L.SetMetatable(ud, mt)
			L.Error(ud, 0)
			return 0
		}))
	})
}

type skipSignal struct{ reason string }

// SkipReason reports whether err (from L.PCall or L.DoFile) is a lab.skip, and why.
func SkipReason(err error) (string, bool) {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return "", false
	}
	if ud, ok := ae.Object.(*lua.LUserData); ok {
		if s, ok := ud.Value.(*skipSignal); ok {
			return s.reason, true
		}
	}
	return "", false
}
