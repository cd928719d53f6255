package luabind

import (
	"fmt"
	"sort"

	lua "github.com/yuin/gopher-lua"
)

// noField raises the error for reading a field that typ does not have, naming the
// closest field or method, so a typo (c.exitcode) fails where it is made instead of
// reading as nil three lines later.
func noField(L *lua.LState, typ, key string, fields []string, methods *lua.LTable) {
	names := append([]string{}, fields...)
	methods.ForEach(func(k, _ lua.LValue) {
		if s, ok := k.(lua.LString); ok {
			names = append(names, string(s))
		}
	})
	sort.Strings(names)
	msg := fmt.Sprintf("no field '%s' on %s", key, typ)
	if s := closest(key, names); s != "" {
		msg += fmt.Sprintf(" (did you mean %s?)", s)
	}
	L.RaiseError("%s", msg)
}

func hasField(fields []string, key string) bool {
	for _, f := range fields {
		if f == key {
			return true
		}
	}
	return false
}

// closest is the name within a small edit distance of key (case and _ ignored for
// the comparison), or "".
func closest(key string, names []string) string {
	best, bestD := "", 3
	norm := func(s string) string {
		out := make([]byte, 0, len(s))
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c == '_' || c == '-' {
				continue
			}
			if c >= 'A' && c <= 'Z' {
				c += 'a' - 'A'
			}
			out = append(out, c)
		}
		return string(out)
	}
	k := norm(key)
	for _, n := range names {
		d := editDistance(k, norm(n))
		if d < bestD {
			best, bestD = n, d
		}
	}
	if len(key) <= 2 && bestD > 0 {
		return "" // too short to guess from
	}
	return best
}

// editDistance is the edit distance between a and b counting a swap of two adjacent
// letters as one edit (optimal string alignment): "tgas" is one edit from "tags".
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}
