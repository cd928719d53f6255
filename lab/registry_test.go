package lab_test

import (
	"regexp"
	"strings"
	"testing"

	"lab/runtime/registry/registrytest"
)

// The tutorial's first line with a registry: an image that is not in the store is
// pulled by run, with Docker's messages, and runs.
func TestCLIPushPullRun(t *testing.T) {
	root := newRoot(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	r := registrytest.Start(t, registrytest.Config{})
	name := r.Host + "/lab/busybox"
	if res := labIn(t, root, "", "tag", "busybox", name+":1"); res.code != 0 {
		t.Fatalf("tag: %+v", res)
	}
	res := labIn(t, root, "", "push", name+":1")
	if res.code != 0 || !strings.Contains(res.stdout, "The push refers to repository ["+name+"]") ||
		!strings.Contains(res.stdout, ": Pushed") || !regexp.MustCompile(`(?m)^1: digest: sha256:[0-9a-f]{64} size: \d+$`).MatchString(res.stdout) {
		t.Fatalf("push: %+v", res)
	}
	pushed := regexp.MustCompile(`digest: (sha256:[0-9a-f]{64})`).FindStringSubmatch(res.stdout)[1]

	fresh := t.TempDir()
	res = labIn(t, fresh, "", "run", "--rm", name+":1", "echo", "hello from a pulled image")
	if res.code != 0 || res.stdout != "hello from a pulled image\n" {
		t.Fatalf("run: %+v", res)
	}
	for _, want := range []string{"Unable to find image '" + name + ":1' locally", "1: Pulling from lab/busybox", ": Pull complete", "Digest: " + pushed, "Status: Downloaded newer image for " + name + ":1"} {
		if !strings.Contains(res.stderr, want) {
			t.Fatalf("run's stderr lacks %q:\n%s", want, res.stderr)
		}
	}
	res = labIn(t, fresh, "", "images", "--digests")
	if !strings.Contains(res.stdout, pushed) || !strings.Contains(res.stdout, "DIGEST") {
		t.Fatalf("images --digests: %+v", res)
	}
	res = labIn(t, fresh, "", "pull", name+":1")
	if res.code != 0 || !strings.Contains(res.stdout, "Status: Image is up to date for "+name+":1") || !strings.HasSuffix(res.stdout, name+":1\n") {
		t.Fatalf("second pull: %+v", res)
	}
	res = labIn(t, fresh, "", "pull", "-q", name+"@"+pushed)
	if res.code != 0 || res.stdout != name+"@"+pushed+"\n" {
		t.Fatalf("pull -q by digest: %+v", res)
	}
	if res = labIn(t, fresh, "", "run", "--rm", name+"@"+pushed, "true"); res.code != 0 {
		t.Fatalf("run by digest: %+v", res)
	}
	// Pull without a tag says so, as Docker does.
	labIn(t, root, "", "tag", "busybox", name+":latest")
	labIn(t, root, "", "push", name)
	res = labIn(t, fresh, "", "pull", name)
	if res.code != 0 || !strings.HasPrefix(res.stdout, "Using default tag: latest\nlatest: Pulling from lab/busybox\n") {
		t.Fatalf("pull without a tag: %+v", res)
	}
}

func TestCLIPullErrors(t *testing.T) {
	needRoot(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	r := registrytest.Start(t, registrytest.Config{})
	root := t.TempDir()
	cases := []struct {
		args []string
		code int
		want string
	}{
		{[]string{"pull", r.Host + "/lab/missing:1"}, 1, "manifest for " + r.Host + "/lab/missing:1 not found"},
		{[]string{"pull", "Not/Valid"}, 1, "invalid reference format"},
		{[]string{"pull", "127.0.0.1:1/lab/x:1"}, 1, "connection refused"},
		{[]string{"run", "--rm", r.Host + "/lab/missing:1", "true"}, 125, "manifest for " + r.Host + "/lab/missing:1 not found"},
		{[]string{"run", "--rm", "--pull", "never", r.Host + "/lab/missing:1", "true"}, 125, "no such image"},
		{[]string{"create", "--pull", "sometimes", "busybox"}, 125, "invalid pull option"},
		{[]string{"push", r.Host + "/lab/none:1"}, 1, "does not exist locally"},
	}
	for _, c := range cases {
		res := labIn(t, root, "", c.args...)
		lines := strings.Split(strings.TrimSpace(res.stderr), "\n")
		last := lines[len(lines)-1]
		if res.code != c.code || !strings.Contains(last, c.want) || strings.Contains(res.stderr, "goroutine") {
			t.Errorf("lab %v: code %d, stderr %q; want %d and %q", c.args, res.code, res.stderr, c.code, c.want)
		}
	}
	if res := labIn(t, root, "", "images", "-q"); res.stdout != "" {
		t.Fatalf("images after failed pulls: %q", res.stdout)
	}
}

func TestCLILoginLogout(t *testing.T) {
	needRoot(t)
	cfg := t.TempDir()
	t.Setenv("DOCKER_CONFIG", cfg)
	r := registrytest.Start(t, registrytest.Config{User: "alice", Password: "s3cret"})
	root := t.TempDir()
	res := labIn(t, root, "wrong\n", "login", "-u", "alice", "--password-stdin", r.Host)
	if res.code != 1 || !strings.Contains(res.stderr, "unauthorized") {
		t.Fatalf("wrong password: %+v", res)
	}
	res = labIn(t, root, "s3cret\n", "login", "-u", "alice", "--password-stdin", r.Host)
	if res.code != 0 || !strings.Contains(res.stdout, "Login Succeeded") {
		t.Fatalf("login: %+v", res)
	}
	res = labIn(t, root, "", "logout", r.Host)
	if res.code != 0 || res.stdout != "Removing login credentials for "+r.Host+"\n" {
		t.Fatalf("logout: %+v", res)
	}
}

func TestCLISaveLoadRun(t *testing.T) {
	root := newRoot(t)
	out := t.TempDir() + "/busybox.tar"
	if res := labIn(t, root, "", "save", "-o", out, "busybox"); res.code != 0 || res.stdout != "" {
		t.Fatalf("save: %+v", res)
	}
	fresh := t.TempDir()
	res := labIn(t, fresh, "", "load", "-i", out)
	if res.code != 0 || res.stdout != "Loaded image: busybox:latest\n" {
		t.Fatalf("load: %+v", res)
	}
	if res = labIn(t, fresh, "", "run", "--rm", "busybox", "echo", "loaded"); res.code != 0 || res.stdout != "loaded\n" {
		t.Fatalf("run: %+v", res)
	}
	if res = labIn(t, fresh, "not an archive", "load"); res.code != 1 || !strings.Contains(res.stderr, "invalid image archive") {
		t.Fatalf("load of junk: %+v", res)
	}
	if res = labIn(t, fresh, "", "save", "-o", out, "nosuch"); res.code != 1 || !strings.Contains(res.stderr, "no such image") {
		t.Fatalf("save of a missing image: %+v", res)
	}
}
