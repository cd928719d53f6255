package cgroup

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// ErrUnsupported is returned when a limit needs a controller this host does not offer.
var ErrUnsupported = errors.New("cgroup controller not available")

// Parent is the directory under each hierarchy's root that holds lab's groups.
const Parent = "lab"

// MinMemory is Docker's lower bound for --memory: below it a container cannot even
// start its init.
const MinMemory = 6 << 20

// cpuPeriod is the CFS period Docker uses for --cpus, in microseconds.
const cpuPeriod = 100000

// Limits are one container's resource limits in Docker's units (docker inspect's
// HostConfig.Memory, PidsLimit and NanoCpus). A zero field means "no limit".
type Limits struct {
	Memory    int64 // bytes
	PidsLimit int64 // processes and threads; 0 or negative: unlimited, as Docker
	NanoCPUs  int64 // CPU time in billionths of a CPU: 1.5 CPUs is 1500000000
}

// IsZero reports whether no limit is set, so no cgroup is needed.
func (l Limits) IsZero() bool { return l.Memory <= 0 && l.PidsLimit <= 0 && l.NanoCPUs <= 0 }

// Validate refuses limits Docker refuses, with Docker's wording.
func (l Limits) Validate() error {
	if l.Memory < 0 {
		return fmt.Errorf("invalid memory limit %d: must be positive", l.Memory)
	}
	if l.Memory > 0 && l.Memory < MinMemory {
		return errors.New("Minimum memory limit allowed is 6MB")
	}
	n := int64(goruntime.NumCPU())
	if l.NanoCPUs < 0 || l.NanoCPUs > n*1e9 || (l.NanoCPUs > 0 && l.NanoCPUs < 1e7) {
		return fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", n, n)
	}
	return nil
}

// controllers returns the controllers l needs, in a fixed order.
func (l Limits) controllers() []string {
	var out []string
	if l.Memory > 0 {
		out = append(out, "memory")
	}
	if l.PidsLimit > 0 {
		out = append(out, "pids")
	}
	if l.NanoCPUs > 0 {
		out = append(out, "cpu")
	}
	return out
}

// allControllers are the ones lab may have used, for finding leftovers.
var allControllers = []string{"memory", "pids", "cpu"}

// mount is where one controller lives: a v1 hierarchy of its own, or the v2 tree.
type mount struct {
	dir string
	v2  bool
}

// layout maps each controller this host offers to its hierarchy.
type layout map[string]mount

var hostLayout = sync.OnceValues(func() (layout, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("find cgroup mounts: %w", err)
	}
	defer f.Close()
	return parseMountinfo(f, func(dir string) string {
		b, _ := os.ReadFile(filepath.Join(dir, "cgroup.controllers"))
		return string(b)
	})
})

// parseMountinfo finds the cgroup hierarchies in a mountinfo listing. A controller
// bound to a v1 hierarchy is used there (it cannot be in the v2 tree at the same
// time); the others come from the first cgroup2 mount that lists them in its
// cgroup.controllers, read through v2controllers.
func parseMountinfo(r io.Reader, v2controllers func(dir string) string) (layout, error) {
	out := layout{}
	var v2dirs []string
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		left, right, ok := strings.Cut(sc.Text(), " - ")
		if !ok {
			continue
		}
		lf, rf := strings.Fields(left), strings.Fields(right)
		if len(lf) < 5 || len(rf) < 3 {
			continue
		}
		dir := unescapeMount(lf[4])
		switch rf[0] {
		case "cgroup":
			for _, opt := range strings.Split(rf[2], ",") {
				for _, c := range allControllers {
					if opt == c {
						if _, seen := out[c]; !seen {
							out[c] = mount{dir: dir}
						}
					}
				}
			}
		case "cgroup2":
			v2dirs = append(v2dirs, dir)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("find cgroup mounts: %w", err)
	}
	for _, dir := range v2dirs {
		offered := strings.Fields(v2controllers(dir))
		for _, c := range allControllers {
			if _, seen := out[c]; seen {
				continue
			}
			for _, o := range offered {
				if o == c {
					out[c] = mount{dir: dir, v2: true}
				}
			}
		}
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// Version describes the hierarchy a controller would be used from on this host:
// "v1", "v2" or "" when the host does not offer it.
func Version(controller string) string {
	l, err := hostLayout()
	if err != nil {
		return ""
	}
	m, ok := l[controller]
	switch {
	case !ok:
		return ""
	case m.v2:
		return "v2"
	}
	return "v1"
}

// Group is one container's cgroup: a directory in each hierarchy its limits need.
type Group struct {
	id    string
	parts []part
}

type part struct {
	mount mount
	dir   string
	ctrls []string
}

// validID keeps a container ID from ever naming a path outside lab's directory.
func validID(id string) error {
	if len(id) < 12 || len(id) > 64 {
		return fmt.Errorf("cgroup: invalid container id %q", id)
	}
	for _, c := range id {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return fmt.Errorf("cgroup: invalid container id %q", id)
		}
	}
	return nil
}

// Create makes the cgroup of container id with limits l. A group left behind by an
// earlier, crashed run of the same container is removed first. On error nothing is
// left behind.
func Create(id string, l Limits) (*Group, error) {
	if err := validID(id); err != nil {
		return nil, err
	}
	if err := l.Validate(); err != nil {
		return nil, err
	}
	lay, err := hostLayout()
	if err != nil {
		return nil, err
	}
	g := &Group{id: id}
	for _, c := range l.controllers() {
		m, ok := lay[c]
		if !ok {
			return nil, fmt.Errorf("%w: this host has no %s controller (needed for %s)", ErrUnsupported, c, flagFor(c))
		}
		found := false
		for i := range g.parts {
			if g.parts[i].mount == m {
				g.parts[i].ctrls = append(g.parts[i].ctrls, c)
				found = true
			}
		}
		if !found {
			g.parts = append(g.parts, part{mount: m, dir: filepath.Join(m.dir, Parent, id), ctrls: []string{c}})
		}
	}
	ok := false
	defer func() {
		if !ok {
			g.Remove()
		}
	}()
	for _, p := range g.parts {
		if err := p.create(); err != nil {
			return nil, err
		}
		if err := p.setLimits(l); err != nil {
			return nil, err
		}
	}
	ok = true
	return g, nil
}

func flagFor(controller string) string {
	switch controller {
	case "memory":
		return "--memory"
	case "pids":
		return "--pids-limit"
	}
	return "--cpus"
}

// create makes the part's directory, retrying when a concurrent Remove of another
// container takes the shared parent away between the two mkdirs.
func (p part) create() error {
	parent := filepath.Dir(p.dir)
	if _, err := os.Stat(p.dir); err == nil {
		if err := removeDir(p.mount, p.dir); err != nil {
			return fmt.Errorf("remove leftover cgroup: %w", err)
		}
	}
	var err error
	for attempt := 0; attempt < 10; attempt++ {
		if err = os.MkdirAll(parent, 0o755); err != nil {
			return fmt.Errorf("create cgroup: %w", err)
		}
		if p.mount.v2 {
			// v2 only hands a controller to a child whose parent enabled it; the
			// hierarchy's root may refuse (EBUSY) when lab runs inside a container
			// whose cgroup already holds processes.
			for _, d := range []string{p.mount.dir, parent} {
				if err := enable(d, p.ctrls); err != nil {
					return err
				}
			}
		}
		err = os.Mkdir(p.dir, 0o755)
		if err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return fmt.Errorf("create cgroup: %w", err)
	}
	return nil
}

func enable(dir string, ctrls []string) error {
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.subtree_control"))
	have := strings.Fields(string(b))
	for _, c := range ctrls {
		if contains(have, c) {
			continue
		}
		err := write(dir, "cgroup.subtree_control", "+"+c)
		if errors.Is(err, unix.EBUSY) {
			// v2's "no internal processes" rule: only the real root may both hold
			// processes and hand controllers to children. Seen inside a container whose
			// cgroup tree is rooted at its own, populated group (Docker-in-Docker, CI
			// jobs). Moving someone else's processes is not lab's call.
			return fmt.Errorf("cgroup v2 cannot enable the %s controller below %s while processes live in it (the no internal processes rule): move them into a child group first, e.g. %s", c, dir, filepath.Join(dir, "init"))
		}
		if err != nil {
			return fmt.Errorf("enable the %s controller in %s: %w", c, dir, err)
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func (p part) setLimits(l Limits) error {
	for _, c := range p.ctrls {
		var err error
		switch {
		case c == "memory" && p.mount.v2:
			err = write(p.dir, "memory.max", strconv.FormatInt(l.Memory, 10))
			// Docker's default --memory-swap is twice --memory: as much swap as memory.
			if err == nil && exists(p.dir, "memory.swap.max") {
				err = write(p.dir, "memory.swap.max", strconv.FormatInt(l.Memory, 10))
			}
		case c == "memory":
			err = write(p.dir, "memory.limit_in_bytes", strconv.FormatInt(l.Memory, 10))
			if err == nil && exists(p.dir, "memory.memsw.limit_in_bytes") {
				err = write(p.dir, "memory.memsw.limit_in_bytes", strconv.FormatInt(2*l.Memory, 10))
			}
		case c == "pids":
			err = write(p.dir, "pids.max", strconv.FormatInt(l.PidsLimit, 10))
		case c == "cpu" && p.mount.v2:
			err = write(p.dir, "cpu.max", fmt.Sprintf("%d %d", cpuQuota(l.NanoCPUs), cpuPeriod))
		case c == "cpu":
			err = write(p.dir, "cpu.cfs_period_us", strconv.Itoa(cpuPeriod))
			if err == nil {
				err = write(p.dir, "cpu.cfs_quota_us", strconv.FormatInt(cpuQuota(l.NanoCPUs), 10))
			}
		}
		if err != nil {
			return fmt.Errorf("set %s limit: %w", flagFor(c), err)
		}
	}
	return nil
}

// cpuQuota turns NanoCPUs into CFS microseconds per period; the kernel's floor is 1ms.
func cpuQuota(nano int64) int64 {
	return max(nano*cpuPeriod/1e9, 1000)
}

func exists(dir, file string) bool {
	_, err := os.Stat(filepath.Join(dir, file))
	return err == nil
}

// write sets a cgroup file. Cgroup files take one value per write(2) and report
// rejection from it, so the value is written in one call and the error kept.
func write(dir, file, value string) error {
	f, err := os.OpenFile(filepath.Join(dir, file), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	_, werr := f.WriteString(value)
	cerr := f.Close()
	var pe *fs.PathError
	if errors.As(werr, &pe) {
		werr = pe.Err // the file is named below, once
	}
	if werr != nil {
		return fmt.Errorf("write %s to %s: %w", value, f.Name(), werr)
	}
	return cerr
}

// Add moves process pid (with all its threads) into the group.
func (g *Group) Add(pid int) error {
	for _, p := range g.parts {
		if err := write(p.dir, "cgroup.procs", strconv.Itoa(pid)); err != nil {
			return fmt.Errorf("join cgroup: %w", err)
		}
	}
	return nil
}

// Dirs lists the group's directories, one per hierarchy.
func (g *Group) Dirs() []string {
	var out []string
	for _, p := range g.parts {
		out = append(out, p.dir)
	}
	return out
}

// OOMKilled reports whether the kernel's OOM killer killed a process of the group
// because of its memory limit (docker inspect's State.OOMKilled).
func (g *Group) OOMKilled() bool {
	for _, p := range g.parts {
		if !contains(p.ctrls, "memory") {
			continue
		}
		file := "memory.oom_control" // v1: "oom_kill N" since Linux 4.13
		if p.mount.v2 {
			file = "memory.events"
		}
		b, err := os.ReadFile(filepath.Join(p.dir, file))
		if err != nil {
			return false
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "oom_kill "); ok {
				n, _ := strconv.Atoi(strings.TrimSpace(v))
				return n > 0
			}
		}
	}
	return false
}

// Remove deletes the group, killing anything still inside it first (a container's
// processes are normally all gone once its pid 1 has been reaped). Removing a group
// twice is not an error.
func (g *Group) Remove() error {
	var first error
	for _, p := range g.parts {
		if err := removeDir(p.mount, p.dir); err != nil && first == nil {
			first = err
		}
	}
	return first
}

// Leftovers lists the cgroup directories that exist for container id in any
// hierarchy lab uses, e.g. after the lab process that ran it was killed.
func Leftovers(id string) []string {
	if validID(id) != nil {
		return nil
	}
	lay, err := hostLayout()
	if err != nil {
		return nil
	}
	var out []string
	seen := map[string]bool{}
	for _, c := range allControllers {
		m, ok := lay[c]
		if !ok {
			continue
		}
		dir := filepath.Join(m.dir, Parent, id)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		if _, err := os.Stat(dir); err == nil {
			out = append(out, dir)
		}
	}
	return out
}

// RemoveLeftovers removes what Leftovers finds. The caller makes sure the container
// is not running.
func RemoveLeftovers(id string) ([]string, error) {
	lay, err := hostLayout()
	if err != nil {
		return nil, err
	}
	dirs := Leftovers(id)
	var first error
	for _, dir := range dirs {
		m := mount{dir: filepath.Dir(filepath.Dir(dir))}
		for _, lm := range lay {
			if lm.dir == m.dir {
				m = lm
			}
		}
		if err := removeDir(m, dir); err != nil && first == nil {
			first = err
		}
	}
	return dirs, first
}

// removeDir removes one group directory, then lab's parent directory if that has
// become empty (so nothing of lab stays in the hierarchy once no container runs).
// A group that still holds processes is emptied with SIGKILL first.
func removeDir(m mount, dir string) error {
	delay := time.Millisecond
	for deadline := time.Now().Add(3 * time.Second); ; {
		err := unix.Rmdir(dir)
		if err == nil || errors.Is(err, unix.ENOENT) {
			break
		}
		if !errors.Is(err, unix.EBUSY) || time.Now().After(deadline) {
			return fmt.Errorf("remove cgroup %s: %w", dir, err)
		}
		killAll(m, dir)
		time.Sleep(delay)
		delay = min(2*delay, 50*time.Millisecond)
	}
	// Fails harmlessly (ENOTEMPTY) while another container still has a group.
	unix.Rmdir(filepath.Dir(dir))
	return nil
}

func killAll(m mount, dir string) {
	if m.v2 && write(dir, "cgroup.kill", "1") == nil {
		return
	}
	b, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
	for _, f := range strings.Fields(string(b)) {
		if pid, err := strconv.Atoi(f); err == nil && pid > 0 {
			unix.Kill(pid, unix.SIGKILL)
		}
	}
}
