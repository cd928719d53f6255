package engine_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lab/runtime/container"
	"lab/runtime/engine"
)

// swapper runs inside a container as lab's own binary (see init in safety_test.go): it
// makes /s/d a directory holding f, /s/l a symlink to the host directory named by
// LAB_SAFETY_SWAPPER, then exchanges the two names as fast as it can, so that a host
// reader resolving /s/d/f by path sometimes goes through the symlink onto the host.
func swapper() int {
	target := os.Getenv("LAB_SAFETY_SWAPPER")
	os.MkdirAll("/s/d", 0o755)
	os.WriteFile("/s/d/f", []byte("inside\n"), 0o644)
	os.Symlink(target, "/s/l")
	os.WriteFile("/ready", nil, 0o644)
	for {
		unix.Renameat2(unix.AT_FDCWD, "/s/d", unix.AT_FDCWD, "/s/l", unix.RENAME_EXCHANGE)
	}
}

// startSwapper starts a swapping container and returns its id once it swaps, and the
// marker that only the host directory holds. The container is killed when the test ends.
func startSwapper(t *testing.T, e *engine.Engine) (id, marker string) {
	t.Helper()
	// The swapper is this test binary, reached as the init's /proc/self/exe: so the
	// init must be the test binary (lab's fallback), not lab-init.
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("LAB_INIT", self)
	libs, err := sharedLibs(t, os.Args[0])
	if err != nil {
		t.Skip(err)
	}
	if _, err := layeredImage(t, e, "swap:probe", libs); err != nil {
		t.Fatal(err)
	}
	host := t.TempDir()
	b := make([]byte, 16)
	rand.Read(b)
	marker = "HOST-ONLY-" + hex.EncodeToString(b)
	if err := os.WriteFile(filepath.Join(host, "f"), []byte(marker), 0o644); err != nil {
		t.Fatal(err)
	}
	c, err := e.Create(context.Background(), engine.CreateOptions{Image: "swap:probe", Cmd: []string{"/proc/self/exe"},
		Env: []string{"LAB_SAFETY_SWAPPER=" + host}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	var out bytes.Buffer
	go func() {
		defer close(done)
		e.Start(ctx, c.ID, engine.StartOptions{IO: engine.IO{Stdout: &out, Stderr: &out}})
	}()
	t.Cleanup(func() {
		cancel()
		<-done
		e.Remove(c.ID, true)
	})
	ready := filepath.Join(e.Containers.UpperDir(c.ID), "ready")
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		select {
		case <-done:
			t.Fatalf("swapper exited: %s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("swapper did not start")
		}
	}
	return c.ID, marker
}

// TestSymlinkSwapCannotReachHost races readers of a running container's files against
// the container swapping a directory for a symlink to a host directory: no byte of the
// host file may reach a committed layer, an export or c:read, whatever the timing.
func TestSymlinkSwapCannotReachHost(t *testing.T) {
	e := newStore(t)
	id, marker := startSwapper(t, e)
	const rounds = 150

	t.Run("commit", func(t *testing.T) {
		for _, pause := range []bool{true, false} {
			failed := 0
			start := time.Now()
			for i := 0; i < rounds/5; i++ {
				img, err := e.Commit(context.Background(), id, engine.CommitOptions{NoPause: !pause})
				if err != nil {
					if pause {
						t.Fatalf("commit with pause: %v", err)
					}
					failed++ // a tree changing under an unpaused commit may fail; it must not leak
					continue
				}
				dirs, err := e.Images.LayerDirs(context.Background(), img)
				if err != nil {
					t.Fatal(err)
				}
				if p := findMarker(t, dirs[0], marker); p != "" {
					t.Fatalf("commit (pause %v) round %d: the host file reached the layer at %s", pause, i, p)
				}
				e.RemoveImage(img.ID.String(), true)
			}
			t.Logf("pause %v: %d of %d commits failed cleanly, %v each", pause, failed, rounds/5, time.Since(start)/(rounds/5))
		}
		if !swapping(e.Containers.UpperDir(id)) {
			t.Fatal("the container is not running any more after the paused commits")
		}
	})
	t.Run("export", func(t *testing.T) {
		for i := 0; i < rounds/3; i++ {
			var buf bytes.Buffer
			e.Export(context.Background(), id, &buf)
			if bytes.Contains(buf.Bytes(), []byte(marker)) {
				t.Fatalf("export round %d: the host file reached the export", i)
			}
		}
	})
	t.Run("read", func(t *testing.T) {
		for i := 0; i < rounds*4; i++ {
			for _, p := range []string{"/s/d/f", "/s/l/f"} {
				b, _ := e.ReadFile(id, p)
				if strings.Contains(string(b), marker) {
					t.Fatalf("read %s round %d: got the host file", p, i)
				}
			}
		}
	})
	if c, err := e.Containers.Get(id); err != nil || c.State.Status != container.Running {
		t.Fatalf("the swapper stopped during the test: %v", err)
	}
}

// swapping reports whether the swapper is seen exchanging its two names within a second.
func swapping(upper string) bool {
	var st0 unix.Stat_t
	if unix.Lstat(filepath.Join(upper, "s/d"), &st0) != nil {
		return false
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(upper, "s/d"), &st) == nil && st.Ino != st0.Ino {
			return true
		}
	}
	return false
}

// findMarker returns the path of a file under root holding marker, "" if none does.
func findMarker(t *testing.T, root, marker string) string {
	t.Helper()
	found := ""
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.Type().IsRegular() {
			return nil
		}
		if b, _ := os.ReadFile(p); bytes.Contains(b, []byte(marker)) {
			found = p
			return filepath.SkipAll
		}
		return nil
	})
	return found
}
