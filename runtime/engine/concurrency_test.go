package engine_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/engine"
)

const (
	workers   = 8
	cycles    = 50
	keepEvery = 10 // every tenth cycle's image is kept, the others removed again
)

// TestConcurrentLabs runs eight lab processes at once on one store, each doing fifty
// run / commit / tag / rmi cycles, all of them also moving one shared tag. No process
// may see an error, no tag may be lost, and the store must check clean with nothing
// left over.
func TestConcurrentLabs(t *testing.T) {
	e := newStore(t)
	n := cycles
	if testing.Short() {
		n = 10
	}
	start := time.Now()
	var wg sync.WaitGroup
	outs := make([]bytes.Buffer, workers)
	errs := make([]error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "LAB_ROOT="+e.Root, "LAB_SAFETY_WORKER="+strconv.Itoa(w), "LAB_SAFETY_CYCLES="+strconv.Itoa(n))
			cmd.Stdout, cmd.Stderr = &outs[w], &outs[w]
			errs[w] = cmd.Run()
		}(w)
	}
	wg.Wait()
	t.Logf("%d workers x %d cycles in %v", workers, n, time.Since(start).Round(time.Millisecond))
	for w := 0; w < workers; w++ {
		if errs[w] != nil {
			t.Errorf("worker %d: %v\n%s", w, errs[w], outs[w].String())
		}
	}
	ctx := context.Background()
	imgs, err := e.Images.List()
	if err != nil {
		t.Fatal(err)
	}
	byTag := map[string]string{}
	for _, img := range imgs {
		for _, tag := range img.Tags {
			byTag[tag] = img.ID.String()
		}
	}
	for w := 0; w < workers; w++ {
		for c := 0; c < n; c++ {
			for _, tag := range []string{fmt.Sprintf("w%d:c%d", w, c), fmt.Sprintf("w%d:t%d", w, c)} {
				id, ok := byTag[tag]
				if c%keepEvery != 0 {
					if ok {
						t.Errorf("%s should have been removed", tag)
					}
					continue
				}
				if !ok {
					t.Errorf("tag lost: %s", tag)
					continue
				}
				if !strings.HasSuffix(tag, ":t"+strconv.Itoa(c)) {
					continue // c and t name the same image
				}
				b, err := e.ReadImageFile(id, "/id")
				if want := fmt.Sprintf("%d-%d\n", w, c); err != nil || string(b) != want {
					t.Errorf("%s holds %q (%v), want %q", tag, b, err, want)
				}
			}
		}
	}
	// The shared tag, moved by everyone, names exactly one image.
	idx, err := os.ReadFile(filepath.Join(e.Root, "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index ocispec.Index
	if err := json.Unmarshal(idx, &index); err != nil {
		t.Fatal(err)
	}
	shared := 0
	for _, d := range index.Manifests {
		if d.Annotations[ocispec.AnnotationRefName] == "shared:latest" {
			shared++
		}
	}
	if shared != 1 {
		t.Errorf("shared:latest appears %d times in index.json", shared)
	}
	// Images whose last tag was shared:latest when it moved on stay as <none>, as on
	// Docker; pruning them leaves exactly the images the tags name.
	pr, err := e.PruneImages(false)
	if err != nil {
		t.Fatal(err)
	}
	if imgs, err = e.Images.List(); err != nil {
		t.Fatal(err)
	}
	tags := 0
	for _, img := range imgs {
		if len(img.Tags) == 0 {
			t.Errorf("untagged image %s left after prune", img.ID)
		}
		tags += len(img.Tags)
	}
	if want := 2 + 2*workers*((n+keepEvery-1)/keepEvery); tags != want {
		t.Errorf("%d tags, want %d (pruned %d lines)", tags, want, len(pr.Images))
	}
	if cs, _ := e.Containers.List(); len(cs) != 0 {
		t.Errorf("%d containers left", len(cs))
	}
	r, err := e.Fsck(ctx, engine.FsckOptions{})
	if err != nil || !r.OK() || len(r.Leftovers) != 0 {
		t.Errorf("fsck: %v\nproblems %q\nleftovers %q", err, r.Problems, r.Leftovers)
	}
}

// concurrencyWorker is one lab process of TestConcurrentLabs: it drives the engine
// as the CLI or a Lua script does, and reports every error it sees.
func concurrencyWorker() int {
	w, _ := strconv.Atoi(os.Getenv("LAB_SAFETY_WORKER"))
	n, _ := strconv.Atoi(os.Getenv("LAB_SAFETY_CYCLES"))
	e, err := engine.Open(engine.DefaultRoot())
	if err != nil {
		fmt.Println(err)
		return 1
	}
	ctx := context.Background()
	failures := 0
	fail := func(c int, what string, err error) {
		fmt.Printf("worker %d cycle %d: %s: %v\n", w, c, what, err)
		failures++
	}
	for c := 0; c < n; c++ {
		var out bytes.Buffer
		ct, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"sh", "-c", fmt.Sprintf("echo %d-%d > /id; cat /id", w, c)}},
			engine.StartOptions{IO: engine.IO{Stdout: &out, Stderr: &out}})
		if err != nil || ct.State.ExitCode != 0 || out.String() != fmt.Sprintf("%d-%d\n", w, c) {
			fail(c, "run", fmt.Errorf("%v, output %q", err, out.String()))
			continue
		}
		ref, tag := fmt.Sprintf("w%d:c%d", w, c), fmt.Sprintf("w%d:t%d", w, c)
		img, err := e.Commit(ctx, ct.ID, engine.CommitOptions{Ref: ref})
		if err != nil {
			fail(c, "commit", err)
			continue
		}
		if err := e.Tag(ref, tag); err != nil {
			fail(c, "tag", err)
		}
		if err := e.Tag(ref, "shared:latest"); err != nil {
			fail(c, "tag shared", err)
		}
		if got, err := e.Images.Get(tag); err != nil || got.ID != img.ID {
			fail(c, "get "+tag, err)
		}
		if c%keepEvery != 0 {
			for _, r := range []string{ref, tag} {
				if _, err := e.RemoveImage(r, false); err != nil {
					fail(c, "rmi "+r, err)
				}
			}
		}
		if _, err := e.Remove(ct.ID, false); err != nil {
			fail(c, "rm", err)
		}
	}
	if failures > 0 {
		return 1
	}
	return 0
}
