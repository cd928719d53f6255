package engine_test

import (
	"bytes"
	"context"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"golang.org/x/sys/unix"

	"lab/runtime/engine"
)

// dockerDefaultCaps is Docker's default capability set as /proc/PID/status prints it.
const dockerDefaultCaps = "00000000a80425fb"

// Hostile code inside a container, as root, against the host.
func TestContainerIsolation(t *testing.T) {
	e := newStore(t)
	sh := func(t *testing.T, script string, extra ...string) string {
		t.Helper()
		out, code := runOut(t, e, "busybox", append([]string{"sh", "-c", script}, extra...)...)
		if code != 0 {
			t.Fatalf("%s: exit %d\n%s", script, code, out)
		}
		return out
	}

	t.Run("only stdio is open", func(t *testing.T) {
		// ls itself is pid 1 here and holds one descriptor: the directory it reads.
		out, code := runOut(t, e, "busybox", "ls", "-l", "/proc/self/fd")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, out)
		}
		fds := regexp.MustCompile(`(?m) (\d+) -> (.*)$`).FindAllStringSubmatch(out, -1)
		var got []string
		for _, m := range fds {
			if m[1] == "3" && strings.HasSuffix(m[2], "/fd") {
				continue
			}
			got = append(got, m[1])
		}
		if strings.Join(got, ",") != "0,1,2" {
			t.Fatalf("descriptors open in the container: %v\n%s", got, out)
		}
	})

	t.Run("capabilities are Docker's defaults", func(t *testing.T) {
		out := sh(t, "grep -E '^(Cap|NoNewPrivs)' /proc/self/status; hostname evil 2>&1; mount -t tmpfs x /mnt 2>&1; true")
		for _, want := range []string{
			"CapInh:\t0000000000000000", "CapPrm:\t" + dockerDefaultCaps, "CapEff:\t" + dockerDefaultCaps,
			"CapBnd:\t" + dockerDefaultCaps, "CapAmb:\t0000000000000000", "NoNewPrivs:\t0",
			"sethostname: Operation not permitted", "Operation not permitted",
		} {
			if !strings.Contains(out, want) {
				t.Errorf("want %q in:\n%s", want, out)
			}
		}
		var buf bytes.Buffer
		c, err := e.Run(context.Background(), engine.CreateOptions{Image: "busybox", User: "nobody", AutoRemove: true,
			Cmd: []string{"grep", "-E", "^Cap(Eff|Prm|Bnd)", "/proc/self/status"}}, engine.StartOptions{IO: engine.IO{Stdout: &buf}})
		if err != nil || c.State.ExitCode != 0 {
			t.Fatal(err, buf.String())
		}
		if want := "CapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t" + dockerDefaultCaps + "\n"; buf.String() != want {
			t.Errorf("as nobody:\n%s\nwant\n%s", buf.String(), want)
		}
	})

	t.Run("masked and read-only kernel paths", func(t *testing.T) {
		out := sh(t, `
for p in /proc/acpi /proc/kcore /proc/keys /proc/latency_stats /proc/timer_list /proc/timer_stats /proc/sched_debug /proc/scsi /sys/firmware /sys/devices/virtual/powercap /proc/asound; do
  if [ -d $p ]; then echo "$p $(ls -A $p | wc -l)"; elif [ -e $p ]; then echo "$p $(wc -c < $p)"; fi
done
for p in /proc/sysrq-trigger /proc/sys/kernel/hostname /proc/sys/vm/drop_caches /sys/kernel/uevent_helper; do
  [ -e $p ] && { (echo 1 > $p) 2>&1 | grep -q 'Read-only file system' && echo "$p ro" || echo "$p WRITABLE"; }
done
true`)
		for _, p := range []string{"/proc/acpi", "/proc/keys", "/proc/timer_list", "/sys/firmware", "/proc/kcore", "/proc/sched_debug", "/proc/scsi"} {
			if _, err := os.Stat(p); err == nil && !strings.Contains(out, p+" 0\n") {
				t.Errorf("%s is not masked:\n%s", p, out)
			}
		}
		if strings.Contains(out, "WRITABLE") || !strings.Contains(out, "/proc/sys/kernel/hostname ro") {
			t.Errorf("kernel settings writable:\n%s", out)
		}
	})

	t.Run("no host mount is visible", func(t *testing.T) {
		out := sh(t, "cat /proc/mounts")
		allowed := map[string]bool{"/": true, "/proc": true, "/dev": true, "/dev/pts": true, "/dev/shm": true,
			"/dev/mqueue": true, "/sys": true, "/etc/hostname": true, "/etc/hosts": true, "/etc/resolv.conf": true, "/dev/console": true}
		for _, d := range []string{"null", "zero", "full", "random", "urandom", "tty"} {
			allowed["/dev/"+d] = true
		}
		for _, p := range []string{"/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats", "/proc/timer_list",
			"/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware", "/sys/devices/virtual/powercap",
			"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"} {
			allowed[p] = true
		}
		ro := map[string]bool{}
		for _, line := range strings.Split(strings.TrimSpace(out), "\n") {
			f := strings.Fields(line)
			if len(f) < 4 {
				t.Fatalf("odd /proc/mounts line %q", line)
			}
			if !allowed[f[1]] {
				t.Errorf("unexpected mount inside the container: %s", line)
			}
			ro[f[1]] = strings.HasPrefix(f[3], "ro,") || f[3] == "ro"
		}
		for _, p := range []string{"/sys", "/proc/sys", "/proc/bus", "/proc/fs", "/proc/irq"} {
			if _, err := os.Stat(p); err == nil && !ro[p] {
				t.Errorf("%s is not mounted read-only:\n%s", p, out)
			}
		}
	})

	t.Run("workdir through a proc magic link is refused", func(t *testing.T) {
		hostDirs, _ := os.ReadDir("/")
		// fd 4 is the init's error pipe, open until the exec; the others may or may not
		// be open in the init. None may become the working directory.
		for _, wd := range []string{"/proc/self/fd/4", "/proc/self/fd/3", "/proc/self/fd/5", "/proc/self/fd/6", "/proc/self/fd/7", "/proc/self/fd/8/x",
			"/proc/self/cwd", "/proc/1/cwd/x", "/proc/self/root/tmp", "/proc/thread-self/fd/4"} {
			c, err := e.Run(context.Background(), engine.CreateOptions{Image: "busybox", WorkingDir: wd, Cmd: []string{"pwd"}, AutoRemove: true},
				engine.StartOptions{})
			mustRefuse := wd == "/proc/self/fd/4" || !strings.Contains(wd, "/fd/")
			if err == nil || engine.Code(err, 0) != 125 || (mustRefuse && !strings.Contains(err.Error(), "refused")) {
				t.Errorf("workdir %s: %v (exit %d)", wd, err, c.State.ExitCode)
			}
		}
		if after, _ := os.ReadDir("/"); len(after) != len(hostDirs) {
			t.Errorf("the host's / changed: %d entries, was %d", len(after), len(hostDirs))
		}
		// Ordinary symlinks in the path are still followed, inside the root.
		if _, err := layeredImage(t, e, "wd:links", buildTar(t, symlink("out", "/../../../tmp"), symlink("rel", "tmp"))); err != nil {
			t.Fatal(err)
		}
		hostProbe := "/tmp/lab-safety-wd-" + filepath.Base(e.Root)
		defer os.RemoveAll(hostProbe)
		for _, tc := range [][2]string{{"/out/" + filepath.Base(hostProbe), "/tmp/" + filepath.Base(hostProbe)}, {"/rel/a/b", "/tmp/a/b"}} {
			var buf bytes.Buffer
			c, err := e.Run(context.Background(), engine.CreateOptions{Image: "wd:links", WorkingDir: tc[0], Cmd: []string{"pwd"}, AutoRemove: true},
				engine.StartOptions{IO: engine.IO{Stdout: &buf}})
			if err != nil || c.State.ExitCode != 0 || strings.TrimSpace(buf.String()) != tc[1] {
				t.Errorf("workdir %s: %v, %q, want %s", tc[0], err, buf.String(), tc[1])
			}
		}
		if _, err := os.Stat(hostProbe); err == nil {
			t.Errorf("workdir through an absolute symlink created %s on the host", hostProbe)
		}
	})

	t.Run("lab binary cannot be opened for writing through proc exe", func(t *testing.T) {
		self, err := os.Executable()
		if err != nil {
			t.Fatal(err)
		}
		// The fallback init, lab itself (here the test binary), is what this probe
		// runs; lab-init's own protection is tested in runtime/proc.
		t.Setenv("LAB_INIT", self)
		before := fileHash(t, self)
		libs, err := sharedLibs(t, self)
		if err != nil {
			t.Skip(err)
		}
		if _, err := layeredImage(t, e, "exe:probe", libs); err != nil {
			t.Fatal(err)
		}
		// CVE-2019-5736's entry: the container's command is lab itself, through the
		// init's /proc/self/exe; it then tries to write to the binary it runs from.
		var buf bytes.Buffer
		c, err := e.Run(context.Background(), engine.CreateOptions{Image: "exe:probe", Cmd: []string{"/proc/self/exe"},
			Env: []string{"LAB_SAFETY_EXEPROBE=1"}, AutoRemove: true}, engine.StartOptions{IO: engine.IO{Stdout: &buf, Stderr: &buf}})
		if err != nil || c.State.ExitCode != 0 {
			t.Fatalf("probe: %v\n%s", err, buf.String())
		}
		out := buf.String()
		if !strings.Contains(out, "read-only mount: true") || !strings.Contains(out, "open for writing: refused") {
			t.Errorf("probe output:\n%s", out)
		}
		if fileHash(t, self) != before {
			t.Fatal("the lab binary on the host changed")
		}
	})
}

// exeProbe runs inside a container as lab's own binary and reports whether it could
// open that binary for writing and whether it sits on a read-only mount.
func exeProbe() int {
	for _, p := range []string{"/proc/self/exe", "/proc/1/exe"} {
		f, err := os.OpenFile(p, os.O_WRONLY, 0)
		if err == nil {
			f.Close()
			fmt.Printf("%s: open for writing: SUCCEEDED\n", p)
		} else {
			fmt.Printf("%s: open for writing: refused (%v)\n", p, errors.Unwrap(err))
		}
	}
	fd, err := unix.Open("/proc/self/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
	if err != nil {
		fmt.Println("open /proc/self/exe:", err)
		return 1
	}
	var st unix.Statfs_t
	if err := unix.Fstatfs(fd, &st); err != nil {
		fmt.Println("statfs:", err)
		return 1
	}
	fmt.Printf("read-only mount: %v\n", st.Flags&unix.ST_RDONLY != 0)
	return 0
}

// sharedLibs returns a layer holding the shared libraries bin needs (none for a
// static binary), so that it can run inside a busybox image.
func sharedLibs(t *testing.T, bin string) ([]byte, error) {
	// A static binary (make test builds with CGO_ENABLED=0) needs nothing, and ldd
	// would only say so on stderr with exit status 1: ask the ELF header instead.
	f, err := elf.Open(bin)
	if err != nil {
		return nil, err
	}
	dynamic := false
	for _, p := range f.Progs {
		dynamic = dynamic || p.Type == elf.PT_INTERP
	}
	f.Close()
	if !dynamic {
		return buildTar(t), nil
	}
	out, err := exec.Command("ldd", bin).Output()
	if err != nil {
		return nil, fmt.Errorf("ldd: %v", err)
	}
	var entries []tarEntry
	for _, m := range regexp.MustCompile(`(?m)(?:=> )?(/\S+) \(0x`).FindAllStringSubmatch(string(out), -1) {
		b, err := os.ReadFile(m[1])
		if err != nil {
			return nil, err
		}
		entries = append(entries, tarEntry{hdr: file(strings.TrimPrefix(m[1], "/"), "").hdr, body: string(b)})
		entries[len(entries)-1].hdr.Size = int64(len(b))
		entries[len(entries)-1].hdr.Mode = 0o755
	}
	return buildTar(t, entries...), nil
}
