package container

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"lab/runtime/content"
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

// SetNameSeed makes generated names repeat from seed (for reproducible scenario runs).
func (s *Store) SetNameSeed(seed uint64) {
	s.mu.Lock()
	s.namer = NewNamer(seed)
	s.mu.Unlock()
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
	generated := c.Name == ""
	if generated {
		c.Name = s.nextName(0)
	} else {
		if err := ValidName(c.Name); err != nil {
			return err
		}
		c.Name = strings.TrimPrefix(c.Name, "/")
	}
	tmp, err := os.MkdirTemp(s.root, ".new-")
	if err != nil {
		return fmt.Errorf("create container: %w", err)
	}
	ok := false
	defer func() {
		if !ok {
			os.RemoveAll(tmp)
		}
	}()
	for _, d := range []string{"upper", "work", "rootfs"} {
		if err := os.Mkdir(filepath.Join(tmp, d), 0o755); err != nil {
			return fmt.Errorf("create container: %w", err)
		}
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return fmt.Errorf("create container: %w", err)
		}
	}
	if err := writeRecord(filepath.Join(tmp, "config.json"), c, false); err != nil {
		return err
	}
	if err := os.Rename(tmp, s.Dir(c.ID)); err != nil {
		return fmt.Errorf("create container: %w", err)
	}
	ok = true
	// The name is reserved only once the directory it names exists: a link to a
	// directory that does not exist is stale and may be taken over, so reserving first
	// would let two creates of one name both succeed.
	for i := 1; ; i++ {
		err := s.link(c.Name, c.ID)
		if err == nil {
			return nil
		}
		if !generated || !errors.Is(err, fs.ErrExist) || i == 10 {
			s.Remove(c)
			if errors.Is(err, fs.ErrExist) {
				holder, _ := os.Readlink(filepath.Join(s.names, c.Name))
				return fmt.Errorf("%w: the container name \"/%s\" is already in use by container %q. You have to remove (or rename) that container to be able to reuse that name", ErrNameInUse, c.Name, holder)
			}
			return fmt.Errorf("create container: %w", err)
		}
		c.Name = s.nextName(i)
		if err := s.Save(c, false); err != nil {
			s.Remove(c)
			return err
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
	return content.WriteFileAtomic(path, b, 0o600, durable)
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
	var out []*Container
	for _, id := range ids {
		c, err := s.load(id)
		if err != nil {
			// Removed while we listed, or a record a power loss left empty: one bad
			// record must not hide every container (lab fsck reports it).
			continue
		}
		out = append(out, c)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created.After(out[j].Created) })
	return out, nil
}

// Lock claims the container for running: it fails with ErrRunning when another
// process (or this one) holds it. The returned function releases it.
func (s *Store) Lock(id string) (func(), error) {
	f, err := os.OpenFile(filepath.Join(s.Dir(id), "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock container: %w", err)
	}
	if err := s.flockNB(id, f, unix.LOCK_EX); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, fmt.Errorf("%w: %s", ErrRunning, id[:12])
		}
		return nil, fmt.Errorf("lock container: %w", err)
	}
	var once sync.Once
	return func() { once.Do(func() { s.release(id, f) }) }, nil
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
func (s *Store) Remove(c *Container) error {
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
