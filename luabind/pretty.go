package luabind

import (
	"fmt"
	"io"
	"regexp"
	"sort"
	"strconv"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
)

// Pretty renders a Lua value for the REPL: a container or image as its Docker row, a
// list of them as the Docker table, a diff as `docker diff` prints it, a string as
// itself, and other tables pretty-printed (sorted keys, nested, cycles marked).
func Pretty(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return string(v)
	case *lua.LUserData:
		return userdataText(v)
	case *lua.LTable:
		if s, ok := listText(v); ok {
			return s
		}
		return prettyTable(v, "", map[*lua.LTable]bool{})
	}
	return v.String()
}

func userdataText(v *lua.LUserData) string {
	switch x := v.Value.(type) {
	case *ctr:
		return containerRow(x.rec)
	case *img:
		return imageRow(x.rec)
	case *Error:
		return x.Message
	case *Failure:
		return x.Error()
	case *session:
		return x.text()
	}
	return v.String()
}

// listText renders the lists lab returns, and any plain list of containers or of
// images, as Docker does.
func listText(t *lua.LTable) (string, bool) {
	if mt, ok := t.Metatable.(*lua.LTable); ok {
		switch mt.RawGetString("__name").String() {
		case containerListType:
			return psTable(listItems[*ctr](t)), true
		case imageListType:
			return imagesTable(listItems[*img](t)), true
		case changeListType:
			return changesText(t), true
		case changeType:
			return changeText(t), true
		case historyListType:
			return historyTable(t), true
		}
	}
	n := seqLen(t)
	if n == 0 || countKeys(t) != n {
		return "", false
	}
	if cs := listItems[*ctr](t); len(cs) == n {
		return psTable(cs), true
	}
	if is := listItems[*img](t); len(is) == n {
		return imagesTable(is), true
	}
	return "", false
}

func countKeys(t *lua.LTable) int {
	n := 0
	t.ForEach(func(lua.LValue, lua.LValue) { n++ })
	return n
}

// repr is a value as it would be written in Lua source, for failure messages:
// strings quoted, tables in full.
func repr(v lua.LValue) string {
	switch v := v.(type) {
	case lua.LString:
		return strconv.Quote(string(v))
	case *lua.LTable:
		return prettyTable(v, "", map[*lua.LTable]bool{})
	case *lua.LUserData:
		switch x := v.Value.(type) {
		case *ctr:
			return fmt.Sprintf("<container %s %s>", x.rec.ShortID(), x.rec.Name)
		case *img:
			name := x.rec.ID.Encoded()[:12]
			if len(x.rec.Tags) > 0 {
				name += " " + strings.Join(x.rec.Tags, " ")
			}
			return "<image " + name + ">"
		case *Error:
			return "<error " + strconv.Quote(x.Message) + ">"
		}
	}
	return v.String()
}

var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

const inlineWidth = 72

// prettyTable prints a table on one line when it fits, else one entry per line.
func prettyTable(t *lua.LTable, indent string, seen map[*lua.LTable]bool) string {
	if seen[t] {
		return "<cycle>"
	}
	seen[t] = true
	defer delete(seen, t)

	type entry struct{ key, val string }
	var entries []entry
	n := seqLen(t)
	for i := 1; i <= n; i++ {
		entries = append(entries, entry{"", nested(t.RawGetInt(i), indent+"  ", seen)})
	}
	var keys []lua.LValue
	t.ForEach(func(k, _ lua.LValue) {
		if kn, ok := k.(lua.LNumber); ok && float64(kn) >= 1 && float64(kn) <= float64(n) && float64(kn) == float64(int(kn)) {
			return
		}
		keys = append(keys, k)
	})
	sort.Slice(keys, func(i, j int) bool { return keyLess(keys[i], keys[j]) })
	for _, k := range keys {
		var ks string
		if s, ok := k.(lua.LString); ok && identifier.MatchString(string(s)) {
			ks = string(s)
		} else {
			ks = "[" + repr(k) + "]"
		}
		entries = append(entries, entry{ks, nested(t.RawGet(k), indent+"  ", seen)})
	}
	if len(entries) == 0 {
		return "{}"
	}
	parts := make([]string, len(entries))
	multi := false
	for i, e := range entries {
		parts[i] = e.val
		if e.key != "" {
			parts[i] = e.key + " = " + e.val
		}
		multi = multi || strings.Contains(parts[i], "\n")
	}
	if line := "{ " + strings.Join(parts, ", ") + " }"; !multi && len(indent)+len(line) <= inlineWidth {
		return line
	}
	var sb strings.Builder
	sb.WriteString("{\n")
	for _, p := range parts {
		sb.WriteString(indent + "  " + p + ",\n")
	}
	sb.WriteString(indent + "}")
	return sb.String()
}

func nested(v lua.LValue, indent string, seen map[*lua.LTable]bool) string {
	if t, ok := v.(*lua.LTable); ok {
		return prettyTable(t, indent, seen)
	}
	return repr(v)
}

// keyLess orders keys numbers first (numerically), then strings, then the rest.
func keyLess(a, b lua.LValue) bool {
	rank := func(v lua.LValue) int {
		switch v.(type) {
		case lua.LNumber:
			return 0
		case lua.LString:
			return 1
		}
		return 2
	}
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return ra < rb
	}
	if an, ok := a.(lua.LNumber); ok {
		return an < b.(lua.LNumber)
	}
	return a.String() < b.String()
}

// Names returns completion candidates for the REPL: "lab.<function>" for every module
// function (extensions included), the fields and method names of the lab userdata
// types (bare, for after "." or ":"), image tags and container names in eng.
func Names(eng *engine.Engine) []string {
	set := map[string]bool{}
	L := NewState(eng, Options{Stdout: io.Discard, Stderr: io.Discard})
	if mod, ok := L.GetGlobal("lab").(*lua.LTable); ok {
		mod.ForEach(func(k, _ lua.LValue) {
			if s, ok := k.(lua.LString); ok {
				set["lab."+string(s)] = true
			}
		})
	}
	L.Close()
	b := &binding{}
	for _, m := range []map[string]lua.LGFunction{b.containerMethods(), b.imageMethods(), b.expectMethods()} {
		for name := range m {
			set[name] = true
		}
	}
	for _, f := range append(append([]string{}, containerFields...), imageFields...) {
		set[f] = true
	}
	if eng != nil {
		if imgs, err := eng.Images.List(); err == nil {
			for _, i := range imgs {
				for _, t := range i.Tags {
					set[t] = true
				}
			}
		}
		if cs, err := eng.Containers.List(); err == nil {
			for _, c := range cs {
				if c.Name != "" {
					set[c.Name] = true
				}
			}
		}
	}
	out := make([]string, 0, len(set))
	for s := range set {
		out = append(out, s)
	}
	sort.Strings(out)
	return out
}
