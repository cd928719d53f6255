package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"lab/runtime/engine"
)

// syscallProbeImage builds testdata/syscallprobe as a static binary and returns an
// image of busybox with it at /probe.
func syscallProbeImage(t *testing.T, e *engine.Engine) string {
	t.Helper()
	gobin, err := exec.LookPath("go")
	if err != nil {
		gobin = "/usr/local/go/bin/go"
	}
	if _, err := os.Stat(gobin); err != nil {
		t.Skip("the go tool is needed to build the probe:", err)
	}
	bin := filepath.Join(t.TempDir(), "probe")
	cmd := exec.Command(gobin, "build", "-o", bin, "./testdata/syscallprobe")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	b, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	layer := buildTar(t, tarEntry{hdr: tar.Header{Typeflag: tar.TypeReg, Name: "probe", Mode: 0o755, Size: int64(len(b))}, body: string(b)})
	if _, err := layeredImage(t, e, "seccomp:probe", layer); err != nil {
		t.Fatal(err)
	}
	return "seccomp:probe"
}

// probe runs the probe with o and returns its lines by system call name.
func probe(t *testing.T, e *engine.Engine, o engine.CreateOptions) map[string]string {
	t.Helper()
	var out bytes.Buffer
	o.Cmd, o.AutoRemove = []string{"/probe"}, true
	c, err := e.Run(context.Background(), o, engine.StartOptions{IO: engine.IO{Stdout: &out, Stderr: &out}})
	if err != nil || c.State.ExitCode != 0 {
		t.Fatalf("probe: %v\n%s", err, out.String())
	}
	got := map[string]string{}
	for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		k, v, _ := strings.Cut(l, ": ")
		got[k] = v
	}
	return got
}

// Issue 10: without a seccomp filter, root in a container could use the host root's
// keyring, make user namespaces with every capability, and open perf events.
func TestSeccompDefaultProfile(t *testing.T) {
	e := newStore(t)
	img := syscallProbeImage(t, e)
	blocked := []string{"keyctl", "add_key", "unshare_newuser", "clone_newuser", "perf_event_open"}
	check := func(t *testing.T, got map[string]string, want func(call string) bool) {
		t.Helper()
		for _, call := range blocked {
			if want(call) != (got[call] == "EPERM") {
				t.Errorf("%s: %q, want EPERM: %v", call, got[call], want(call))
			}
		}
		if got["uname"] != "ok" {
			t.Errorf("uname: %q, want ok", got["uname"])
		}
	}
	all := func(string) bool { return true }
	none := func(string) bool { return false }

	t.Run("default profile refuses them", func(t *testing.T) {
		check(t, probe(t, e, engine.CreateOptions{Image: img}), all)
	})
	t.Run("no-new-privileges keeps the filter", func(t *testing.T) {
		check(t, probe(t, e, engine.CreateOptions{Image: img, SecurityOpt: []string{"no-new-privileges"}}), all)
	})
	t.Run("as a user other than root", func(t *testing.T) {
		check(t, probe(t, e, engine.CreateOptions{Image: img, User: "nobody"}), all)
	})
	t.Run("seccomp=unconfined lets them through", func(t *testing.T) {
		check(t, probe(t, e, engine.CreateOptions{Image: img, SecurityOpt: []string{"seccomp=unconfined"}}), none)
	})
	t.Run("privileged has no filter", func(t *testing.T) {
		check(t, probe(t, e, engine.CreateOptions{Image: img, Privileged: true}), none)
	})
	t.Run("the rules follow the capabilities", func(t *testing.T) {
		// Docker's profile allows unshare and clone's namespace flags to CAP_SYS_ADMIN,
		// perf_event_open to CAP_PERFMON, and the keyring to nobody.
		check(t, probe(t, e, engine.CreateOptions{Image: img, CapAdd: []string{"sys_admin"}}), func(c string) bool {
			return c == "keyctl" || c == "add_key"
		})
		check(t, probe(t, e, engine.CreateOptions{Image: img, CapAdd: []string{"CAP_PERFMON"}}), func(c string) bool {
			return c != "perf_event_open"
		})
	})
	t.Run("a profile from a file", func(t *testing.T) {
		// Allow everything but uname, which fails with EACCES (13).
		p := filepath.Join(t.TempDir(), "profile.json")
		os.WriteFile(p, []byte(`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [
			{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}`), 0o644)
		got := probe(t, e, engine.CreateOptions{Image: img, SecurityOpt: []string{"seccomp=" + p}})
		if got["uname"] != "EACCES" || got["add_key"] != "ok" {
			t.Errorf("custom profile: %v", got)
		}
	})
	t.Run("bad options are refused at create", func(t *testing.T) {
		bad := filepath.Join(t.TempDir(), "bad.json")
		os.WriteFile(bad, []byte(`{"defaultAction": "SCMP_ACT_BOGUS"}`), 0o644)
		for _, o := range []engine.CreateOptions{
			{Image: img, CapAdd: []string{"CAP_NOPE"}},
			{Image: img, CapDrop: []string{"bogus"}},
			{Image: img, SecurityOpt: []string{"seccomp=/no/such/profile.json"}},
			{Image: img, SecurityOpt: []string{"seccomp=" + bad}},
			{Image: img, SecurityOpt: []string{"no-new-privileges=maybe"}},
			{Image: img, SecurityOpt: []string{"apparmor=foo"}},
		} {
			_, err := e.Create(context.Background(), o)
			var ee *engine.ExitError
			if !errors.As(err, &ee) || ee.Code != 125 {
				t.Errorf("%v %v %v: %v, want exit 125", o.CapAdd, o.CapDrop, o.SecurityOpt, err)
			}
		}
	})
}

// Capabilities as Docker computes them from --cap-add, --cap-drop and --privileged,
// and no_new_privs, seen from inside the container.
func TestCapabilityFlags(t *testing.T) {
	e := newStore(t)
	status := func(t *testing.T, o engine.CreateOptions) string {
		t.Helper()
		var out bytes.Buffer
		o.Image, o.AutoRemove = "busybox", true
		o.Cmd = []string{"grep", "-E", "^(CapEff|CapBnd|NoNewPrivs|Seccomp):", "/proc/self/status"}
		c, err := e.Run(context.Background(), o, engine.StartOptions{IO: engine.IO{Stdout: &out, Stderr: &out}})
		if err != nil || c.State.ExitCode != 0 {
			t.Fatalf("%v: %s", err, out.String())
		}
		return out.String()
	}
	hostCaps := func() string {
		b, _ := os.ReadFile("/proc/self/status")
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "CapBnd:\t"); ok {
				return v
			}
		}
		return "?"
	}()
	for _, tc := range []struct {
		name string
		o    engine.CreateOptions
		want []string
	}{
		{"defaults", engine.CreateOptions{}, []string{"CapEff:\t" + dockerDefaultCaps, "NoNewPrivs:\t0", "Seccomp:\t2"}},
		// CAP_NET_ADMIN is bit 12 (0x1000); CAP_CHOWN bit 0.
		{"cap-add", engine.CreateOptions{CapAdd: []string{"net_admin"}}, []string{"CapEff:\t00000000a80435fb"}},
		{"cap-drop", engine.CreateOptions{CapDrop: []string{"CAP_CHOWN"}}, []string{"CapEff:\t00000000a80425fa", "CapBnd:\t00000000a80425fa"}},
		{"cap-drop ALL", engine.CreateOptions{CapDrop: []string{"all"}, CapAdd: []string{"chown"}}, []string{"CapEff:\t0000000000000001"}},
		{"cap-add ALL", engine.CreateOptions{CapAdd: []string{"ALL"}}, []string{"CapEff:\t" + hostCaps, "Seccomp:\t2"}},
		{"privileged", engine.CreateOptions{Privileged: true}, []string{"CapEff:\t" + hostCaps, "Seccomp:\t0"}},
		{"no-new-privileges", engine.CreateOptions{SecurityOpt: []string{"no-new-privileges"}}, []string{"NoNewPrivs:\t1", "Seccomp:\t2"}},
		{"unconfined", engine.CreateOptions{SecurityOpt: []string{"seccomp=unconfined"}}, []string{"Seccomp:\t0", "CapEff:\t" + dockerDefaultCaps}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := status(t, tc.o)
			for _, w := range tc.want {
				if !strings.Contains(got, w+"\n") {
					t.Errorf("want %q in:\n%s", w, got)
				}
			}
		})
	}
}
