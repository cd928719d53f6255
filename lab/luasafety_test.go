package lab_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --lua-memory caps a script's and a scenario's state; a bad size is lab's own error.
func TestLuaMemoryFlag(t *testing.T) {
	root := newRoot(t)
	dir := t.TempDir()
	grow := filepath.Join(dir, "grow.lua")
	src := "local s = string.rep('x', 1024 * 1024)\nwhile true do s = s .. s end\n"
	if err := os.WriteFile(grow, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	r := labIn(t, root, "", "--lua-memory", "48m", grow)
	if r.code != 1 || r.stderr != grow+":2: lua memory limit exceeded (48 MiB, --lua-memory)\n" {
		t.Errorf("script over the cap: %+v", r)
	}
	r = labIn(t, root, "", "--lua-memory=lots", grow)
	if r.code != 125 || !strings.Contains(r.stderr, `invalid argument "lots" for "--lua-memory"`) {
		t.Errorf("bad size: %+v", r)
	}
	sdir := writeScenarios(t, map[string]string{"grow.lua": src, "fine.lua": "x = 1\n"})
	r, tmp := labTest(t, root, "--lua-memory", "48m", sdir)
	if r.code != 1 || !strings.Contains(r.stdout, "grow.lua:2: lua memory limit exceeded (48 MiB, --lua-memory)") || !strings.HasSuffix(r.stdout, "1 passed, 1 failed\n") {
		t.Errorf("scenario over the cap: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	assertClean(t, root, tmp)
}

// The scenario timeout stops a pattern whose backtracking would take forever.
func TestScenarioPatternTimeout(t *testing.T) {
	root := newRoot(t)
	dir := writeScenarios(t, map[string]string{
		"pattern.lua": `local s = ("a"):rep(60)` + "\n" + `print(s:find(("a?"):rep(60) .. ("a"):rep(60)))` + "\n",
	})
	r, tmp := labTest(t, root, "-timeout", "2s", dir)
	want := "FAIL pattern: " + filepath.Join(dir, "pattern.lua") + ":2: timed out after 2s\n"
	if r.code != 1 || !strings.Contains(r.stdout, want) {
		t.Errorf("want %q: exit %d\n%s%s", want, r.code, r.stdout, r.stderr)
	}
	assertClean(t, root, tmp)
}
