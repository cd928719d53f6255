package proc_test

import (
	"errors"
	"os"
	"strconv"
	"testing"

	"golang.org/x/sys/unix"

	"lab/runtime/proc"
	"lab/runtime/proc/inittest"
)

func TestMain(m *testing.M) {
	if proc.IsInit() {
		proc.Init()
	}
	inittest.Main(m.Run)
}

// TestInitBinaryIsLabInit: with LAB_INIT unset, lab looks for lab-init next to itself
// and falls back to its own binary.
func TestInitBinaryIsLabInit(t *testing.T) {
	if got := proc.InitBinary(); got != os.Getenv("LAB_INIT") {
		t.Fatalf("InitBinary() = %q with LAB_INIT=%q", got, os.Getenv("LAB_INIT"))
	}
	t.Setenv("LAB_INIT", "")
	self, _ := os.Executable()
	if got := proc.InitBinary(); got != self {
		t.Errorf("InitBinary() without lab-init beside %s = %q, want the executable itself", self, got)
	}
}

// TestInitNotWritableFromProcExe replays CVE-2019-5736 against lab-init: while the
// init runs, take a handle on its /proc/<pid>/exe (as a container process that got
// to exec it can), and once it has exited (the binary no longer busy) reopen that
// handle for writing. Root on the host is refused, so root in a container is too:
// the init runs from a read-only mount of itself.
func TestInitNotWritableFromProcExe(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root: the init starts in new namespaces")
	}
	bin := os.Getenv("LAB_INIT")
	if err := os.Chmod(bin, 0o755); err != nil { // writable for root, as an installed one is
		t.Fatal(err)
	}
	before, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop before the spec is sent")
	handle := -1
	var rdonly bool
	_, err = proc.Start(&proc.Spec{}, proc.IO{}, proc.Hooks{Created: func(pid int) error {
		fd, err := unix.Open("/proc/"+strconv.Itoa(pid)+"/exe", unix.O_PATH|unix.O_CLOEXEC, 0)
		if err != nil {
			t.Errorf("open the init's exe: %v", err)
			return stop
		}
		handle = fd
		var st unix.Statfs_t
		if err := unix.Fstatfs(fd, &st); err != nil {
			t.Errorf("statfs: %v", err)
		}
		rdonly = st.Flags&unix.ST_RDONLY != 0
		return stop
	}})
	if !errors.Is(err, stop) {
		t.Fatalf("Start: %v, want the hook's error", err)
	}
	if handle < 0 {
		t.FailNow()
	}
	defer unix.Close(handle)
	if !rdonly {
		t.Error("the init does not run from a read-only mount")
	}
	f, err := os.OpenFile("/proc/self/fd/"+strconv.Itoa(handle), os.O_WRONLY, 0)
	if err == nil {
		f.Close()
		t.Fatal("the init's binary opened for writing through its /proc/<pid>/exe")
	}
	if !errors.Is(err, unix.EROFS) {
		t.Errorf("reopen for writing: %v, want EROFS", err)
	}
	after, _ := os.ReadFile(bin)
	if string(after) != string(before) {
		t.Fatal("the init binary changed")
	}
}
