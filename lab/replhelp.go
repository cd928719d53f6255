//go:build !lean

package lab

import (
	"fmt"
	"io"
	"strings"

	"github.com/chzyer/readline"
	lua "github.com/yuin/gopher-lua"

	"lab/luabind"
)

// replGlobals adds what only the REPL has: help([x]) prints the Lua API's contract
// about x, exit([code]) leaves (as lab.exit does), and _ holds the last value printed.
func replGlobals(L *lua.LState, out io.Writer) {
	L.SetGlobal("help", L.NewFunction(func(L *lua.LState) int {
		fmt.Fprintln(out, luabind.Help(L, L.Get(1)))
		return 0
	}))
	if mod, ok := L.GetGlobal("lab").(*lua.LTable); ok {
		L.SetGlobal("exit", mod.RawGetString("exit"))
	}
}

// remember saves a statement in the history as one entry, however many lines it was
// typed on, so Up brings back the whole of it. Lines are joined with spaces, which is
// the same Lua unless a line holds a comment or a long string; those stay line by line.
func remember(rl *readline.Instance, text string) {
	if len(text) > 4096 {
		return // a paste, not something to recall with Up
	}
	chunk := strings.Split(text, "\n")
	joined := strings.Join(chunk, " ")
	if len(chunk) > 1 && (strings.Contains(joined, "--") || strings.Contains(joined, "[[") || strings.Contains(joined, "[=")) {
		for _, l := range chunk {
			rl.SaveHistory(l)
		}
		return
	}
	rl.SaveHistory(joined)
}

// typed completes a word whose start names a value: "c:" and "c." offer what c has
// (a Container's methods and fields, a table's keys...), "lab.ru" the module's
// functions, and a bare word the state's global names. It returns the candidates, the
// part of the word they extend, and whether it applied.
func (c *completer) typed(word string) ([]string, string, bool) {
	i := strings.LastIndexAny(word, ".:")
	if i < 0 {
		var names []string
		c.L.G.Global.ForEach(func(k, _ lua.LValue) {
			if s, ok := k.(lua.LString); ok && !strings.HasPrefix(string(s), "_") {
				names = append(names, string(s))
			}
		})
		cands := matching(names, word)
		return cands, word, len(cands) > 0
	}
	base, prefix := word[:i], word[i+1:]
	var v lua.LValue = lua.LNil
	for j, part := range strings.Split(base, ".") {
		if j == 0 {
			v = c.L.GetGlobal(part)
			continue
		}
		t, ok := v.(*lua.LTable)
		if !ok {
			return nil, "", false
		}
		v = t.RawGetString(part)
	}
	if v == lua.LNil {
		return nil, "", false
	}
	cands := matching(luabind.Members(c.L, v, word[i] == ':'), prefix)
	return cands, prefix, true
}
