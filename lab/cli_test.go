package lab_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"lab/lab"
	"lab/runtime/proc"
	"lab/runtime/proc/inittest"
)

// The test binary doubles as the lab binary: with LAB_TEST_CLI set, as the CLI in a
// separate process. Containers run through lab-init, built for the run.
func TestMain(m *testing.M) {
	if proc.IsInit() {
		proc.Init()
	}
	if os.Getenv("LAB_TEST_CLI") == "1" {
		os.Exit(lab.Main(os.Args[1:]))
	}
	inittest.Main(m.Run)
}

type result struct {
	stdout, stderr string
	code           int
}

// labIn runs the CLI as its own process on the state directory root.
func labIn(t *testing.T, root, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("lab %v: %v", args, err)
	}
	return result{out.String(), errb.String(), code}
}

func needRoot(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers use real namespaces and overlay mounts")
	}
}

// newRoot gives a test its own state directory with busybox bootstrapped, and checks at
// the end that nothing of it is left mounted.
func newRoot(t *testing.T) string {
	t.Helper()
	needRoot(t)
	root := t.TempDir()
	t.Cleanup(func() {
		b, _ := os.ReadFile("/proc/mounts")
		if strings.Contains(string(b), root) {
			t.Errorf("mounts under %s leaked:\n%s", root, b)
		}
	})
	if r := labIn(t, root, "", "bootstrap", "busybox"); r.code != 0 {
		if strings.Contains(r.stderr, "busybox-static") {
			t.Skip("no static busybox on this host (make test installs busybox-static)")
		}
		t.Fatalf("bootstrap: %+v", r)
	}
	return root
}

func mustRun(t *testing.T, root string, args ...string) string {
	t.Helper()
	r := labIn(t, root, "", args...)
	if r.code != 0 {
		t.Fatalf("lab %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

var sha256ID = regexp.MustCompile(`^sha256:[0-9a-f]{64}\n$`)

// The seed tutorial, step by step, through the CLI in separate processes.
func TestTutorial(t *testing.T) {
	root := newRoot(t)
	const text = "This is a really important file!!!!"
	mustRun(t, root, "run", "--name", "first", "busybox", "/bin/sh", "-c", "echo '"+text+"' > foo")

	r := labIn(t, root, "", "run", "busybox", "/bin/cat", "foo")
	if r.code != 1 || !strings.Contains(r.stderr, "No such file") {
		t.Fatalf("second run should not see foo: %+v", r)
	}

	ps := mustRun(t, root, "ps", "-a")
	lines := strings.Split(strings.TrimSpace(ps), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CONTAINER ID   IMAGE     COMMAND") {
		t.Fatalf("ps -a:\n%s", ps)
	}
	if !strings.Contains(lines[1], "Exited (1)") || !strings.Contains(lines[2], "Exited (0)") || !strings.HasSuffix(lines[2], "first") {
		t.Fatalf("ps -a should list both, newest first, with exit codes:\n%s", ps)
	}
	if got := mustRun(t, root, "ps"); strings.Count(got, "\n") != 1 {
		t.Fatalf("ps without -a lists only running containers:\n%s", got)
	}
	if latest := mustRun(t, root, "ps", "-l"); !strings.Contains(latest, "cat foo") || strings.Count(latest, "\n") != 2 {
		t.Fatalf("ps -l:\n%s", latest)
	}

	if d := mustRun(t, root, "diff", "first"); d != "A /foo\n" {
		t.Fatalf("diff = %q", d)
	}
	id := mustRun(t, root, "commit", "first", "ubuntu-foo")
	if !sha256ID.MatchString(id) {
		t.Fatalf("commit printed %q", id)
	}
	if out := mustRun(t, root, "run", "--rm", "ubuntu-foo", "/bin/cat", "foo"); out != text+"\n" {
		t.Fatalf("cat foo in the committed image = %q", out)
	}
	imgs := mustRun(t, root, "images")
	if !regexp.MustCompile(`(?m)^ubuntu-foo\s+latest\s+` + id[7:19] + `\s`).MatchString(imgs) {
		t.Fatalf("images should list ubuntu-foo with id %s:\n%s", id[7:19], imgs)
	}
	if got := mustRun(t, root, "ps", "-a", "-q"); strings.Count(got, "\n") != 2 {
		t.Fatalf("--rm container must be gone:\n%s", got)
	}

	// start -a reruns the stopped container's command on its own filesystem.
	mustRun(t, root, "run", "--name", "counter", "busybox", "/bin/sh", "-c", "echo x >> /log; wc -l < /log")
	if out := mustRun(t, root, "start", "-a", "counter"); strings.TrimSpace(out) != "2" {
		t.Fatalf("start -a should see the first run's file: %q", out)
	}
	if out := mustRun(t, root, "logs", "counter"); out != "1\n2\n" {
		t.Fatalf("logs = %q", out)
	}

	mustRun(t, root, "rm", "first", "counter")
	rest := strings.Fields(mustRun(t, root, "ps", "-aq"))
	for _, c := range rest {
		mustRun(t, root, "rm", c)
	}
	out := mustRun(t, root, "rmi", "ubuntu-foo")
	if !strings.Contains(out, "Untagged: ubuntu-foo:latest") || !strings.Contains(out, "Deleted: "+strings.TrimSpace(id)) {
		t.Fatalf("rmi: %q", out)
	}
	if blobs, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256")); len(blobs) != 3 {
		t.Fatalf("after rmi only busybox's 3 blobs should remain, have %d", len(blobs))
	}
}

func TestIsolation(t *testing.T) {
	root := newRoot(t)
	cases := []struct {
		name, script string
		check        func(out, id string) bool
	}{
		{"pid 1 is the command", "echo $$", func(out, _ string) bool { return out == "1\n" }},
		{"only lo", "ls /sys/class/net", func(out, _ string) bool { return out == "lo\n" }},
		{"lo is up", "cat /sys/class/net/lo/operstate /sys/class/net/lo/flags", func(out, _ string) bool { return strings.HasSuffix(out, "0x9\n") }},
		{"hostname is short id", "hostname; cat /etc/hostname", func(out, id string) bool { return out == id+"\n"+id+"\n" }},
		{"only own processes", "ps -o pid,args; true", func(out, _ string) bool {
			lines := strings.Split(strings.TrimSpace(out), "\n")
			return len(lines) == 3 && strings.HasPrefix(strings.TrimSpace(lines[1]), "1 /bin/sh -c ps") && strings.Contains(lines[2], "{ps}")
		}},
		{"sys read-only", "touch /sys/x 2>&1; echo $?", func(out, _ string) bool { return strings.Contains(out, "Read-only") }},
		{"dev nodes", "ls /dev", func(out, _ string) bool {
			for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue"} {
				if !strings.Contains(out, d+"\n") {
					return false
				}
			}
			return true
		}},
		{"env like docker", "", func(out, id string) bool {
			return out == "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\nHOSTNAME="+id+"\nHOME=/root\n"
		}},
		{"root is overlay, pivoted", "cat /proc/mounts | head -1; ls /", func(out, _ string) bool {
			return strings.HasPrefix(out, "overlay / overlay") && !strings.Contains(out, "lab-")
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			argv := []string{"create", "busybox", "/bin/sh", "-c", tc.script}
			if tc.script == "" {
				argv = []string{"create", "busybox", "env"} // no shell: it would add its own variables
			}
			r := labIn(t, root, "", argv...)
			if r.code != 0 {
				t.Fatalf("create: %+v", r)
			}
			id := strings.TrimSpace(r.stdout)
			out := mustRun(t, root, "start", "-a", id)
			if !tc.check(out, id[:12]) {
				t.Errorf("unexpected output:\n%s", out)
			}
			mustRun(t, root, "rm", id)
		})
	}
}

func TestErrors(t *testing.T) {
	root := newRoot(t)
	cases := []struct {
		args []string
		code int
		msg  string
	}{
		// Without --pull never, run would try Docker Hub first (registry_test.go).
		{[]string{"run", "--pull", "never", "nosuchimage"}, 125, "no such image: nosuchimage:latest"},
		{[]string{"run", "Bad:ref"}, 125, "invalid reference format"},
		{[]string{"run", "busybox", "nonexist"}, 127, `exec: "nonexist": executable file not found in $PATH`},
		{[]string{"run", "busybox", "/nonexist"}, 127, `exec: "/nonexist": stat /nonexist: no such file or directory`},
		{[]string{"run", "busybox", "/etc/passwd"}, 126, `exec: "/etc/passwd": permission denied`},
		{[]string{"run", "--bogus", "busybox"}, 125, "unknown flag: --bogus"},
		{[]string{"run", "busybox", "sh", "-c", "exit 3"}, 3, ""},
		{[]string{"run", "busybox", "sh", "-c", "sleep 9 & kill -9 $!; wait $!"}, 137, ""},
		{[]string{"rm", "nosuch"}, 1, "no such container: nosuch"},
		{[]string{"rmi", "nosuch"}, 1, "no such image: nosuch:latest"},
		{[]string{"nosuchverb"}, 1, "lab: unknown command: lab nosuchverb\n"},
		{[]string{"commit", "nosuch"}, 1, "no such container: nosuch"},
	}
	for _, tc := range cases {
		r := labIn(t, root, "", tc.args...)
		if r.code != tc.code {
			t.Errorf("lab %v: exit %d, want %d (stderr %q)", tc.args, r.code, tc.code, r.stderr)
		}
		if tc.msg != "" && !strings.Contains(r.stderr, tc.msg) {
			t.Errorf("lab %v: stderr %q, want it to contain %q", tc.args, r.stderr, tc.msg)
		}
		if strings.Contains(r.stderr, "goroutine") {
			t.Errorf("lab %v: crashed:\n%s", tc.args, r.stderr)
		}
	}
	// The name of a container whose command was not found stays taken (Docker keeps it as Created).
	r := labIn(t, root, "", "ps", "-a")
	if !strings.Contains(r.stdout, "Created") {
		t.Errorf("a container that failed to start shows as Created:\n%s", r.stdout)
	}
}

func TestStdinAndWorkdir(t *testing.T) {
	root := newRoot(t)
	r := labIn(t, root, "hello\nworld\n", "run", "-i", "--rm", "busybox", "wc", "-l")
	if r.code != 0 || strings.TrimSpace(r.stdout) != "2" {
		t.Fatalf("run -i: %+v", r)
	}
	if out := mustRun(t, root, "run", "--rm", "-w", "/new/dir", "-e", "A=1", "busybox", "sh", "-c", "pwd; echo $A"); out != "/new/dir\n1\n" {
		t.Fatalf("workdir/env: %q", out)
	}
	// Without -i stdin is empty, as on Docker.
	if out := mustRun(t, root, "run", "--rm", "busybox", "cat"); out != "" {
		t.Fatalf("stdin without -i: %q", out)
	}
}

func TestNamesAndRefs(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "create", "--name", "web", "busybox")
	r := labIn(t, root, "", "create", "--name", "web", "busybox")
	if r.code != 125 || !strings.Contains(r.stderr, "already in use") {
		t.Fatalf("duplicate name: %+v", r)
	}
	id := strings.TrimSpace(mustRun(t, root, "create", "busybox", "true"))
	if len(id) != 64 {
		t.Fatalf("create printed %q", id)
	}
	names := mustRun(t, root, "ps", "-a", "--format", "json")
	if !regexp.MustCompile(`"Names":"[a-z]+_[a-z]+[0-9]*"`).MatchString(names) {
		t.Fatalf("generated name missing:\n%s", names)
	}
	// full id, prefix and name all work
	mustRun(t, root, "inspect", id)
	mustRun(t, root, "start", "-a", id[:5])
	mustRun(t, root, "rm", "web", id)
}

func TestImportExportTagHistory(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "run", "--name", "src", "busybox", "sh", "-c", "mkdir /data && echo exported > /data/x && rm /etc/group")
	tarPath := filepath.Join(root, "fs.tar")
	mustRun(t, root, "export", "-o", tarPath, "src")
	id := mustRun(t, root, "import", "-c", "CMD [\"/bin/cat\", \"/data/x\"]", tarPath, "flat:v1")
	if !sha256ID.MatchString(id) {
		t.Fatalf("import printed %q", id)
	}
	if out := mustRun(t, root, "run", "--rm", "flat:v1"); out != "exported\n" {
		t.Fatalf("imported image's CMD output = %q", out)
	}
	if r := labIn(t, root, "", "run", "--rm", "flat:v1", "cat", "/etc/group"); r.code != 1 {
		t.Fatalf("a file deleted before export must be absent: %+v", r)
	}
	// gzip on stdin, like `docker import -`
	gz := filepath.Join(root, "fs.tar.gz")
	if out, err := exec.Command("sh", "-c", "gzip -c "+tarPath+" > "+gz).CombinedOutput(); err != nil {
		t.Fatalf("gzip: %v %s", err, out)
	}
	b, _ := os.ReadFile(gz)
	r := labIn(t, root, string(b), "import", "-", "flat:gz")
	if r.code != 0 || !sha256ID.MatchString(r.stdout) {
		t.Fatalf("import - (gzip): %+v", r)
	}
	mustRun(t, root, "tag", "flat:v1", "other/name:2")
	imgs := mustRun(t, root, "images")
	if !strings.Contains(imgs, "other/name   2 ") {
		t.Fatalf("tag not listed:\n%s", imgs)
	}
	if out := mustRun(t, root, "rmi", "other/name:2"); out != "Untagged: other/name:2\n" {
		t.Fatalf("rmi of one of two tags only untags: %q", out)
	}
	h := mustRun(t, root, "history", "flat:v1")
	if !strings.HasPrefix(h, "IMAGE          CREATED") || !strings.Contains(h, "Imported from -") {
		t.Fatalf("history:\n%s", h)
	}
	var insp []map[string]any
	if err := json.Unmarshal([]byte(mustRun(t, root, "inspect", "flat:v1")), &insp); err != nil || len(insp) != 1 {
		t.Fatalf("inspect: %v", err)
	}
	if cmd := fmt.Sprint(insp[0]["Config"].(map[string]any)["Cmd"]); cmd != "[/bin/cat /data/x]" {
		t.Fatalf("inspect Cmd = %s", cmd)
	}
	if r := labIn(t, root, "", "import", filepath.Join(root, "missing.tar")); r.code != 1 || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("import of a missing file: %+v", r)
	}

	// docker import URL: the tarball is fetched (here from a server on loopback).
	srv := httptest.NewServer(http.FileServer(http.Dir(root)))
	defer srv.Close()
	if id := mustRun(t, root, "import", srv.URL+"/fs.tar", "flat:url"); !sha256ID.MatchString(id) {
		t.Fatalf("import URL printed %q", id)
	}
	if out := mustRun(t, root, "run", "--rm", "flat:url", "cat", "/data/x"); out != "exported\n" {
		t.Fatalf("image imported from a URL: %q", out)
	}
	if r := labIn(t, root, "", "import", srv.URL+"/nope.tar"); r.code != 1 || !strings.Contains(r.stderr, "404") || strings.Count(r.stderr, "\n") != 1 {
		t.Fatalf("import of a missing URL: %+v", r)
	}
}

// A container's state survives the lab process that made it: a second process sees it
// exited, with its files, and can commit it.
func TestStateSurvivesProcess(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "run", "--name", "keeper", "busybox", "sh", "-c", "echo kept > /kept")
	var insp []map[string]any
	json.Unmarshal([]byte(mustRun(t, root, "inspect", "keeper")), &insp)
	st := insp[0]["State"].(map[string]any)
	if st["Status"] != "exited" || st["ExitCode"].(float64) != 0 || st["Running"] != false {
		t.Fatalf("state: %v", st)
	}
	upper := insp[0]["GraphDriver"].(map[string]any)["Data"].(map[string]any)["UpperDir"].(string)
	if b, err := os.ReadFile(filepath.Join(upper, "kept")); err != nil || string(b) != "kept\n" {
		t.Fatalf("upper dir lost the file: %v %q", err, b)
	}
}

// Without a daemon, -d hands the container to a monitor process; ps, logs, stop, kill,
// wait and start work on it from other lab processes.
func TestDetached(t *testing.T) {
	root := newRoot(t)
	id := strings.TrimSpace(mustRun(t, root, "run", "-d", "--name", "bg", "busybox", "sh", "-c", "echo started; sleep 60"))
	if len(id) != 64 {
		t.Fatalf("run -d printed %q", id)
	}
	if ps := mustRun(t, root, "ps"); !strings.Contains(ps, "Up ") || !strings.Contains(ps, "bg") {
		t.Fatalf("ps should show bg running:\n%s", ps)
	}
	if r := labIn(t, root, "", "rm", "bg"); r.code != 1 || !strings.Contains(r.stderr, "running") {
		t.Fatalf("rm of a running container needs -f: %+v", r)
	}
	if r := labIn(t, root, "", "start", "-a", "bg"); r.code != 125 || !strings.Contains(r.stderr, "running") {
		t.Fatalf("starting a running container again: %+v", r)
	}
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(mustRun(t, root, "logs", "bg"), "started") {
		if time.Now().After(deadline) {
			t.Fatal("no output in the log of a detached container")
		}
		time.Sleep(20 * time.Millisecond)
	}
	mustRun(t, root, "kill", "bg")
	if out := mustRun(t, root, "wait", "bg"); out != "137\n" {
		t.Fatalf("wait after kill = %q", out)
	}
	mustRun(t, root, "start", "bg")
	mustRun(t, root, "stop", "-t", "0", "bg")
	if ps := mustRun(t, root, "ps", "-a"); !strings.Contains(ps, "Exited (137)") {
		t.Fatalf("stopped:\n%s", ps)
	}
	mustRun(t, root, "run", "-d", "--rm", "--name", "gone", "busybox", "true")
	for i := 0; i < 100 && strings.Contains(mustRun(t, root, "ps", "-a"), "gone"); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if ps := mustRun(t, root, "ps", "-a"); strings.Contains(ps, "gone") {
		t.Fatalf("-d --rm container not removed:\n%s", ps)
	}
	mustRun(t, root, "run", "-d", "--name", "again", "busybox", "sleep", "60")
	mustRun(t, root, "rm", "-f", "again", "bg")
	if ps := mustRun(t, root, "ps", "-aq"); ps != "" {
		t.Fatalf("all removed, still: %q", ps)
	}
}

// Two lab processes creating the same name at once: exactly one gets it.
func TestNameRace(t *testing.T) {
	root := newRoot(t)
	for i := 0; i < 10; i++ {
		name := fmt.Sprintf("race%d", i)
		results := make(chan result, 2)
		for j := 0; j < 2; j++ {
			go func() { results <- labIn(t, root, "", "create", "--name", name, "busybox", "true") }()
		}
		r1, r2 := <-results, <-results
		if (r1.code == 0) == (r2.code == 0) {
			t.Fatalf("%s: both or neither got the name:\n%+v\n%+v", name, r1, r2)
		}
	}
	out := mustRun(t, root, "ps", "-a", "--format", "json")
	if n := strings.Count(out, "\n"); n != 10 {
		t.Fatalf("want 10 containers, have %d:\n%s", n, out)
	}
}
