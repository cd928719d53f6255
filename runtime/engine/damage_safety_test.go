package engine_test

import (
	"archive/tar"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/engine"
)

// storeWithTwoImages makes busybox plus "other" (a commit of a container, kept) and
// returns the blobs present.
func storeWithTwoImages(t *testing.T) (*engine.Engine, []string) {
	t.Helper()
	e := newStore(t)
	mustCLI(t, e.Root, "run", "--name", "c1", "busybox", "sh", "-c", "echo hi > /f")
	mustCLI(t, e.Root, "commit", "c1", "other")
	mustCLI(t, e.Root, "run", "--name", "c2", "other", "true")
	blobs, _ := filepath.Glob(filepath.Join(e.Root, "blobs", "sha256", "*"))
	return e, blobs
}

// With index.json lost, fsck --repair rebuilds it from the manifests found instead of
// calling every blob a leftover: no blob an image or container uses is deleted, and
// both images run again, untagged.
func TestFsckRebuildsLostIndex(t *testing.T) {
	e, blobs := storeWithTwoImages(t)
	ids := map[string]string{}
	for _, ref := range []string{"busybox", "other"} {
		img, err := e.Images.Get(ref)
		if err != nil {
			t.Fatal(err)
		}
		ids[ref] = img.ID.Encoded()[:12]
	}
	if err := os.Remove(filepath.Join(e.Root, "index.json")); err != nil {
		t.Fatal(err)
	}
	if r := labCLI(t, e.Root, nil, "images"); r.code == 0 || !strings.Contains(r.stderr, "fsck --repair") {
		t.Errorf("images with the index lost: exit %d, %q", r.code, r.stderr)
	}
	// Nothing may write a new, empty index meanwhile.
	if r := labCLI(t, e.Root, nil, "run", "--rm", "busybox", "true"); r.code != 125 {
		t.Errorf("run with the index lost: exit %d", r.code)
	}
	if _, err := os.Stat(filepath.Join(e.Root, "index.json")); err == nil {
		t.Fatal("a command wrote a new index.json over the lost one")
	}
	out := mustCLI(t, e.Root, "fsck", "--repair")
	if !strings.Contains(out, "rebuilt it from the 2 image manifests") {
		t.Errorf("fsck --repair does not say what it did:\n%s", out)
	}
	for _, b := range blobs {
		if _, err := os.Stat(b); err != nil {
			t.Errorf("fsck --repair deleted %s, which an image uses", filepath.Base(b))
		}
	}
	for ref, id := range ids {
		if got := mustCLI(t, e.Root, "run", "--rm", id, "cat", "/bin/busybox"); len(got) == 0 {
			t.Errorf("%s (%s) does not run after the rebuild", ref, id)
		}
	}
	mustCLI(t, e.Root, "start", "-a", "c2")
	if out := mustCLI(t, e.Root, "fsck"); !strings.HasSuffix(strings.TrimSpace(out), "ok") {
		t.Errorf("fsck after the repair:\n%s", out)
	}
}

// One image whose manifest is gone fails alone: images lists the others and warns
// once, run and rmi of the others work, and rmi removes the damaged one by tag.
func TestDamagedImageFailsAlone(t *testing.T) {
	e, _ := storeWithTwoImages(t)
	mustCLI(t, e.Root, "rm", "c2")
	b, err := os.ReadFile(filepath.Join(e.Root, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var idx ocispec.Index
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		if strings.Contains(d.Annotations[ocispec.AnnotationRefName], "other") {
			p := filepath.Join(e.Root, "blobs", "sha256", d.Digest.Encoded())
			os.Chmod(p, 0o644)
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	r := labCLI(t, e.Root, nil, "images")
	if r.code != 0 || !strings.Contains(r.stdout, "busybox") || strings.Count(r.stderr, "WARNING") != 1 || !strings.Contains(r.stderr, "other:latest") {
		t.Errorf("images: exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
	}
	mustCLI(t, e.Root, "run", "--rm", "busybox", "true")
	if out := mustCLI(t, e.Root, "rmi", "other"); !strings.Contains(out, "Untagged: other:latest") {
		t.Errorf("rmi of the damaged image: %q", out)
	}
	if r := labCLI(t, e.Root, nil, "images"); r.stderr != "" {
		t.Errorf("still warned after rmi: %s", r.stderr)
	}
	mustCLI(t, e.Root, "rm", "c1")
	mustCLI(t, e.Root, "rmi", "busybox")
}

// A long import's ingest file and unpack directory are in use while its lab process
// lives, however old they are: fsck --repair and system prune leave them alone, and
// the import completes.
func TestRepairSparesLiveImport(t *testing.T) {
	e := newStore(t)
	cmd := labCmd(e.Root, "import", "-", "slow:v1")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	body := strings.Repeat("x", 1<<20)
	tw := tar.NewWriter(stdin)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "big", Mode: 0o644, Size: int64(2 * len(body))})
	io.WriteString(tw, body)
	// Wait for the import's temp files, then let them age past any grace period.
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		ing, _ := filepath.Glob(filepath.Join(e.Root, "ingest", "*"))
		unp, _ := filepath.Glob(filepath.Join(e.Root, "layers", ".unpack-*"))
		if len(ing) > 0 && len(unp) > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the import made no temp files")
		}
	}
	out1 := mustCLI(t, e.Root, "fsck", "--repair", "--grace", "0s")
	out2 := mustCLI(t, e.Root, "system", "prune", "-f", "--grace", "0s")
	if strings.Contains(out1+out2, "removed temporary") || strings.Contains(out1+out2, "ingest/") && strings.Contains(out1+out2, "removed") {
		t.Errorf("a live import's files were removed:\n%s\n%s", out1, out2)
	}
	io.WriteString(tw, body)
	tw.Close()
	stdin.Close()
	if err := cmd.Wait(); err != nil {
		t.Fatalf("import failed after fsck and prune: %v\n%s", err, errb.String())
	}
	if got, _ := e.ReadImageFile("slow:v1", "/big"); len(got) != 2*len(body) {
		t.Errorf("imported file has %d bytes", len(got))
	}
}

// A killed `run --rm` leaves its record: fsck flags it and --repair removes it, name
// included. A container whose record is corrupt keeps its name taken, so rm by name
// and by ID must still remove it.
func TestDamagedContainerRecords(t *testing.T) {
	e := newStore(t)
	cmd := labCmd(e.Root, "run", "--rm", "--name", "doomed", "busybox", "sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := e.Containers.Get("doomed"); err == nil && c.State.Pid > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the --rm container did not start")
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if c, err := e.Containers.Get("doomed"); err == nil && !e.Containers.IsRunning(c.ID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the --rm container did not stop with its lab process")
		}
	}
	if out := labCLI(t, e.Root, nil, "fsck").stdout; !strings.Contains(out, "--rm container") {
		t.Errorf("fsck does not flag the killed --rm container:\n%s", out)
	}
	mustCLI(t, e.Root, "fsck", "--repair", "--grace", "0s")
	if _, err := e.Containers.Get("doomed"); err == nil {
		t.Error("fsck --repair kept the killed --rm container")
	}
	mustCLI(t, e.Root, "run", "--name", "doomed", "busybox", "true") // the name is free again

	for i, by := range []string{"name", "id"} {
		name := "broken" + strings.Repeat("x", i)
		mustCLI(t, e.Root, "run", "--name", name, "busybox", "true")
		c, err := e.Containers.Get(name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(e.Containers.Dir(c.ID), "config.json"), []byte("{garbage"), 0o600); err != nil {
			t.Fatal(err)
		}
		if r := labCLI(t, e.Root, nil, "run", "--name", name, "busybox", "true"); r.code == 0 {
			t.Fatalf("a second container took the name of one with a corrupt record")
		}
		ref := name
		if by == "id" {
			ref = c.ID[:12]
		}
		if r := labCLI(t, e.Root, nil, "rm", ref); r.code != 0 {
			t.Fatalf("rm by %s of a container with a corrupt record: exit %d: %s", by, r.code, r.stderr)
		}
		if _, err := os.Stat(e.Containers.Dir(c.ID)); err == nil {
			t.Errorf("rm by %s left the container directory", by)
		}
		mustCLI(t, e.Root, "run", "--name", name, "busybox", "true") // the name is free again
	}
}

// fsck --layers re-verifies unpacked layers against their blobs: a file deleted or
// altered inside one is reported, and --repair removes the layer so that it is
// unpacked again, intact, when next used.
func TestFsckLayersFindsDamagedTree(t *testing.T) {
	e, _ := storeWithTwoImages(t)
	if out := mustCLI(t, e.Root, "fsck", "--layers"); !strings.HasSuffix(strings.TrimSpace(out), "ok") {
		t.Fatalf("fsck --layers on an intact store:\n%s", out)
	}
	img, err := e.Images.Get("other")
	if err != nil {
		t.Fatal(err)
	}
	dirs, err := e.Images.LayerDirs(context.Background(), img)
	if err != nil {
		t.Fatal(err)
	}
	base := dirs[len(dirs)-1] // busybox's layer
	if err := os.Remove(filepath.Join(base, "bin", "busybox")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dirs[0], "f"), []byte("HI\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if out := mustCLI(t, e.Root, "fsck"); !strings.HasSuffix(strings.TrimSpace(out), "ok") {
		t.Fatalf("plain fsck reads no layer files, yet:\n%s", out)
	}
	r := labCLI(t, e.Root, nil, "fsck", "--layers")
	if r.code == 0 || !strings.Contains(r.stdout, "/bin/busybox is missing") || !strings.Contains(r.stdout, "/f has changed") {
		t.Fatalf("fsck --layers: exit %d\n%s", r.code, r.stdout)
	}
	mustCLI(t, e.Root, "fsck", "--repair", "--layers")
	if out := mustCLI(t, e.Root, "run", "--rm", "other", "cat", "/f"); out != "hi\n" {
		t.Errorf("after repair: %q", out)
	}
	if out := mustCLI(t, e.Root, "fsck", "--layers"); !strings.HasSuffix(strings.TrimSpace(out), "ok") {
		t.Fatalf("fsck --layers after repair:\n%s", out)
	}
}
