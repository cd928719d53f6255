package build

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"lab/runtime/engine"
	"lab/runtime/image"
	"lab/runtime/proc"
	"lab/runtime/proc/inittest"
)

// Containers run through lab-init, built for the run (runtime/proc/inittest).
func TestMain(m *testing.M) {
	if proc.IsInit() {
		proc.Init()
	}
	inittest.Main(func() int {
		code := m.Run()
		if baseDir != "" {
			os.RemoveAll(baseDir)
		}
		return code
	})
}

var (
	baseOnce sync.Once
	baseDir  string
	baseEng  *engine.Engine
	baseErr  error
)

// newEngine gives a test its own state directory holding busybox, forked from one
// bootstrapped store, and checks when the test ends that its builds left no container
// and no mount behind.
func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: builds run real containers")
	}
	if _, err := image.FindBusybox(); err != nil {
		t.Skip(err)
	}
	baseOnce.Do(func() {
		baseDir, baseErr = os.MkdirTemp("", "lab-build-base-")
		if baseErr != nil {
			return
		}
		if baseEng, baseErr = engine.Open(baseDir); baseErr == nil {
			_, baseErr = baseEng.Bootstrap(context.Background(), "busybox")
		}
	})
	if baseErr != nil {
		t.Fatal(baseErr)
	}
	root := t.TempDir()
	e, err := baseEng.Fork(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cs, err := e.Containers.List()
		if err != nil {
			t.Error(err)
		}
		for _, c := range cs {
			t.Errorf("container %s (%s) left behind", c.ShortID(), c.Command())
		}
		b, _ := os.ReadFile("/proc/mounts")
		if strings.Contains(string(b), root) {
			t.Errorf("mounts under %s leaked:\n%s", root, b)
		}
	})
	return e
}

// writeTree writes files (path -> content; a path ending in "/" is a directory) under
// a new temp directory and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, body := range files {
		full := filepath.Join(dir, p)
		if strings.HasSuffix(p, "/") {
			if err := os.MkdirAll(full, 0o755); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// doBuild builds dir and returns the result and what the builder printed.
func doBuild(t *testing.T, e *engine.Engine, dir string, o Options) (*Result, string, error) {
	t.Helper()
	var out bytes.Buffer
	o.Context = dir
	o.Output = &out
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	res, err := Build(ctx, e, o)
	return res, out.String(), err
}

func mustBuild(t *testing.T, e *engine.Engine, dir string, o Options) (*Result, string) {
	t.Helper()
	res, out, err := doBuild(t, e, dir, o)
	if err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return res, out
}

// runIn runs cmd in a throwaway container of img and returns its combined output and
// exit code.
func runIn(t *testing.T, e *engine.Engine, img string, cmd ...string) (string, int) {
	t.Helper()
	return runOpts(t, e, engine.CreateOptions{Image: img, Cmd: cmd, AutoRemove: true})
}

func runOpts(t *testing.T, e *engine.Engine, o engine.CreateOptions) (string, int) {
	t.Helper()
	img, cmd := o.Image, o.Cmd
	var out bytes.Buffer
	c, err := e.Run(context.Background(), o,
		engine.StartOptions{IO: engine.IO{Stdout: &out, Stderr: &out}, Timeout: time.Minute})
	if err != nil {
		var ee *engine.ExitError
		if errors.As(err, &ee) {
			return out.String() + ee.Error(), ee.Code
		}
		t.Fatalf("run %v in %s: %v", cmd, img, err)
	}
	return out.String(), c.State.ExitCode
}

// sh runs a shell script in a throwaway container of img, as root and whatever the
// image's ENTRYPOINT, and fails the test unless it succeeds.
func sh(t *testing.T, e *engine.Engine, img, script string) string {
	t.Helper()
	out, code := runOpts(t, e, engine.CreateOptions{Image: img, Cmd: []string{"/bin/sh", "-c", script}, Entrypoint: &[]string{}, User: "0", AutoRemove: true})
	if code != 0 {
		t.Fatalf("%q in %s: exit %d\n%s", script, img, code, out)
	}
	return out
}

// cached lists, per step, whether it came from the cache ("hit") or not ("miss");
// steps that cannot be cached (FROM, global ARG) are "-".
func cached(r *Result) []string {
	var out []string
	for _, s := range r.Steps {
		switch {
		case s.Stage < 0 || strings.HasPrefix(strings.ToUpper(s.Instruction), "FROM"):
			out = append(out, "-")
		case s.Cached:
			out = append(out, "hit")
		default:
			out = append(out, "miss")
		}
	}
	return out
}

func indexCount(t *testing.T, e *engine.Engine) int {
	t.Helper()
	imgs, err := e.Images.List()
	if err != nil {
		t.Fatal(err)
	}
	return len(imgs)
}
