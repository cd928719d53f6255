package lab_test

import (
	"bufio"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, body := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// `lab build` prints what the classic builder prints, and a rebuild does no work.
func TestBuildCLI(t *testing.T) {
	root := newRoot(t)
	dir := writeFiles(t, map[string]string{
		"Dockerfile":   "FROM busybox\nENV WHO=world\nCOPY greeting.txt /\nRUN echo \"hello $WHO\" | tee -a /greeting.txt\nCMD [\"cat\", \"/greeting.txt\"]\n",
		"greeting.txt": "greetings\n",
	})
	out := mustRun(t, root, "build", "-t", "greeter", "-t", "greeter:v1", dir)
	steps := regexp.MustCompile(`(?m)^Step (\d)/5 : `).FindAllStringSubmatch(out, -1)
	if len(steps) != 5 {
		t.Fatalf("want 5 steps:\n%s", out)
	}
	m := regexp.MustCompile(`(?m)^ ---> Running in ([0-9a-f]{12})\nhello world\nRemoving intermediate container ([0-9a-f]{12})\n ---> [0-9a-f]{12}\nStep 5/5`).FindStringSubmatch(out)
	if m == nil || m[1] != m[2] {
		t.Errorf("RUN step output:\n%s", out)
	}
	id := regexp.MustCompile(`(?m)^Successfully built ([0-9a-f]{12})\nSuccessfully tagged greeter:latest\nSuccessfully tagged greeter:v1\n$`).FindStringSubmatch(out)
	if id == nil {
		t.Fatalf("end of output:\n%s", out)
	}
	if got := mustRun(t, root, "run", "--rm", "greeter:v1"); got != "greetings\nhello world\n" {
		t.Errorf("run = %q", got)
	}
	imgs := mustRun(t, root, "images")
	if !regexp.MustCompile(`(?m)^greeter\s+latest\s+`+id[1]).MatchString(imgs) || strings.Count(imgs, "\n") != 4 {
		t.Errorf("images should list busybox and greeter twice, no intermediate images:\n%s", imgs)
	}
	if ps := mustRun(t, root, "ps", "-a", "-q"); ps != "" {
		t.Errorf("intermediate containers left:\n%s", ps)
	}

	again := mustRun(t, root, "build", "-t", "greeter", dir)
	if strings.Count(again, " ---> Using cache\n") != 4 || strings.Contains(again, "Running in") || !strings.Contains(again, "Successfully built "+id[1]) {
		t.Errorf("rebuild:\n%s", again)
	}
	q := mustRun(t, root, "build", "-q", dir)
	if !regexp.MustCompile(`^sha256:` + id[1] + `[0-9a-f]{52}\n$`).MatchString(q) {
		t.Errorf("build -q printed %q", q)
	}

	// --build-arg, -f and --no-cache.
	os.WriteFile(filepath.Join(dir, "Other.dockerfile"), []byte("FROM busybox\nARG N=1\nRUN echo n=$N\n"), 0o644)
	out = mustRun(t, root, "build", "--no-cache", "--build-arg", "N=42", "-f", filepath.Join(dir, "Other.dockerfile"), dir)
	if !strings.Contains(out, "\nn=42\n") || strings.Contains(out, "Using cache") {
		t.Errorf("-f with --build-arg:\n%s", out)
	}
	// The Dockerfile on stdin, no context.
	r := labIn(t, root, "FROM busybox\nRUN echo from stdin\n", "build", "-")
	if r.code != 0 || !strings.Contains(r.stdout, "from stdin\n") {
		t.Errorf("build -: %+v", r)
	}
}

// A failing RUN: Docker's message, the command's exit status, no tag, nothing left.
func TestBuildCLIFailure(t *testing.T) {
	root := newRoot(t)
	dir := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo partial; false\nCMD [\"true\"]\n"})
	r := labIn(t, root, "", "build", "-t", "broken", dir)
	if r.code != 1 || r.stderr != "The command '/bin/sh -c echo partial; false' returned a non-zero code: 1\n" {
		t.Errorf("failed build: %+v", r)
	}
	if !strings.Contains(r.stdout, "partial\n") || strings.Contains(r.stdout, "Successfully") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	if got := labIn(t, root, "", "inspect", "broken"); got.code == 0 {
		t.Errorf("broken was tagged")
	}
	if ps := mustRun(t, root, "ps", "-aq"); ps != "" {
		t.Errorf("containers left: %s", ps)
	}
	// -q still shows why it failed; the status is the command's.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN echo why; exit 7\n"), 0o644)
	r = labIn(t, root, "", "build", "-q", dir)
	if r.code != 7 || r.stdout != "" || r.stderr != "why\nThe command '/bin/sh -c echo why; exit 7' returned a non-zero code: 7\n" {
		t.Errorf("failed quiet build: %+v", r)
	}
	// Bad input: one line naming the Dockerfile line, status 1, nothing run.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN echo never\nCOPY --frm=x a b\n"), 0o644)
	r = labIn(t, root, "", "build", dir)
	if r.code != 1 || r.stderr != "Dockerfile:3: unknown flag: --frm (did you mean from?)\n" || r.stdout != "" {
		t.Errorf("bad Dockerfile: %+v", r)
	}
	r = labIn(t, root, "", "build", filepath.Join(dir, "nope"))
	if r.code != 1 || !strings.HasPrefix(r.stderr, "unable to prepare context: ") {
		t.Errorf("missing context: %+v", r)
	}
}

// The seed's second half: build the Apache example, run it, list images and
// containers as Docker would.
func TestBuildApacheExample(t *testing.T) {
	root := newRoot(t)
	example, err := filepath.Abs("../examples/apache")
	if err != nil {
		t.Fatal(err)
	}
	out := mustRun(t, root, "build", "-t", "my-apache2", example)
	if !strings.Contains(out, "Successfully tagged my-apache2:latest\n") {
		t.Fatalf("build:\n%s", out)
	}
	page := mustRun(t, root, "run", "--rm", "--name", "my-running-app", "my-apache2",
		"sh", "-c", "httpd -p 8080 -h /www; sleep 0.3; wget -qO- http://127.0.0.1:8080/")
	index, err := os.ReadFile(filepath.Join(example, "public-html", "index.html"))
	if err != nil {
		t.Fatal(err)
	}
	if page != string(index) {
		t.Errorf("served page:\n%s\nwant:\n%s", page, index)
	}
	// The image's own command serves in the foreground; it is still up a moment later.
	id := strings.TrimSpace(mustRun(t, root, "run", "-d", "--name", "my-running-app", "my-apache2"))
	defer labIn(t, root, "", "rm", "-f", id)
	ps := mustRun(t, root, "ps")
	if !regexp.MustCompile(`(?m)^` + id[:12] + `\s+my-apache2\s+"httpd -f -v -p 80 -…"\s+.*Up .*my-running-app$`).MatchString(ps) {
		t.Errorf("ps:\n%s", ps)
	}
	if got := mustRun(t, root, "ps", "-l"); !strings.Contains(got, "my-running-app") {
		t.Errorf("ps -l:\n%s", got)
	}
	images := mustRun(t, root, "images")
	if !regexp.MustCompile(`(?m)^my-apache2\s+latest\s+[0-9a-f]{12}\s`).MatchString(images) || strings.Count(images, "\n") != 3 {
		t.Errorf("images:\n%s", images)
	}
}

// Ctrl-C during a RUN stops its container and ends the build with nothing left over.
func TestBuildCLIInterrupt(t *testing.T) {
	root := newRoot(t)
	dir := writeFiles(t, map[string]string{"Dockerfile": "FROM busybox\nENV X=1\nRUN echo started; sleep 60\n"})
	cmd := exec.Command(os.Args[0], "build", "-t", "never", dir)
	cmd.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if sc.Text() == "started" {
			break
		}
	}
	start := time.Now()
	cmd.Process.Signal(os.Interrupt)
	go io.Copy(io.Discard, out)
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 130 || stderr.String() != "lab build: interrupted\n" {
		t.Errorf("interrupted build: %v, stderr %q", err, stderr.String())
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the build took %s to stop", d)
	}
	if ps := mustRun(t, root, "ps", "-aq"); ps != "" {
		t.Errorf("containers left: %s", ps)
	}
	if imgs := mustRun(t, root, "images", "-q"); strings.Count(imgs, "\n") != 1 {
		t.Errorf("images left:\n%s", imgs)
	}
}
