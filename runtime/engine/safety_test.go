package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"lab/lab"
	"lab/runtime/cgroup"
	"lab/runtime/engine"
	"lab/runtime/image"
)

// The safety tests run real containers on real stores: hostile layers, crashes,
// concurrent lab processes, escapes from inside a container, resource limits.
//
// The package's TestMain (leak_test.go) makes this binary the container init. The
// init function below adds two more roles, chosen by environment variables so that
// they are decided before the test framework starts: the lab CLI, as a separate
// process that the crash and concurrency tests can kill or run eight at a time, and
// a probe that runs as a container's own process to attack the lab binary.
func init() {
	switch {
	case os.Getenv("LAB_SAFETY_CLI") == "1":
		os.Exit(lab.Main(os.Args[1:]))
	case os.Getenv("LAB_SAFETY_WORKER") != "":
		os.Exit(concurrencyWorker())
	case os.Getenv("LAB_SAFETY_EXEPROBE") == "1":
		os.Exit(exeProbe())
	case os.Getenv("LAB_SAFETY_SWAPPER") != "":
		os.Exit(swapper())
	}
}

// needContainers skips when the host cannot run containers (not root, no busybox).
func needContainers(t testing.TB) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers use real namespaces and overlay mounts")
	}
	if _, err := image.FindBusybox(); err != nil {
		t.Skip(err)
	}
}

// newStore opens a fresh state directory with busybox bootstrapped, and checks when
// the test ends that nothing is left mounted under it and no cgroup of one of its
// containers is left.
func newStore(t testing.TB) *engine.Engine {
	t.Helper()
	needContainers(t)
	root := t.TempDir()
	e, err := engine.Open(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Bootstrap(context.Background(), "busybox"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { checkNoLeaks(t, e.Root) })
	return e
}

// checkNoLeaks fails the test for mounts or cgroups a run left behind, and removes
// the cgroups so that a failing test does not leak them either.
func checkNoLeaks(t testing.TB, root string) {
	t.Helper()
	if b, _ := os.ReadFile("/proc/self/mountinfo"); strings.Contains(string(b), root) {
		t.Errorf("mounts under %s leaked:\n%s", root, b)
	}
	ents, _ := os.ReadDir(filepath.Join(root, "containers"))
	for _, ent := range ents {
		if left := cgroup.Leftovers(ent.Name()); len(left) > 0 {
			t.Errorf("cgroups of container %s left: %v", ent.Name()[:12], left)
			cgroup.RemoveLeftovers(ent.Name())
		}
	}
}

type cliResult struct {
	stdout, stderr string
	code           int
}

// labCmd prepares the lab CLI as a process of its own on the store at root.
func labCmd(root string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "LAB_SAFETY_CLI=1", "LAB_ROOT="+root)
	return cmd
}

func labCLI(t testing.TB, root string, stdin io.Reader, args ...string) cliResult {
	t.Helper()
	cmd := labCmd(root, args...)
	cmd.Stdin = stdin
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	r := cliResult{out.String(), errb.String(), 0}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		r.code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("lab %v: %v", args, err)
	}
	if strings.Contains(r.stderr, "goroutine ") || strings.Contains(r.stderr, "panic:") {
		t.Fatalf("lab %v crashed:\n%s", args, r.stderr)
	}
	return r
}

func mustCLI(t testing.TB, root string, args ...string) string {
	t.Helper()
	r := labCLI(t, root, nil, args...)
	if r.code != 0 {
		t.Fatalf("lab %s: exit %d\nstdout: %s\nstderr: %s", strings.Join(args, " "), r.code, r.stdout, r.stderr)
	}
	return r.stdout
}

// runOut runs cmd in a fresh container of img and returns its output and exit code.
func runOut(t testing.TB, e *engine.Engine, img string, cmd ...string) (string, int) {
	t.Helper()
	var out bytes.Buffer
	c, err := e.Run(context.Background(), engine.CreateOptions{Image: img, Cmd: cmd, AutoRemove: true},
		engine.StartOptions{IO: engine.IO{Stdout: &out, Stderr: &out}})
	if err != nil {
		t.Fatalf("run %v in %s: %v (output %q)", cmd, img, err, out.String())
	}
	return out.String(), c.State.ExitCode
}

// tarEntry is one member of a layer built in a test.
type tarEntry struct {
	hdr  tar.Header
	body string
}

func file(name, body string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0o644, Size: int64(len(body))}, body: body}
}

func dir(name string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755}}
}

func symlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func hardlink(name, target string) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}

func node(name string, typ byte, major, minor int64) tarEntry {
	return tarEntry{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o666, Devmajor: major, Devminor: minor}}
}

func buildTar(t testing.TB, entries ...tarEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		h := e.hdr
		h.Format = tar.FormatPAX
		if h.ModTime.IsZero() {
			h.ModTime = time.Unix(1700000000, 0)
		}
		if err := tw.WriteHeader(&h); err != nil {
			t.Fatalf("write header %q: %v", h.Name, err)
		}
		if _, err := io.WriteString(tw, e.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// snapshot is what a store holds where a refused import could leave something: the
// names in blobs/, layers/ and ingest/, and index.json's bytes.
type storeState struct {
	blobs, layers, ingest []string
	index                 string
}

func snap(t testing.TB, root string) storeState {
	t.Helper()
	names := func(d string) []string {
		ents, err := os.ReadDir(filepath.Join(root, d))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		var out []string
		for _, e := range ents {
			out = append(out, e.Name())
		}
		sort.Strings(out)
		return out
	}
	idx, _ := os.ReadFile(filepath.Join(root, "index.json"))
	return storeState{names("blobs/sha256"), names("layers"), names("ingest"), string(idx)}
}

func (s storeState) diff(o storeState) string {
	var out []string
	for _, c := range []struct {
		name string
		a, b []string
	}{{"blobs", s.blobs, o.blobs}, {"layers", s.layers, o.layers}, {"ingest", s.ingest, o.ingest}} {
		if strings.Join(c.a, ",") != strings.Join(c.b, ",") {
			out = append(out, fmt.Sprintf("%s: %v -> %v", c.name, c.a, c.b))
		}
	}
	if s.index != o.index {
		out = append(out, "index.json changed")
	}
	return strings.Join(out, "; ")
}

func sha(b []byte) string {
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

func fileHash(t testing.TB, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return sha(b)
}

// hostBlockDevice returns the major and minor number of a block device the host
// itself can open, so that a container able to open the same node would reach it.
func hostBlockDevice(t testing.TB) (int64, int64) {
	ents, _ := os.ReadDir("/sys/class/block")
	for _, ent := range ents {
		b, err := os.ReadFile(filepath.Join("/sys/class/block", ent.Name(), "dev"))
		if err != nil {
			continue
		}
		var maj, min int64
		if n, _ := fmt.Sscanf(strings.TrimSpace(string(b)), "%d:%d", &maj, &min); n != 2 {
			continue
		}
		if f, err := os.Open("/dev/" + ent.Name()); err == nil {
			f.Close()
			return maj, min
		}
	}
	t.Skip("the host cannot open any block device itself")
	return 0, 0
}
