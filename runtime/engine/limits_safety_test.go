package engine_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"lab/runtime/cgroup"
	"lab/runtime/engine"
)

func needController(t *testing.T, c string) {
	t.Helper()
	if cgroup.Version(c) == "" {
		t.Skipf("this host has no %s cgroup controller", c)
	}
}

// Exceeding --memory ends the container the way Docker reports it: exit 137 and
// OOMKilled in inspect. Under the limit nothing is reported. The cgroup is gone after.
func TestMemoryLimit(t *testing.T) {
	needController(t, "memory")
	e := newStore(t)
	r := labCLI(t, e.Root, nil, "run", "--name", "hog", "--memory", "32m", "busybox", "tail", "/dev/zero")
	if r.code != 137 {
		t.Fatalf("exit %d, want 137 (stderr %q)", r.code, r.stderr)
	}
	out := mustCLI(t, e.Root, "inspect", "hog")
	for _, want := range []string{`"OOMKilled": true`, `"ExitCode": 137`, `"Memory": 33554432`} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %s:\n%s", want, out)
		}
	}
	mustCLI(t, e.Root, "run", "--name", "small", "-m", "32m", "busybox", "sh", "-c", "head -c 8000000 /dev/zero | wc -c")
	if out := mustCLI(t, e.Root, "inspect", "small"); !strings.Contains(out, `"OOMKilled": false`) {
		t.Errorf("a container under its limit is reported OOMKilled:\n%s", out)
	}
	// A second start of the same container gets a fresh group and a fresh verdict.
	if r := labCLI(t, e.Root, nil, "start", "-a", "hog"); r.code != 137 {
		t.Errorf("restart of hog: exit %d", r.code)
	}
}

// A fork bomb under --pids-limit stays within it, the host keeps spawning processes
// promptly meanwhile, and killing the container (timeout) takes everything down.
func TestPidsLimitContainsForkBomb(t *testing.T) {
	needController(t, "pids")
	e := newStore(t)
	ctx := context.Background()
	const limit = 48
	c, err := e.Create(ctx, engine.CreateOptions{Image: "busybox", PidsLimit: limit,
		Cmd: []string{"sh", "-c", "b(){ b | b & }; b; sleep 60"}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var runErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		_, runErr = e.Start(ctx, c.ID, engine.StartOptions{Timeout: 3 * time.Second})
	}()
	maxPids, samples := 0, 0
	var slowest time.Duration
	for deadline := time.Now().Add(2500 * time.Millisecond); time.Now().Before(deadline); {
		for _, d := range cgroup.Leftovers(c.ID) {
			if b, err := os.ReadFile(filepath.Join(d, "pids.current")); err == nil {
				n, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				maxPids = max(maxPids, n)
				samples++
			}
		}
		t0 := time.Now()
		if err := exec.Command("true").Run(); err != nil {
			t.Errorf("the host cannot start a process during the fork bomb: %v", err)
		}
		slowest = max(slowest, time.Since(t0))
		time.Sleep(50 * time.Millisecond)
	}
	wg.Wait()
	if !errors.Is(runErr, engine.ErrTimeout) {
		t.Errorf("fork bomb run: %v, want a timeout", runErr)
	}
	if samples == 0 || maxPids < limit/2 {
		t.Errorf("pids.current never sampled near the limit: max %d in %d samples", maxPids, samples)
	}
	if maxPids > limit {
		t.Errorf("%d processes in a group limited to %d", maxPids, limit)
	}
	if slowest > time.Second {
		t.Errorf("starting /bin/true on the host took %v during the fork bomb", slowest)
	}
	if left := cgroup.Leftovers(c.ID); len(left) > 0 {
		t.Errorf("cgroup left after the run: %v", left)
	}
}

// --cpus sets a CFS quota the kernel enforces: a busy loop under 0.2 CPUs is throttled.
func TestCPULimit(t *testing.T) {
	needController(t, "cpu")
	e := newStore(t)
	ctx := context.Background()
	c, err := e.Create(ctx, engine.CreateOptions{Image: "busybox", NanoCPUs: 2e8,
		Cmd: []string{"sh", "-c", "timeout 1 sh -c 'while :; do :; done'; true"}})
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := e.Start(ctx, c.ID, engine.StartOptions{})
		done <- err
	}()
	var stat, quota string
	time.Sleep(700 * time.Millisecond)
	for _, d := range cgroup.Leftovers(c.ID) {
		b, _ := os.ReadFile(filepath.Join(d, "cpu.stat"))
		stat = string(b)
		if q, err := os.ReadFile(filepath.Join(d, "cpu.cfs_quota_us")); err == nil {
			quota = strings.TrimSpace(string(q))
		} else if q, err := os.ReadFile(filepath.Join(d, "cpu.max")); err == nil {
			quota = strings.Fields(string(q))[0]
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if quota != "20000" {
		t.Errorf("quota %q, want 20000us per 100ms", quota)
	}
	throttled := 0
	for _, line := range strings.Split(stat, "\n") {
		if v, ok := strings.CutPrefix(line, "nr_throttled "); ok {
			throttled, _ = strconv.Atoi(v)
		}
	}
	if throttled == 0 {
		t.Errorf("busy loop under --cpus 0.2 never throttled:\n%s", stat)
	}
}

// Limits are checked when the container is created, with Docker's messages, and
// recorded in the container (inspect's HostConfig).
func TestLimitFlags(t *testing.T) {
	e := newStore(t)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--memory", "1m"}, "Minimum memory limit allowed is 6MB"},
		{[]string{"--memory", "lots"}, "invalid"},
		{[]string{"--cpus", "10000"}, "range of CPUs is from 0.01 to"},
		{[]string{"--cpus", "x"}, "invalid"},
		{[]string{"--pids-limit", "x"}, "invalid"},
	} {
		r := labCLI(t, e.Root, nil, append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, tc.msg) || strings.Count(strings.TrimSpace(r.stderr), "\n") > 1 {
			t.Errorf("run %v: exit %d, stderr %q, want 125 and %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
	if cs, _ := e.Containers.List(); len(cs) != 0 {
		t.Errorf("refused runs left %d containers", len(cs))
	}
	id := strings.TrimSpace(mustCLI(t, e.Root, "create", "--memory", "64m", "--pids-limit", "100", "--cpus", "1.5", "busybox"))
	out := mustCLI(t, e.Root, "inspect", id)
	for _, want := range []string{`"Memory": 67108864`, `"PidsLimit": 100`, `"NanoCpus": 1500000000`} {
		if !strings.Contains(out, want) {
			t.Errorf("inspect lacks %s:\n%s", want, out)
		}
	}
}

// When the lab process running a limited container is killed, the container dies with
// it (Pdeathsig) and its cgroup stays behind; `lab rm` and `lab fsck --repair` remove it.
func TestCgroupLeftAfterKill(t *testing.T) {
	needController(t, "pids")
	e := newStore(t)
	for _, cleanup := range [][]string{{"rm", "victim"}, {"fsck", "--repair", "--grace", "0"}} {
		cmd := labCmd(e.Root, "run", "--name", "victim", "--pids-limit", "10", "busybox", "sleep", "30")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var id string
		for deadline := time.Now().Add(10 * time.Second); id == "" && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if c, err := e.Containers.Get("victim"); err == nil && c.State.Running && len(cgroup.Leftovers(c.ID)) > 0 {
				id = c.ID
			}
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		if id == "" {
			t.Fatal("the container never ran")
		}
		// Its init died with lab; the group is empty but still there.
		for deadline := time.Now().Add(5 * time.Second); e.Containers.IsRunning(id) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
		if len(cgroup.Leftovers(id)) == 0 {
			t.Fatal("expected a leftover cgroup after killing lab")
		}
		mustCLI(t, e.Root, cleanup...)
		if left := cgroup.Leftovers(id); len(left) > 0 {
			t.Errorf("lab %v left %v", cleanup, left)
		}
		if cleanup[0] == "fsck" {
			mustCLI(t, e.Root, "rm", "victim")
		}
	}
}
