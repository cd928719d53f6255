package luabind

import (
	"os"
	"strings"
	"testing"

	"lab/runtime/cgroup"
)

func TestRunLimits(t *testing.T) {
	e := newEnv(t, Options{})
	if cgroup.Version("memory") == "" {
		if _, err := os.Stat("/sys/fs/cgroup"); err != nil {
			t.Skip("no cgroup filesystem on this host")
		}
	}
	e.ok(`
		local c = lab.run("busybox", {"sh", "-c", "x=$(head -c 200000000 /dev/zero | tr '\\0' a); echo done"}, {memory = "32m"})
		lab.expect(c):exit_code(137)
		lab.expect(c:inspect().State.OOMKilled):eq(true)
		local ok = lab.run("busybox", "echo fine", {memory = 64 * 1024 * 1024, pids_limit = 50, cpus = 0.5})
		lab.expect(ok):exit_code(0):stdout("fine\n")
	`)
	f := e.fails(`lab.run("busybox", "true", {memory = "lots"})`)
	if !strings.Contains(f.Msg, "invalid size") {
		t.Fatalf("%+v", f)
	}
}
