package lab_test

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// A scenario's world is its own: it starts from the images it declares, taken from the
// user's store without changing it, and never sees the user's other images.
func TestScenarioStartsFromDeclaredImagesOnly(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "run", "--name", "src", "busybox", "sh", "-c", "echo extra > /extra")
	mustRun(t, root, "commit", "src", "extra")
	mustRun(t, root, "rm", "src")
	before, _ := os.ReadFile(filepath.Join(root, "index.json"))
	dir := writeScenarios(t, map[string]string{
		"default.lua": `lab.expect(lab.images()):len(1)
assert(lab.image("extra") == nil, "the user's other images are not here")`,
		"declared.lua": `-- A scenario that needs two base images says so.
-- lab: images busybox, extra
lab.expect(lab.images()):len(2)
lab.expect(lab.run("extra", "cat /extra").stdout):eq("extra\n")`,
	})
	r, tmp := labTest(t, root, dir)
	if r.code != 0 || !strings.HasSuffix(r.stdout, "2 passed, 0 failed\n") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	after, _ := os.ReadFile(filepath.Join(root, "index.json"))
	if string(before) != string(after) {
		t.Errorf("lab test changed the user's index.json")
	}
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		t.Errorf("state left in TMPDIR: %v", ents)
	}
	if ps := mustRun(t, root, "ps", "-aq"); ps != "" {
		t.Errorf("containers reached the user's store:\n%s", ps)
	}

	// An image found nowhere fails the scenarios that need it, with a clear reason.
	dir2 := writeScenarios(t, map[string]string{"needs.lua": "-- lab: images nosuch:1\nerror('not reached')\n", "fine.lua": "x = 1\n"})
	r, _ = labTest(t, root, dir2)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL needs: base image nosuch:1: no image nosuch:1 in") || !strings.Contains(r.stdout, "ok   fine") {
		t.Errorf("missing base image: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	// With no store at all, busybox is bootstrapped for the run, not into the user's
	// (absent) store.
	empty := filepath.Join(t.TempDir(), "nostore")
	r, _ = labTest(t, empty, writeScenarios(t, map[string]string{"one.lua": `lab.expect(lab.images()):len(1)`}))
	if r.code != 0 {
		t.Fatalf("no store: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if _, err := os.Stat(empty); !os.IsNotExist(err) {
		t.Errorf("lab test created the user's store at %s", empty)
	}
}

// The file's top level runs once (the setup); setup()/teardown() wrap each case;
// teardown_file() runs at the end; cases defined at run time are found; subdirectories
// are searched; -v shows each case's output.
func TestScenarioFileModel(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{"model.lua": `
print("top level ran")
local calls = {}
function setup() calls[#calls + 1] = "setup" end
function teardown() calls[#calls + 1] = "teardown" end
function TestA() print("in A") end
function TestB() assert(#calls == 3, "A's setup/teardown then B's setup: " .. #calls) end
for i = 1, 2 do _G["TestDyn" .. i] = function() print("dyn " .. i) end end
function teardown_file() print("teardown_file ran") end
`})
	os.MkdirAll(filepath.Join(dir, "sub", "testdata"), 0o755)
	os.WriteFile(filepath.Join(dir, "sub", "deep.lua"), []byte(`x = 1`), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "testdata", "fixture.lua"), []byte(`error("fixtures are not scenarios")`), 0o644)
	r, _ := labTest(t, root, "-v", dir)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := strings.Count(r.stdout, "top level ran"); n != 1 {
		t.Errorf("the top level ran %d times:\n%s", n, r.stdout)
	}
	for _, want := range []string{"ok   model/TestA ", "ok   model/TestB ", "ok   model/TestDyn1 ", "ok   model/TestDyn2 ",
		"=== RUN   model/TestA\nin A\n", "dyn 2", "teardown_file ran", "ok   sub/deep ", "5 passed, 0 failed\n"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "fixture") {
		t.Errorf("testdata/ was searched:\n%s", r.stdout)
	}
}

// CI: --list, --shard, --failfast, --rerun-failed, and a JUnit report that tells
// failures from errors and carries every case's output.
func TestScenarioCIOptions(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{
		"a_pass.lua":    `print("out of a"); io.stderr:write("err of a\n")`,
		"b_assert.lua":  `print("before the check"); assert(1 == 2, "one is not two")`,
		"c_expect.lua":  `lab.expect(lab.run("busybox", "echo hi; echo oops >&2").stdout):eq("ho\n")`,
		"d_runtime.lua": `local t = nil; print("about to fail"); t.x = 1`,
		"e_timeout.lua": `print("waiting"); while true do end`,
		"f_pass.lua":    `x = 1`,
	})
	list := func(args ...string) []string {
		r, _ := labTest(t, root, append(args, dir)...)
		if r.code != 0 {
			t.Fatalf("%v: exit %d %s", args, r.code, r.stderr)
		}
		return strings.Fields(r.stdout)
	}
	if got := list("--list"); strings.Join(got, " ") != "a_pass b_assert c_expect d_runtime e_timeout f_pass" {
		t.Errorf("--list: %v", got)
	}
	s1, s2 := list("--list", "--shard", "1/2"), list("--list", "--shard", "2/2")
	if len(s1)+len(s2) != 6 || strings.Join(s1, " ") != "a_pass c_expect e_timeout" {
		t.Errorf("shards 1/2 %v and 2/2 %v must split the six scenarios", s1, s2)
	}
	if r, _ := labTest(t, root, "--shard", "3/2", dir); r.code != 125 {
		t.Errorf("--shard 3/2: exit %d", r.code)
	}

	junit := filepath.Join(t.TempDir(), "report.xml")
	r, _ := labTest(t, root, "-timeout", "1s", "--junit", junit, dir)
	if r.code != 1 || !strings.HasSuffix(r.stdout, "2 passed, 4 failed\n") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	validJUnit(t, junit)
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Suites   []struct {
			Failures int `xml:"failures,attr"`
			Errors   int `xml:"errors,attr"`
			Cases    []struct {
				Name      string    `xml:"name,attr"`
				Classname string    `xml:"classname,attr"`
				Failure   *struct{} `xml:"failure"`
				Error     *struct{} `xml:"error"`
				Out       string    `xml:"system-out"`
				Err       string    `xml:"system-err"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	b, _ := os.ReadFile(junit)
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit: %v\n%s", err, b)
	}
	if doc.Tests != 6 || doc.Failures != 2 || doc.Errors != 2 || doc.Suites[0].Failures != 2 || doc.Suites[0].Errors != 2 {
		t.Fatalf("junit counts (want 6 tests, 2 failures, 2 errors):\n%s", b)
	}
	kinds := map[string]string{}
	for _, c := range doc.Suites[0].Cases {
		k := "pass"
		if c.Failure != nil {
			k = "failure"
		}
		if c.Error != nil {
			k = "error"
		}
		kinds[c.Name] = k
		if c.Classname != filepath.Join(dir, c.Name) {
			t.Errorf("classname %q, want the file's path without .lua", c.Classname)
		}
		switch c.Name {
		case "a_pass":
			if c.Out != "out of a\nerr of a\n" || c.Err != "err of a\n" {
				t.Errorf("a_pass output: %q / %q", c.Out, c.Err)
			}
		case "c_expect":
			// The container's output is in the report without -v.
			if !strings.Contains(c.Out, "hi\n") || c.Err != "oops\n" {
				t.Errorf("c_expect output: %q / %q", c.Out, c.Err)
			}
		case "b_assert", "d_runtime", "e_timeout":
			if c.Out == "" {
				t.Errorf("%s: a failed case carries its output", c.Name)
			}
		}
	}
	want := map[string]string{"a_pass": "pass", "b_assert": "failure", "c_expect": "failure", "d_runtime": "error", "e_timeout": "error", "f_pass": "pass"}
	for k, v := range want {
		if kinds[k] != v {
			t.Errorf("%s: %s, want %s", k, kinds[k], v)
		}
	}

	// --rerun-failed runs exactly the four that failed.
	r, _ = labTest(t, root, "--list", "--rerun-failed", junit, dir)
	if strings.Join(strings.Fields(r.stdout), " ") != "b_assert c_expect d_runtime e_timeout" {
		t.Errorf("--rerun-failed --list: %q %s", r.stdout, r.stderr)
	}
	// --failfast: nothing starts after the first failure.
	r, _ = labTest(t, root, "--failfast", "-timeout", "1s", dir)
	if r.code != 1 || !strings.HasSuffix(r.stdout, "1 passed, 1 failed\n") || strings.Contains(r.stdout, "c_expect") {
		t.Errorf("--failfast: exit %d\n%s", r.code, r.stdout)
	}
}

// Scenarios find their fixtures beside them wherever lab test starts; helpers can
// report their caller's line; print shows tables; lab.exit ends a scenario.
func TestScenarioFixturesAndHelpers(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{
		"fixtures.lua": `
lab.expect(lab.read_file("testdata/greeting.txt")):eq("hello\n")
local ctx = lab.fixture("app")
lab.expect(ctx:sub(1, 1)):eq("/")
local img = lab.build{context = "testdata/app", tag = "app"}
lab.expect(lab.run("app", "cat /greeting.txt").stdout):eq("hello from the context\n")
print({b = 2, a = {1, 2}})
`,
		"helper.lua": `
local function check_ok(c)
  lab.expect(c.exit_code, {label = "exit code", level = 2}):eq(0)
end
check_ok(lab.run("busybox", "true"))
check_ok(lab.run("busybox", "exit 4")) -- line 6 is reported
`,
		"exits.lua": `lab.exit(0); error("not reached")`,
		"_util.lua": `return {twice = function(x) return 2 * x end}`,
		"requires.lua": `
lab.expect(require("_util").twice(21)):eq(42)
package.path = "/etc/?"
lab.expect(function() require("passwd") end):raises("not found")
lab.expect(function() require("..x") end):raises("does not name a file")`,
		"exits3.lua": `lab.exit(3)`,
	})
	os.MkdirAll(filepath.Join(dir, "testdata", "app"), 0o755)
	os.WriteFile(filepath.Join(dir, "testdata", "greeting.txt"), []byte("hello\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "testdata", "app", "greeting.txt"), []byte("hello from the context\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "testdata", "app", "Dockerfile"), []byte("FROM busybox\nCOPY greeting.txt /\n"), 0o644)
	// Started from elsewhere: relative paths still mean "beside the scenario".
	r, _ := labTest(t, root, "-v", dir)
	for _, want := range []string{
		"ok   fixtures ", "ok   exits ", "ok   requires ",
		"FAIL exits3: " + filepath.Join(dir, "exits3.lua") + ":1: lab.exit(3)",
		"FAIL helper: " + filepath.Join(dir, "helper.lua") + ":6: exit code: values differ",
		"{ a = { 1, 2 }, b = 2 }",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
}

// lab.cases makes one case per element, named and run in order; lab.skip_unless skips
// what the machine cannot do.
func TestScenarioCasesAndSkipUnless(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{
		"params.lua": `
lab.cases("TestExit", {{code = 0}, {code = 3}, {name = "ten", code = 10}}, function(c)
  lab.expect(lab.run("busybox", "exit " .. c.code)):exit_code(c.code)
end)
`,
		"needs_image.lua": `lab.skip_unless{root = true, image = "nosuch:tag"}; error("not reached")`,
		"needs_root.lua":  `lab.skip_unless{root = true, tool = "sh"}; print("ran")`,
		"bad_cond.lua":    `lab.skip_unless{colour = "blue"}`,
	})
	r, _ := labTest(t, root, "-v", dir)
	for _, want := range []string{
		"ok   params/TestExit/1 ", "ok   params/TestExit/2 ", "ok   params/TestExit/ten ",
		"skip needs_image: needs image nosuch:tag", "ok   needs_root", "FAIL bad_cond:",
		"4 passed, 1 failed, 1 skipped",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s%s", want, r.stdout, r.stderr)
		}
	}
	if i, j := strings.Index(r.stdout, "TestExit/2 "), strings.Index(r.stdout, "TestExit/ten "); i < 0 || j < i {
		t.Errorf("cases run in the order they were made:\n%s", r.stdout)
	}
	if r, _ := labTest(t, root, "-run", "TestExit/ten", dir); !strings.Contains(r.stdout, "1 passed, 0 failed") {
		t.Errorf("-run selects one made case:\n%s", r.stdout)
	}
}

// Golden files: -update writes them beside the scenario, a later run compares, and a
// difference shows a diff; lab.scrub keeps ids and times out of them.
func TestScenarioGoldenFiles(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{"gold.lua": `
local c = lab.run("busybox", "echo hello; echo world")
lab.expect(c.stdout):golden("out")
lab.expect(lab.scrub("ran " .. c.id .. " as " .. c.short_id)):golden("ids")
lab.expect({exit = c.exit_code, status = c.status}):golden("state")
`})
	r, _ := labTest(t, root, dir)
	if r.code != 1 || !strings.Contains(r.stdout, "golden file "+filepath.Join(dir, "testdata", "gold", "out.golden")+" does not exist (lab test -update writes it)") {
		t.Fatalf("no golden file yet: exit %d\n%s", r.code, r.stdout)
	}
	if r, _ := labTest(t, root, "-update", dir); r.code != 0 {
		t.Fatalf("-update: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for name, want := range map[string]string{"out": "hello\nworld\n", "ids": "ran <id1> as <id1>", "state": "{ exit = 0, status = \"exited\" }\n"} {
		b, _ := os.ReadFile(filepath.Join(dir, "testdata", "gold", name+".golden"))
		if string(b) != want {
			t.Errorf("%s.golden = %q, want %q", name, b, want)
		}
	}
	if r, _ := labTest(t, root, dir); r.code != 0 {
		t.Fatalf("against the golden files: exit %d\n%s", r.code, r.stdout)
	}
	os.WriteFile(filepath.Join(dir, "testdata", "gold", "out.golden"), []byte("hello\nthere\n"), 0o644)
	r, _ = labTest(t, root, dir)
	if r.code != 1 || !strings.Contains(r.stdout, "output differs from golden file") || !strings.Contains(r.stdout, "-there") || !strings.Contains(r.stdout, "+world") {
		t.Errorf("a changed golden file: exit %d\n%s", r.code, r.stdout)
	}
}

// Inside lab test, container ids, names and hostnames come from the file's seed: two
// runs print the same.
func TestScenarioIDsRepeat(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{"ids.lua": `
local c = lab.run("busybox", "hostname")
print(c.id, c.name, c.stdout)
`})
	r1, _ := labTest(t, root, "-v", dir)
	r2, _ := labTest(t, root, "-v", dir)
	line := func(s string) string {
		for _, l := range strings.Split(s, "\n") {
			if strings.Contains(l, "\t") {
				return l
			}
		}
		return ""
	}
	if r1.code != 0 || line(r1.stdout) != line(r2.stdout) || len(strings.Fields(line(r1.stdout))) != 3 {
		t.Errorf("two runs differ:\n%s\n%s", r1.stdout, r2.stdout)
	}
	if f := strings.Fields(line(r1.stdout)); len(f) == 3 && f[2] != f[0][:12] {
		t.Errorf("hostname %q is not the short id of %q", f[2], f[0])
	}
}

// validJUnit checks a report against the Ant/Jenkins JUnit schema (testdata/junit.xsd)
// with xmllint, which make deps installs.
func validJUnit(t *testing.T, path string) {
	t.Helper()
	xmllint, err := exec.LookPath("xmllint")
	if err != nil {
		t.Skip("xmllint not installed (make deps installs libxml2-utils)")
	}
	out, err := exec.Command(xmllint, "--noout", "--schema", "testdata/junit.xsd", path).CombinedOutput()
	if err != nil {
		b, _ := os.ReadFile(path)
		t.Fatalf("the JUnit report does not validate: %v\n%s\n%s", err, out, b)
	}
}

// -v shows what a script's sessions printed, as it came.
func TestScenarioVerboseShowsSessions(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{"talk.lua": `
local s = lab.spawn("busybox", "/bin/sh")
s:send("echo from-the-session\n")
s:expect("from%-the%-session")
s:close()
s:wait(5)
`})
	r, _ := labTest(t, root, "-v", dir)
	if r.code != 0 || !strings.Contains(r.stdout, "=== RUN   talk\nfrom-the-session\n") {
		t.Errorf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if r, _ := labTest(t, root, dir); strings.Contains(r.stdout, "from-the-session") {
		t.Errorf("without -v the session's output stays out:\n%s", r.stdout)
	}
}
