package lab_test

import (
	"fmt"
	"os"
	"os/exec"
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

// Bad input is one clear error line with lab's own exit code, never its whole input;
// a closed output pipe ends lab quietly; waiting on a removed container is an error.
func TestBadInputErrors(t *testing.T) {
	root := newRoot(t)
	long := strings.Repeat("a", 300)
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"run", "--rm", "-e", "=x", "busybox", "true"}, "lab run: invalid environment variable: =x\n"},
		{[]string{"run", "--rm", "--user", "-5", "busybox", "id"}, "lab run: uids and gids must be in range 0-2147483647\n"},
		{[]string{"run", "--rm", "--user", "0:4294967296", "busybox", "id"}, "lab run: uids and gids must be in range 0-2147483647\n"},
		{[]string{"run", "--rm", "--name", long, "busybox", "true"}, "lab run: invalid container name (" + long[:40] + "...): must not be more than 255 characters\n"},
		{[]string{"run", "--rm", long, "true"}, "lab run: repository name must not be more than 255 characters\n"},
	} {
		r := labIn(t, root, "", c.args...)
		if r.code != 125 || r.stderr != c.want {
			t.Errorf("lab %.60s: want 125 and %q, got %+v", strings.Join(c.args, " "), c.want, r)
		}
	}
	huge := strings.Repeat("A", 100000)
	r := labIn(t, root, "", "run", huge)
	if r.code != 125 || len(r.stderr) > 2048 || !strings.Contains(r.stderr, "bytes cut]") {
		t.Errorf("a 100 KB argument: exit %d, %d bytes of error", r.code, len(r.stderr))
	}
	if ps := mustRun(t, root, "ps", "-aq"); ps != "" {
		t.Errorf("refused runs left containers: %s", ps)
	}

	// lab ps | head -0: the reader is gone before lab writes.
	mustRun(t, root, "run", "busybox", "true")
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	pr.Close()
	ps := exec.Command(os.Args[0], "ps", "-a")
	ps.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root)
	var stderr strings.Builder
	ps.Stdout, ps.Stderr = pw, &stderr
	err = ps.Run()
	pw.Close()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 141 || stderr.String() != "" {
		t.Errorf("ps into a closed pipe: %v, stderr %q", err, stderr.String())
	}

	wait := filepath.Join(t.TempDir(), "wait.lua")
	os.WriteFile(wait, []byte(`local c = lab.run("busybox", "true"); c:rm()
local ok, err = pcall(c.wait, c)
assert(not ok and tostring(err):find("container:wait: no such container", 1, true), tostring(err))`), 0o644)
	if r := labIn(t, root, "", wait); r.code != 0 {
		t.Errorf("c:wait() on a removed container: %+v", r)
	}
}

// On a full disk a container's exit code is still recorded and printed, and a build's
// RUN step that fills the disk reports its command's failure.
func TestFullDisk(t *testing.T) {
	needRoot(t)
	root := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=8m", "tmpfs", root).CombinedOutput(); err != nil {
		t.Fatalf("mount tmpfs: %v: %s", err, out)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", root).CombinedOutput(); err != nil {
			t.Errorf("umount: %v: %s", err, out)
		}
	})
	if r := labIn(t, root, "", "bootstrap", "busybox"); r.code != 0 {
		if strings.Contains(r.stderr, "busybox-static") {
			t.Skip("no static busybox on this host (make test installs busybox-static)")
		}
		t.Fatalf("bootstrap: %+v", r)
	}
	r := labIn(t, root, "", "run", "--name", "filler", "busybox", "sh", "-c", "dd if=/dev/zero of=/big bs=1M count=20 2>/dev/null; exit 3")
	if r.code != 3 {
		t.Errorf("run on a full disk: want exit 3, got %+v", r)
	}
	if ps := mustRun(t, root, "ps", "-a"); !strings.Contains(ps, "Exited (3)") {
		t.Errorf("the record does not say exit 3:\n%s", ps)
	}
	mustRun(t, root, "rm", "filler")

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN dd if=/dev/zero of=/big bs=1M count=20\n"), 0o644)
	r = labIn(t, root, "", "build", "-t", "full", dir)
	if r.code != 1 || !strings.Contains(r.stderr, "returned a non-zero code: 1") {
		t.Errorf("build on a full disk: %+v", r)
	}
	mustRun(t, root, "container", "prune", "-f")
}
