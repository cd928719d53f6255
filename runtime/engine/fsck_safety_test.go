package engine_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"lab/runtime/cgroup"
	"lab/runtime/engine"
)

// Fsck finds each kind of leftover an interrupted command can leave (made here by
// hand, exactly as the code paths leave them; the crash test makes real ones),
// spares recent ones within the grace period, and removes them all with --repair
// without touching anything that is in use.
func TestFsckLeftovers(t *testing.T) {
	e := newStore(t)
	ctx := context.Background()
	root := e.Root
	var buf bytes.Buffer
	c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Name: "keeper", Cmd: []string{"sh", "-c", "echo kept > /k"}},
		engine.StartOptions{IO: engine.IO{Stdout: &buf}})
	if err != nil {
		t.Fatal(err)
	}
	orphanBlob, err := e.Content.PutBytes([]byte("nobody names me"))
	if err != nil {
		t.Fatal(err)
	}
	mk := func(p string, dir bool) {
		t.Helper()
		p = filepath.Join(root, p)
		if dir {
			if err := os.MkdirAll(filepath.Join(p, "sub"), 0o755); err != nil {
				t.Fatal(err)
			}
			p = filepath.Join(p, "sub", "f")
		}
		if err := os.WriteFile(p, []byte("leftover"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("ingest/blob-123", false)
	mk("layers/.unpack-123", true)
	mk("layers/.rm-123", true)
	mk("layers/.init-123", true)
	mk("layers/"+strings.Repeat("ab", 32), true) // an unpacked layer no image uses
	mk("containers/.new-123", true)
	mk("containers/.rm-123", true)
	mk("containers/"+strings.Repeat("cd", 32), true) // a container directory without a record
	mk(".index.json.tmp-123", false)
	mk("containers/"+c.ID+"/.config.json.tmp-123", false)
	stale := strings.Repeat("ef", 32)
	os.Symlink(stale, filepath.Join(root, "names", "ghost"))
	os.Symlink(c.ID, filepath.Join(root, "names", "keeper.tmp-123"))
	os.Remove(filepath.Join(root, "names", "keeper")) // a lost name link
	var cg *cgroup.Group
	if cgroup.Version("pids") != "" {
		if cg, err = cgroup.Create(c.ID, cgroup.Limits{PidsLimit: 5}); err != nil {
			t.Fatal(err)
		}
		defer cg.Remove()
	}
	want := []string{"ingest/blob-123", "layers/.unpack-123", "layers/.rm-123", "layers/.init-123",
		"layers/" + strings.Repeat("ab", 32), "containers/.new-123", "containers/.rm-123",
		"containers/" + strings.Repeat("cd", 32), ".index.json.tmp-123", "containers/" + c.ID + "/.config.json.tmp-123",
		"names/ghost", "names/keeper.tmp-123", `name "keeper"`, orphanBlob.Encoded()}
	if cg != nil {
		want = append(want, "cgroup ")
	}

	r, err := e.Fsck(ctx, engine.FsckOptions{})
	if err != nil || !r.OK() {
		t.Fatalf("leftovers are not damage: %v %q", err, r.Problems)
	}
	for _, w := range want {
		if !hasLine(r.Leftovers, w) {
			t.Errorf("fsck did not report %s:\n%s", w, strings.Join(r.Leftovers, "\n"))
		}
	}
	// Within the grace period only what cannot belong to a running command is
	// repaired: the lost name, and the cgroup of a container that is not running.
	r, err = e.Fsck(ctx, engine.FsckOptions{Repair: true, Grace: time.Hour})
	if err != nil || !hasLine(r.Repaired, `restored the name "keeper"`) {
		t.Fatalf("repair within the grace period: %v %q", err, r.Repaired)
	}
	for _, l := range r.Repaired {
		if !strings.Contains(l, `restored the name "keeper"`) && !strings.Contains(l, "removed cgroup ") {
			t.Errorf("removed within the grace period: %s", l)
		}
	}
	r, err = e.Fsck(ctx, engine.FsckOptions{Repair: true})
	if err != nil || !r.OK() {
		t.Fatalf("repair: %v %+v", err, r)
	}
	for _, w := range want {
		if w != `name "keeper"` && w != "cgroup " && !hasLine(r.Repaired, w) {
			t.Errorf("repair did not remove %s:\n%s", w, strings.Join(r.Repaired, "\n"))
		}
	}
	if r.Reclaimed < int64(len("leftover")*8) {
		t.Errorf("reclaimed %d bytes", r.Reclaimed)
	}
	r, err = e.Fsck(ctx, engine.FsckOptions{})
	if err != nil || !r.OK() || len(r.Leftovers) != 0 {
		t.Fatalf("after repair: %v %q %q", err, r.Problems, r.Leftovers)
	}
	// What is in use survived: the container, its name, its changes, busybox.
	if b, err := e.ReadFile("keeper", "/k"); err != nil || string(b) != "kept\n" {
		t.Fatalf("keeper: %q %v", b, err)
	}
	if out, code := runOut(t, e, "busybox", "echo", "fine"); code != 0 || out != "fine\n" {
		t.Fatalf("busybox after repair: %d %q", code, out)
	}
	e.Remove("keeper", false)
}

// Prune removes what Docker's prune verbs remove, and nothing in use.
func TestPrune(t *testing.T) {
	e := newStore(t)
	ctx := context.Background()
	run := func(name, img string) string {
		t.Helper()
		c, err := e.Run(ctx, engine.CreateOptions{Image: img, Name: name, Cmd: []string{"sh", "-c", "echo " + name + " > /n"}}, engine.StartOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c.ID
	}
	a := run("ca", "busybox")
	b := run("cb", "busybox")
	dangling, err := e.Commit(ctx, a, engine.CommitOptions{})
	if err != nil {
		t.Fatal(err)
	}
	tagged, err := e.Commit(ctx, b, engine.CommitOptions{Ref: "tagged:1"})
	if err != nil {
		t.Fatal(err)
	}
	used, err := e.Commit(ctx, b, engine.CommitOptions{Ref: "used:1"})
	if err != nil {
		t.Fatal(err)
	}
	run("user", "used:1")

	r, err := e.PruneContainers()
	if err != nil || len(r.Containers) != 3 || r.Reclaimed <= 0 {
		t.Fatalf("container prune: %v %+v", err, r)
	}
	// All stopped containers are gone; so nothing uses used:1 any more. Make one that does.
	run("user2", "used:1")

	r, err = e.PruneImages(false)
	if err != nil || strings.Join(r.Images, "\n") != "deleted: "+dangling.ID.String() || r.Reclaimed <= 0 {
		t.Fatalf("image prune: %v %+v", err, r)
	}
	r, err = e.PruneImages(true)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Join(r.Images, "\n")
	for _, want := range []string{"untagged: tagged:1", "deleted: " + tagged.ID.String(), "untagged: busybox:latest"} {
		if !strings.Contains(got, want) {
			t.Errorf("image prune -a lacks %q:\n%s", want, got)
		}
	}
	if strings.Contains(got, used.ID.String()) {
		t.Errorf("image prune -a removed an image a container uses:\n%s", got)
	}
	if _, err := e.Images.Get("used:1"); err != nil {
		t.Fatal(err)
	}
	fr, err := e.Fsck(ctx, engine.FsckOptions{})
	if err != nil || !fr.OK() || len(fr.Leftovers) != 0 {
		t.Fatalf("after prune: %v %q %q", err, fr.Problems, fr.Leftovers)
	}
	if err := os.WriteFile(filepath.Join(e.Root, "ingest", "blob-1"), []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	r, err = e.PruneSystem(ctx, true, 0)
	if err != nil || len(r.Containers) != 1 || !hasLine(r.Leftovers, "ingest/blob-1") || !hasLine(r.Images, used.ID.String()) {
		t.Fatalf("system prune -a: %v %+v", err, r)
	}
	if imgs, _ := e.Images.List(); len(imgs) != 0 {
		t.Errorf("%d images left after system prune -a", len(imgs))
	}
	if blobs, _ := os.ReadDir(filepath.Join(e.Root, "blobs", "sha256")); len(blobs) != 0 {
		t.Errorf("%d blobs left after everything was pruned", len(blobs))
	}
}
