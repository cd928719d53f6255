package luabind

import (
	"errors"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
)

// assertKey is where the state's assert wrapper leaves the message of the last failed
// assert, so a runner can tell an assertion failure from a runtime error (JUnit's
// <failure> versus <error>) while the raised value stays the plain string Lua gives.
const assertKey = "lab.failed_assert"

func init() {
	Extend(func(L *lua.LState, _ *lua.LTable, _ *engine.Engine) {
		if _, ok := L.GetGlobal("assert").(*lua.LFunction); !ok {
			return
		}
		L.SetGlobal("assert", L.NewFunction(func(L *lua.LState) int {
			if L.GetTop() > 0 && lua.LVAsBool(L.Get(1)) {
				return L.GetTop()
			}
			msg := "assertion failed!"
			if L.GetTop() > 1 {
				msg = L.ToStringMeta(L.Get(2)).String()
			}
			L.G.Registry.RawSetString(assertKey, lua.LString(msg))
			// Raised as Lua's own assert raises it: the message with the caller's position.
			L.RaiseError("%s", msg)
			return 0
		}))
	})
}

// IsAssertion reports whether err, returned by a call into L, is a failed check (a
// lab.expect failure or Lua's assert) rather than a runtime error of the script.
func IsAssertion(L *lua.LState, err error) bool {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return false
	}
	switch v := ae.Object.(type) {
	case *lua.LUserData:
		_, ok := v.Value.(*Failure)
		return ok
	case lua.LString:
		m, ok := L.G.Registry.RawGetString(assertKey).(lua.LString)
		return ok && m != "" && strings.HasSuffix(string(v), string(m))
	}
	return false
}
