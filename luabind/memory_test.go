package luabind

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"
)

// A script that grows without end stops at the state's memory cap with an error that
// names the cap and the flag, whether it grows strings or tables; the state's context
// then counts as cancelled.
func TestMemoryLimit(t *testing.T) {
	for name, src := range map[string]string{
		"concat": `local s = string.rep("x", 1024 * 1024)
while true do s = s .. s end`,
		"table": `local t = {}
local i = 0
while true do i = i + 1; t[i] = {i, tostring(i)} end`,
	} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, Options{MemoryLimit: 64 << 20})
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
			defer cancel()
			release := SetContext(e.L, ctx)
			err := DoString(e.L, src)
			lctx := e.L.Context()
			release()
			if err == nil || !strings.Contains(err.Error(), "lua memory limit exceeded (64 MiB, --lua-memory)") {
				t.Fatalf("want the memory limit error, got %v", err)
			}
			if !errors.Is(lctx.Err(), context.Canceled) {
				t.Fatalf("the state's context should be cancelled: %v", lctx.Err())
			}
			// The cap belongs to the call: once released, the state runs again.
			e.L.SetContext(ctx)
			e.ok(`assert(1 + 1 == 2)`)
		})
	}
}

func TestFormatSize(t *testing.T) {
	for n, want := range map[int64]string{1 << 30: "1 GiB", 3 << 29: "1536 MiB", 64 << 20: "64 MiB", 4096: "4 KiB", 1000: "1000 bytes"} {
		if got := FormatSize(n); got != want {
			t.Errorf("FormatSize(%d) = %q, want %q", n, got, want)
		}
	}
}

// A container call stopped by the cap says so, not "context canceled".
func TestMemoryLimitDuringRun(t *testing.T) {
	e := newEnv(t, Options{MemoryLimit: 64 << 20})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	release := SetContext(e.L, ctx)
	done := make(chan error, 1)
	go func() { done <- DoString(e.L, `lab.run("busybox", "sleep 60")`) }()
	// Once the container runs, the heap passes the cap (here from Go: the process's
	// heap is what the cap measures).
	var hog []byte
	for deadline := time.Now().Add(time.Minute); hog == nil; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the container did not start")
		}
		cs, _ := e.eng.Containers.List()
		if len(cs) == 1 && e.eng.Containers.IsRunning(cs[0].ID) {
			hog = make([]byte, 96<<20)
			for i := range hog {
				hog[i] = 1
			}
		}
	}
	err := <-done
	release()
	runtime.KeepAlive(hog)
	f := AsFailure(err)
	if f == nil || f.Msg != "lab.run: lua memory limit exceeded (64 MiB, --lua-memory)" {
		t.Fatalf("want lab.run to fail with the memory limit, got %+v (%v)", f, err)
	}
}
