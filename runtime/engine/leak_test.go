package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"lab/runtime/cgroup"
	"lab/runtime/engine"
)

// leakRuns is how many containers TestNoLeaks runs; LAB_LEAK_RUNS overrides it (a
// quick local check, or a longer soak).
func leakRuns(t *testing.T) int {
	if s := os.Getenv("LAB_LEAK_RUNS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil {
			t.Fatalf("LAB_LEAK_RUNS: %v", err)
		}
		return n
	}
	if testing.Short() {
		return 100
	}
	return 1000
}

// TestNoLeaks runs a mix of containers through every way a run can end (removed by
// --rm, kept and then removed, a failing command, a command that cannot be found, one
// killed by a timeout, with and without cgroup limits) and checks that the host and
// the store end where they began:
// mounts, child processes, open files, goroutines, cgroup directories, temp files and
// the store's disk usage. It makes no timing claims. Every container runs through
// lab-init (TestMain), and the --rm kinds keep their writable layer on a tmpfs inside
// the container: a tmpfs left mounted would show up among the mounts (or, held in a
// container's mount namespace, among the processes).
func TestNoLeaks(t *testing.T) {
	// The engine's temp files (and anything else using os.TempDir) go to a directory of
	// the test's own, so other programs using /tmp at the same time cannot blur the count.
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	e := benchEngine(t)
	ctx := context.Background()
	// One of each kind first, so that one-time work (the init layer, lazily started
	// goroutines, the first use of a cgroup hierarchy) is not counted as a leak.
	kinds := leakKinds()
	for _, k := range kinds {
		k.run(t, e, ctx)
	}
	before := snapshot(t, e, tmp)
	n := leakRuns(t)
	start := time.Now()
	// Two runs at a time in this one process: a run mostly waits for its container, so
	// this halves the test's time, and starts and removals then overlap as they do
	// when a script runs containers beside a spawned session (a start forks while
	// another goroutine lets go of a lock: see container.Store.flockNB).
	const workers = 2
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n && !t.Failed(); i += workers {
				kinds[i%len(kinds)].run(t, e, ctx)
			}
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	t.Logf("%d runs in %s", n, time.Since(start).Round(time.Millisecond))
	after := snapshot(t, e, tmp)
	for _, d := range before.diff(after) {
		t.Error(d)
	}
}

type leakKind struct {
	name string
	run  func(t *testing.T, e *engine.Engine, ctx context.Context)
}

func leakKinds() []leakKind {
	sh := func(script string) []string { return []string{"/bin/sh", "-c", script} }
	return []leakKind{
		{"rm", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: sh("echo hi > /f; echo out; echo err >&2"), AutoRemove: true}, engine.StartOptions{})
			if err != nil || c.State.ExitCode != 0 {
				t.Errorf("rm run: %v %+v", err, c)
			}
		}},
		{"kept then rm", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: sh("mkdir -p /a/b && echo x > /a/b/c && rm /etc/passwd")}, engine.StartOptions{})
			if err != nil || c.State.ExitCode != 0 {
				t.Errorf("kept run: %v %+v", err, c)
				return
			}
			if _, err := e.Remove(c.ID, false); err != nil {
				t.Errorf("rm: %v", err)
			}
		}},
		{"failing", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: sh("exit 3"), AutoRemove: true}, engine.StartOptions{})
			if err != nil || c.State.ExitCode != 3 {
				t.Errorf("failing run: %v %+v", err, c)
			}
		}},
		{"not found", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/no/such/command"}, AutoRemove: true}, engine.StartOptions{})
			if engine.Code(err, 0) != 127 {
				t.Errorf("not-found run: want exit 127, got %v %+v", err, c)
			}
		}},
		{"kept, failing, then rm", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/no/such/command"}}, engine.StartOptions{})
			if engine.Code(err, 0) != 127 || c == nil {
				t.Errorf("not-found run: want exit 127, got %v %+v", err, c)
				return
			}
			if _, err := e.Remove(c.ID, false); err != nil {
				t.Errorf("rm: %v", err)
			}
		}},
		{"timeout", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: sh("sleep 10"), AutoRemove: true}, engine.StartOptions{Timeout: 10 * time.Millisecond})
			if !errors.Is(err, engine.ErrTimeout) || c == nil || c.State.ExitCode != 137 {
				t.Errorf("timeout run: want ErrTimeout and 137, got %v %+v", err, c)
			}
		}},
		{"timeout, kept, then rm", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/sleep", "10"}}, engine.StartOptions{Timeout: 10 * time.Millisecond})
			if !errors.Is(err, engine.ErrTimeout) || c == nil {
				t.Errorf("timeout run: want ErrTimeout, got %v %+v", err, c)
				return
			}
			if _, err := e.Remove(c.ID, false); err != nil {
				t.Errorf("rm: %v", err)
			}
		}},
		{"rm", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/true"}, AutoRemove: true}, engine.StartOptions{})
			if err != nil || c.State.ExitCode != 0 {
				t.Errorf("rm run: %v %+v", err, c)
			}
		}},
		// Limits put the container in a cgroup of its own, which must go with it.
		{"limited, rm", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			if !limitsWork() {
				return
			}
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/true"}, AutoRemove: true, Memory: 64 << 20, PidsLimit: 64}, engine.StartOptions{})
			if err != nil || c.State.ExitCode != 0 {
				t.Errorf("limited run: %v %+v", err, c)
			}
		}},
		{"limited, timeout, kept, then rm", func(t *testing.T, e *engine.Engine, ctx context.Context) {
			if !limitsWork() {
				return
			}
			c, err := e.Run(ctx, engine.CreateOptions{Image: "busybox", Cmd: []string{"/bin/sleep", "10"}, Memory: 64 << 20, PidsLimit: 64}, engine.StartOptions{Timeout: 10 * time.Millisecond})
			if !errors.Is(err, engine.ErrTimeout) || c == nil {
				t.Errorf("limited timeout run: want ErrTimeout, got %v %+v", err, c)
				return
			}
			if _, err := e.Remove(c.ID, false); err != nil {
				t.Errorf("rm: %v", err)
			}
		}},
	}
}

// limitsWork reports whether this host has the memory and pids controllers that the
// limited runs need; without them those kinds are skipped.
func limitsWork() bool {
	return cgroup.Version("memory") != "" && cgroup.Version("pids") != ""
}

// state is what a run could leave behind.
type state struct {
	mounts     []string // host mounts that mention the store or the temp dir
	children   []string // processes whose parent is this test
	fds        int
	goroutines int
	cgroups    []string // lab's cgroup parents and the directories under them
	tmp        []string // entries in the test's TMPDIR
	storeFiles []string // every path in the state directory
	storeBytes int64    // disk blocks of the store's files
}

func snapshot(t *testing.T, e *engine.Engine, tmp string) state {
	t.Helper()
	var s state
	mi, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(mi), "\n") {
		if strings.Contains(l, e.Root) || strings.Contains(l, tmp) {
			s.mounts = append(s.mounts, l)
		}
	}
	s.children = children(t)
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	s.fds = len(fds)
	// Goroutines that end with a run (stdio copiers, watchers) may still be on their way
	// out when the run returns: give them a moment to go before counting.
	for i := 0; i < 50; i++ {
		if s.goroutines = runtime.NumGoroutine(); i > 0 && s.goroutines == runtime.NumGoroutine() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, parent := range cgroupParents() {
		s.cgroups = append(s.cgroups, parent)
		ents, _ := os.ReadDir(parent)
		for _, ent := range ents {
			if ent.IsDir() {
				s.cgroups = append(s.cgroups, filepath.Join(parent, ent.Name()))
			}
		}
	}
	ents, err := os.ReadDir(tmp)
	if err != nil {
		t.Fatal(err)
	}
	for _, ent := range ents {
		s.tmp = append(s.tmp, ent.Name())
	}
	err = filepath.WalkDir(e.Root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(e.Root, p)
		s.storeFiles = append(s.storeFiles, rel)
		// Directories are left out of the byte count: ext4 never shrinks one that once
		// held many entries, and what they hold is compared name by name above.
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err == nil && !d.IsDir() {
			s.storeBytes += st.Blocks * 512
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// cgroupParents are the directories lab makes its cgroups in, on every hierarchy.
func cgroupParents() []string {
	var out []string
	ents, _ := os.ReadDir("/sys/fs/cgroup")
	for _, ent := range ents {
		p := filepath.Join("/sys/fs/cgroup", ent.Name(), "lab")
		if st, err := os.Stat(p); err == nil && st.IsDir() {
			out = append(out, p)
		}
	}
	if st, err := os.Stat("/sys/fs/cgroup/lab"); err == nil && st.IsDir() {
		out = append(out, "/sys/fs/cgroup/lab")
	}
	return out
}

// children lists this process's child processes as "pid comm state".
func children(t *testing.T) []string {
	t.Helper()
	self := strconv.Itoa(os.Getpid())
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, ent := range ents {
		if _, err := strconv.Atoi(ent.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", ent.Name(), "stat"))
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ...; comm may hold spaces, so split after the last ')'.
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == self {
			out = append(out, s[:i+1]+" "+f[0])
		}
	}
	return out
}

func (a state) diff(b state) []string {
	var out []string
	if d := added(a.mounts, b.mounts); len(d) > 0 {
		out = append(out, fmt.Sprintf("mounts leaked: %q", d))
	}
	if d := added(a.children, b.children); len(d) > 0 {
		out = append(out, fmt.Sprintf("processes leaked: %q", d))
	}
	if b.fds > a.fds {
		out = append(out, fmt.Sprintf("open files: %d before, %d after", a.fds, b.fds))
	}
	// A few goroutines of the runtime's or os/signal's own may appear once; a leak per
	// run would show up as hundreds.
	if b.goroutines > a.goroutines+2 {
		out = append(out, fmt.Sprintf("goroutines: %d before, %d after", a.goroutines, b.goroutines))
	}
	if d := added(a.cgroups, b.cgroups); len(d) > 0 {
		out = append(out, fmt.Sprintf("cgroups leaked: %q", d))
	}
	if d := added(a.tmp, b.tmp); len(d) > 0 {
		out = append(out, fmt.Sprintf("temp files leaked: %q", d))
	}
	if d := added(a.storeFiles, b.storeFiles); len(d) > 0 {
		if len(d) > 20 {
			d = append(d[:20], fmt.Sprintf("... %d more", len(d)-20))
		}
		out = append(out, fmt.Sprintf("store files leaked: %q", d))
	}
	if b.storeBytes > a.storeBytes {
		out = append(out, fmt.Sprintf("store disk usage: %d bytes before, %d after", a.storeBytes, b.storeBytes))
	}
	return out
}

// added returns the items of b that are not in a.
func added(a, b []string) []string {
	seen := map[string]bool{}
	for _, x := range a {
		seen[x] = true
	}
	var out []string
	for _, x := range b {
		if !seen[x] {
			out = append(out, x)
		}
	}
	sort.Strings(out)
	return out
}
