package lab_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestScriptArgsAndExitCodes(t *testing.T) {
	root := newRoot(t)
	dir := t.TempDir()
	write := func(name, src string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	args := write("args.lua", "#!/usr/bin/env lab\nprint(arg[0], arg[1], arg[2], #arg, select('#', ...), ...)\n")
	r := labIn(t, root, "", args, "one", "two words")
	if r.code != 0 || r.stdout != args+"\tone\ttwo words\t2\t2\tone\ttwo words\n" {
		t.Errorf("arg table: %+v", r)
	}

	run := write("run.lua", `local c = lab.run("busybox", {"/bin/sh", "-c", "echo hi"})
print(c.exit_code, c.stdout)`)
	if r := labIn(t, root, "", run); r.code != 0 || !strings.HasSuffix(r.stdout, "0\thi\n\n") {
		t.Errorf("script on the user's store: %+v", r)
	}

	boom := write("boom.lua", "local x = 1\nerror('boom')\n")
	if r := labIn(t, root, "", boom); r.code != 1 || r.stderr != boom+":2: boom\n" {
		t.Errorf("error: %+v", r)
	}

	assertion := write("assert.lua", "\n\nlab.assert_eq(1 + 1, 3)\n")
	r = labIn(t, root, "", assertion)
	if r.code != 1 || !strings.HasPrefix(r.stderr, assertion+":3: ") || !strings.Contains(r.stderr, "\n    ") || !strings.Contains(r.stderr, "3") {
		t.Errorf("failed assertion: want file:line and indented expected/actual: %+v", r)
	}

	syntax := write("syntax.lua", "x = = 1\n")
	if r := labIn(t, root, "", syntax); r.code != 1 || !strings.Contains(r.stderr, "syntax.lua") {
		t.Errorf("syntax error: %+v", r)
	}

	code := write("code.lua", `local ok, err = pcall(lab.run, "nosuchimage", "true")
assert(not ok and err.code == 125, tostring(err))
print(err.code)`)
	if r := labIn(t, root, "", code); r.code != 0 || r.stdout != "125\n" {
		t.Errorf("pcall and err.code: %+v", r)
	}

	if r := labIn(t, root, "", filepath.Join(dir, "missing.lua")); r.code != 1 || !strings.Contains(r.stderr, "missing.lua: no such file") {
		t.Errorf("missing file: %+v", r)
	}

	// From stdin: `lab -` and `lab` with stdin not a terminal.
	for _, argv := range [][]string{{"-"}, nil} {
		r := labIn(t, root, "print('from stdin', arg[0])\nerror('second line')", argv...)
		if r.code != 1 || r.stdout != "from stdin\t-\n" || r.stderr != "stdin:2: second line\n" {
			t.Errorf("lab %v with a script on stdin: %+v", argv, r)
		}
	}
}

// Ctrl-C (SIGINT) cancels the script's context: the running container dies and lab
// exits 130 at once.
func TestScriptInterrupt(t *testing.T) {
	root := newRoot(t)
	script := filepath.Join(t.TempDir(), "hang.lua")
	os.WriteFile(script, []byte(`print("started") lab.run("busybox", "echo running; sleep 100")`), 0o644)
	cmd := exec.Command(os.Args[0], script)
	cmd.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root)
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	deadline := time.Now().Add(10 * time.Second)
	for mustRun(t, root, "ps", "-q") == "" || !strings.Contains(out.String(), "running") {
		if time.Now().After(deadline) {
			t.Fatalf("the container never showed as running; output: %s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	cmd.Process.Signal(syscall.SIGINT)
	err := cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 {
		t.Errorf("want exit 130 after SIGINT, got %v; output: %s", err, out.String())
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("exit took %s after SIGINT", took)
	}
	if ps := mustRun(t, root, "ps", "-q"); ps != "" {
		t.Errorf("a container is still running: %s", ps)
	}
}

// syncBuffer is an output buffer the test reads while the process still writes it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
