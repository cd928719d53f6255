package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// A container is frozen (docker commit --pause, the default) with a freezer cgroup made
// only for the pause: most containers have no cgroup at all, and making one for every
// start would cost every run. Freeze moves the container's processes into
// <freezer>/lab/<id>, freezes it, and the returned thaw undoes all three steps, putting
// each process back in the group it came from. On a v2-only host the same happens in
// the unified tree with cgroup.freeze; a container whose limits already put it in
// <v2>/lab/<id> is frozen where it is.

// freezerMount finds the v1 freezer hierarchy, else the first cgroup2 mount.
var freezerMount = sync.OnceValues(func() (mount, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return mount{}, fmt.Errorf("find cgroup mounts: %w", err)
	}
	defer f.Close()
	var v2 *mount
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		left, right, ok := strings.Cut(sc.Text(), " - ")
		lf, rf := strings.Fields(left), strings.Fields(right)
		if !ok || len(lf) < 5 || len(rf) < 3 {
			continue
		}
		dir := unescapeMount(lf[4])
		switch rf[0] {
		case "cgroup":
			if contains(strings.Split(rf[2], ","), "freezer") {
				return mount{dir: dir}, nil
			}
		case "cgroup2":
			if v2 == nil {
				v2 = &mount{dir: dir, v2: true}
			}
		}
	}
	if v2 != nil {
		return *v2, nil
	}
	return mount{}, fmt.Errorf("%w: no freezer cgroup on this host", ErrUnsupported)
})

// Freeze stops every process that tasks lists (the container's, asked again until the
// list is stable, since a process may fork while the others are being moved) and
// returns the function that lets them run again. On error nothing is left frozen.
func Freeze(id string, tasks func() ([]int, error)) (thaw func() error, err error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	m, err := freezerMount()
	if err != nil {
		return nil, err
	}
	return freeze(m, id, tasks)
}

func freeze(m mount, id string, tasks func() ([]int, error)) (func() error, error) {
	dir := filepath.Join(m.dir, Parent, id)
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		// Retried: a concurrent thaw of another container may remove the shared
		// parent between MkdirAll's two mkdirs.
		if err = os.MkdirAll(dir, 0o755); err == nil || !errors.Is(err, os.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return nil, fmt.Errorf("create freezer cgroup: %w", err)
	}
	fz := &frozen{m: m, dir: dir, from: map[int]string{}}
	ok := false
	defer func() {
		if !ok {
			fz.thaw()
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for first := true; ; first = false {
		pids, err := tasks()
		if err != nil {
			return nil, err
		}
		moved, err := fz.move(pids)
		if err != nil {
			return nil, err
		}
		if first {
			if err := fz.setFrozen(true); err != nil {
				return nil, err
			}
		}
		if !moved && fz.isFrozen() {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("freeze container %s: it did not stop", id[:12])
		}
		time.Sleep(time.Millisecond)
	}
	ok = true
	return fz.thaw, nil
}

type frozen struct {
	m    mount
	dir  string
	from map[int]string // pid -> the group (relative to the mount) it came from
}

// move puts the processes not yet in the group into it and reports whether there
// were any.
func (fz *frozen) move(pids []int) (bool, error) {
	moved := false
	for _, pid := range pids {
		if _, done := fz.from[pid]; done {
			continue
		}
		from, err := groupOf(fz.m, pid)
		if err != nil {
			continue // gone
		}
		if err := write(fz.dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			if errors.Is(err, unix.ESRCH) {
				continue
			}
			return moved, fmt.Errorf("freeze: %w", err)
		}
		fz.from[pid] = from
		moved = true
	}
	return moved, nil
}

func (fz *frozen) setFrozen(on bool) error {
	if fz.m.v2 {
		v := "0"
		if on {
			v = "1"
		}
		return write(fz.dir, "cgroup.freeze", v)
	}
	v := "THAWED"
	if on {
		v = "FROZEN"
	}
	return write(fz.dir, "freezer.state", v)
}

func (fz *frozen) isFrozen() bool {
	if fz.m.v2 {
		b, _ := os.ReadFile(filepath.Join(fz.dir, "cgroup.events"))
		return strings.Contains(string(b), "frozen 1")
	}
	b, _ := os.ReadFile(filepath.Join(fz.dir, "freezer.state"))
	return strings.TrimSpace(string(b)) == "FROZEN"
}

// thaw lets the processes run, puts each back where it came from and removes the
// group when it is empty (a v2 group holding the container's limits stays).
func (fz *frozen) thaw() error {
	err := fz.setFrozen(false)
	for pid, from := range fz.from {
		back := filepath.Join(fz.m.dir, from)
		if back != fz.dir {
			write(back, "cgroup.procs", strconv.Itoa(pid))
		}
	}
	unix.Rmdir(fz.dir)
	unix.Rmdir(filepath.Dir(fz.dir))
	if err != nil {
		return fmt.Errorf("thaw: %w", err)
	}
	return nil
}

// groupOf returns the group of pid in hierarchy m, relative to its mount.
func groupOf(m mount, pid int) (string, error) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/cgroup")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		if m.v2 && parts[0] == "0" && parts[1] == "" {
			return parts[2], nil
		}
		if !m.v2 && contains(strings.Split(parts[1], ","), "freezer") {
			return parts[2], nil
		}
	}
	return "", fmt.Errorf("process %d: no group in %s", pid, m.dir)
}

// Thaw lets a container run again that a killed lab process left frozen, and removes
// the freezer group if nothing is left in it. It is not an error if there is none.
func Thaw(id string) error {
	if validID(id) != nil {
		return nil
	}
	m, err := freezerMount()
	if err != nil {
		return nil
	}
	dir := filepath.Join(m.dir, Parent, id)
	if _, err := os.Stat(dir); err != nil {
		return nil
	}
	fz := &frozen{m: m, dir: dir}
	if err := fz.setFrozen(false); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	unix.Rmdir(dir)
	unix.Rmdir(filepath.Dir(dir))
	return nil
}
