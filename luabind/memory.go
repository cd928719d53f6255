package luabind

import (
	"context"
	"errors"
	"fmt"
	"math"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"
)

// DefaultMemoryLimit is the memory cap of a state whose Options leave it zero.
const DefaultMemoryLimit = 1 << 30

// memoryPoll is how often the watcher reads the heap: reading one runtime metric costs
// well under a microsecond, and a script doubling a string every few milliseconds
// overshoots the cap by at most one doubling.
const memoryPoll = 5 * time.Millisecond

// MemoryLimitError is the error a state's context ends with when the process's live
// heap passed the state's memory cap. It is also a context.Canceled, so code that
// treats a cancelled context as "stop now" stops for it too.
type MemoryLimitError struct{ Limit int64 }

func (e *MemoryLimitError) Error() string {
	return fmt.Sprintf("lua memory limit exceeded (%s, --lua-memory)", FormatSize(e.Limit))
}

func (e *MemoryLimitError) Is(target error) bool { return target == context.Canceled }

// FormatSize spells a size as the --lua-memory flag would take it back: "1 GiB",
// "64 MiB", or bytes.
func FormatSize(n int64) string {
	switch {
	case n > 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n > 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n > 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// memCtx is a state's context whose Err names the memory cap once the watcher ended
// it for that reason: gopher-lua raises ctx.Err().Error() at the instruction it stops
// at, so the script's error reads "file:line: lua memory limit exceeded ...".
type memCtx struct{ context.Context }

func (c memCtx) Err() error {
	err := c.Context.Err()
	var me *MemoryLimitError
	if err != nil && errors.As(context.Cause(c.Context), &me) {
		return me
	}
	return err
}

// A guard is one running state's claim on the watcher.
type guard struct {
	limit  int64
	cancel context.CancelCauseFunc
}

// watcher polls the Go heap while any state runs. gopher-lua has no allocation hook
// and allocates inside its VM (concatenation, table growth), so the cap is on what
// the process holds: its live heap, which while a script runs is almost all the
// state's values. States running at once (lab test -j) share the process, so passing
// the smallest of their caps stops every state whose cap was passed.
var watcher struct {
	sync.Mutex
	guards    map[*guard]struct{}
	running   bool
	prevLimit int64 // the GC memory limit before the first guard, restored after the last
}

// SetContext sets ctx on L, under L's memory cap: while the returned release has not
// been called, a live heap beyond the cap cancels the context with a
// *MemoryLimitError, which stops the VM at its next instruction. Call release when
// the call under ctx returns; it also removes the context from L.
func SetContext(L *lua.LState, ctx context.Context) (release func()) {
	limit := int64(DefaultMemoryLimit)
	if b := bindingOf(L, nil); b.opts.MemoryLimit != 0 {
		limit = b.opts.MemoryLimit
	}
	if limit < 0 {
		L.SetContext(ctx)
		return func() { L.RemoveContext() }
	}
	cctx, cancel := context.WithCancelCause(ctx)
	g := &guard{limit: limit, cancel: cancel}
	addGuard(g)
	L.SetContext(memCtx{cctx})
	return func() {
		removeGuard(g)
		L.RemoveContext()
		cancel(nil)
	}
}

func addGuard(g *guard) {
	watcher.Lock()
	defer watcher.Unlock()
	if watcher.guards == nil {
		watcher.guards = map[*guard]struct{}{}
	}
	if len(watcher.guards) == 0 {
		watcher.prevLimit = debug.SetMemoryLimit(-1)
	}
	watcher.guards[g] = struct{}{}
	setGCLimit()
	if !watcher.running {
		watcher.running = true
		go watch()
	}
}

func removeGuard(g *guard) {
	watcher.Lock()
	defer watcher.Unlock()
	delete(watcher.guards, g)
	if len(watcher.guards) == 0 {
		debug.SetMemoryLimit(watcher.prevLimit)
		return
	}
	setGCLimit()
}

// setGCLimit makes the garbage collector work harder as the heap nears the smallest
// cap, so the live heap the watcher reads is recent and garbage does not count as
// the script's. Called with the watcher locked.
func setGCLimit() {
	min := watcher.prevLimit
	for g := range watcher.guards {
		min = minInt(min, g.limit)
	}
	debug.SetMemoryLimit(min)
}

// smallestLimit is the smallest cap of the running states, or MaxInt64.
func smallestLimit() int64 {
	watcher.Lock()
	defer watcher.Unlock()
	min := int64(math.MaxInt64)
	for g := range watcher.guards {
		min = minInt(min, g.limit)
	}
	return min
}

func minInt(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}

// watch runs while any guard exists, cancelling the guards whose cap the live heap
// passed.
func watch() {
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}, {Name: "/memory/classes/heap/objects:bytes"}}
	read := func() (live, objects int64) {
		metrics.Read(sample)
		return int64(sample[0].Value.Uint64()), int64(sample[1].Value.Uint64())
	}
	t := time.NewTicker(memoryPoll)
	defer t.Stop()
	for range t.C {
		live, objects := read()
		if objects > smallestLimit() && live <= smallestLimit() {
			// The heap holds more than a cap, garbage included, and the last
			// collection is older than that: collect now rather than let the script
			// run on for a whole background cycle. This blocks only this goroutine.
			runtime.GC()
			live, _ = read()
		}
		watcher.Lock()
		if len(watcher.guards) == 0 {
			watcher.running = false
			watcher.Unlock()
			return
		}
		for g := range watcher.guards {
			if live > g.limit {
				g.cancel(&MemoryLimitError{Limit: g.limit})
				delete(watcher.guards, g)
			}
		}
		if len(watcher.guards) == 0 {
			debug.SetMemoryLimit(watcher.prevLimit)
		} else {
			setGCLimit()
		}
		watcher.Unlock()
	}
}
