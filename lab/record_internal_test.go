//go:build !lean

package lab

import (
	"testing"

	lua "github.com/yuin/gopher-lua"

	"lab/luabind"
)

func TestLuaQuoteRoundTrips(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	for _, s := range []string{"plain", "two\nlines\n", `quote " and \ slash`, "tab\there", "\x00\x01\xff bytes", "ünïcode"} {
		if err := L.DoString("__v = " + luaQuote(s)); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got := L.GetGlobal("__v").String(); got != s {
			t.Errorf("luaQuote(%q) reads back as %q", s, got)
		}
	}
}

func TestRecordedLiterals(t *testing.T) {
	L := lua.NewState()
	defer L.Close()
	if err := L.DoString(`t = {1, "two", {x = true}, name = "n", ["not a name"] = 3}`); err != nil {
		t.Fatal(err)
	}
	got, ok := literal(L.GetGlobal("t").(*lua.LTable), 0)
	if !ok || got != `{1, "two", {x = true}, name = "n", ["not a name"] = 3}` {
		t.Errorf("literal = %s %v", got, ok)
	}
	if err := L.DoString("u = " + got); err != nil {
		t.Errorf("the literal does not parse: %v", err)
	}
}

// The lean build spells the Lua memory cap's default and format itself.
func TestLeanSpellsLuaMemoryAsLuabind(t *testing.T) {
	if defaultLuaMemory != luabind.DefaultMemoryLimit {
		t.Errorf("defaultLuaMemory %d != luabind.DefaultMemoryLimit %d", defaultLuaMemory, luabind.DefaultMemoryLimit)
	}
	for _, n := range []int64{1 << 30, 3 << 20, 5 << 10, 1000} {
		if formatSize(n) != luabind.FormatSize(n) {
			t.Errorf("formatSize(%d) = %q, luabind says %q", n, formatSize(n), luabind.FormatSize(n))
		}
	}
}
