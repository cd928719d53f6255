package lab_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestLeanBuild: bin/lab is built with -tags lean. It must link none of the packages
// that slow down every process start, run containers itself, and hand the Lua side
// and `lab build` over to lab-full next to it (here the test binary, which is the full
// CLI with LAB_TEST_CLI=1).
func TestLeanBuild(t *testing.T) {
	out, err := exec.Command("go", "list", "-tags", "lean", "-deps", "lab").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	for _, heavy := range []string{"github.com/yuin/gopher-lua", "github.com/chzyer/readline", "github.com/moby/buildkit", "google.golang.org/protobuf", "lab/luabind", "lab/runtime/build"} {
		if bytes.Contains(out, []byte(heavy)) {
			t.Errorf("the lean build links %s", heavy)
		}
	}
	root := newRoot(t)
	dir := t.TempDir()
	lean := filepath.Join(dir, "lab")
	if out, err := exec.Command("go", "build", "-tags", "lean", "-o", lean, "lab").CombinedOutput(); err != nil {
		t.Fatalf("go build -tags lean: %v\n%s", err, out)
	}
	run := func(stdin string, args ...string) (string, int) {
		cmd := exec.Command(lean, args...)
		cmd.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root)
		cmd.Stdin = strings.NewReader(stdin)
		b, err := cmd.CombinedOutput()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return string(b), code
	}
	if out, code := run("", "run", "--rm", "busybox", "echo", "from lean"); code != 0 || out != "from lean\n" {
		t.Errorf("lean run: %d %q", code, out)
	}
	script := filepath.Join(dir, "s.lua")
	os.WriteFile(script, []byte(`print(lab.run("busybox", {"echo", "from lua"}).stdout)`), 0o644)
	if out, code := run("", script); code != 125 || !strings.Contains(out, "needs lab-full next to lab") {
		t.Errorf("lean without lab-full, a script: %d %q", code, out)
	}
	self, _ := os.Executable()
	if err := os.Symlink(self, filepath.Join(dir, "lab-full")); err != nil {
		t.Fatal(err)
	}
	if out, code := run("", script); code != 0 || !strings.Contains(out, "from lua") {
		t.Errorf("lean, a script through lab-full: %d %q", code, out)
	}
	if out, code := run(`print("from stdin")`); code != 0 || !strings.Contains(out, "from stdin") {
		t.Errorf("lean, a script on stdin through lab-full: %d %q", code, out)
	}
	if out, code := run("", "build", "--help"); code != 0 || !strings.Contains(out, "Dockerfile") {
		t.Errorf("lean, build --help through lab-full: %d %q", code, out)
	}
}
