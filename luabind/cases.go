package luabind

import (
	"fmt"
	"os"
	"os/exec"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/cgroup"
	"lab/runtime/engine"
)

// Parametrized cases and conditional skips for scenarios.
func init() {
	Extend(func(L *lua.LState, mod *lua.LTable, eng *engine.Engine) {
		b := bindingOf(L, eng)
		mod.RawSetString("cases", L.NewFunction(named("lab.cases", b.casesFn)))
		mod.RawSetString("skip_unless", L.NewFunction(named("lab.skip_unless", func(L *lua.LState) int {
			if reason := unmet(L, eng); reason != "" {
				ud := L.NewUserData()
				ud.Value = &skipSignal{reason: reason}
				L.SetMetatable(ud, L.GetTypeMetatable("lab.Skip"))
				L.Error(ud, 0)
			}
			return 0
		})))
	})
}

// casesFn is lab.cases(name, list, fn): one case per element of list, each a global
// function "name/<element's name or index>" that calls fn(element). `lab test` runs
// them as cases of the file, in this order.
func (b *binding) casesFn(L *lua.LState) int {
	name := checkString(L, 1)
	if !strings.HasPrefix(name, "Test") {
		argError(L, 1, "case names start with Test, got "+name)
	}
	list := L.CheckTable(2)
	fn := L.CheckFunction(3)
	n := list.Len()
	if n == 0 {
		argError(L, 2, "no cases in the list")
	}
	for i := 1; i <= n; i++ {
		elem := list.RawGetInt(i)
		label := fmt.Sprint(i)
		if t, ok := elem.(*lua.LTable); ok {
			if s, ok := t.RawGetString("name").(lua.LString); ok && s != "" {
				label = string(s)
			}
		}
		full := name + "/" + label
		if L.GetGlobal(full) != lua.LNil {
			argError(L, 2, "case "+full+" is defined twice")
		}
		L.SetGlobal(full, L.NewFunction(func(L *lua.LState) int {
			L.Push(fn)
			L.Push(elem)
			L.Call(1, 0)
			return 0
		}))
		b.cases = append(b.cases, full)
	}
	return 0
}

// RegisteredCases lists the cases lab.cases made in L, in the order they were made.
func RegisteredCases(L *lua.LState) []string {
	if ud, ok := L.G.Registry.RawGetString(bindingKey).(*lua.LUserData); ok {
		return append([]string{}, ud.Value.(*binding).cases...)
	}
	return nil
}

// unmet checks lab.skip_unless{root=, cgroup=, image=, tool=} and says what does not
// hold ("" when everything does).
func unmet(L *lua.LState, eng *engine.Engine) string {
	t := checkOpts(L, 1, "root", "cgroup", "image", "tool")
	if t == nil {
		argError(L, 1, "conditions table expected")
	}
	var missing []string
	if optBool(L, 1, t, "root") && os.Geteuid() != 0 {
		missing = append(missing, "needs root")
	}
	if v, ok := optString(L, 1, t, "cgroup"); ok {
		if v != "v1" && v != "v2" {
			argError(L, 1, "cgroup must be \"v1\" or \"v2\", got "+v)
		}
		if got := cgroup.Version("memory"); got != v {
			missing = append(missing, fmt.Sprintf("needs cgroup %s (memory is on %q here)", v, got))
		}
	}
	if v, ok := optString(L, 1, t, "image"); ok {
		if _, err := eng.Images.Get(v); err != nil {
			missing = append(missing, "needs image "+v)
		}
	}
	if v, ok := optString(L, 1, t, "tool"); ok {
		if _, err := exec.LookPath(v); err != nil {
			missing = append(missing, "needs "+v+" on the host")
		}
	}
	return strings.Join(missing, "; ")
}
