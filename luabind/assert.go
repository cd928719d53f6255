package luabind

import (
	"errors"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// assertKey is where the state's assert leaves what its last failure raised, so a
// runner can tell a failed check from a runtime error (JUnit's <failure> versus
// <error>) while the raised value stays what Lua's assert gives.
const assertKey = "lab.failed_assert"

// IsAssertion reports whether err, returned by a call into L, is a failed check (a
// lab.expect failure or an assert) rather than a runtime error of the script.
func IsAssertion(L *lua.LState, err error) bool {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return false
	}
	last := L.G.Registry.RawGetString(assertKey)
	switch v := ae.Object.(type) {
	case *lua.LUserData:
		if _, ok := v.Value.(*Failure); ok {
			return true
		}
		return last == v
	case lua.LString:
		m, ok := last.(lua.LString)
		return ok && m != "" && strings.HasSuffix(string(v), string(m))
	}
	return false
}

// IsFailureValue reports whether err raised a lab value (a Failure, a lab error, a
// skip) rather than a plain Lua error.
func IsFailureValue(err error) bool {
	var ae *lua.ApiError
	if !errors.As(err, &ae) {
		return false
	}
	_, ok := ae.Object.(*lua.LUserData)
	return ok
}
