package lab_test

import (
	"encoding/json"
	"strings"
	"testing"
)

// --format and --filter of ps, images, history and inspect, on real containers.
func TestFormatAndFilters(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "run", "--name", "ok1", "busybox", "true")
	mustRun(t, root, "run", "--name", "ok2", "busybox", "true")
	if r := labIn(t, root, "", "run", "--name", "bad3", "busybox", "sh", "-c", "exit 3"); r.code != 3 {
		t.Fatalf("exit 3: %+v", r)
	}
	mustRun(t, root, "commit", "ok1", "mine:v1")

	check := func(want string, args ...string) {
		t.Helper()
		if got := mustRun(t, root, args...); got != want {
			t.Errorf("lab %s:\n got %q\nwant %q", strings.Join(args, " "), got, want)
		}
	}
	check("bad3\nok2\nok1\n", "ps", "-a", "--format", "{{.Names}}")
	check("NAMES     STATE\nbad3      exited\nok2       exited\nok1       exited\n", "ps", "-a", "--format", `table {{.Names}}\t{{.State}}`)
	check("bad3 Exited (3)\n", "ps", "-a", "-f", "exited=3", "--format", "{{.Names}} {{.Status | printf \"%.10s\"}}")
	// Same key: alternatives; different keys: all must hold. A status filter lists
	// stopped containers without -a, as Docker's does.
	check("bad3\nok1\n", "ps", "-f", "name=ok1", "-f", "name=bad", "-f", "status=exited", "--format", "{{.Names}}")
	check("", "ps", "-a", "-f", "name=ok1", "-f", "status=running", "--format", "{{.Names}}")
	check("bad3\nok2\n", "ps", "-a", "-f", "since=ok1", "--format", "{{.Names}}")
	check("ok1\n", "ps", "-a", "-f", "before=ok2", "--format", "{{.Names}}")
	check("bad3\nok2\nok1\n", "ps", "-a", "-f", "ancestor=busybox", "--format", "{{.Names}}")
	check("", "ps", "-a", "-f", "ancestor=mine:v1", "--format", "{{.Names}}")
	id := strings.TrimSpace(mustRun(t, root, "ps", "-a", "-f", "name=^ok2$", "--format", "{{.ID}}"))
	check("ok2\n", "ps", "-a", "-f", "id="+id[:5], "--format", "{{.Names}}")

	var obj map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, root, "ps", "-a", "-f", "name=ok2", "--format", "json")), &obj); err != nil ||
		obj["Names"] != "ok2" || obj["ID"] != id || obj["State"] != "exited" {
		t.Errorf("ps --format json: %v %v", obj, err)
	}

	check("mine:v1\nbusybox:latest\n", "images", "--format", "{{.Repository}}:{{.Tag}}", "-f", "reference=*")
	check("mine\n", "images", "--format", "{{.Repository}}", "-f", "reference=mi*:v1")
	check("", "images", "-q", "-f", "dangling=true")
	check("REPOSITORY   TAG\nmine         v1\n", "images", "--format", `table {{.Repository}}\t{{.Tag}}`, "-f", "since=busybox")
	check("busybox\n", "images", "--format", "{{.Repository}}", "-f", "before=mine:v1")
	if err := json.Unmarshal([]byte(mustRun(t, root, "images", "mine", "--format", "json")), &obj); err != nil || obj["Tag"] != "v1" || obj["Digest"] != "<none>" {
		t.Errorf("images --format json: %v %v", obj, err)
	}

	hist := mustRun(t, root, "history", "--format", `table {{.ID}}\t{{.Comment}}`, "busybox")
	if lines := strings.Split(strings.TrimSpace(hist), "\n"); len(lines) < 2 || !strings.HasPrefix(lines[0], "IMAGE ") || !strings.HasSuffix(lines[0], "COMMENT") {
		t.Errorf("history table:\n%s", hist)
	}

	check("3 /bad3 [sh][-c][exit 3] sh\n0 /ok1 [true] true\n", "inspect", "-f",
		`{{.State.ExitCode}} {{.Name}} {{range .Config.Cmd}}[{{.}}]{{end}} {{index .Config.Cmd 0}}`, "bad3", "ok1")
	check(`["true"]`+"\n", "inspect", "--format", "{{json .Config.Cmd}}", "ok2")
	if out := mustRun(t, root, "inspect", "--format", "{{.Id}}", "mine:v1"); !sha256ID.MatchString(out) {
		t.Errorf("inspect image id: %q", out)
	}
	if out := mustRun(t, root, "inspect", "--format", "json", "ok2"); !strings.HasPrefix(out, "[\n    {") {
		t.Errorf("inspect --format json is the default array: %q", out)
	}

	errs := []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"ps", "-f", "bogus=1"}, 1, "lab ps: invalid filter 'bogus'\n"},
		{[]string{"ps", "-f", "status=nope"}, 1, "lab ps: invalid filter 'status=nope'\n"},
		{[]string{"ps", "-f", "noequals"}, 125, "bad format of filter (expected name=value)"},
		{[]string{"images", "-f", "dangling=maybe"}, 1, "lab images: invalid filter 'dangling=[maybe]'\n"},
		{[]string{"images", "-f", "status=x"}, 1, "lab images: invalid filter 'status'\n"},
		{[]string{"ps", "-a", "--format", "{{.Nope}}"}, 1, "can't evaluate field Nope"},
		{[]string{"ps", "--format", "{{.ID"}, 1, "lab ps: failed to parse template: template: :1: unclosed action\n"},
		{[]string{"inspect", "-f", "{{.State", "ok1"}, 1, "failed to parse template"},
	}
	for _, tc := range errs {
		r := labIn(t, root, "", tc.args...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.msg) || r.stdout != "" {
			t.Errorf("lab %v: exit %d stdout %q stderr %q; want exit %d and %q", tc.args, r.code, r.stdout, r.stderr, tc.code, tc.msg)
		}
	}
}
