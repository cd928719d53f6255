package luabind

import (
	"context"
	"strings"
	"testing"
	"time"
)

// Lua 5.1's pattern semantics, through the string functions scripts call.
func TestPatternSemantics(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		local function eq(a, b) if a ~= b then error(("%s ~= %s"):format(tostring(a), tostring(b)), 2) end end
		eq(("hello world"):find("o w"), 5)
		eq(select(2, ("hello world"):find("o w")), 7)
		eq(("hello"):find("xyz"), nil)
		eq(("a.b"):find(".", 1, true), 2)
		eq(("hello"):find(""), 1)
		eq(("hello"):find("l", -2), 4)
		eq(select(2, ("key = value"):match("(%w+)%s*=%s*(%w+)")), "value")
		eq(("  trim  "):match("^%s*(.-)%s*$"), "trim")
		eq(select(2, ("hello"):match("()ll()")), 5)
		eq(("f(a(b)c)d"):match("%b()"), "(a(b)c)")
		eq(("THE (quick) fox"):gsub("%f[%a]%a+", "W"), "W (W) W")
		eq(("hello world"):gsub("o", "0", 1), "hell0 world")
		eq(select(2, ("hello world"):gsub("o", "0")), 2)
		eq(("hello"):gsub("", "-"), "-h-e-l-l-o-")
		eq(("hello world"):gsub("(%w+) (%w+)", "%2 %1"), "world hello")
		eq(("$name is $age"):gsub("%$(%w+)", {name = "bob", age = 3}), "bob is 3")
		eq(("abc"):gsub("%w", function(c) return c:upper() .. "." end), "A.B.C.")
		eq(("xx"):gsub("^x", "y"), "yx")
		eq(("a.b.c"):gsub("%.", "%%"), "a%b%c")
		local t = {}
		for k, v in ("a=1, b=2"):gmatch("(%w+)=(%w+)") do t[#t + 1] = k .. v end
		eq(table.concat(t, ","), "a1,b2")
		eq(("[x]"):match("[]]"), "]")
		eq(("abc123"):match("[^%d]+"), "abc")
		eq(("hello hello"):match("(h%w+) %1"), "hello")
		eq(("aaab"):match("a-b"), "aaab")
		local ok, err = pcall(string.find, "x", "[a")
		eq(ok, false); eq(tostring(err):match("missing '%]'") ~= nil, true)
		lab.expect("v1.2"):matches("^v%d+%.%d+$")
	`)
}

// A pattern whose backtracking is exponential stops when the state's context ends,
// in each string function and in lab.expect's matches.
func TestPatternObeysContext(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`subject = ("a"):rep(60); pattern = ("a?"):rep(60) .. ("a"):rep(60)`)
	for _, call := range []string{
		"subject:find(pattern)", "subject:match(pattern)", "subject:gsub(pattern, 'x')",
		"for _ in subject:gmatch(pattern) do end", "lab.expect(subject):matches(pattern)",
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		e.L.SetContext(ctx)
		done := make(chan error, 1)
		go func() { done <- e.L.DoString(call) }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), context.DeadlineExceeded.Error()) {
				t.Errorf("%s: want the deadline error, got %v", call, err)
			}
		case <-time.After(2 * time.Minute):
			t.Fatalf("%s did not stop with its context", call)
		}
		cancel()
	}
}
