package lab_test

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// term drives one REPL in a real terminal: a tmux pane on a private tmux server.
type term struct {
	t      *testing.T
	sock   string
	name   string
	rcFile string
}

func tmuxServer(t *testing.T) string {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (make test installs it)")
	}
	// A short path: unix socket names are limited to 108 bytes.
	dir, err := os.MkdirTemp("", "labtmux")
	if err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(dir, "s")
	t.Cleanup(func() {
		exec.Command("tmux", "-S", sock, "kill-server").Run()
		os.RemoveAll(dir)
	})
	return sock
}

// startREPL runs `lab` with no arguments in a new pane, stdin being the pane's terminal.
func startREPL(t *testing.T, sock, name, root string, extra ...string) *term {
	t.Helper()
	// A shell in between records the exit status: tmux sometimes misses a pane's
	// SIGCHLD, leaving its process a zombie and the pane alive. The shell ignores
	// SIGINT and SIGQUIT, so Ctrl-C (and Ctrl-D while a statement runs) only reach lab.
	rc := filepath.Join(t.TempDir(), "rc")
	args := []string{"-S", sock, "-f", "/dev/null", "new-session", "-d", "-s", name, "-x", "150", "-y", "50",
		"sh", "-c", `trap "" INT QUIT; rc=$1; shift; "$@"; echo $? > "$rc"; sleep 60`, "sh", rc,
		"env", "LAB_TEST_CLI=1", "LAB_ROOT=" + root, os.Args[0]}
	args = append(args, extra...)
	if out, err := exec.Command("tmux", args...).CombinedOutput(); err != nil {
		t.Fatalf("tmux new-session: %v: %s", err, out)
	}
	tm := &term{t: t, sock: sock, name: name, rcFile: rc}
	tm.waitFor("the prompt", func(s string) bool { return tm.atPrompt(s) })
	return tm
}

func (tm *term) tmux(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.sock}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// keys sends tmux key names (Enter, Tab, C-c, Up); text sends literal text.
func (tm *term) keys(k ...string) { tm.tmux(append([]string{"send-keys", "-t", tm.name}, k...)...) }
func (tm *term) text(s string)    { tm.tmux("send-keys", "-t", tm.name, "-l", s) }
func (tm *term) screen() string   { return tm.tmux("capture-pane", "-p", "-t", tm.name) }

// atPrompt reports whether the last non-empty line of the screen is an empty prompt.
func (tm *term) atPrompt(s string) bool {
	lines := strings.Split(strings.TrimRight(s, "\n "), "\n")
	return strings.TrimSpace(lines[len(lines)-1]) == "lab>"
}

func (tm *term) waitFor(what string, ok func(string) bool) string {
	tm.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		s := tm.screen()
		if ok(s) {
			return s
		}
		if time.Now().After(deadline) {
			tm.t.Fatalf("waiting for %s; the screen shows:\n%s", what, s)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// exitStatus waits for the REPL to exit and returns its status.
func (tm *term) exitStatus() string {
	tm.t.Helper()
	var st []byte
	tm.waitFor("the REPL to exit", func(string) bool {
		var err error
		st, err = os.ReadFile(tm.rcFile)
		return err == nil && len(st) > 0
	})
	return strings.TrimSpace(string(st))
}

func TestREPL(t *testing.T) {
	root := newRoot(t)
	sock := tmuxServer(t)
	tm := startREPL(t, sock, "one", root)

	// Tab completion of lab.r lists run, rm, rmi.
	tm.text("lab.r")
	tm.keys("Tab")
	tm.waitFor("completions of lab.r", func(s string) bool {
		return strings.Contains(s, "lab.run") && strings.Contains(s, "lab.rmi") && regexp.MustCompile(`lab\.rm\s`).MatchString(s)
	})
	// Ctrl-C first closes the list (as readline does), then drops the line.
	tm.keys("C-c")
	tm.waitFor("the list to close", func(s string) bool { return !strings.Contains(s, "lab.rmi") })
	tm.keys("C-c")
	tm.waitFor("a prompt after Ctrl-C", tm.atPrompt)
	tm.text("lab.boots")
	tm.keys("Tab")
	tm.waitFor("lab.bootstrap completed", func(s string) bool { return strings.Contains(s, "lab> lab.bootstrap") })
	tm.keys("C-c")
	tm.waitFor("a prompt after Ctrl-C", tm.atPrompt)

	// An expression's value is printed; an error is printed and the REPL stays.
	tm.text("20 + 22")
	tm.keys("Enter")
	tm.waitFor("the value 42", func(s string) bool { return regexp.MustCompile(`(?m)^42$`).MatchString(s) && tm.atPrompt(s) })
	tm.text("error('oops')")
	tm.keys("Enter")
	tm.waitFor("the error", func(s string) bool { return strings.Contains(s, "stdin:1: oops") && tm.atPrompt(s) })
	tm.text(`lab.image("busybox").tags[1]`)
	tm.keys("Enter")
	tm.waitFor("busybox's tag", func(s string) bool { return strings.Contains(s, "busybox:latest") && tm.atPrompt(s) })

	// Multi-line input: an incomplete chunk asks for more with >>.
	tm.text("for i=1,2 do")
	tm.keys("Enter")
	tm.waitFor("the continuation prompt", func(s string) bool { return strings.HasSuffix(strings.TrimRight(s, "\n "), ">>") })
	tm.text("print(i*10)")
	tm.keys("Enter")
	tm.text("end")
	tm.keys("Enter")
	tm.waitFor("the loop's output", func(s string) bool { return strings.Contains(s, "\n10\n20\n") && tm.atPrompt(s) })

	// Ctrl-C stops a running container and returns to the prompt.
	tm.text(`lab.run("busybox", "echo started; sleep 100")`)
	tm.keys("Enter")
	tm.waitFor("the container to start", func(s string) bool { return regexp.MustCompile(`(?m)^started$`).MatchString(s) })
	start := time.Now()
	tm.keys("C-c")
	tm.waitFor("a prompt after interrupting", func(s string) bool { return strings.Contains(s, "interrupted") && tm.atPrompt(s) })
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("Ctrl-C took %s to return to the prompt", took)
	}
	if ps := mustRun(t, root, "ps", "-q"); ps != "" {
		t.Errorf("a container is still running after Ctrl-C: %s", ps)
	}
	// The pid namespace's teardown may still be finishing on a loaded machine: give it
	// a moment, but a container process that outlives that is a leak.
	pids := processesRunning("sleep", "100")
	for i := 0; i < 100 && len(pids) > 0; i++ {
		time.Sleep(20 * time.Millisecond)
		pids = processesRunning("sleep", "100")
	}
	if len(pids) > 0 {
		t.Errorf("sleep 100 survived Ctrl-C: %v", pids)
	}

	tm.text(`print("hist" .. "-marker")`)
	tm.keys("Enter")
	tm.waitFor("the marker", func(s string) bool { return regexp.MustCompile(`(?m)^hist-marker$`).MatchString(s) && tm.atPrompt(s) })
	tm.keys("C-d")
	if st := tm.exitStatus(); st != "0" {
		t.Errorf("Ctrl-D: exit status %s", st)
	}

	// A second session recalls the first one's history with the up arrow.
	tm2 := startREPL(t, sock, "two", root)
	tm2.keys("Up")
	tm2.waitFor("the last line of the first session", func(s string) bool { return strings.Contains(s, `lab> print("hist" .. "-marker")`) })
	tm2.keys("Enter")
	tm2.waitFor("the recalled line's output", func(s string) bool { return regexp.MustCompile(`(?m)^hist-marker$`).MatchString(s) && tm2.atPrompt(s) })
	tm2.keys("C-d")
	if st := tm2.exitStatus(); st != "0" {
		t.Errorf("Ctrl-D: exit status %s", st)
	}
	if _, err := os.Stat(filepath.Join(root, "repl_history")); err != nil {
		t.Errorf("history file: %v", err)
	}
}

// What a person exploring in the REPL reaches for: completion that knows what a
// variable holds, _, help(), sessions that print as such, whole statements in the
// history, exit(code).
func TestREPLTools(t *testing.T) {
	root := newRoot(t)
	sock := tmuxServer(t)
	tm := startREPL(t, sock, "tools", root)

	tm.text(`c = lab.run("busybox", "true")`)
	tm.keys("Enter")
	tm.waitFor("the run", tm.atPrompt)
	tm.text("c:comm")
	tm.keys("Tab")
	tm.waitFor("c:commit completed", func(s string) bool { return strings.Contains(s, "lab> c:commit") })
	tm.keys("C-c")
	tm.waitFor("a prompt", tm.atPrompt)
	tm.text("c.exit_")
	tm.keys("Tab")
	tm.waitFor("c.exit_code completed", func(s string) bool { return strings.Contains(s, "lab> c.exit_code") })
	tm.keys("Enter")
	tm.waitFor("the exit code", func(s string) bool { return regexp.MustCompile(`(?m)^0$`).MatchString(s) && tm.atPrompt(s) })
	tm.text("myvar = 6 * 7")
	tm.keys("Enter")
	tm.text("myv")
	tm.keys("Tab")
	tm.waitFor("a global completed", func(s string) bool { return strings.Contains(s, "lab> myvar") })
	tm.keys("Enter")
	tm.text("_ + 1")
	tm.keys("Enter")
	tm.waitFor("_ + 1", func(s string) bool { return regexp.MustCompile(`(?m)^43$`).MatchString(s) && tm.atPrompt(s) })

	tm.text("help(lab.run)")
	tm.keys("Enter")
	tm.waitFor("help", func(s string) bool {
		return strings.Contains(s, "lab.run(image, cmd, opts) -> Container") && tm.atPrompt(s)
	})
	tm.text(`s = lab.spawn("busybox", "cat")`)
	tm.keys("Enter")
	tm.text("s")
	tm.keys("Enter")
	tm.waitFor("the session", func(s string) bool {
		return strings.Contains(s, "<session ") && strings.Contains(s, "running") && tm.atPrompt(s)
	})
	tm.text("s:kill()")
	tm.keys("Enter")

	tm.text("for i = 1, 2 do")
	tm.keys("Enter")
	tm.text("print(i * 100)")
	tm.keys("Enter")
	tm.text("end")
	tm.keys("Enter")
	tm.waitFor("the loop", func(s string) bool { return strings.Contains(s, "\n100\n200\n") && tm.atPrompt(s) })
	tm.keys("Up")
	tm.waitFor("the whole loop from the history", func(s string) bool { return strings.Contains(s, "lab> for i = 1, 2 do print(i * 100) end") })
	tm.keys("C-c")
	tm.waitFor("a prompt", tm.atPrompt)
	tm.text("exit(3)")
	tm.keys("Enter")
	if st := tm.exitStatus(); st != "3" {
		t.Errorf("exit(3): exit status %s", st)
	}
}

// lab record: explore once in the REPL, get a scenario that replays green.
func TestRecordReplays(t *testing.T) {
	root := newRoot(t)
	sock := tmuxServer(t)
	file := filepath.Join(t.TempDir(), "explored.lua")
	tm := startREPL(t, sock, "rec", root, "record", file)
	for _, line := range []string{
		`c = lab.run("busybox", "echo hello; echo bye >&2")`,
		`c`,
		`c.stdout`,
		`c.exit_code + 1`,
		`c.id`,
		`{a = 1, b = {"x"}}`,
		`lab.image("busybox")`,
		`lab.run("nope")`,
	} {
		tm.text(line)
		tm.keys("Enter")
		tm.waitFor(line, func(s string) bool { return strings.Contains(s, line) && tm.atPrompt(s) })
	}
	tm.text("exit()")
	tm.keys("Enter")
	if st := tm.exitStatus(); st != "0" {
		t.Fatalf("exit status %s", st)
	}
	src, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		`c = lab.run("busybox", "echo hello; echo bye >&2")`,
		`lab.expect(_):status("exited"):exit_code(0):stdout("hello\n")`,
		`lab.expect(_):eq("hello\n")`,
		`lab.expect(_):eq(1)`,
		`lab.expect(lab.scrub(_)):eq("<id1>")`,
		`lab.expect(_):eq({a = 1, b = {"x"}})`,
		`lab.expect(_):has_tag("busybox:latest")`,
		`end):raises("lab.run: `,
	} {
		if !strings.Contains(string(src), want) {
			t.Errorf("recording lacks %q:\n%s", want, src)
		}
	}
	if r, _ := labTest(t, root, file); r.code != 0 {
		t.Errorf("the recording does not replay: exit %d\n%s%s\n%s", r.code, r.stdout, r.stderr, src)
	}
}
