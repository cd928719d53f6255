package cgroup

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestParseMountinfo(t *testing.T) {
	hybrid := `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu
32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	unified := `25 22 0:23 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot
`
	comounted := `31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:1 - cgroup cgroup rw,cpu,cpuacct
34 30 0:31 / /sys/fs/cgroup/mem\040ory rw,relatime - cgroup cgroup rw,memory
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
`
	v2 := func(controllers string) func(string) string {
		return func(string) string { return controllers }
	}
	cases := []struct {
		name, info, v2ctrls string
		want                layout
	}{
		{"hybrid, v2 without controllers", hybrid, "", layout{
			"cpu": {dir: "/sys/fs/cgroup/cpu"}, "memory": {dir: "/sys/fs/cgroup/memory"}, "pids": {dir: "/sys/fs/cgroup/pids"}}},
		{"hybrid, v1 wins over v2", hybrid, "cpu memory pids", layout{
			"cpu": {dir: "/sys/fs/cgroup/cpu"}, "memory": {dir: "/sys/fs/cgroup/memory"}, "pids": {dir: "/sys/fs/cgroup/pids"}}},
		{"pure v2", unified, "cpuset cpu io memory hugetlb pids rdma misc", layout{
			"cpu": {dir: "/sys/fs/cgroup", v2: true}, "memory": {dir: "/sys/fs/cgroup", v2: true}, "pids": {dir: "/sys/fs/cgroup", v2: true}}},
		{"pure v2 without pids", unified, "cpu memory", layout{
			"cpu": {dir: "/sys/fs/cgroup", v2: true}, "memory": {dir: "/sys/fs/cgroup", v2: true}}},
		{"co-mounted v1, escaped path, pids on v2", comounted, "pids", layout{
			"cpu": {dir: "/sys/fs/cgroup/cpu,cpuacct"}, "memory": {dir: "/sys/fs/cgroup/mem ory"}, "pids": {dir: "/sys/fs/cgroup/unified", v2: true}}},
		{"no cgroups", "1 0 0:1 / / rw - ext4 /dev/sda1 rw\ngarbage line\n", "", layout{}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := parseMountinfo(strings.NewReader(tc.info), v2(tc.v2ctrls))
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for c, m := range tc.want {
				if got[c] != m {
					t.Errorf("%s: got %+v, want %+v", c, got[c], m)
				}
			}
		})
	}
}

func TestValidate(t *testing.T) {
	n := int64(len(cpuList()))
	for _, tc := range []struct {
		l   Limits
		msg string
	}{
		{Limits{}, ""},
		{Limits{Memory: 6 << 20, PidsLimit: 1, NanoCPUs: 1e7}, ""},
		{Limits{PidsLimit: -1}, ""},
		{Limits{Memory: 5 << 20}, "Minimum memory limit allowed is 6MB"},
		{Limits{Memory: -1}, "invalid memory limit"},
		{Limits{NanoCPUs: 1e6}, "range of CPUs is from 0.01 to"},
		{Limits{NanoCPUs: (n + 1) * 1e9}, "as there are only"},
	} {
		err := tc.l.Validate()
		if tc.msg == "" && err != nil || tc.msg != "" && (err == nil || !strings.Contains(err.Error(), tc.msg)) {
			t.Errorf("Validate(%+v) = %v, want %q", tc.l, err, tc.msg)
		}
	}
	if _, err := Create("../../etc", Limits{PidsLimit: 5}); err == nil || !strings.Contains(err.Error(), "invalid container id") {
		t.Errorf("Create with a path as id: %v", err)
	}
}

func cpuList() []int {
	var out []int
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(l, "processor") {
			out = append(out, len(out))
		}
	}
	return out
}

func needCgroups(t *testing.T, controllers ...string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create cgroups")
	}
	for _, c := range controllers {
		if Version(c) == "" {
			t.Skipf("this host has no %s controller", c)
		}
	}
}

func testID(t *testing.T) string {
	var b [32]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	t.Cleanup(func() {
		if left := Leftovers(id); len(left) > 0 {
			t.Errorf("cgroups left behind: %v", left)
			RemoveLeftovers(id)
		}
	})
	return id
}

func read(t *testing.T, dir, file string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, file))
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// A group gets every limit written where the kernel enforces it, holds the process
// added to it, and goes away (killing what is left inside) on Remove.
func TestCreateAddRemove(t *testing.T) {
	needCgroups(t, "memory", "pids", "cpu")
	id := testID(t)
	g, err := Create(id, Limits{Memory: 64 << 20, PidsLimit: 17, NanoCPUs: 1.5e9})
	if err != nil {
		t.Fatal(err)
	}
	dirs := g.Dirs()
	if len(Leftovers(id)) != len(dirs) || len(dirs) == 0 {
		t.Fatalf("Leftovers %v, Dirs %v", Leftovers(id), dirs)
	}
	for _, p := range g.parts {
		for _, c := range p.ctrls {
			switch {
			case c == "memory" && p.mount.v2:
				if got := read(t, p.dir, "memory.max"); got != strconv.Itoa(64<<20) {
					t.Errorf("memory.max = %s", got)
				}
			case c == "memory":
				if got := read(t, p.dir, "memory.limit_in_bytes"); got != strconv.Itoa(64<<20) {
					t.Errorf("memory.limit_in_bytes = %s", got)
				}
			case c == "pids":
				if got := read(t, p.dir, "pids.max"); got != "17" {
					t.Errorf("pids.max = %s", got)
				}
			case c == "cpu" && p.mount.v2:
				if got := read(t, p.dir, "cpu.max"); got != "150000 100000" {
					t.Errorf("cpu.max = %s", got)
				}
			case c == "cpu":
				if got := read(t, p.dir, "cpu.cfs_quota_us"); got != "150000" {
					t.Errorf("cpu.cfs_quota_us = %s", got)
				}
			}
		}
	}
	cmd := exec.Command("sleep", "60")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	if err := g.Add(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		t.Fatal(err)
	}
	for _, d := range dirs {
		if got := read(t, d, "cgroup.procs"); got != strconv.Itoa(cmd.Process.Pid) {
			t.Errorf("%s/cgroup.procs = %q", d, got)
		}
	}
	if g.OOMKilled() {
		t.Error("OOMKilled before anything ran out of memory")
	}
	// Remove must not be stopped by a process still inside: it kills it.
	if err := g.Remove(); err != nil {
		t.Fatal(err)
	}
	select {
	case <-done:
	case <-time.After(5 * time.Second):
		cmd.Process.Kill()
		t.Fatal("the process inside the group survived Remove")
	}
	if left := Leftovers(id); len(left) > 0 {
		t.Fatalf("left after Remove: %v", left)
	}
	if err := g.Remove(); err != nil {
		t.Fatalf("second Remove: %v", err)
	}
}

// A leftover group of the same container (its lab was killed) does not stop a new
// run: Create replaces it, RemoveLeftovers finds and removes it.
func TestLeftovers(t *testing.T) {
	needCgroups(t, "pids")
	id := testID(t)
	if _, err := Create(id, Limits{PidsLimit: 5}); err != nil {
		t.Fatal(err)
	}
	g, err := Create(id, Limits{PidsLimit: 9})
	if err != nil {
		t.Fatalf("create over a leftover: %v", err)
	}
	if got := read(t, g.Dirs()[0], "pids.max"); got != "9" {
		t.Errorf("pids.max = %s after re-create", got)
	}
	dirs, err := RemoveLeftovers(id)
	if err != nil || len(dirs) != 1 {
		t.Fatalf("RemoveLeftovers = %v, %v", dirs, err)
	}
}

// The kernel's OOM killer acting on the group's limit is reported.
func TestOOMKilled(t *testing.T) {
	needCgroups(t, "memory")
	id := testID(t)
	g, err := Create(id, Limits{Memory: 16 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer g.Remove()
	// The shell waits for a line before it starts eating memory, so that it is inside
	// the group first.
	cmd := exec.Command("/bin/sh", "-c", "read x; exec tail /dev/zero")
	in, _ := cmd.StdinPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	if err := g.Add(cmd.Process.Pid); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatal(err)
	}
	in.Write([]byte("go\n"))
	err = cmd.Wait()
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 || !strings.Contains(ee.Error(), "killed") {
		t.Fatalf("tail under a 16MB limit: %v", err)
	}
	if !g.OOMKilled() {
		t.Fatal("OOMKilled = false after the OOM killer ran")
	}
}
