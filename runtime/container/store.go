package container

import (
	"bytes"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	mrand "math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"lab/runtime/content"
	"lab/runtime/logging"
)

var (
	// ErrNotFound is returned when no container matches a name or ID.
	ErrNotFound = errors.New("no such container")
	// ErrAmbiguous is returned when an ID prefix matches several containers.
	ErrAmbiguous = errors.New("multiple containers match")
	// ErrNameInUse is returned when a requested name is taken.
	ErrNameInUse = errors.New("name already in use")
	// ErrRunning is returned when an operation needs a stopped container.
	ErrRunning = errors.New("container is running")
	// ErrCorrupt: the container's record cannot be read (damage from outside lab,
	// or a power loss). It can still be removed, by name or ID.
	ErrCorrupt = errors.New("container record is damaged")
)

// Store keeps container records under Root.
type Store struct {
	root  string
	names string

	mu    sync.Mutex
	namer *Namer
	idRNG *mrand.Rand // seeded container IDs (SetNameSeed); nil = crypto randomness
	// released is when this process last let go of a lock on each container's lock
	// file (see flockNB).
	released map[string]time.Time
}

// NewStore opens (creating if needed) the container store in dir and names dir.
func NewStore(dir, namesDir string) (*Store, error) {
	for _, d := range []string{dir, namesDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open container store: %w", err)
		}
	}
	return &Store{root: dir, names: namesDir, namer: NewNamer(0)}, nil
}

// SetNameSeed makes generated names and container IDs (hence hostnames) repeat from
// seed, for reproducible scenario runs.
func (s *Store) SetNameSeed(seed uint64) {
	s.mu.Lock()
	s.namer = NewNamer(seed)
	s.idRNG = mrand.New(mrand.NewPCG(seed, 0x2545f4914f6cdd1d))
	s.mu.Unlock()
}

// NewID returns a fresh container ID: random, or the next of the seeded sequence.
func (s *Store) NewID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.idRNG == nil {
		return NewID()
	}
	var b [32]byte
	for i := 0; i < len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], s.idRNG.Uint64())
	}
	return hex.EncodeToString(b[:])
}

// Paths of a container's parts.
func (s *Store) Dir(id string) string      { return filepath.Join(s.root, id) }
func (s *Store) UpperDir(id string) string { return filepath.Join(s.root, id, "upper") }
func (s *Store) WorkDir(id string) string  { return filepath.Join(s.root, id, "work") }
func (s *Store) RootfsDir(id string) string {
	return filepath.Join(s.root, id, "rootfs")
}
func (s *Store) LogPath(id string) string { return filepath.Join(s.root, id, "container.log") }

// NewID returns a fresh 64-hex container ID.
func NewID() string {
	var b [32]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Create reserves c's name (generating one when empty), lays out its directories and
// writes its record. The directory is built under a temp name and renamed into place,
// so a crash leaves either no container or a whole one (plus, at worst, a name link to
// nothing, which is treated as free).
func (s *Store) Create(c *Container, files map[string][]byte) error {
	_, err := s.create(c, files, false)
	return err
}

// CreateLocked is Create returning with the container's run lock held, taken before
// the container appears in the store: a run's container is never, even for an
// instant, a stopped container that a prune may remove before it starts.
func (s *Store) CreateLocked(c *Container, files map[string][]byte) (unlock func(), err error) {
	return s.create(c, files, true)
}

func (s *Store) create(c *Container, files map[string][]byte, locked bool) (func(), error) {
	generated := c.Name == ""
	if generated {
		c.Name = s.nextName(0)
	} else {
		if err := ValidName(c.Name); err != nil {
			return nil, err
		}
		c.Name = strings.TrimPrefix(c.Name, "/")
	}
	tmp, err := os.MkdirTemp(s.root, ".new-")
	if err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	// An --rm container's filesystem lives on a tmpfs inside it (proc.Spec.Scratch):
	// on disk it is only records.
	for _, d := range []string{"upper", "work", "rootfs"} {
		if c.Config.AutoRemove {
			break
		}
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return nil, fmt.Errorf("create container: %w", err)
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return nil, fmt.Errorf("create container: %w", err)
		}
	}
	if err := writeRecord(filepath.Join(tmp, "config.json"), c, false); err != nil {
		return nil, err
	}
	unlock := func() {}
	if locked {
		f, err := os.OpenFile(filepath.Join(tmp, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("lock container: %w", err)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		logging.L().Debug("lock container", "container", c.ID[:12], "path", f.Name(), "ok", err == nil, "new", true)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("lock container: %w", err)
		}
		var once sync.Once
		unlock = func() { once.Do(func() { s.release(c.ID, f) }) }
		defer func() {
			if !ok {
				unlock()
			}
		}()
	}
	if err := os.Rename(tmp, s.Dir(c.ID)); err != nil {
		return nil, fmt.Errorf("create container: %w", err)
	}
	ok = true
	// The name is reserved only once the directory it names exists: a link to a
	// directory that does not exist is stale and may be taken over, so reserving first
	// would let two creates of one name both succeed.
	for i := 1; ; i++ {
		err := s.link(c.Name, c.ID)
		if err == nil {
			return unlock, nil
		}
		if !generated || !errors.Is(err, fs.ErrExist) || i == 10 {
			unlock()
			s.Remove(c)
			if errors.Is(err, fs.ErrExist) {
				holder, _ := os.Readlink(filepath.Join(s.names, c.Name))
				return nil, fmt.Errorf("%w: the container name \"/%s\" is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name", ErrNameInUse, c.Name, holder)
			}
			return nil, fmt.Errorf("create container: %w", err)
		}
		c.Name = s.nextName(i)
		if err := s.Save(c, false); err != nil {
			unlock()
			s.Remove(c)
			return nil, err
		}
	}
}

// nextName generates a name, with Docker's digit suffix after a collision.
func (s *Store) nextName(retry int) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if retry > 0 {
		return s.namer.NextWithSuffix(retry)
	}
	return s.namer.Next()
}

// link creates names/<name> -> id, taking over a link whose container is gone.
func (s *Store) link(name, id string) error {
	p := filepath.Join(s.names, name)
	err := os.Symlink(id, p)
	if !errors.Is(err, fs.ErrExist) {
		return err
	}
	old, rerr := os.Readlink(p)
	if rerr != nil {
		return err
	}
	if _, serr := os.Stat(s.Dir(old)); !errors.Is(serr, fs.ErrNotExist) {
		return err
	}
	// Stale link: replace it atomically with a rename over it.
	tmp := p + ".tmp-" + id[:12]
	if err := os.Symlink(id, tmp); err != nil {
		return err
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		return err
	}
	return nil
}

func (s *Store) releaseName(name, id string) {
	p := filepath.Join(s.names, name)
	if cur, err := os.Readlink(p); err == nil && cur == id {
		os.Remove(p)
	}
}

// Save persists c's record. durable=false skips fsync, for state that a crash may lose
// without harm (the record is still replaced atomically).
func (s *Store) Save(c *Container, durable bool) error {
	return writeRecord(filepath.Join(s.Dir(c.ID), "config.json"), c, durable)
}

func writeRecord(path string, c *Container, durable bool) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	err = content.WriteFileAtomic(path, b, 0o600, durable)
	if errors.Is(err, unix.ENOSPC) {
		// A full disk must not lose how a container ended: the record it replaces
		// already holds the space it needs, so write over it in place.
		if ierr := overwriteRecord(path, b, durable); ierr == nil {
			return nil
		}
	}
	return err
}

// overwriteRecord writes b over the file at path without allocating a new file; JSON
// allows the trailing spaces that cover a longer old record. Not atomic: only for
// when the atomic way has no room.
func overwriteRecord(path string, b []byte, durable bool) error {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	if pad := st.Size() - int64(len(b)); pad > 0 {
		b = append(b, bytes.Repeat([]byte{' '}, int(pad))...)
	}
	if _, err := f.WriteAt(b, 0); err != nil {
		return err
	}
	if durable {
		return f.Sync()
	}
	return nil
}

func (s *Store) load(id string) (*Container, error) {
	b, err := os.ReadFile(filepath.Join(s.Dir(id), "config.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, err
	}
	c := &Container{}
	if err := json.Unmarshal(b, c); err != nil || c.ID != id {
		return nil, fmt.Errorf("read container %s: %w (remove it with lab rm)", id[:min(12, len(id))], ErrCorrupt)
	}
	if c.State.Status == Running && !s.IsRunning(c.ID) {
		// The lab process that ran it died without recording the end; with it went
		// the container (Pdeathsig), killed.
		c.State.Status = Exited
		c.State.Running = false
		c.State.Pid = 0
		if c.State.ExitCode == 0 {
			c.State.ExitCode = 137
		}
		if st, err := os.Stat(filepath.Join(s.Dir(id), "lock")); err == nil {
			c.State.FinishedAt = st.ModTime()
		}
		// Or it died while removing it (--rm): the lock file has the real end.
		if b, err := os.ReadFile(filepath.Join(s.Dir(id), "lock")); err == nil && len(b) > 0 {
			var last Container
			if json.Unmarshal(b, &last) == nil && last.ID == c.ID && last.State.Status == Exited && last.State.StartedAt.Equal(c.State.StartedAt) {
				c.State = last.State
			}
		}
	}
	return c, nil
}

// Get finds a container by name, full ID or unique ID prefix.
func (s *Store) Get(ref string) (*Container, error) {
	name := strings.TrimPrefix(ref, "/")
	if name != "" && !strings.ContainsAny(name, "/") {
		if id, err := os.Readlink(filepath.Join(s.names, name)); err == nil {
			c, err := s.load(id)
			if err == nil || errors.Is(err, ErrCorrupt) {
				return c, err
			}
		}
		if len(ref) == 64 {
			c, err := s.load(ref)
			if err == nil || errors.Is(err, ErrCorrupt) {
				return c, err
			}
		}
	}
	if ref == "" || !isHex(ref) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	var match string
	for _, id := range ids {
		if strings.HasPrefix(id, ref) {
			if match != "" {
				return nil, fmt.Errorf("%w: %s", ErrAmbiguous, ref)
			}
			match = id
		}
	}
	if match == "" {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	return s.load(match)
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

func (s *Store) ids() ([]string, error) {
	ents, err := os.ReadDir(s.root)
	if err != nil {
		return nil, err
	}
	var ids []string
	for _, e := range ents {
		if n := e.Name(); len(n) == 64 && isHex(n) {
			ids = append(ids, n)
		}
	}
	return ids, nil
}

// List returns every container, newest first.
func (s *Store) List() ([]*Container, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	return s.loadAll(ids), nil
}

// ListRunning returns the running containers, newest first. Whether a container runs
// is its run lock, tried before its record is read: a stopped one costs an open and a
// flock, not a read and a decode, so `ps` stays fast however many containers stopped.
func (s *Store) ListRunning() ([]*Container, error) {
	ids, err := s.ids()
	if err != nil {
		return nil, err
	}
	running := ids[:0]
	for _, id := range ids {
		if s.IsRunning(id) {
			running = append(running, id)
		}
	}
	var out []*Container
	for _, c := range s.loadAll(running) {
		if c.State.Status == Running {
			out = append(out, c)
		}
	}
	return out, nil
}

// loadAll reads the records of ids, newest first, decoding on every CPU at once (a
// record costs more to decode than to read).
func (s *Store) loadAll(ids []string) []*Container {
	got := make([]*Container, len(ids))
	workers := min(runtime.GOMAXPROCS(0), (len(ids)+63)/64)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(ids); i += workers {
				// A record removed while we listed, or one a power loss left empty,
				// stays nil: one bad record must not hide every container (lab fsck
				// reports it).
				got[i], _ = s.load(ids[i])
			}
		}()
	}
	wg.Wait()
	out := got[:0]
	for _, c := range got {
		if c != nil {
			out = append(out, c)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out
}

// Lock claims the container for running: it fails with ErrRunning when another
// process (or this one) holds it. The returned function releases it.
func (s *Store) Lock(id string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.Dir(id), "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id) // removed meanwhile
	}
	if err != nil {
		return nil, fmt.Errorf("lock container: %w", err)
	}
	t0 := time.Now()
	err = s.flockNB(id, f, unix.LOCK_EX)
	logging.L().Debug("lock container", "container", id[:12], "path", f.Name(), "ok", err == nil, logging.Since(t0))
	if err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrRunning, id[:12])
		}
		return nil, fmt.Errorf("lock container: %w", err)
	}
	if !sameFile(f, filepath.Join(s.Dir(id), "lock")) {
		// The lock was won from a lab process that removed the container while
		// holding it: the file is no longer the container's.
		s.release(id, f)
		return nil, fmt.Errorf("%w: %s", ErrNotFound, id)
	}
	var once sync.Once
	return func() { once.Do(func() { s.release(id, f) }) }, nil
}

// sameFile reports whether the open file f is still the file at path.
func sameFile(f *os.File, path string) bool {
	var a, b unix.Stat_t
	if unix.Fstat(int(f.Fd()), &a) != nil || unix.Stat(path, &b) != nil {
		return false
	}
	return a.Dev == b.Dev && a.Ino == b.Ino
}

// IsRunning reports whether some process holds the container's run lock.
func (s *Store) IsRunning(id string) bool {
	f, err := os.Open(filepath.Join(s.Dir(id), "lock"))
	if err != nil {
		return false
	}
	if err := s.flockNB(id, f, unix.LOCK_SH); err != nil {
		f.Close()
		return errors.Is(err, unix.EWOULDBLOCK)
	}
	s.release(id, f)
	return false
}

// flockNB is a non-blocking flock on a container's lock file. A lock that seems held
// is looked at again for a few milliseconds when this process let go of one on the
// same file a moment ago: a child that another goroutine is starting holds a copy of
// every descriptor until its exec closes the close-on-exec ones, which the kernel does
// only after the parent has gone on, so a lock just released can seem held that long.
// (Without this, a run followed by rm failed now and then with "container is
// running" while another goroutine started a container.)
func (s *Store) flockNB(id string, f *os.File, how int) error {
	err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	for _, wait := range []time.Duration{time.Millisecond, 5 * time.Millisecond, 20 * time.Millisecond} {
		if !errors.Is(err, unix.EWOULDBLOCK) || !s.releasedLately(id) {
			break
		}
		time.Sleep(wait)
		err = unix.Flock(int(f.Fd()), how|unix.LOCK_NB)
	}
	return err
}

// release closes a lock file this process held a lock through, and notes when.
func (s *Store) release(id string, f *os.File) {
	f.Close()
	now := time.Now()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.released == nil {
		s.released = map[string]time.Time{}
	}
	for k, t := range s.released {
		if now.Sub(t) > time.Second {
			delete(s.released, k)
		}
	}
	s.released[id] = now
}

func (s *Store) releasedLately(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	t, ok := s.released[id]
	return ok && time.Since(t) < time.Second
}

// Resolve finds the ID of the container ref names (name, full ID or unique prefix)
// without reading its record, and the name linked to it, if any: how a container
// whose record is damaged is still found for removal.
func (s *Store) Resolve(ref string) (id, name string, err error) {
	n := strings.TrimPrefix(ref, "/")
	if target, lerr := os.Readlink(filepath.Join(s.names, n)); lerr == nil && len(target) == 64 && isHex(target) {
		if _, serr := os.Stat(s.Dir(target)); serr == nil {
			return target, n, nil
		}
	}
	if ref == "" || !isHex(ref) {
		return "", "", fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	ids, err := s.ids()
	if err != nil {
		return "", "", err
	}
	for _, cand := range ids {
		if strings.HasPrefix(cand, ref) {
			if id != "" {
				return "", "", fmt.Errorf("%w: %s", ErrAmbiguous, ref)
			}
			id = cand
		}
	}
	if id == "" {
		return "", "", fmt.Errorf("%w: %s", ErrNotFound, ref)
	}
	ents, _ := os.ReadDir(s.names)
	for _, e := range ents {
		if target, err := os.Readlink(filepath.Join(s.names, e.Name())); err == nil && target == id {
			name = e.Name()
		}
	}
	return id, name, nil
}

// Remove deletes the container's directory and name. The directory is first renamed
// out of the listing, so a crash mid-removal never leaves a half container behind.
//
// The caller holds the run lock, and c is the container's last state: it is written
// into the lock file first, where a Watch that opened the file before the removal reads
// it (see Watch.Last). The lock file goes with the directory, so nothing is left behind.
func (s *Store) Remove(c *Container) error {
	s.writeLast(c)
	trash, err := os.MkdirTemp(s.root, ".rm-")
	if err != nil {
		return fmt.Errorf("remove container: %w", err)
	}
	if err := os.Rename(s.Dir(c.ID), filepath.Join(trash, c.ID)); err != nil {
		os.Remove(trash)
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s", ErrNotFound, c.ID)
		}
		return fmt.Errorf("remove container: %w", err)
	}
	s.releaseName(c.Name, c.ID)
	if err := os.RemoveAll(trash); err != nil {
		return fmt.Errorf("remove container: %w", err)
	}
	return nil
}

// writeLast leaves c's record in its lock file (best effort: without it a watcher
// reports the container as not found, as before).
func (s *Store) writeLast(c *Container) {
	f, err := os.OpenFile(filepath.Join(s.Dir(c.ID), "lock"), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return
	}
	defer f.Close()
	if b, err := json.Marshal(c); err == nil {
		f.Write(b)
	}
}
