package engine

import (
	"context"
	"os"
	"testing"

	"lab/runtime/image"
)

// A run's container is locked from the moment it exists, so a prune between its
// creation and its start keeps it (the run used to fail with "container is running"
// or "no such container").
func TestPruneBetweenCreateAndStart(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: containers use real namespaces and overlay mounts")
	}
	if _, err := image.FindBusybox(); err != nil {
		t.Skip(err)
	}
	e, err := Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Bootstrap(context.Background(), "busybox"); err != nil {
		t.Fatal(err)
	}
	c, img, unlock, err := e.create(context.Background(), CreateOptions{Image: "busybox", Cmd: []string{"true"}}, true)
	if err != nil {
		t.Fatal(err)
	}
	r, err := e.PruneContainers()
	if err != nil || len(r.Containers) != 0 {
		t.Fatalf("prune removed %v (%v)", r.Containers, err)
	}
	got, err := e.startHeld(context.Background(), c, img, StartOptions{}, unlock)
	if err != nil || got.State.ExitCode != 0 {
		t.Fatalf("the run after the prune: %v %+v", err, got)
	}
	if r, err := e.PruneContainers(); err != nil || len(r.Containers) != 1 {
		t.Fatalf("once exited it is pruned: %v (%v)", r.Containers, err)
	}
}
