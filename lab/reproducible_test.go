package lab_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// With SOURCE_DATE_EPOCH set, the same change commits, and the same context builds, to
// the same image ID on two fresh stores at different times; without it, times are real
// (Docker's behaviour) and the IDs differ.
func TestReproducibleCommitAndBuild(t *testing.T) {
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nCOPY f /f\nRUN echo built > /b && mkdir -p /d && touch /d/x\n"), 0o644)
	os.WriteFile(filepath.Join(ctx, "f"), []byte("a file\n"), 0o644)
	ids := func(root string) (commit, build string) {
		mustRun(t, root, "run", "--name", "maker", "busybox", "sh", "-c", "echo hi > /foo; mkdir -p /d/e; echo x > /d/e/y; rm /bin/vi")
		commit = strings.TrimSpace(mustRun(t, root, "commit", "maker", "made"))
		build = strings.TrimSpace(mustRun(t, root, "build", "-q", "--no-cache", ctx))
		return commit, build
	}
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	c1, b1 := ids(newRoot(t))
	time.Sleep(1100 * time.Millisecond) // file and config times would differ now
	root2 := newRoot(t)
	c2, b2 := ids(root2)
	if c1 != c2 || !strings.HasPrefix(c1, "sha256:") {
		t.Errorf("commits of the same change differ: %s vs %s", c1, c2)
	}
	if b1 != b2 || b1 == "" {
		t.Errorf("builds of the same context differ: %s vs %s", b1, b2)
	}
	if got := mustRun(t, root2, "inspect", "-f", "{{.Created}}", "made"); !strings.Contains(got, "2023-11-14T22:13:20") {
		t.Errorf("created should be the epoch: %s", got)
	}

	os.Unsetenv("SOURCE_DATE_EPOCH")
	c3, _ := ids(newRoot(t))
	time.Sleep(1100 * time.Millisecond)
	c4, _ := ids(newRoot(t))
	if c3 == c4 {
		t.Errorf("without SOURCE_DATE_EPOCH commits carry their real time, so two differ: both %s", c3)
	}
}
