package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"lab/runtime/container"
	"lab/runtime/image"
	"lab/runtime/logging"
	"lab/runtime/proc"
)

// CreateOptions are `docker create`/`docker run` options.
type CreateOptions struct {
	Image      string
	Cmd        []string  // nil: the image's Cmd
	Entrypoint *[]string // nil: the image's Entrypoint
	Name       string
	Env        []string
	WorkingDir string
	Hostname   string
	User       string
	AutoRemove bool
	Tty        bool
	OpenStdin  bool
	// Resource limits (docker run --memory, --pids-limit, --cpus); 0 is unlimited.
	Memory    int64 // bytes
	PidsLimit int64
	NanoCPUs  int64 // billionths of a CPU
	// Security (docker run --cap-add, --cap-drop, --privileged, --security-opt).
	CapAdd      []string
	CapDrop     []string
	Privileged  bool
	SecurityOpt []string // seccomp=unconfined, seccomp=FILE.json or its JSON, no-new-privileges[=BOOL]
}

const hostsFile = "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\nfe00::0\tip6-localnet\nff00::0\tip6-mcastprefix\nff02::1\tip6-allnodes\nff02::2\tip6-allrouters\n"

// Create makes a container from an image without starting it.
func (e *Engine) Create(ctx context.Context, o CreateOptions) (*container.Container, error) {
	c, _, _, err := e.create(ctx, o, false)
	return c, err
}

// create makes the container, with its run lock held when locked (unlock lets it go),
// and returns its image too, which a run needs again to start.
func (e *Engine) create(ctx context.Context, o CreateOptions, locked bool) (*container.Container, *image.Image, func(), error) {
	if err := checkLimits(o); err != nil {
		return nil, nil, nil, &ExitError{Code: 125, Err: err}
	}
	if err := checkSecurity(&o); err != nil {
		return nil, nil, nil, &ExitError{Code: 125, Err: err}
	}
	img, err := e.Images.Get(o.Image)
	if err != nil {
		return nil, nil, nil, &ExitError{Code: 125, Err: err}
	}
	ic := img.Config.Config
	entry := ic.Entrypoint
	if o.Entrypoint != nil {
		entry = *o.Entrypoint
	}
	cmd := ic.Cmd
	if o.Cmd != nil {
		cmd = o.Cmd
	} else if o.Entrypoint != nil {
		cmd = nil // like Docker: a new entrypoint drops the image's Cmd
	}
	argv := append(append([]string{}, entry...), cmd...)
	if len(argv) == 0 {
		return nil, nil, nil, &ExitError{Code: 125, Err: errors.New("no command specified")}
	}
	env := mergeEnv(ic.Env, o.Env)
	wd := o.WorkingDir
	if wd == "" {
		wd = ic.WorkingDir
	}
	if wd != "" && !strings.HasPrefix(wd, "/") {
		return nil, nil, nil, &ExitError{Code: 125, Err: fmt.Errorf("the working directory '%s' is invalid, it needs to be an absolute path", wd)}
	}
	for _, kv := range o.Env {
		if strings.HasPrefix(kv, "=") {
			return nil, nil, nil, &ExitError{Code: 125, Err: fmt.Errorf("invalid environment variable: %s", kv)}
		}
	}
	user := o.User
	if user == "" {
		user = ic.User
	}
	if err := checkUser(user); err != nil {
		return nil, nil, nil, &ExitError{Code: 125, Err: err}
	}
	c := &container.Container{
		ID:      e.Containers.NewID(),
		Name:    o.Name,
		Created: time.Now().UTC(),
		Image:   img.ID.String(),
		Path:    argv[0],
		Args:    argv[1:],
		Config: container.Config{
			Image: o.Image, Env: env, WorkingDir: wd, Hostname: o.Hostname, User: user,
			Tty: o.Tty, OpenStdin: o.OpenStdin, AutoRemove: o.AutoRemove,
			Entrypoint: entry, Cmd: cmd,
			Memory: o.Memory, PidsLimit: o.PidsLimit, NanoCPUs: o.NanoCPUs,
			CapAdd: o.CapAdd, CapDrop: o.CapDrop, Privileged: o.Privileged, SecurityOpt: o.SecurityOpt,
		},
		State: container.State{Status: container.Created},
	}
	if c.Config.Hostname == "" {
		c.Config.Hostname = c.ShortID()
	}
	var files map[string][]byte
	if !c.Config.AutoRemove {
		// An --rm container gets these (and its writable layer) on a tmpfs of its
		// own when it starts (spec): on disk it has only its records.
		files = map[string][]byte{"hostname": []byte(c.Config.Hostname + "\n"), "hosts": []byte(hostsFile)}
	}
	unlock := func() {}
	var err2 error
	if locked {
		unlock, err2 = e.Containers.CreateLocked(c, files)
	} else {
		err2 = e.Containers.Create(c, files)
	}
	if err2 != nil {
		return nil, nil, nil, &ExitError{Code: 125, Err: err2}
	}
	return c, img, unlock, nil
}

// checkUser refuses numeric ids outside what the kernel takes (Docker's check): -5
// would otherwise become uid 4294967291.
func checkUser(user string) error {
	for _, part := range strings.SplitN(user, ":", 2) {
		if n, err := strconv.ParseInt(part, 10, 64); err == nil && (n < 0 || n > math.MaxInt32) || errors.Is(err, strconv.ErrRange) {
			return fmt.Errorf("uids and gids must be in range 0-%d", math.MaxInt32)
		}
	}
	return nil
}

// mergeEnv overrides image variables with user ones, keeping the image's order.
func mergeEnv(base, over []string) []string {
	out := append([]string{}, base...)
	for _, kv := range over {
		out = setEnv(out, kv)
	}
	return out
}

func setEnv(env []string, kv string) []string {
	k, _, _ := strings.Cut(kv, "=")
	for i, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}

// processEnv is the environment the command sees, built as Docker does: PATH and
// HOSTNAME (and TERM with a tty) first, the container's variables over them, HOME last.
func processEnv(c *container.Container) []string {
	env := []string{"PATH=" + image.DefaultPath, "HOSTNAME=" + c.Config.Hostname}
	if c.Config.Tty {
		env = append(env, "TERM=xterm")
	}
	for _, kv := range c.Config.Env {
		env = setEnv(env, kv)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "HOME=") {
			return env
		}
	}
	return append(env, "HOME=/root")
}

// IO is a container's stdio.
type IO = proc.IO

// StartOptions attach a start to the caller.
type StartOptions struct {
	proc.IO
	Signals <-chan os.Signal // forwarded to the container while it runs
	Timeout time.Duration    // kill the container after this long (0: never)
	// For a container created with Tty: the initial terminal size and later changes.
	Size   *proc.Winsize
	Resize <-chan proc.Winsize
}

// ErrTimeout is returned (wrapped) when a container was killed by StartOptions.Timeout.
var ErrTimeout = errors.New("container timed out")

// Start runs a created or exited container to completion on its own filesystem and
// returns its final record. A non-zero exit is not an error; failing to run the command
// is (an *ExitError with 125, 126 or 127). Cancelling ctx kills the container.
func (e *Engine) Start(ctx context.Context, ref string, o StartOptions) (*container.Container, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, &ExitError{Code: 125, Err: err}
	}
	return e.start(ctx, c, nil, o)
}

// start runs c; img is its image when the caller has it at hand (nil: look it up).
func (e *Engine) start(ctx context.Context, c *container.Container, img *image.Image, o StartOptions) (*container.Container, error) {
	t0 := time.Now()
	unlock, err := e.Containers.Lock(c.ID)
	if err != nil {
		return nil, &ExitError{Code: 125, Err: err}
	}
	logging.L().Debug("run lock taken", "container", c.ShortID(), logging.Since(t0))
	return e.startHeld(ctx, c, img, o, unlock)
}

// startHeld runs c, whose run lock the caller took, and lets the lock go.
func (e *Engine) startHeld(ctx context.Context, c *container.Container, img *image.Image, o StartOptions, unlock func()) (*container.Container, error) {
	t0 := time.Now()
	log := logging.L()
	got, err := e.startLocked(ctx, c, img, o)
	log.Info("container ended", "container", c.ShortID(), "exit", c.State.ExitCode, logging.Since(t0))
	if c.Config.AutoRemove {
		// Gone however the start ended, like --rm on Docker, and before the lock is
		// released so that nobody can start it again meanwhile; the record returned
		// still tells how it ended, and so does the one Remove leaves for a Watch.
		if c.State.Status == container.Created {
			c.State.Status, c.State.ExitCode = container.Exited, Code(err, 125)
		}
		t1 := time.Now()
		if rerr := e.Containers.Remove(c); rerr != nil && err == nil {
			err = &ExitError{Code: 125, Err: rerr}
		}
		log.Debug("removed (--rm)", "container", c.ShortID(), logging.Since(t1))
	}
	unlock()
	return got, err
}

// startLocked runs c while the caller holds its run lock.
func (e *Engine) startLocked(ctx context.Context, c *container.Container, img *image.Image, o StartOptions) (*container.Container, error) {
	t0 := time.Now()
	spec, err := e.spec(ctx, c, img)
	if err != nil {
		return nil, &ExitError{Code: 125, Err: err}
	}
	logging.L().Debug("layers ready", "container", c.ShortID(), "layers", len(spec.Lower), logging.Since(t0))
	logf, err := os.OpenFile(e.Containers.LogPath(c.ID), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, &ExitError{Code: 125, Err: err}
	}
	defer logf.Close()
	lw := &logWriter{f: logf}
	stdio := proc.IO{Stdin: o.Stdin, Stdout: lw.stream("stdout", o.Stdout), Stderr: lw.stream("stderr", o.Stderr)}
	if !c.Config.OpenStdin {
		stdio.Stdin = nil
	}
	var tty *ttyCopy
	if c.Config.Tty {
		tty, err = newTTY(o, stdio)
		if err != nil {
			return nil, &ExitError{Code: 125, Err: err}
		}
		defer tty.close()
		stdio = proc.IO{Tty: tty.slave}
	}
	limits, err := e.startLimits(c)
	if err != nil {
		return nil, &ExitError{Code: 125, Err: err}
	}
	defer limits.remove()
	p, err := proc.Start(spec, stdio, limits.hooks())
	if tty != nil {
		tty.started(err == nil)
	}
	if err != nil {
		var se *proc.StartError
		if errors.As(err, &se) {
			c.State.ExitCode = se.Code
			c.State.Error = se.Msg
			if !c.Config.AutoRemove {
				e.Containers.Save(c, false)
			}
			return c, &ExitError{Code: se.Code, Err: se}
		}
		return c, &ExitError{Code: 125, Err: err}
	}
	c.State = container.State{Status: container.Running, Running: true, Pid: p.Pid(), StartedAt: time.Now().UTC()}
	if err := e.Containers.Save(c, false); err != nil {
		p.Signal(syscall.SIGKILL)
		p.Wait()
		return c, &ExitError{Code: 125, Err: err}
	}
	done := make(chan struct{})
	var timedOut bool
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		var timer <-chan time.Time
		if o.Timeout > 0 {
			t := time.NewTimer(o.Timeout)
			defer t.Stop()
			timer = t.C
		}
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				p.Signal(syscall.SIGKILL)
				return
			case <-timer:
				timedOut = true
				p.Signal(syscall.SIGKILL)
				return
			case s := <-o.Signals:
				p.Signal(s)
			}
		}
	}()
	code, werr := p.Wait()
	close(done)
	wg.Wait()
	if tty != nil {
		tty.drain()
	}
	c.State.Status = container.Exited
	c.State.Running = false
	c.State.Pid = 0
	c.State.ExitCode = code
	c.State.OOMKilled = limits.oomKilled()
	c.State.FinishedAt = time.Now().UTC()
	if werr != nil {
		c.State.Error = werr.Error()
	}
	if !c.Config.AutoRemove {
		if err := e.Containers.Save(c, true); err != nil {
			return c, &ExitError{Code: 125, Err: err}
		}
	}
	switch {
	case timedOut:
		return c, fmt.Errorf("%w after %s: %s", ErrTimeout, o.Timeout, c.ShortID())
	case ctx.Err() != nil:
		return c, ctx.Err()
	}
	return c, nil
}

// spec assembles what the init needs: the layer stack, the container's own dirs and
// the process it runs.
func (e *Engine) spec(ctx context.Context, c *container.Container, img *image.Image) (*proc.Spec, error) {
	if img == nil || img.ID.String() != c.Image {
		var err error
		if img, err = e.Images.Get(c.Image); err != nil {
			return nil, fmt.Errorf("image of container %s: %w", c.ShortID(), err)
		}
	}
	lowers, err := e.Images.LayerDirs(ctx, img)
	if err != nil {
		return nil, err
	}
	initDir, err := e.initLayer()
	if err != nil {
		return nil, err
	}
	caps, filter, nnp, err := e.confinement(c)
	if err != nil {
		return nil, err
	}
	dir := e.Containers.Dir(c.ID)
	s := &proc.Spec{
		Rootfs:     e.Containers.RootfsDir(c.ID),
		Lower:      append([]string{initDir}, lowers...),
		Upper:      e.Containers.UpperDir(c.ID),
		Work:       e.Containers.WorkDir(c.ID),
		Hostname:   c.Config.Hostname,
		Binds:      []proc.Bind{{Source: dir + "/hostname", Target: "/etc/hostname"}, {Source: dir + "/hosts", Target: "/etc/hosts"}},
		Args:       append([]string{c.Path}, c.Args...),
		Env:        processEnv(c),
		Cwd:        c.Config.WorkingDir,
		User:       c.Config.User,
		Volatile:   c.Config.AutoRemove,
		Caps:       caps,
		Privileged: c.Config.Privileged,
		NoNewPrivs: nnp,
		Seccomp:    filter,
	}
	if c.Config.AutoRemove {
		// The writable layer of a container that is removed when it ends lives on a
		// tmpfs inside it (its dir is covered in its own mount namespace only): no
		// inode of it is made or deleted on disk, and it cannot outlive the container.
		s.Scratch = dir
		s.ScratchFiles = map[string]string{"hostname": c.Config.Hostname + "\n", "hosts": hostsFile}
	}
	return s, nil
}

// Run is create + start + wait (+ remove with AutoRemove), like `docker run`.
func (e *Engine) Run(ctx context.Context, co CreateOptions, so StartOptions) (*container.Container, error) {
	c, img, unlock, err := e.create(ctx, co, true)
	if err != nil {
		return nil, err
	}
	return e.startHeld(ctx, c, img, so, unlock)
}

// logWriter keeps a container's output as JSON lines, one per write, tagged with the
// stream, like Docker's json-file driver.
type logWriter struct {
	mu sync.Mutex
	f  *os.File
}

type logEntry struct {
	Log    string    `json:"log"`
	Stream string    `json:"stream"`
	Time   time.Time `json:"time"`
}

func (l *logWriter) stream(name string, to io.Writer) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		l.mu.Lock()
		b, _ := json.Marshal(logEntry{Log: string(p), Stream: name, Time: time.Now().UTC()})
		l.f.Write(append(b, '\n'))
		l.mu.Unlock()
		if to != nil {
			if _, err := to.Write(p); err != nil {
				// The reader went away (e.g. a closed pipe); keep logging, drop the copy.
				return len(p), nil
			}
		}
		return len(p), nil
	})
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// Logs replays a container's output to stdout and stderr.
func (e *Engine) Logs(ref string, stdout, stderr io.Writer) error {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return err
	}
	f, err := os.Open(e.Containers.LogPath(c.ID))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	defer f.Close()
	dec := json.NewDecoder(f)
	for {
		var le logEntry
		if err := dec.Decode(&le); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("read log: %w", err)
		}
		w := stdout
		if le.Stream == "stderr" {
			w = stderr
		}
		if _, err := io.WriteString(w, le.Log); err != nil {
			return err
		}
	}
}
