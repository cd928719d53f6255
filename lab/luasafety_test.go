package lab_test

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
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

// Ctrl-D while a statement runs stops it as Ctrl-C does and the REPL reads on; a
// 200 KB paste (a 14,000-line table, then a 200,000-character line) is run, not
// redrawn character by character.
func TestREPLCtrlDAndPaste(t *testing.T) {
	root := newRoot(t)
	sock := tmuxServer(t)
	tm := startREPL(t, sock, "ctrld", root)

	tm.text(`local t = os.time() while os.time() - t < 30 do end print("not stopped")`)
	tm.keys("Enter")
	time.Sleep(300 * time.Millisecond)
	tm.keys("C-d")
	tm.waitFor("the statement to stop", func(s string) bool { return strings.Contains(s, "interrupted") && tm.atPrompt(s) })
	tm.text("6 * 7")
	tm.keys("Enter")
	tm.waitFor("the REPL to read on", func(s string) bool { return regexp.MustCompile(`(?m)^42$`).MatchString(s) && tm.atPrompt(s) })

	var src strings.Builder
	src.WriteString("t = {\n")
	for i := 0; i < 14000; i++ {
		fmt.Fprintf(&src, "  \"item%06d\",\n", i)
	}
	src.WriteString("}\ns = \"" + strings.Repeat("x", 200000) + "\"\n")
	buf := filepath.Join(t.TempDir(), "paste")
	if err := os.WriteFile(buf, []byte(src.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	tm.tmux("load-buffer", buf)
	tm.tmux("paste-buffer", "-p", "-t", tm.name)
	tm.text(`print("pasted", #t, #s)`)
	tm.keys("Enter")
	deadline := time.Now().Add(90 * time.Second)
	for !strings.Contains(tm.screen(), "pasted\t14000\t200000") && !strings.Contains(tm.screen(), "pasted  14000   200000") {
		if time.Now().After(deadline) {
			t.Fatalf("the paste did not finish; the screen shows:\n%s", tm.screen())
		}
		time.Sleep(100 * time.Millisecond)
	}
	tm.keys("C-d")
	if st := tm.exitStatus(); st != "0" {
		t.Errorf("Ctrl-D: exit status %s", st)
	}
}
