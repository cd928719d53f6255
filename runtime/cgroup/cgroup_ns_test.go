package cgroup

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// nsChildEnv makes the test binary play lab inside a container instead of running tests:
// see TestNoInternalProcesses.
const nsChildEnv = "LAB_CGROUP_TEST_NS_CHILD"

func init() {
	if os.Getenv(nsChildEnv) == "1" {
		os.Exit(nsChild())
	}
}

// nsChild runs in a cgroup namespace rooted at its own, populated group, as lab does
// inside a container: Create must refuse in one line naming the rule, and succeed once
// the process has moved into a child group.
func nsChild() int {
	fail := func(format string, a ...any) int {
		fmt.Printf("child: "+format+"\n", a...)
		return 1
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fail("make / private: %v", err)
	}
	unix.Unmount("/sys/fs/cgroup", unix.MNT_DETACH)
	if err := unix.Mount("cgroup2", "/sys/fs/cgroup", "cgroup2", 0, ""); err != nil {
		return fail("mount cgroup2: %v", err)
	}
	if b, _ := os.ReadFile("/proc/self/cgroup"); strings.TrimSpace(string(b)) != "0::/" {
		return fail("not at the root of a cgroup namespace: %q", b)
	}
	id := os.Getenv(nsChildEnv + "_ID")
	_, err := Create(id, Limits{Memory: 32 << 20})
	if err == nil || !strings.Contains(err.Error(), "no internal processes") || strings.Contains(err.Error(), "\n") {
		return fail("Create in a populated namespace root: %v, want one line naming the no internal processes rule", err)
	}
	if left := Leftovers(id); len(left) > 0 || exists("/sys/fs/cgroup", Parent) {
		return fail("a refused Create left %v", left)
	}
	if err := os.Mkdir("/sys/fs/cgroup/init", 0o755); err != nil {
		return fail("%v", err)
	}
	if err := write("/sys/fs/cgroup/init", "cgroup.procs", "0"); err != nil {
		return fail("move into a leaf: %v", err)
	}
	g, err := Create(id, Limits{Memory: 32 << 20})
	if err != nil {
		return fail("Create after moving into a leaf: %v", err)
	}
	if err := g.Remove(); err != nil {
		return fail("Remove: %v", err)
	}
	return 0
}

// Inside a container with a cgroup namespace of its own (Docker's default on v2), the
// root lab sees is the container's group, which holds lab itself: v2 lets no such group
// hand controllers to children. The child process above is that container.
func TestNoInternalProcesses(t *testing.T) {
	needCgroups(t, "memory")
	lay, _ := hostLayout()
	root := lay["memory"].dir
	if !lay["memory"].v2 {
		t.Skip("the memory controller is cgroup v1 here (`make test-cgroup2` runs this on v2)")
	}
	if b, _ := os.ReadFile("/proc/self/cgroup"); !strings.HasPrefix(string(b), "0::/") || strings.Count(string(b), "\n") > 1 {
		t.Skipf("not on a pure v2 host: %q", b)
	}
	if err := enable(root, []string{"memory"}); err != nil {
		t.Skipf("cannot enable memory in %s (not its real root?): %v", root, err)
	}
	id := testID(t)
	ctr := filepath.Join(root, "lab-test-ns-"+id[:12])
	if err := os.Mkdir(ctr, 0o755); err != nil {
		t.Fatal(err)
	}
	defer func() {
		unix.Rmdir(filepath.Join(ctr, "init"))
		if err := unix.Rmdir(ctr); err != nil {
			t.Errorf("remove %s: %v", ctr, err)
		}
	}()
	fd, err := unix.Open(ctr, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Close(fd)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), nsChildEnv+"=1", nsChildEnv+"_ID="+id)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags:  unix.CLONE_NEWCGROUP | unix.CLONE_NEWNS,
		UseCgroupFD: true,
		CgroupFD:    fd,
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if exists(ctr, Parent) {
		t.Errorf("%s left", filepath.Join(ctr, Parent))
	}
}
