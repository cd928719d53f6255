package luabind

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestExpectPasses(t *testing.T) {
	e := newEnv(t, Options{})
	err := e.script("pass.lua", `
		local c = lab.run("busybox", "echo hello; echo warn >&2; echo data > /f; exit 3")
		lab.expect(c):exit_code(3):status("exited")
			:stdout("hello\n"):stderr("warn\n")
			:stdout_contains("ell"):stderr_contains("war")
			:stdout_matches("^h%a+\n$"):stderr_matches("w.rn")
			:file("/f", "data\n"):file("/f"):file("/etc"):no_file("/nope")
			:diff_contains("A /f")
		lab.expect(lab.image("busybox")):file("/bin/sh"):no_file("/f"):has_tag("busybox"):has_tag("busybox:latest")
		lab.expect(1):eq(1):ne(2):truthy():not_nil()
		lab.expect(nil):is_nil():falsy()
		lab.expect(false):falsy()
		lab.expect({1, {a = 2}}):eq({1, {a = 2}}):contains(1):contains({a = 2}):not_contains(3):len(2)
		lab.expect("abc"):contains("b"):not_contains("x"):matches("^a.c$"):len(3)
		lab.expect(c):eq(lab.container(c.id))
		lab.expect(function() lab.run("nope") end):raises("no such image", 125):raises()
		lab.expect(function() error("boom") end):raises("boom")
		lab.assert_eq({x = {1, 2}}, {x = {1, 2}})
		lab.assert_eq("a", "a", "same")
	`)
	if err != nil {
		t.Fatal(AsFailure(err))
	}
}

// failure runs a one-assertion script and returns its Failure, checking it names the
// script file and the line of the assertion (the last line of src).
func (e *env) failure(src string) *Failure {
	e.t.Helper()
	return e.failureAt(src, strings.Count(strings.TrimRight(src, "\n"), "\n")+1)
}

func (e *env) failureAt(src string, line int) *Failure {
	e.t.Helper()
	err := e.script("check.lua", src)
	if err == nil {
		e.t.Fatalf("assertion should have failed:\n%s", src)
	}
	f := AsFailure(err)
	if want := filepath.Join(e.dir, "check.lua") + ":" + strconv.Itoa(line); f.Where != want {
		e.t.Errorf("failure at %q, want %q\n%s", f.Where, want, f)
	}
	return f
}

func contains(t *testing.T, what, s string, parts ...string) {
	t.Helper()
	for _, p := range parts {
		if !strings.Contains(s, p) {
			t.Errorf("%s lacks %q:\n%s", what, p, s)
		}
	}
}

func TestExpectFailures(t *testing.T) {
	e := newEnv(t, Options{})

	f := e.failure("local c = lab.run('busybox', 'seq 1 30; echo bad >&2; exit 2', {name = 'counter'})\nlab.expect(c):exit_code(0)")
	if f.Msg != "expected exit code 0, got 2" {
		t.Errorf("msg = %q", f.Msg)
	}
	contains(t, "exit_code detail", f.Detail,
		`container counter (`, `) exited with code 2`,
		"stdout (last 10 of 30 lines):\n  | 21\n", "  | 30\nstderr:\n  | bad")
	if strings.Contains(f.Detail, "| 20\n") {
		t.Errorf("tail should keep only the last 10 lines:\n%s", f.Detail)
	}

	f = e.failure("local out = lab.run('busybox', 'printf \"one\\ntwo\\nthree\\n\"').stdout\nlab.expect(out, 'listing'):eq('one\\n2\\nthree\\n')")
	if f.Msg != "listing: values differ" {
		t.Errorf("msg = %q", f.Msg)
	}
	contains(t, "eq detail", f.Detail,
		`expected: "one\n2\nthree\n"`, `  actual: "one\ntwo\nthree\n"`,
		"diff (-expected +actual):\n   one\n  -2\n  +two\n   three",
		"exited with code 0\nstdout:\n  | one\n  | two\n  | three")

	f = e.failure("lab.assert_eq(1 + 1, 3, 'arithmetic')")
	if f.Msg != "arithmetic" || f.Detail != "expected: 3\n  actual: 2" {
		t.Errorf("assert_eq: %q / %q", f.Msg, f.Detail)
	}
	f = e.failure("lab.assert_eq({a = 1, b = {2}}, {a = 1, b = {3}})")
	if f.Msg != "values differ" || f.Detail != "expected: { a = 1, b = { 3 } }\n  actual: { a = 1, b = { 2 } }\ndifferences:\n  b[1]: expected 3, got 2" {
		t.Errorf("assert_eq tables: %q / %q", f.Msg, f.Detail)
	}

	f = e.failure("local c = lab.run('busybox', 'echo hi')\nlab.expect(c):stdout_contains('bye')")
	contains(t, "stdout_contains", f.Msg+"\n"+f.Detail, `expected stdout to contain "bye"`, "stdout:\n  | hi")

	f = e.failure("local c = lab.run('busybox', 'echo hi')\nlab.expect(c):stdout('hello\\n')")
	contains(t, "stdout", f.Msg+"\n"+f.Detail, "stdout differs", "-hello", "+hi")

	f = e.failure("local c = lab.run('busybox', 'echo abc > /f')\nlab.expect(c):file('/f', 'abd\\n')")
	contains(t, "file content", f.Msg+"\n"+f.Detail, "file /f differs", `expected: "abd\n"`, `actual: "abc\n"`)
	f = e.failure("local c = lab.run('busybox', 'true')\nlab.expect(c):file('/missing')")
	contains(t, "file exists", f.Msg+"\n"+f.Detail, "expected file /missing to exist", "no such file")
	f = e.failure("lab.expect(lab.image('busybox')):file('/etc/passwd', 'x')")
	contains(t, "image file", f.Msg+"\n"+f.Detail, "file /etc/passwd differs", `expected: "x"`, "diff (-expected +actual):", "+root:")
	f = e.failure("lab.expect(lab.image('busybox')):no_file('/bin/sh')")
	contains(t, "no_file", f.Msg, "expected no file /bin/sh")

	f = e.failure("local c = lab.run('busybox', 'touch /a')\nlab.expect(c):diff_contains('A /b')")
	contains(t, "diff_contains", f.Msg+"\n"+f.Detail, `expected the diff to contain "A /b"`, "diff:\n  A /a")

	f = e.failure("lab.expect('abc'):matches('^b')")
	contains(t, "matches", f.Msg+"\n"+f.Detail, `expected a match for pattern "^b"`, `actual: "abc"`)
	f = e.failure("lab.expect({1, 2}):contains(3)")
	contains(t, "contains", f.Msg+"\n"+f.Detail, "expected to contain 3", "actual: { 1, 2 }")
	f = e.failure("lab.expect(5):is_nil()")
	contains(t, "is_nil", f.Msg, "expected nil, got 5")
	f = e.failure("lab.expect(nil):truthy()")
	contains(t, "truthy", f.Msg, "expected a true value, got nil")
	f = e.failure("lab.expect('x'):len(2)")
	contains(t, "len", f.Msg, "expected length 2, got 1")
	f = e.failure("lab.expect(function() end):raises()")
	contains(t, "raises", f.Msg, "expected an error, but the function returned normally")
	f = e.failure("lab.expect(function() lab.run('nope') end):raises('nope', 127)")
	contains(t, "raises code", f.Msg+"\n"+f.Detail, "expected error code 127, got 125", "lab.run: no such image: nope:latest")
	f = e.failure("lab.fail('custom reason')")
	if f.Msg != "custom reason" || f.Detail != "" {
		t.Errorf("fail: %+v", f)
	}

	// A failure inside a helper names the helper's line; one in pcall is catchable.
	e.failureAt("local function check(c) lab.expect(c):exit_code(1) end\nlocal ok, err = pcall(check, lab.run('busybox', 'true'))\nassert(not ok and err.where and err.message == 'expected exit code 1, got 0')\ncheck(lab.run('busybox', 'true'))", 1)
}

func TestExpectMisuse(t *testing.T) {
	e := newEnv(t, Options{})
	for src, want := range map[string]string{
		`lab.expect("x"):exit_code(0)`:               "exit_code: subject must be a container, got string",
		`lab.expect(1):file("/x")`:                   "file: subject must be a container or an image, got number",
		`lab.expect(1):contains(1)`:                  "contains: subject must be a string or a table, got number",
		`lab.expect("x"):contains(1)`:                "bad argument #1 to expect:contains (string expected for a string subject, got number)",
		`lab.expect("x").eq(1)`:                      "expectation methods are called with ':'",
		`lab.expect("x"):matches("[")`:               "bad pattern",
		`lab.expect()`:                               "bad argument #1 to lab.expect (value expected)",
		`lab.expect(lab.image("busybox")):has_tag()`: "bad argument #1 to expect:has_tag (string expected, got nil)",
	} {
		f := e.fails(src)
		if !strings.Contains(f.Msg, want) {
			t.Errorf("%s: %q, want %q", src, f.Msg, want)
		}
		if e.L.GetTop() != 0 {
			t.Errorf("%s left %d values on the stack", src, e.L.GetTop())
		}
	}
}

func TestLineDiff(t *testing.T) {
	for _, c := range []struct{ a, b, want string }{
		{"a\nb\nc\n", "a\nB\nc\n", "   a\n  -b\n  +B\n   c"},
		{"a\n", "a", "   a\n  (expected ends with a newline, actual does not)"},
		{"1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n2\n3\n4\nfive\n6\n7\n8\n9\n", "  ...\n   3\n   4\n  -5\n  +five\n   6\n   7\n  ..."},
		{"x \n", "x\n", "  -x·\n  +x"},
		{"", "new\n", "  -\n  +new\n  (actual ends with a newline, expected does not)"},
	} {
		if got := lineDiff(c.a, c.b); got != c.want {
			t.Errorf("lineDiff(%q, %q) =\n%s\nwant\n%s", c.a, c.b, got, c.want)
		}
	}
}
