package lab_test

import (
	"strings"
	"testing"
	"time"
)

// Exit codes of the client as Docker 28's: usage errors and failed starts exit 1, a
// forced rmi of a missing image 0; stop -s sends its own signal first.
func TestClientExitCodes(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "create", "--name", "made", "busybox", "true")
	cases := []struct {
		args           []string
		code           int
		stdout, stderr string
	}{
		{[]string{"start", "nope", "made", "nope2"}, 1, "made\n", "lab start: no such container: nope\nlab start: no such container: nope2\nError: failed to start containers: nope, nope2\n"},
		{[]string{"rmi", "-f", "nope"}, 0, "", "no such image: nope:latest"},
		{[]string{"rmi", "nope"}, 1, "", "no such image: nope:latest"},
		{[]string{"ps", "extra"}, 1, "", "\"lab ps\" requires exactly 0 arguments."},
		{[]string{"run"}, 1, "", "\"lab run\" requires at least 1 argument."},
		{[]string{"nosuch"}, 1, "", "lab: unknown command: lab nosuch\n"},
		{[]string{"stop", "-s", "BOGUS", "made"}, 1, "", "lab stop: invalid signal: BOGUS\n"},
		{[]string{"ps", "--bogus"}, 125, "", "unknown flag: --bogus"},
	}
	for _, tc := range cases {
		r := labIn(t, root, "", tc.args...)
		if r.code != tc.code || r.stdout != tc.stdout || !strings.Contains(r.stderr, tc.stderr) {
			t.Errorf("lab %v: exit %d stdout %q stderr %q; want exit %d, %q, %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.stdout, tc.stderr)
		}
	}

	mustRun(t, root, "run", "-d", "--name", "trap", "busybox", "sh", "-c", `trap "exit 7" USR1; echo ready; while :; do sleep 0.1; done`)
	t.Cleanup(func() { labIn(t, root, "", "rm", "-f", "trap") })
	for i := 0; i < 100 && !strings.Contains(mustRun(t, root, "logs", "trap"), "ready"); i++ {
		time.Sleep(50 * time.Millisecond)
	}
	if out := mustRun(t, root, "stop", "-s", "USR1", "-t", "30", "trap"); out != "trap\n" {
		t.Errorf("stop -s: %q", out)
	}
	if got := mustRun(t, root, "inspect", "-f", "{{.State.ExitCode}}", "trap"); got != "7\n" {
		t.Errorf("stop -s USR1 should reach the trap (exit 7), got %q", got)
	}
}
