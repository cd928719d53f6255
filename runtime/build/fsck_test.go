package build

import (
	"context"
	"strings"
	"testing"

	"lab/runtime/engine"
)

// fsck --repair must not take the build cache's intermediate images for leftovers:
// their blobs are kept out of index.json on purpose.
func TestFsckKeepsBuildCache(t *testing.T) {
	e := newEngine(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY a.txt /a.txt\nRUN cat /a.txt > /b.txt\nCMD [\"cat\", \"/b.txt\"]\n",
		"a.txt":      "a\n",
	})
	first, _ := mustBuild(t, e, dir, Options{Tags: []string{"k"}})
	r, err := e.Fsck(context.Background(), engine.FsckOptions{Repair: true})
	if err != nil || !r.OK() {
		t.Fatalf("fsck: %v %q", err, r.Problems)
	}
	for _, rep := range r.Repaired {
		if strings.Contains(rep, "blob") {
			t.Errorf("fsck --repair removed a blob the build cache uses: %s", rep)
		}
	}
	second, _ := mustBuild(t, e, dir, Options{Tags: []string{"k"}})
	if second.Image.ID != first.Image.ID || second.Hits() != len(second.Steps)-1 {
		t.Fatalf("after fsck --repair the rebuild should hit the cache: hits %d of %d", second.Hits(), len(second.Steps))
	}
}
