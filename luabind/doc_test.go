package luabind

import (
	"os"
	"sort"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// doc.go is the Lua API's contract and the README its user guide: every function of the
// lab module, every method and field of a Container, an Image and a Session, and every
// run option must be named in doc.go, and every module function in the README.
func TestDocNamesTheWholeAPI(t *testing.T) {
	docb, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	doc := string(docb)
	e := newEnv(t, Options{})
	mod := e.L.GetGlobal("lab").(*lua.LTable)
	var funcs []string
	mod.ForEach(func(k, _ lua.LValue) { funcs = append(funcs, k.String()) })
	sort.Strings(funcs)
	for _, f := range funcs {
		if strings.HasSuffix(f, "_for_test") {
			continue // registered by this package's own tests
		}
		if !strings.Contains(doc, "lab."+f) {
			t.Errorf("doc.go does not document lab.%s", f)
		}
		if f != "version" && !strings.Contains(string(readme), "lab."+f) {
			t.Errorf("README.md does not mention lab.%s", f)
		}
	}
	words := func(kind string, names []string) {
		for _, n := range names {
			if !strings.Contains(doc, n) {
				t.Errorf("doc.go does not name %s %q", kind, n)
			}
		}
	}
	b := bindingOf(e.L, nil)
	keys := func(m map[string]lua.LGFunction) []string {
		var out []string
		for k := range m {
			out = append(out, k)
		}
		return out
	}
	words("Container method", keys(b.containerMethods()))
	words("Container field", containerFields)
	words("Image method", keys(b.imageMethods()))
	words("Image field", imageFields)
	words("expect method", keys(b.expectMethods()))
	words("run option", runOptions)
	words("spawn option", spawnOptions)
	words("build option", buildOptions)
}
