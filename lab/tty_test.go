package lab_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tmuxSession is a real terminal (tmux) running a shell, for driving `lab run -it` as a
// person would: keys in, screen out.
type tmuxSession struct {
	t    *testing.T
	name string
}

func newTmux(t *testing.T, root string) *tmuxSession {
	t.Helper()
	if _, err := exec.LookPath("tmux"); err != nil {
		t.Skip("tmux not installed (make test installs it)")
	}
	s := &tmuxSession{t: t, name: fmt.Sprintf("labtest%d", time.Now().UnixNano())}
	if out, err := exec.Command("tmux", "new-session", "-d", "-s", s.name, "-x", "100", "-y", "30", "env PS1='host$ ' bash --norc --noprofile").CombinedOutput(); err != nil {
		t.Fatalf("tmux: %v: %s", err, out)
	}
	t.Cleanup(func() {
		exec.Command("tmux", "kill-session", "-t", s.name).Run()
		// The hang-up ends lab and its container; wait for that before the state
		// directory is removed.
		for i := 0; i < 200 && processesUsing(root); i++ {
			time.Sleep(25 * time.Millisecond)
		}
	})
	return s
}

func (s *tmuxSession) send(keys ...string) {
	s.t.Helper()
	if out, err := exec.Command("tmux", append([]string{"send-keys", "-t", s.name}, keys...)...).CombinedOutput(); err != nil {
		s.t.Fatalf("send-keys: %v: %s", err, out)
	}
}

func (s *tmuxSession) screen() string {
	out, _ := exec.Command("tmux", "capture-pane", "-p", "-t", s.name).Output()
	return string(out)
}

// waitFor polls the screen until it shows want (counted n times at least).
func (s *tmuxSession) waitFor(want string, n int) string {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		scr := s.screen()
		if strings.Count(scr, want) >= n {
			return scr
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("screen never showed %q (x%d):\n%s", want, n, scr)
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// waitHostPrompt waits until the host shell's prompt is the last line on screen.
func (s *tmuxSession) waitHostPrompt() {
	s.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		lines := strings.Split(strings.TrimRight(s.screen(), "\n "), "\n")
		if strings.HasSuffix(lines[len(lines)-1], "host$") {
			return
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("no host prompt:\n%s", s.screen())
		}
		time.Sleep(30 * time.Millisecond)
	}
}

// labCommand is the shell command line that runs the CLI (the test binary) on root.
func labCommand(root string) string {
	exe, _ := filepath.Abs(os.Args[0])
	return fmt.Sprintf("LAB_TEST_CLI=1 LAB_ROOT=%s %s", root, exe)
}

// The seed's typed session: a shell in a container on a real terminal.
func TestInteractiveTutorial(t *testing.T) {
	root := newRoot(t)
	s := newTmux(t, root)
	lab := labCommand(root)
	s.send("stty -g > "+root+"/stty.before; clear", "Enter")
	s.send(lab+" run -it --name typed busybox /bin/sh", "Enter")
	s.waitFor("/ #", 1)
	s.send("cat > foo", "Enter")
	time.Sleep(200 * time.Millisecond) // let cat take the terminal, as a person's pause would
	s.send("This is a really important file!!!!", "Enter")
	s.send("C-d")
	s.waitFor("/ #", 2)
	s.send("echo $TERM; stty size", "Enter")
	s.waitFor("30 100", 1)
	exec.Command("tmux", "resize-window", "-t", s.name, "-x", "120", "-y", "40").Run()
	time.Sleep(200 * time.Millisecond)
	s.send("clear; stty size", "Enter")
	s.waitFor("40 120", 1)
	s.send("exit 7", "Enter")
	s.waitHostPrompt() // lab has exited: the typing goes to bash again
	s.send("echo code=$?; stty -g > "+root+"/stty.after", "Enter")
	scr := s.waitFor("code=", 1)
	if !strings.Contains(scr, "code=7") {
		t.Fatalf("lab should exit with the shell's code 7:\n%s", scr)
	}
	sameTerminal(t, root)

	// A second container does not see foo; the first one kept it.
	if out := labIn(t, root, "", "run", "--rm", "busybox", "ls"); strings.Contains(out.stdout, "foo") {
		t.Fatalf("a fresh container sees foo:\n%s", out.stdout)
	}
	mustRun(t, root, "commit", "typed", "ubuntu-foo")
	if out := mustRun(t, root, "run", "--rm", "ubuntu-foo", "cat", "foo"); out != "This is a really important file!!!!\n" {
		t.Fatalf("committed file = %q", out)
	}
	if ps := mustRun(t, root, "ps", "-a"); !strings.Contains(ps, "Exited (7)") {
		t.Fatalf("ps -a:\n%s", ps)
	}
	if logs := mustRun(t, root, "logs", "typed"); !strings.Contains(logs, "cat > foo") {
		t.Fatalf("terminal output should be kept in the log:\n%s", logs)
	}
}

func sameTerminal(t *testing.T, root string) {
	t.Helper()
	var before, after []byte
	for i := 0; i < 100; i++ {
		before, _ = os.ReadFile(root + "/stty.before")
		after, _ = os.ReadFile(root + "/stty.after")
		if len(after) > 0 {
			break
		}
		time.Sleep(30 * time.Millisecond)
	}
	if len(before) == 0 || string(before) != string(after) {
		t.Fatalf("terminal settings changed: before %q after %q", before, after)
	}
}

// Killing the container from outside still gives the user their terminal back.
func TestInteractiveKilledFromOutside(t *testing.T) {
	root := newRoot(t)
	s := newTmux(t, root)
	s.send("stty -g > "+root+"/stty.before; clear", "Enter")
	s.send(labCommand(root)+" run -it --name victim busybox /bin/sh", "Enter")
	s.waitFor("/ #", 1)
	var pid string
	for i := 0; i < 100 && pid == ""; i++ {
		r := labIn(t, root, "", "inspect", "victim")
		if i := strings.Index(r.stdout, `"Pid": `); i >= 0 {
			f := strings.FieldsFunc(r.stdout[i+7:], func(r rune) bool { return r == ',' || r == '\n' })
			if f[0] != "0" {
				pid = f[0]
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if pid == "" {
		t.Fatal("no pid for the running container")
	}
	n, _ := strconv.Atoi(pid)
	if err := syscall.Kill(n, syscall.SIGKILL); err != nil {
		t.Fatalf("kill %s: %v", pid, err)
	}
	s.waitHostPrompt()
	s.send("echo code=$?; stty -g > "+root+"/stty.after", "Enter")
	scr := s.waitFor("code=", 1)
	if !strings.Contains(scr, "code=137") {
		t.Fatalf("a killed container exits 137:\n%s", scr)
	}
	sameTerminal(t, root)
}

func TestTTYRequiresTerminal(t *testing.T) {
	root := newRoot(t)
	r := labIn(t, root, "", "run", "-it", "busybox", "true")
	if r.code != 1 || !strings.Contains(r.stderr, "the input device is not a TTY") {
		t.Fatalf("-it without a terminal: %+v", r)
	}
	// -t alone gives the command a terminal even without one on lab's side.
	if out := mustRun(t, root, "run", "--rm", "-t", "busybox", "tty"); !strings.Contains(out, "/dev/") {
		t.Fatalf("-t: %q", out)
	}
}

// processesUsing reports whether any process has dir in its environment (LAB_ROOT).
func processesUsing(dir string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/environ")
		if err == nil && strings.Contains(string(b), dir) {
			return true
		}
	}
	return false
}
