package engine_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/engine"
	"lab/runtime/image"
	"lab/runtime/reference"
)

// TestImageIDInIndex: index entries carry their image's ID, so that a lookup by ID
// (every container start) reads index.json alone; entries written without it (older
// stores) are still found by ID through their manifests.
func TestImageIDInIndex(t *testing.T) {
	e := benchEngine(t)
	img, err := e.Images.Get("busybox")
	if err != nil {
		t.Fatal(err)
	}
	ref, err := reference.ParseTagged("other:1")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Images.Tag(img, ref); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(e.Root, "index.json")
	var idx ocispec.Index
	b, _ := os.ReadFile(path)
	if err := json.Unmarshal(b, &idx); err != nil {
		t.Fatal(err)
	}
	for _, d := range idx.Manifests {
		if d.Annotations[image.AnnotationID] != img.ID.String() {
			t.Errorf("index entry %v: %s = %q, want %s", d.Annotations, image.AnnotationID, d.Annotations[image.AnnotationID], img.ID)
		}
	}
	for _, ref := range []string{img.ID.String(), img.ID.Encoded()[:12]} {
		got, err := e.Images.Get(ref)
		if err != nil || got.ID != img.ID || len(got.Tags) != 2 {
			t.Errorf("Get(%s) = %+v, %v", ref, got, err)
		}
	}
	// An older store: no annotations.
	for i := range idx.Manifests {
		delete(idx.Manifests[i].Annotations, image.AnnotationID)
	}
	b, _ = json.Marshal(idx)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	e2, err := engine.Open(e.Root)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := e2.Images.Get(img.ID.Encoded()[:12]); err != nil || got.ID != img.ID {
		t.Errorf("Get by ID without annotations = %+v, %v", got, err)
	}
	c, err := e2.Run(context.Background(), engine.CreateOptions{Image: img.ID.Encoded()[:12], Cmd: []string{"/bin/true"}, AutoRemove: true}, engine.StartOptions{})
	if err != nil || c.State.ExitCode != 0 {
		t.Errorf("run by ID without annotations: %v", err)
	}
}

// TestListRunning: ListRunning finds the running containers only, and List all.
func TestListRunning(t *testing.T) {
	e := benchEngine(t)
	ctx := context.Background()
	stopped, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/true"}}, engine.StartOptions{})
	if err != nil {
		t.Fatal(err)
	}
	created, err := e.Create(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/true"}})
	if err != nil {
		t.Fatal(err)
	}
	var running []string
	var all int
	_, err = e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/sh", "-c", "echo go; sleep 0.3"}, AutoRemove: true},
		engine.StartOptions{IO: engine.IO{Stdout: writerFunc(func(p []byte) (int, error) {
			cs, err := e.Containers.ListRunning()
			if err != nil {
				t.Error(err)
			}
			for _, c := range cs {
				running = append(running, c.ID)
			}
			as, _ := e.Containers.List()
			all = len(as)
			return len(p), nil
		})}})
	if err != nil {
		t.Fatal(err)
	}
	if len(running) != 1 || running[0] == stopped.ID || running[0] == created.ID {
		t.Errorf("ListRunning while one of three runs: %v", running)
	}
	if all != 3 {
		t.Errorf("List while one of three runs: %d containers", all)
	}
}
