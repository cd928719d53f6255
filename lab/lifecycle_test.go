package lab_test

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// stop, kill, wait and rm -f of a --rm container from another lab process report the
// container they addressed as Docker does (its name or ID, exit 0; wait its exit
// code), although the container's end removes it at the same moment; the same for a
// --rm container attached to a lab process of its own (the seed's
// `run -it --rm --name my-running-app` stopped from another terminal). The five run
// at once, several rounds: the engine's TestAutoRemoveRace runs the race a hundred
// times in one process; this checks what the CLI prints.
func TestAutoRemoveCLI(t *testing.T) {
	root := newRoot(t)
	rounds := 5
	if testing.Short() {
		rounds = 2
	}
	for round := 0; round < rounds; round++ {
		var wg sync.WaitGroup
		errs := make(chan string, 10)
		check := func(what string, r result, stdout string, code int) {
			if r.stdout != stdout || r.code != code || r.stderr != "" {
				errs <- fmt.Sprintf("%s: got exit %d, stdout %q, stderr %q; want exit %d, stdout %q", what, r.code, r.stdout, r.stderr, code, stdout)
			}
		}
		cases := map[string]func(name string){
			"stop": func(n string) {
				mustRun(t, root, "run", "--rm", "-d", "--name", n, "busybox", "sleep", "100")
				check("stop -t 0", labIn(t, root, "", "stop", "-t", "0", n), n+"\n", 0)
			},
			"kill": func(n string) {
				mustRun(t, root, "run", "--rm", "-d", "--name", n, "busybox", "sleep", "100")
				check("kill", labIn(t, root, "", "kill", n), n+"\n", 0)
			},
			"wait": func(n string) {
				mustRun(t, root, "run", "--rm", "-d", "--name", n, "busybox", "sh", "-c", "sleep 1; exit 3")
				check("wait", labIn(t, root, "", "wait", n), "3\n", 0)
			},
			"rmf": func(n string) {
				id := mustRun(t, root, "run", "--rm", "-d", "busybox", "sleep", "100")
				check("rm -f", labIn(t, root, "", "rm", "-f", strings.TrimSpace(id)), id, 0)
			},
			"attached": func(n string) {
				fg := exec.Command(os.Args[0], "run", "--rm", "--name", n, "busybox", "sleep", "100")
				fg.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root)
				var ferr bytes.Buffer
				fg.Stderr = &ferr
				if err := fg.Start(); err != nil {
					errs <- err.Error()
					return
				}
				for i := 0; i < 500 && !strings.Contains(mustRun(t, root, "ps"), n); i++ {
					time.Sleep(10 * time.Millisecond)
				}
				check("stop of an attached --rm container", labIn(t, root, "", "stop", "-t", "0", n), n+"\n", 0)
				fg.Wait()
				if code := fg.ProcessState.ExitCode(); code != 137 || ferr.Len() > 0 {
					errs <- fmt.Sprintf("the attached run ended with %d, stderr %q; want 137 and nothing", code, ferr.String())
				}
			},
		}
		for verb, fn := range cases {
			wg.Add(1)
			go func() { defer wg.Done(); fn(fmt.Sprintf("%s%d", verb, round)) }()
		}
		wg.Wait()
		close(errs)
		for e := range errs {
			t.Errorf("round %d: %s", round, e)
		}
		if t.Failed() {
			return
		}
	}
	for i := 0; i < 100 && mustRun(t, root, "ps", "-aq") != ""; i++ {
		time.Sleep(20 * time.Millisecond) // the kill case's monitor may still be removing
	}
	if ps := mustRun(t, root, "ps", "-aq"); ps != "" {
		t.Fatalf("--rm containers left: %q", ps)
	}
	if ents, _ := os.ReadDir(filepath.Join(root, "containers")); len(ents) != 0 {
		t.Fatalf("containers/ not empty: %v", ents)
	}
}

// rm -f of a container that does not exist prints the error and exits 0, as
// Docker's client does; the others named are still removed.
func TestRmForceMissing(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "create", "--name", "keep", "busybox", "true")
	r := labIn(t, root, "", "rm", "-f", "keep", "nosuch")
	if r.code != 0 || r.stdout != "keep\n" || !strings.Contains(r.stderr, "no such container: nosuch") {
		t.Fatalf("rm -f keep nosuch: %+v", r)
	}
	if ps := mustRun(t, root, "ps", "-aq"); ps != "" {
		t.Fatalf("keep not removed: %q", ps)
	}
	if r := labIn(t, root, "", "rm", "nosuch"); r.code != 1 || !strings.Contains(r.stderr, "no such container") {
		t.Fatalf("rm without -f of a missing container must fail: %+v", r)
	}
}

// Docker's other spellings: --net for --network, stop --timeout/--time beside -t,
// stop -s/--signal.
func TestDockerSpellings(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "run", "--rm", "--net", "none", "busybox", "true")
	mustRun(t, root, "run", "--rm", "--net=none", "busybox", "true")
	if r := labIn(t, root, "", "run", "--rm", "--net", "host", "busybox", "true"); r.code != 125 || !strings.Contains(r.stderr, `network "host" not supported`) {
		t.Fatalf("--net host: %+v", r)
	}
	// The trap runs only for the signal asked for: TERM or a KILL after the timeout
	// would end it with 143 or 137.
	mustRun(t, root, "run", "-d", "--name", "sig", "busybox", "sh", "-c", `trap "exit 42" USR1; while :; do sleep 0.05; done`)
	if out := mustRun(t, root, "stop", "--signal", "USR1", "--timeout", "60", "sig"); out != "sig\n" {
		t.Fatalf("stop --signal printed %q", out)
	}
	if out := mustRun(t, root, "wait", "sig"); out != "42\n" {
		t.Fatalf("stop --signal USR1 should end the trap with 42, got %q", out)
	}
	mustRun(t, root, "start", "sig")
	mustRun(t, root, "stop", "-s", "SIGUSR1", "-t", "60", "sig")
	if out := mustRun(t, root, "wait", "sig"); out != "42\n" {
		t.Fatalf("stop -s SIGUSR1: %q", out)
	}
	mustRun(t, root, "start", "sig")
	mustRun(t, root, "stop", "--time", "0", "sig")
	if out := mustRun(t, root, "wait", "sig"); out != "137\n" {
		t.Fatalf("stop --time 0 should kill the container at once: %q", out)
	}
	if r := labIn(t, root, "", "stop", "-s", "NOPE", "sig"); r.code != 1 || !strings.Contains(r.stderr, "invalid signal") {
		t.Fatalf("stop -s NOPE: %+v", r)
	}
}

// --log-level and -D print lab's own log lines (what it locks and mounts, timings) on
// stderr; without them lab prints none.
func TestLogLevel(t *testing.T) {
	root := newRoot(t)
	if r := labIn(t, root, "", "run", "--rm", "busybox", "true"); r.code != 0 || r.stderr != "" {
		t.Fatalf("silent by default: %+v", r)
	}
	for _, flags := range [][]string{{"-D"}, {"--debug"}, {"--log-level", "debug"}, {"--log-level=DEBUG"}, {"-l", "debug"}} {
		r := labIn(t, root, "", append(flags, "run", "--rm", "busybox", "echo", "hi")...)
		if r.code != 0 || r.stdout != "hi\n" {
			t.Fatalf("%v: %+v", flags, r)
		}
		for _, want := range []string{"level=DEBUG", `msg="lock container"`, `msg="mount overlay"`, "lower=" + root + "/layers/", `msg="container ended"`, "took="} {
			if !strings.Contains(r.stderr, want) {
				t.Fatalf("%v: no %q in stderr:\n%s", flags, want, r.stderr)
			}
		}
	}
	r := labIn(t, root, "", "--log-level", "info", "run", "--rm", "busybox", "true")
	if r.code != 0 || strings.Contains(r.stderr, "DEBUG") || !strings.Contains(r.stderr, `level=INFO msg="container ended"`) {
		t.Fatalf("--log-level info: %+v", r)
	}
	if r := labIn(t, root, "", "--log-level", "error", "run", "--rm", "busybox", "true"); r.code != 0 || r.stderr != "" {
		t.Fatalf("--log-level error: %+v", r)
	}
	if r := labIn(t, root, "", "--log-level", "loud", "ps"); r.code != 125 || !strings.Contains(r.stderr, "unable to parse logging level: loud") {
		t.Fatalf("bad level: %+v", r)
	}
}
