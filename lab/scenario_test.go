package lab_test

import (
	"encoding/xml"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// writeScenarios writes name -> source files into a fresh directory and returns it.
func writeScenarios(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// labTest runs `lab test` as its own process with its own TMPDIR, so the test can check
// that every scenario's state directory is gone afterwards.
func labTest(t *testing.T, root string, args ...string) (result, string) {
	t.Helper()
	tmp := t.TempDir()
	cmd := exec.Command(os.Args[0], append([]string{"test"}, args...)...)
	cmd.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root, "TMPDIR="+tmp)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("lab test: %v", err)
	}
	return result{out.String(), errb.String(), code}, tmp
}

// assertClean checks what a `lab test` run must leave behind: no scenario state dirs in
// its TMPDIR, nothing mounted there, no container and no new image in the base store.
func assertClean(t *testing.T, root, tmp string) {
	t.Helper()
	if ents, _ := os.ReadDir(tmp); len(ents) != 0 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Errorf("scenario state left in TMPDIR: %v", names)
	}
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), tmp) {
		t.Errorf("mounts left under %s", tmp)
	}
	if ps := mustRun(t, root, "ps", "-aq"); ps != "" {
		t.Errorf("containers reached the base store:\n%s", ps)
	}
	imgs := strings.Split(strings.TrimSpace(mustRun(t, root, "images")), "\n")
	if len(imgs) != 2 || !strings.HasPrefix(imgs[1], "busybox ") {
		t.Errorf("images reached the base store:\n%s", strings.Join(imgs, "\n"))
	}
}

var lastLine = regexp.MustCompile(`(?m)^\d+ passed, \d+ failed(, \d+ skipped)?\n\z`)

func TestScenarioIsolationAndCases(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{
		// Each makes a container and an image, then checks it sees only its own.
		"a_make.lua": `
local c = lab.run("busybox", "echo made > /made", {name = "keeper"})
c:commit("made-here")
assert(#lab.ps{all = true} == 1, "a sees only its container")
print("name " .. lab.run("busybox", "true").name)
`,
		"b_fresh.lua": `
assert(#lab.ps{all = true} == 0, "containers of a leaked into b: " .. #lab.ps{all = true})
assert(lab.image("made-here") == nil, "image of a leaked into b")
assert(lab.image("busybox") ~= nil, "base images are there")
lab.run("busybox", "true", {name = "keeper"}) -- a's name is free here
-- Deleting a base image in a scenario deletes it from that scenario only.
lab.rm("keeper")
lab.rmi("busybox")
assert(lab.image("busybox") == nil)
`,
		// The top level is the setup and runs once; each case starts from the state it
		// left (a case's own containers and images are removed after it).
		"c_cases.lua": `
local made = lab.run("busybox", "true")
function TestOne()
  assert(#lab.ps{all = true} == 1)
  lab.run("busybox", "true", {name = "one"})
end
TestTwo = function()
  assert(#lab.ps{all = true} == 1, "TestOne's container is not here")
  assert(lab.container("one") == nil)
end
local function TestHelperNotACase() error("not a case") end
`,
		"d_skip.lua": `lab.skip("needs a network")
error("not reached")
`,
	})
	r, tmp := labTest(t, root, "-v", dir)
	if r.code != 0 {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"=== RUN   a_make\nname ",
		"\nok   a_make        ",
		"\nok   b_fresh       ",
		"\nok   c_cases/TestOne ",
		"\nok   c_cases/TestTwo ",
		"\nskip d_skip: needs a network\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.HasSuffix(r.stdout, "\n4 passed, 0 failed, 1 skipped\n") || !lastLine.MatchString(r.stdout) {
		t.Errorf("last line:\n%s", r.stdout)
	}
	assertClean(t, root, tmp)

	// Generated names come from the scenario's name: a second run prints the same one.
	name := regexp.MustCompile(`name (\S+)`).FindString(r.stdout)
	r2, tmp2 := labTest(t, root, "-v", "-run", "^a_make$", dir)
	if got := regexp.MustCompile(`name (\S+)`).FindString(r2.stdout); name == "" || got != name {
		t.Errorf("generated name changed between runs: %q then %q", name, got)
	}
	if !strings.HasSuffix(r2.stdout, "\n1 passed, 0 failed\n") {
		t.Errorf("-run ^a_make$ should run one scenario:\n%s", r2.stdout)
	}
	assertClean(t, root, tmp2)

	// -run picks a single case (Go-style and pflag-style flags both work).
	r3, tmp3 := labTest(t, root, "--run", "TestTwo", dir)
	if r3.code != 0 || r3.stdout != "ok   c_cases/TestTwo   "+strings.Fields(r3.stdout)[2]+"\n1 passed, 0 failed\n" {
		t.Errorf("-run TestTwo:\n%s%s", r3.stdout, r3.stderr)
	}
	assertClean(t, root, tmp3)
}

func TestScenarioFailureReportAndCleanup(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{
		"bad_output.lua": `local c = lab.run("busybox", "echo line-one; echo line-two; echo oops >&2; exit 3", {name = "bad"})
lab.run("busybox", "sleep 0")
lab.assert_eq(c.stdout, "expected\n")
`,
		"good.lua": `assert(lab.run("busybox", "true").exit_code == 0)`,
	})
	junit := filepath.Join(t.TempDir(), "report.xml")
	r, tmp := labTest(t, root, "-j", "2", "--junit", junit, dir)
	if r.code != 1 {
		t.Fatalf("a failing scenario must exit 1, got %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	lines := strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n")
	if !strings.HasPrefix(lines[0], "FAIL bad_output: "+filepath.Join(dir, "bad_output.lua")+":3: ") {
		t.Errorf("first line should be FAIL with file:line:\n%s", r.stdout)
	}
	detail := strings.Join(lines[1:], "\n")
	for _, want := range []string{"expected", "line-one", "line-two", "oops"} {
		if !strings.Contains(detail, want) {
			t.Errorf("detail lacks %q (expected vs actual and the container's output tail):\n%s", want, r.stdout)
		}
	}
	for _, l := range lines[1 : len(lines)-2] {
		if !strings.HasPrefix(l, "    ") {
			t.Errorf("detail line not indented: %q", l)
		}
	}
	if !strings.HasPrefix(lines[len(lines)-2], "ok   good") || lines[len(lines)-1] != "1 passed, 1 failed" {
		t.Errorf("with -j 2 results still print in order, then the summary:\n%s", r.stdout)
	}
	assertClean(t, root, tmp)

	// The JUnit report says the same.
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string `xml:"name,attr"`
				Time    string `xml:"time,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("junit does not parse: %v\n%s", err, b)
	}
	if doc.Tests != 2 || doc.Failures != 1 || len(doc.Suites) != 1 || len(doc.Suites[0].Cases) != 2 {
		t.Fatalf("junit counts:\n%s", b)
	}
	bad, good := doc.Suites[0].Cases[0], doc.Suites[0].Cases[1]
	if bad.Name != "bad_output" || bad.Failure == nil || !strings.Contains(bad.Failure.Message, "bad_output.lua:3") || !strings.Contains(bad.Failure.Text, "line-two") {
		t.Errorf("junit failure: %+v", bad)
	}
	if good.Name != "good" || good.Failure != nil || good.Time == "" {
		t.Errorf("junit pass: %+v", good)
	}
}

func TestScenarioTimeout(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{
		"hang_container.lua": `lab.run("busybox", "sleep 1000", {name = "hung"})`,
		"hang_lua.lua":       "local n = 0\nwhile true do n = n + 1 end\n",
	})
	start := time.Now()
	r, tmp := labTest(t, root, "-timeout", "2s", "-j", "2", dir)
	took := time.Since(start)
	if r.code != 1 || !strings.HasSuffix(r.stdout, "\n0 passed, 2 failed\n") {
		t.Fatalf("exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	for _, want := range []string{
		"FAIL hang_container: " + filepath.Join(dir, "hang_container.lua") + ":1: timed out after 2s\n",
		"FAIL hang_lua: " + filepath.Join(dir, "hang_lua.lua") + ":2: timed out after 2s\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s", want, r.stdout)
		}
	}
	if took > 6*time.Second {
		t.Errorf("two 2s timeouts in parallel took %s", took)
	}
	if pids := processesRunning("sleep", "1000"); len(pids) > 0 {
		t.Errorf("the hung container's process survived: %v", pids)
	}
	assertClean(t, root, tmp)
}

func TestScenarioExitCodes(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{"syntax.lua": "x = = 1\n", "ok.lua": "x = 1\n"})
	r, tmp := labTest(t, root, dir)
	if r.code != 1 || !strings.Contains(r.stdout, "FAIL syntax: ") || !strings.Contains(r.stdout, "syntax.lua") || !strings.HasSuffix(r.stdout, "1 passed, 1 failed\n") {
		t.Errorf("a syntax error fails its scenario only: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	assertClean(t, root, tmp)
	// As go test warns: a -run that matches nothing is a mistake, not a pass.
	if r, _ := labTest(t, root, "-run", "nothing-matches", dir); r.code != 1 || r.stdout != "0 passed, 0 failed\n" || !strings.Contains(r.stderr, "no scenario matches") {
		t.Errorf("no scenario selected: exit %d %q %q", r.code, r.stdout, r.stderr)
	}
	if r, _ := labTest(t, root, "--bogus"); r.code != 125 {
		t.Errorf("bad flag: exit %d %q", r.code, r.stderr)
	}
	if r, _ := labTest(t, root, "-run", "(", dir); r.code != 125 || !strings.Contains(r.stderr, "invalid -run") {
		t.Errorf("bad -run: exit %d %q", r.code, r.stderr)
	}
	if r, _ := labTest(t, root, filepath.Join(dir, "missing")); r.code != 1 || !strings.Contains(r.stderr, "missing") {
		t.Errorf("missing path: exit %d %q", r.code, r.stderr)
	}
}

// processesRunning lists pids whose command line is exactly args.
func processesRunning(args ...string) []string {
	want := strings.Join(args, "\x00") + "\x00"
	var pids []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && string(b) == want {
			pids = append(pids, e.Name())
		}
	}
	return pids
}
