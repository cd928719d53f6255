package luabind

import (
	_ "embed"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"
)

// Members lists what may follow "." (or ":" with methods set) after v, for the REPL's
// completion: a Container's, an Image's or a Session's fields and methods (methods
// only after ":"), an expectation's checks, a table's string keys (its functions
// after ":"), and the string library for a string.
func Members(L *lua.LState, v lua.LValue, methods bool) []string {
	var out []string
	b := &binding{}
	keys := func(m map[string]lua.LGFunction) {
		for k := range m {
			out = append(out, k)
		}
	}
	switch v := v.(type) {
	case *lua.LUserData:
		switch v.Value.(type) {
		case *ctr:
			keys(b.containerMethods())
			if !methods {
				out = append(out, containerFields...)
			}
		case *img:
			keys(b.imageMethods())
			if !methods {
				out = append(out, imageFields...)
			}
		case *session:
			out = append(out, sessionMethodNames...)
		case *expectation:
			keys(b.expectMethods())
		case *Error:
			out = append(out, "message", "code", "where", "container")
		}
	case *lua.LTable:
		v.ForEach(func(k, f lua.LValue) {
			if s, ok := k.(lua.LString); ok {
				if _, isFn := f.(*lua.LFunction); isFn || !methods {
					out = append(out, string(s))
				}
			}
		})
	case lua.LString:
		if t, ok := L.GetGlobal("string").(*lua.LTable); ok {
			t.ForEach(func(k, _ lua.LValue) { out = append(out, k.String()) })
		}
	}
	sort.Strings(out)
	return out
}

//go:embed doc.go
var docSource string

// docText is doc.go's package comment as plain text.
func docText() string {
	var lines []string
	for _, l := range strings.Split(docSource, "\n") {
		if !strings.HasPrefix(l, "//") {
			if len(lines) > 0 {
				break
			}
			continue
		}
		l = strings.TrimPrefix(strings.TrimPrefix(l, "//"), " ")
		lines = append(lines, strings.TrimPrefix(l, "\t"))
	}
	return strings.Join(lines, "\n")
}

// section returns the part of the doc headed "# name", without the heading.
func section(doc, name string) string {
	i := strings.Index(doc, "\n# "+name+"\n")
	if i < 0 {
		return ""
	}
	rest := doc[i+len(name)+4:]
	if j := strings.Index(rest, "\n# "); j >= 0 {
		rest = rest[:j]
	}
	return strings.Trim(rest, "\n")
}

// Help is the REPL's help(x): for nothing, the module's summary; for a lab function,
// its lines of the contract; for a Container, Image or Session (or those words), the
// paragraph about them; for lab.expect or an expectation, the assertions.
func Help(L *lua.LState, v lua.LValue) string {
	doc := docText()
	module := section(doc, "Module")
	paragraph := func(word string) string {
		for _, p := range strings.Split(module, "\n\n") {
			if strings.HasPrefix(p, word) {
				return p
			}
		}
		return ""
	}
	switch x := v.(type) {
	case *lua.LNilType:
		return module + "\n\nhelp(lab.run), help(c) for a Container, help(\"expect\") for the assertions."
	case lua.LString:
		switch strings.ToLower(string(x)) {
		case "container":
			return paragraph("Container fields")
		case "image":
			return paragraph("Container fields")
		case "session":
			return paragraph("Session")
		case "expect", "assertions":
			return section(doc, "Assertions")
		case "errors":
			return section(doc, "Errors")
		}
		return "no help on " + string(x) + ": try help(), help(lab.run), help(\"Container\"), help(\"expect\")"
	case *lua.LUserData:
		switch x.Value.(type) {
		case *ctr, *img:
			return paragraph("Container fields")
		case *session:
			return paragraph("Session")
		case *expectation:
			return section(doc, "Assertions")
		}
	case *lua.LFunction:
		mod, _ := L.GetGlobal("lab").(*lua.LTable)
		name := ""
		if mod != nil {
			mod.ForEach(func(k, f lua.LValue) {
				if f == x {
					name = "lab." + k.String()
				}
			})
		}
		if name == "lab.expect" {
			return section(doc, "Assertions")
		}
		if name != "" {
			var lines []string
			for _, l := range strings.Split(module, "\n") {
				if strings.Contains(l, name+"(") || strings.Contains(l, name+"{") || strings.Contains(l, name+" ") {
					lines = append(lines, l)
				}
			}
			if len(lines) > 0 {
				return strings.Join(lines, "\n")
			}
			return name + ": see help()"
		}
	}
	return "no help for a " + v.Type().String() + ": try help(), help(lab.run), help(\"Container\")"
}

// Kind says what lab value a userdata holds: "container", "image", "session", or "".
func Kind(v *lua.LUserData) string {
	switch v.Value.(type) {
	case *ctr:
		return "container"
	case *img:
		return "image"
	case *session:
		return "session"
	}
	return ""
}

// Field reads a Container's or an Image's field as Lua sees it (nil for others).
func Field(v *lua.LUserData, name string) lua.LValue {
	switch x := v.Value.(type) {
	case *ctr:
		b := &binding{}
		switch name {
		case "stdout", "stderr":
			if !x.captured {
				return lua.LNil // a container looked up, not run here: its output is unknown
			}
			if name == "stdout" {
				return lua.LString(x.stdout)
			}
			return lua.LString(x.stderr)
		}
		return b.containerField(x, name)
	case *img:
		L := lua.NewState(lua.Options{SkipOpenLibs: true})
		defer L.Close()
		return imageField(L, x, name)
	}
	return lua.LNil
}
