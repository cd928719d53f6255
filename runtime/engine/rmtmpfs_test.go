package engine_test

import (
	"context"
	"errors"
	"os"
	"sort"
	"strings"
	"testing"

	"lab/runtime/engine"
)

// TestRmLeavesNoTraceOnDisk: an --rm container's writable layer (and its hostname and
// hosts files) live on a tmpfs inside the container: while it runs, its directory on
// disk holds only its records, the host sees no mount of it, what it writes does not
// reach the disk, and the verbs that read a writable layer say why they cannot.
func TestRmLeavesNoTraceOnDisk(t *testing.T) {
	e := benchEngine(t)
	ctx := context.Background()
	if _, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/true"}, AutoRemove: true}, engine.StartOptions{}); err != nil {
		t.Fatal(err)
	}
	var seen []string
	var mounts string
	var diffErr error
	var out strings.Builder
	probe := writerFunc(func(p []byte) (int, error) {
		out.Write(p)
		if !strings.Contains(out.String(), "written") || seen != nil {
			return len(p), nil
		}
		cs, err := e.Containers.List()
		if err != nil || len(cs) != 1 {
			t.Errorf("list while running: %v, %d containers", err, len(cs))
			return len(p), nil
		}
		ents, _ := os.ReadDir(e.Containers.Dir(cs[0].ID))
		seen = []string{}
		for _, ent := range ents {
			seen = append(seen, ent.Name())
		}
		sort.Strings(seen)
		b, _ := os.ReadFile("/proc/self/mountinfo")
		mounts = string(b)
		_, diffErr = e.Diff(cs[0].ID)
		return len(p), nil
	})
	du0 := storeBytes(t, e)
	c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", AutoRemove: true,
		Cmd: []string{"/bin/sh", "-c", "head -c 4194304 /dev/zero > /big && cat /etc/hostname && echo written && sleep 0.2 && test -s /big"}},
		engine.StartOptions{IO: engine.IO{Stdout: probe}})
	if err != nil || c.State.ExitCode != 0 {
		t.Fatalf("run: %v %+v\n%s", err, c, out.String())
	}
	if !strings.HasPrefix(out.String(), c.Config.Hostname+"\n") {
		t.Errorf("/etc/hostname in the container: %q, want %q", out.String(), c.Config.Hostname)
	}
	if strings.Join(seen, " ") != "config.json container.log lock" {
		t.Errorf("the running --rm container's directory on disk holds %q, want only its records", seen)
	}
	if strings.Contains(mounts, e.Root) {
		t.Errorf("a mount of the store is visible on the host:\n%s", mounts)
	}
	if !errors.Is(diffErr, engine.ErrNoDiskLayer) {
		t.Errorf("diff of a running --rm container: %v, want ErrNoDiskLayer", diffErr)
	}
	if du := storeBytes(t, e); du > du0+64<<10 {
		t.Errorf("store grew from %d to %d bytes after an --rm container wrote 4 MiB", du0, du)
	}
	if ents, _ := os.ReadDir(e.Root + "/containers"); len(ents) != 0 {
		t.Errorf("containers left: %v", ents)
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func storeBytes(t *testing.T, e *engine.Engine) int64 {
	t.Helper()
	return snapshot(t, e, t.TempDir()).storeBytes
}
