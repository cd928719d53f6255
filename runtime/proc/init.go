package proc

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Init turns this process into the container: it reads the spec from fd 3, sets up the
// root filesystem and execs the command. It never returns.
func Init() {
	goruntime.LockOSThread()
	errPipe := os.NewFile(4, "errpipe")
	// Close-on-exec: a successful exec is signalled by end-of-file on this pipe.
	unix.CloseOnExec(4)
	fail := func(code int, format string, args ...any) {
		b, _ := json.Marshal(StartError{Code: code, Msg: fmt.Sprintf(format, args...)})
		errPipe.Write(b)
		os.Exit(code)
	}
	specFile := os.NewFile(3, "spec")
	var spec Spec
	if err := json.NewDecoder(specFile).Decode(&spec); err != nil {
		fail(125, "read container spec: %v", err)
	}
	specFile.Close()
	if err := setupRootfs(&spec); err != nil {
		fail(125, "set up container: %v", err)
	}
	if err := unix.Sethostname([]byte(spec.Hostname)); err != nil {
		fail(125, "set hostname: %v", err)
	}
	if err := loopbackUp(); err != nil {
		fail(125, "bring up loopback: %v", err)
	}
	if err := harden(&spec); err != nil {
		fail(125, "harden container: %v", err)
	}
	if err := confine(&spec, false); err != nil {
		fail(125, "%v", err)
	}
	if err := dropCapabilities(spec.Caps); err != nil {
		fail(125, "harden container: %v", err)
	}
	if err := setUser(spec.User); err != nil {
		fail(125, "set user %q: %v", spec.User, err)
	}
	cwd := spec.Cwd
	if cwd == "" {
		cwd = "/"
	}
	if err := enterWorkdir(cwd); err != nil {
		fail(125, "workdir %s: %v", cwd, err)
	}
	if len(spec.Args) == 0 {
		fail(125, "no command specified")
	}
	path, code, err := lookPath(spec.Args[0], spec.Env)
	if err != nil {
		fail(code, "exec: %q: %v", spec.Args[0], err)
	}
	if err := confine(&spec, true); err != nil {
		fail(125, "%v", err)
	}
	err = unix.Exec(path, spec.Args, spec.Env)
	switch {
	case errors.Is(err, unix.ENOENT):
		fail(127, "exec: %q: %v", spec.Args[0], err)
	default:
		fail(126, "exec: %q: %v", spec.Args[0], err)
	}
}

// lookPath finds the command in the container's PATH, as Docker does before it execs,
// so that "not found" (127) and "cannot run" (126) can be told apart.
func lookPath(name string, env []string) (string, int, error) {
	if strings.Contains(name, "/") {
		err := checkExec(name)
		if errors.Is(err, unix.ENOENT) {
			return "", 127, err
		}
		return name, 126, err
	}
	path := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "PATH="); ok {
			path = v
		}
	}
	var denied error
	for _, dir := range filepath.SplitList(path) {
		if dir == "" {
			dir = "."
		}
		p := filepath.Join(dir, name)
		err := checkExec(p)
		if err == nil {
			return p, 0, nil
		}
		if !errors.Is(err, unix.ENOENT) && denied == nil {
			denied = err
		}
	}
	if denied != nil {
		return "", 126, denied
	}
	return "", 127, errors.New("executable file not found in $PATH")
}

func checkExec(p string) error {
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("stat %s: %w", p, unix.ENOENT)
		}
		return err
	}
	if st.Mode&unix.S_IFMT == unix.S_IFDIR {
		return fmt.Errorf("is a directory: %w", unix.EACCES)
	}
	if err := unix.Access(p, unix.X_OK); err != nil {
		return errors.New("permission denied")
	}
	return nil
}

func loopbackUp() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return err
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	return unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr)
}

// setUser switches to the image's USER, looked up in the container's own /etc files.
func setUser(user string) error {
	if user == "" || user == "root" || user == "0" || user == "0:0" {
		return nil
	}
	name, group, _ := strings.Cut(user, ":")
	uid, gid, err := lookupID("/etc/passwd", name, 2)
	if err != nil {
		return err
	}
	if group != "" {
		if gid, _, err = lookupID("/etc/group", group, 2); err != nil {
			return err
		}
	}
	if err := unix.Setgroups([]int{gid}); err != nil {
		return err
	}
	if err := unix.Setgid(gid); err != nil {
		return err
	}
	return unix.Setuid(uid)
}

// lookupID resolves a name or number through a passwd/group file: it returns the id
// field and, for passwd, the primary group.
func lookupID(file, name string, idField int) (int, int, error) {
	if n, err := strconv.Atoi(name); err == nil {
		gid := n
		b, _ := os.ReadFile(file)
		for _, line := range strings.Split(string(b), "\n") {
			f := strings.Split(line, ":")
			if len(f) > 3 && f[idField] == name {
				if g, err := strconv.Atoi(f[3]); err == nil && file == "/etc/passwd" {
					gid = g
				}
			}
		}
		return n, gid, nil
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return 0, 0, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Split(line, ":")
		if len(f) > 2 && f[0] == name {
			id, err := strconv.Atoi(f[idField])
			if err != nil {
				return 0, 0, err
			}
			gid := id
			if len(f) > 3 {
				if g, err := strconv.Atoi(f[3]); err == nil {
					gid = g
				}
			}
			return id, gid, nil
		}
	}
	return 0, 0, fmt.Errorf("no matching entries in %s", file)
}
