package cgroup

import (
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestFreeze freezes a process tree with the v1 freezer and with the v2 tree (both
// exist on a hybrid host), checks that it stops and runs again, and that the group is
// gone and the processes are back where they were afterwards.
func TestFreeze(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to write cgroups")
	}
	v1, v2 := findMounts(t)
	for _, m := range []*mount{v1, v2} {
		if m == nil {
			continue
		}
		name := "v1"
		if m.v2 {
			name = "v2"
		}
		t.Run(name, func(t *testing.T) {
			// A shell whose child counts in a file: frozen, the count stops.
			dir := t.TempDir()
			count := filepath.Join(dir, "n")
			cmd := exec.Command("sh", "-c", `(while :; do echo x >> `+count+`; done) & wait`)
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer func() {
				for _, p := range treeOf(cmd.Process.Pid) {
					syscall.Kill(p, syscall.SIGKILL)
				}
				cmd.Wait()
			}()
			time.Sleep(50 * time.Millisecond)
			tasks := func() ([]int, error) { return treeOf(cmd.Process.Pid), nil }
			before, _ := groupOf(*m, cmd.Process.Pid)
			b := make([]byte, 8)
			rand.Read(b)
			id := hex.EncodeToString(b)
			start := time.Now()
			thaw, err := freeze(*m, id, tasks)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("freeze took %v", time.Since(start))
			n1 := size(count)
			time.Sleep(100 * time.Millisecond)
			n2 := size(count)
			if n1 != n2 {
				thaw()
				t.Fatalf("still running while frozen: %d -> %d", n1, n2)
			}
			if err := thaw(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(100 * time.Millisecond)
			if n3 := size(count); n3 == n2 {
				t.Fatal("not running after thaw")
			}
			if _, err := os.Stat(filepath.Join(m.dir, Parent, id)); err == nil {
				t.Error("freezer group left behind")
			}
			if after, _ := groupOf(*m, cmd.Process.Pid); after != before {
				t.Errorf("process moved from %s to %s", before, after)
			}
		})
	}
}

func findMounts(t *testing.T) (v1, v2 *mount) {
	b, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		left, right, ok := strings.Cut(line, " - ")
		lf, rf := strings.Fields(left), strings.Fields(right)
		if !ok || len(lf) < 5 || len(rf) < 3 {
			continue
		}
		switch {
		case rf[0] == "cgroup" && strings.Contains(rf[2], "freezer") && v1 == nil:
			v1 = &mount{dir: lf[4]}
		case rf[0] == "cgroup2" && v2 == nil:
			v2 = &mount{dir: lf[4], v2: true}
		}
	}
	return v1, v2
}

func size(p string) int64 {
	st, err := os.Stat(p)
	if err != nil {
		return -1
	}
	return st.Size()
}

// treeOf lists pid and its descendants.
func treeOf(pid int) []int {
	out := []int{pid}
	for i := 0; i < len(out); i++ {
		b, _ := os.ReadFile("/proc/" + strconv.Itoa(out[i]) + "/task/" + strconv.Itoa(out[i]) + "/children")
		for _, f := range strings.Fields(string(b)) {
			if c, err := strconv.Atoi(f); err == nil {
				out = append(out, c)
			}
		}
	}
	return out
}
