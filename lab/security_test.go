package lab_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --cap-add, --cap-drop, --privileged and --security-opt: what the container gets, what
// inspect shows, and one error line with exit 125 for a bad value.
func TestSecurityFlags(t *testing.T) {
	root := newRoot(t)
	out := mustRun(t, root, "run", "--rm", "--cap-drop", "ALL", "--cap-add", "chown", "--security-opt", "no-new-privileges",
		"busybox", "grep", "-E", "^(CapEff|NoNewPrivs|Seccomp):", "/proc/self/status")
	if want := "CapEff:\t0000000000000001\nNoNewPrivs:\t1\nSeccomp:\t2\n"; out != want {
		t.Errorf("status:\n%s\nwant\n%s", out, want)
	}
	out = mustRun(t, root, "run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "grep", "^Seccomp:", "/proc/self/status")
	if out != "Seccomp:\t0\n" {
		t.Errorf("unconfined: %q", out)
	}

	mustRun(t, root, "create", "--name", "sec", "--cap-add", "sys_admin", "--cap-drop", "CAP_NET_RAW",
		"--security-opt", "seccomp=unconfined", "--security-opt", "no-new-privileges", "busybox", "true")
	mustRun(t, root, "create", "--name", "priv", "--privileged", "busybox", "true")
	var insp []struct {
		HostConfig struct {
			CapAdd, CapDrop, SecurityOpt []string
			Privileged                   bool
		}
	}
	if err := json.Unmarshal([]byte(mustRun(t, root, "inspect", "sec", "priv")), &insp); err != nil || len(insp) != 2 {
		t.Fatalf("inspect: %v", err)
	}
	hc := insp[0].HostConfig
	if strings.Join(hc.CapAdd, ",") != "CAP_SYS_ADMIN" || strings.Join(hc.CapDrop, ",") != "CAP_NET_RAW" ||
		strings.Join(hc.SecurityOpt, ",") != "seccomp=unconfined,no-new-privileges=true" || hc.Privileged {
		t.Errorf("inspect sec: %+v", hc)
	}
	if !insp[1].HostConfig.Privileged {
		t.Errorf("inspect priv: %+v", insp[1].HostConfig)
	}

	bad := filepath.Join(t.TempDir(), "bad.json")
	os.WriteFile(bad, []byte("{not json"), 0o644)
	for _, tc := range []struct {
		args []string
		msg  string
	}{
		{[]string{"--cap-add", "FOO"}, `unknown capability: "CAP_FOO"`},
		{[]string{"--cap-drop", "sys_nope"}, `unknown capability: "CAP_SYS_NOPE"`},
		{[]string{"--security-opt", "bogus"}, `invalid --security-opt "bogus"`},
		{[]string{"--security-opt", "no-new-privileges=maybe"}, `invalid --security-opt "no-new-privileges=maybe"`},
		{[]string{"--security-opt", "seccomp=/no/such.json"}, "opening seccomp profile (/no/such.json) failed"},
		{[]string{"--security-opt", "seccomp=" + bad}, "seccomp profile: Decoding seccomp profile failed"},
	} {
		r := labIn(t, root, "", append(append([]string{"run", "--rm"}, tc.args...), "busybox", "true")...)
		if r.code != 125 || !strings.Contains(r.stderr, tc.msg) || strings.Count(r.stderr, "\n") != 1 {
			t.Errorf("lab run %v: exit %d, stderr %q; want 125 and one line with %q", tc.args, r.code, r.stderr, tc.msg)
		}
	}
}
