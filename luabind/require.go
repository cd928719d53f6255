package luabind

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// confineRequire makes require("x.y") find Lua modules only in the script's directory
// (x/y.lua or x/y/init.lua there), whatever package.path says: the file loader is the
// one way a sandboxed script reads Lua from disk, so a script that rewrites
// package.path still cannot load code from elsewhere. lab's own module comes from
// package.preload as before.
func (b *binding) confineRequire(L *lua.LState) {
	dir := b.opts.Dir
	if dir == "" {
		dir = "."
	}
	pkg, ok := L.GetGlobal("package").(*lua.LTable)
	if !ok {
		return
	}
	pkg.RawSetString("path", lua.LString(filepath.Join(dir, "?.lua")+";"+filepath.Join(dir, "?", "init.lua")))
	loaders, ok := pkg.RawGetString("loaders").(*lua.LTable)
	if !ok {
		return
	}
	loaders.RawSetInt(2, L.NewFunction(func(L *lua.LState) int {
		name := L.CheckString(1)
		rel := strings.ReplaceAll(name, ".", "/")
		if name == "" || strings.HasPrefix(rel, "/") || strings.Contains("/"+rel+"/", "//") {
			L.Push(lua.LString(fmt.Sprintf("module name %q does not name a file in the script's directory", name)))
			return 1
		}
		var tried []string
		for _, p := range []string{filepath.Join(dir, rel+".lua"), filepath.Join(dir, rel, "init.lua")} {
			if _, err := os.Stat(p); err != nil {
				tried = append(tried, "no file '"+p+"'")
				continue
			}
			fn, err := L.LoadFile(p)
			if err != nil {
				L.RaiseError("%s", err.Error())
			}
			L.Push(fn)
			return 1
		}
		L.Push(lua.LString("\n\t" + strings.Join(tried, "\n\t")))
		return 1
	}))
}
