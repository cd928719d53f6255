package luabind

import (
	"strings"
	"testing"
)

func TestRunSecurityOptions(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		local function status(opts)
			return lab.run("busybox", {"grep", "-E", "^(CapEff|NoNewPrivs|Seccomp):", "/proc/self/status"}, opts).stdout
		end
		lab.expect(status{}):eq("CapEff:\t00000000a80425fb\nNoNewPrivs:\t0\nSeccomp:\t2\n")
		lab.expect(status{cap_drop = "ALL", cap_add = {"chown"}, security_opt = {"no-new-privileges"}})
			:eq("CapEff:\t0000000000000001\nNoNewPrivs:\t1\nSeccomp:\t2\n")
		lab.expect(status{security_opt = "seccomp=unconfined"}):contains("Seccomp:\t0\n")
		lab.expect(status{privileged = true}):contains("Seccomp:\t0\n")
		local c = lab.create("busybox", "true", {cap_add = "sys_admin", privileged = true})
		local hc = c:inspect().HostConfig
		lab.expect(hc.Privileged):eq(true)
		lab.expect(hc.CapAdd[1]):eq("CAP_SYS_ADMIN")
		c:rm()
	`)
	e.ok(`
		local ok, err = pcall(lab.run, "busybox", "true", {security_opt = "seccomp=/no/such.json"})
		lab.expect(ok):eq(false)
		lab.expect(err.code):eq(125)
	`)
	f := e.fails(`lab.run("busybox", "true", {cap_add = "nope"})`)
	if !strings.Contains(f.Msg, `unknown capability: "CAP_NOPE"`) {
		t.Fatalf("%+v", f)
	}
}
