package lab_test

import (
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// An attached container must not reach the terminal or the process group of the lab
// process that runs it: no /dev/tty, no TIOCSTI into the user's shell, no kill(0, ...)
// reaching the caller. These run lab on a real terminal (tmux) and in a setsid shell.

// probeSource is a static program run inside containers: it tries what an attacker
// would try with the caller's terminal and reports each errno.
const probeSource = `package main

import (
	"fmt"
	"os"
	"syscall"
	"unsafe"
)

// inject types s into the terminal fd as if the user had typed it.
func inject(fd int, s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if _, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TIOCSTI, uintptr(unsafe.Pointer(&c))); e != 0 {
			return e
		}
	}
	return nil
}

func errno(err error) string {
	if e, ok := err.(syscall.Errno); ok {
		switch e {
		case syscall.ENXIO:
			return "ENXIO"
		case syscall.ENOTTY:
			return "ENOTTY"
		case syscall.EPERM:
			return "EPERM"
		case syscall.EIO:
			return "EIO"
		}
		return fmt.Sprint(int(e))
	}
	if pe, ok := err.(*os.PathError); ok {
		return errno(pe.Err)
	}
	return err.Error()
}

func main() {
	// Typed into the user's shell, this prints PWNED-42: the screen must never show it.
	const payload = "echo PWNED-$((6*7))\n"
	fd, err := syscall.Open("/dev/tty", syscall.O_RDWR, 0)
	if err != nil {
		fmt.Println("devtty:", errno(err))
	} else {
		fmt.Println("devtty: opened")
		if err := inject(fd, payload); err != nil {
			fmt.Println("devtty inject:", errno(err))
		}
	}
	for _, fd := range []int{0, 1, 2} {
		var t syscall.Termios
		_, _, e := syscall.Syscall(syscall.SYS_IOCTL, uintptr(fd), syscall.TCGETS, uintptr(unsafe.Pointer(&t)))
		if e != 0 {
			fmt.Printf("fd%d: %s\n", fd, errno(e))
			continue
		}
		fmt.Printf("fd%d: terminal\n", fd)
		if err := inject(fd, payload); err != nil {
			fmt.Printf("fd%d inject: %s\n", fd, errno(err))
		}
	}
	fmt.Println("probe done")
}
`

// probeImage builds the probe statically and commits it into an image "probe".
func probeImage(t *testing.T, root string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("needs the go tool to build the probe")
	}
	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.go"), []byte(probeSource), 0o644); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "go.mod"), []byte("module probe\n\ngo 1.21\n"), 0o644)
	ctx := t.TempDir()
	build := exec.Command(goTool, "build", "-o", filepath.Join(ctx, "probe"), ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=-mod=mod")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build probe: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM busybox\nCOPY probe /probe\n"), 0o644)
	mustRun(t, root, "build", "-q", "-t", "probe", ctx)
}

func TestContainerCannotReachCallersTerminal(t *testing.T) {
	root := newRoot(t)
	probeImage(t, root)
	s := newTmux(t, root)
	lab := labCommand(root)
	for i, flags := range []string{"--rm", "--rm -i"} {
		s.send("clear; "+lab+" run "+flags+" probe /probe; echo status=$?", "Enter")
		s.waitFor("status=", 1)
		s.waitHostPrompt()
		time.Sleep(300 * time.Millisecond) // anything injected would be on screen by now
		scr := s.screen()
		if strings.Contains(scr, "PWNED-42") {
			t.Fatalf("run %s: the container typed into the caller's shell:\n%s", flags, scr)
		}
		if !strings.Contains(scr, "devtty: ENXIO") {
			t.Fatalf("run %s: /dev/tty must fail with ENXIO as on Docker:\n%s", flags, scr)
		}
		for _, fd := range []string{"fd0", "fd1", "fd2"} {
			if strings.Contains(scr, fd+": terminal") {
				t.Fatalf("run %s: the container's %s is the caller's terminal:\n%s", flags, fd, scr)
			}
		}
		if !strings.Contains(scr, "probe done") || !strings.Contains(scr, "status=0") {
			t.Fatalf("run %s (case %d): probe did not finish:\n%s", flags, i, scr)
		}
	}

	// A RUN step of an untrusted Dockerfile is the same attack, reached by building.
	ctx := t.TempDir()
	os.WriteFile(filepath.Join(ctx, "Dockerfile"), []byte("FROM probe\nRUN /probe\n"), 0o644)
	s.send("clear; "+lab+" build --no-cache "+ctx+"; echo status=$?", "Enter")
	s.waitFor("status=", 1)
	s.waitHostPrompt()
	time.Sleep(300 * time.Millisecond)
	scr := s.screen()
	if strings.Contains(scr, "PWNED-42") || !strings.Contains(scr, "devtty: ENXIO") {
		t.Fatalf("build: a RUN step reached the caller's terminal:\n%s", scr)
	}
}

// kill(0, sig) inside a container signals the container's own process group, never the
// caller's: the calling script survives a container that sends SIGTERM to "everyone".
func TestContainerCannotSignalCallersProcessGroup(t *testing.T) {
	root := newRoot(t)
	exe, _ := filepath.Abs(os.Args[0])
	lua := filepath.Join(t.TempDir(), "kill0.lua")
	os.WriteFile(lua, []byte(`local c = lab.run("busybox", "kill -TERM 0; kill -HUP 0; echo inner")
print("lua:" .. c.stdout)
`), 0o644)
	script := `"$LAB" run --rm busybox sh -c 'kill -TERM 0; kill -HUP 0; echo inner'; echo "survived run=$?"
printf 'FROM busybox\nRUN kill -TERM 0; kill -HUP 0\n' | "$LAB" build -q --no-cache - >/dev/null; echo "survived build=$?"
"$LAB" "$LUA"; echo "survived lua=$?"
`
	// setsid: the shell leads its own session and process group, as a login shell or a
	// CI job does; lab (not job-controlled) shares that group.
	cmd := exec.Command("setsid", "--wait", "sh", "-c", script)
	cmd.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root, "LAB="+exe, "LUA="+lua)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("the calling shell did not survive: %v\n%s", err, out)
	}
	for _, want := range []string{"inner\nsurvived run=0", "survived build=0", "lua:inner", "survived lua=0"} {
		if !strings.Contains(string(out), want) {
			t.Fatalf("want %q in:\n%s", want, out)
		}
	}
}

// lab relays SIGINT, SIGTERM and SIGHUP to an attached container, as Docker's client
// does with --sig-proxy (the default).
func TestSignalsForwardedToContainer(t *testing.T) {
	root := newRoot(t)
	exe, _ := filepath.Abs(os.Args[0])
	for _, sig := range []syscall.Signal{syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP} {
		name := strings.TrimPrefix(sigName(sig), "SIG")
		cmd := exec.Command(exe, "run", "--rm", "busybox", "sh", "-c",
			"trap 'echo got "+name+"; exit 3' "+name+"; echo ready; while :; do sleep 0.05; done")
		cmd.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root)
		stdout, _ := cmd.StdoutPipe()
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 64)
		n, _ := stdout.Read(buf)
		if !strings.Contains(string(buf[:n]), "ready") {
			t.Fatalf("%s: container did not start: %q", name, buf[:n])
		}
		cmd.Process.Signal(sig)
		rest := make([]byte, 64)
		m, _ := stdout.Read(rest)
		err := cmd.Wait()
		if !strings.Contains(string(rest[:m]), "got "+name) {
			t.Fatalf("%s was not forwarded: output %q, wait %v", name, rest[:m], err)
		}
		if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != 3 {
			t.Fatalf("%s: lab should exit with the container's code 3, got %v", name, err)
		}
	}
}

func sigName(s syscall.Signal) string {
	switch s {
	case syscall.SIGINT:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	case syscall.SIGHUP:
		return "SIGHUP"
	}
	return s.String()
}

// --sig-proxy=false: lab keeps no relay, so a signal ends lab, and the container (which
// never outlives lab) with it, without the container seeing the signal.
func TestSigProxyOff(t *testing.T) {
	root := newRoot(t)
	exe, _ := filepath.Abs(os.Args[0])
	cmd := exec.Command(exe, "run", "--sig-proxy=false", "--name", "noproxy", "busybox", "sh", "-c",
		"trap 'echo got TERM; exit 3' TERM; echo ready; while :; do sleep 0.05; done # noproxy-marker")
	cmd.Env = append(os.Environ(), "LAB_TEST_CLI=1", "LAB_ROOT="+root)
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	if n, _ := stdout.Read(buf); !strings.Contains(string(buf[:n]), "ready") {
		t.Fatalf("container did not start: %q", buf[:n])
	}
	if !processWithArg("noproxy-marker") {
		t.Fatal("cannot see the container's process")
	}
	cmd.Process.Signal(syscall.SIGTERM)
	rest, _ := io.ReadAll(stdout)
	err := cmd.Wait()
	if strings.Contains(string(rest), "got TERM") {
		t.Fatalf("--sig-proxy=false relayed the signal: %q", rest)
	}
	if ee, ok := err.(*exec.ExitError); !ok || ee.ExitCode() != -1 {
		t.Fatalf("lab should die of the signal, got %v", err)
	}
	// The container died with lab; its record may still say running (nobody was left to
	// write the exit), but no process of it survives.
	deadline := time.Now().Add(5 * time.Second)
	for processWithArg("noproxy-marker") {
		if time.Now().After(deadline) {
			t.Fatal("the container outlived lab")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// processWithArg reports whether a process has s in its command line.
func processWithArg(s string) bool {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		b, err := os.ReadFile("/proc/" + e.Name() + "/cmdline")
		if err == nil && strings.Contains(string(b), s) && e.Name() != strconv.Itoa(os.Getpid()) {
			return true
		}
	}
	return false
}
