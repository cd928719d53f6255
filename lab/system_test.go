package lab_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

var reclaimed = regexp.MustCompile(`(?m)^Total reclaimed space: [0-9.]+[kMG]?B$`)

// The prune verbs print what Docker prints, ask first unless -f, and the management
// forms (lab container ls, lab image rm) are the top-level verbs.
func TestPruneCLI(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "run", "--name", "one", "busybox", "sh", "-c", "echo 1 > /f")
	id := strings.TrimSpace(mustRun(t, root, "ps", "-aq", "--no-trunc"))

	r := labIn(t, root, "n\n", "container", "prune")
	if r.code != 0 || !strings.HasPrefix(r.stdout, "WARNING! This will remove all stopped containers.\nAre you sure you want to continue? [y/N] ") {
		t.Fatalf("prompt: %+v", r)
	}
	if strings.Contains(r.stdout, "reclaimed") {
		t.Fatalf("a no prints no total, as Docker's client: %q", r.stdout)
	}
	if got := mustRun(t, root, "container", "ls", "-aq", "--no-trunc"); strings.TrimSpace(got) != id {
		t.Fatalf("answering n removed the container: %q", got)
	}
	r = labIn(t, root, "y\n", "container", "prune")
	if r.code != 0 || !strings.Contains(r.stdout, "Deleted Containers:\n"+id+"\n\n") || !reclaimed.MatchString(r.stdout) {
		t.Fatalf("container prune: %+v", r)
	}
	if got := mustRun(t, root, "ps", "-aq"); got != "" {
		t.Fatalf("containers left: %q", got)
	}

	mustRun(t, root, "run", "--name", "two", "busybox", "sh", "-c", "echo 2 > /f")
	dangling := strings.TrimSpace(mustRun(t, root, "commit", "two"))
	mustRun(t, root, "commit", "two", "kept:1")
	out := mustRun(t, root, "image", "prune", "-f")
	if want := "Deleted Images:\ndeleted: " + dangling + "\n\n"; !strings.HasPrefix(out, want) || !reclaimed.MatchString(out) {
		t.Fatalf("image prune: %q, want it to start with %q", out, want)
	}
	out = mustRun(t, root, "image", "prune", "-a", "-f")
	if !strings.Contains(out, "untagged: kept:1") || strings.Contains(out, "busybox") {
		t.Fatalf("image prune -a must remove kept:1 and keep busybox (container two uses it):\n%s", out)
	}
	if got := mustRun(t, root, "image", "ls", "--format", "json"); strings.Count(got, "\n") != 1 || !strings.Contains(got, `"Repository":"busybox"`) {
		t.Fatalf("images left: %s", got)
	}

	os.WriteFile(filepath.Join(root, "ingest", "blob-9"), []byte("x"), 0o600)
	out = mustRun(t, root, "system", "prune", "-f", "--grace", "0")
	if !strings.Contains(out, "Deleted Containers:\n") || !strings.Contains(out, "Removed leftovers of interrupted commands:\ntemporary file of an interrupted command: ingest/blob-9\n") {
		t.Fatalf("system prune:\n%s", out)
	}
	if r := labIn(t, root, "", "container", "bogus"); r.code != 1 || !strings.Contains(r.stderr, "unknown command: lab container bogus") {
		t.Fatalf("unknown subcommand: %+v", r)
	}
	if r := labIn(t, root, "", "container", "prune", "extra"); r.code != 1 || !strings.Contains(r.stderr, "accepts no arguments") {
		t.Fatalf("extra argument: %+v", r)
	}
}

// lab fsck and its alias lab system check: a clean store is ok; a leftover is
// reported, then removed by --repair; damage makes it exit 1.
func TestFsckCLI(t *testing.T) {
	root := newRoot(t)
	for _, args := range [][]string{{"fsck"}, {"system", "check"}} {
		out := mustRun(t, root, args...)
		if !strings.HasPrefix(out, "checked 3 blobs, 1 images, 0 containers, 1 unpacked layers\n") || !strings.HasSuffix(out, "ok\n") {
			t.Fatalf("lab %v:\n%s", args, out)
		}
	}
	os.WriteFile(filepath.Join(root, "ingest", "blob-7"), []byte("x"), 0o600)
	out := mustRun(t, root, "fsck")
	if !strings.Contains(out, "leftover: temporary file of an interrupted command: ingest/blob-7\n") || !strings.Contains(out, "lab fsck --repair") {
		t.Fatalf("fsck with a leftover:\n%s", out)
	}
	out = mustRun(t, root, "fsck", "--repair")
	if !strings.Contains(out, "(kept: changed less than 10s ago)") {
		t.Fatalf("a fresh leftover must be kept by default:\n%s", out)
	}
	out = mustRun(t, root, "system", "check", "--repair", "--grace", "0")
	if !strings.Contains(out, "removed temporary file of an interrupted command: ingest/blob-7\n") {
		t.Fatalf("fsck --repair:\n%s", out)
	}
	// Rot a blob: one problem, exit 1.
	blobs, _ := os.ReadDir(filepath.Join(root, "blobs", "sha256"))
	p := filepath.Join(root, "blobs", "sha256", blobs[0].Name())
	os.Chmod(p, 0o644)
	b, _ := os.ReadFile(p)
	b[0] ^= 1
	os.WriteFile(p, b, 0o444)
	r := labIn(t, root, "", "fsck")
	if r.code != 1 || !strings.Contains(r.stdout, "problem: blob sha256:"+blobs[0].Name()+" is corrupt") || !strings.Contains(r.stderr, "lab fsck: 1 problem(s) found") {
		t.Fatalf("fsck of a rotten blob: %+v", r)
	}
}
