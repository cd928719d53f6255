package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"lab/runtime/engine"
	"lab/runtime/reference"
	"lab/runtime/registry"
)

type pullFlags struct {
	platform string
	quiet    bool
	allTags  bool
	insecure []string
}

type loginFlags struct {
	user, password string
	passwordStdin  bool
}

func init() {
	register(registryCommands())
	register(archiveCommands())
}

// registryOptions are the registry settings that come from the environment:
// LAB_INSECURE_REGISTRIES (comma separated hosts that may use plain HTTP, as dockerd's
// --insecure-registry) and LAB_CERTS_D (Docker's certs.d layout, default
// /etc/docker/certs.d); credentials come from $DOCKER_CONFIG/config.json.
func registryOptions(insecure []string) registry.Options {
	o := registry.Options{CertsDir: os.Getenv("LAB_CERTS_D"), Insecure: insecure}
	for _, h := range strings.Split(os.Getenv("LAB_INSECURE_REGISTRIES"), ",") {
		if h = strings.TrimSpace(h); h != "" {
			o.Insecure = append(o.Insecure, h)
		}
	}
	return o
}

func registryCommands() map[string]*command {
	return map[string]*command{
		"pull": {usage: "[OPTIONS] NAME[:TAG|@DIGEST]", short: "Download an image from a registry", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &pullFlags{}
				fs.StringVar(&f.platform, "platform", "", "Set platform if server is multi-platform capable (os/arch[/variant])")
				fs.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress verbose output")
				fs.StringArrayVar(&f.insecure, "insecure-registry", nil, "Allow plain HTTP to this registry host")
				fs.BoolVarP(&f.allTags, "all-tags", "a", false, "Download all tagged images in the repository (not supported)")
				return f
			},
			run: cmdPull},
		"push": {usage: "[OPTIONS] NAME[:TAG]", short: "Upload an image to a registry", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &pullFlags{}
				fs.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress verbose output")
				fs.StringArrayVar(&f.insecure, "insecure-registry", nil, "Allow plain HTTP to this registry host")
				return f
			},
			run: cmdPush},
		"login": {usage: "[OPTIONS] [SERVER]", short: "Log in to a registry", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &loginFlags{}
				fs.StringVarP(&f.user, "username", "u", "", "Username")
				fs.StringVarP(&f.password, "password", "p", "", "Password")
				fs.BoolVar(&f.passwordStdin, "password-stdin", false, "Take the password from stdin")
				return f
			},
			run: cmdLogin},
		"logout": {usage: "[SERVER]", short: "Log out from a registry", interspersed: true,
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 0, 1); err != nil {
					return err
				}
				server := ""
				if len(args) == 1 {
					server = args[0]
				}
				key, had, err := registry.Logout(server, registryOptions(nil))
				if err != nil {
					return err
				}
				if !had {
					fmt.Fprintf(a.stdout, "Not logged in to %s\n", key)
					return nil
				}
				fmt.Fprintf(a.stdout, "Removing login credentials for %s\n", key)
				return nil
			}},
	}
}

// defaultedTag reports whether s names no tag or digest, so that "latest" was added.
func defaultedTag(s string) bool {
	last := s[strings.LastIndex(s, "/")+1:]
	return !strings.ContainsAny(last, ":@")
}

func cmdPull(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 1, 1); err != nil {
		return err
	}
	f := a.opts.(*pullFlags)
	if f.allTags {
		return &statusError{code: 1, msg: "lab pull: --all-tags is not supported: pull each tag by name"}
	}
	o := registryOptions(f.insecure)
	if f.platform != "" {
		p, err := registry.ParsePlatform(f.platform)
		if err != nil {
			return err
		}
		o.Platform = p
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	r, err := reference.Parse(args[0])
	if err != nil {
		return err
	}
	if defaultedTag(args[0]) && !f.quiet {
		fmt.Fprintln(a.stdout, "Using default tag: latest")
	}
	if !f.quiet {
		o.Progress = newProgress(a.stdout).event
	}
	res, err := e.Pull(ctx, args[0], o)
	if err != nil {
		return err
	}
	if !f.quiet {
		pullStatus(a.stdout, res.Digest.String(), res.UpToDate, r)
	}
	fmt.Fprintln(a.stdout, r.Full())
	return nil
}

// pullForRun is run's and create's pull of a missing image (--pull): Docker's
// "Unable to find image" line and the pull's progress go to stderr, so that the
// container's own output stays alone on stdout. A failed pull exits 125.
func pullForRun(ctx context.Context, a *app, e *engine.Engine, ref, policy string) error {
	o := registryOptions(nil)
	_, err := e.EnsureImage(ctx, ref, policy, o, func(r reference.Ref, o *registry.Options) {
		if policy != engine.PullAlways {
			fmt.Fprintf(a.stderr, "Unable to find image '%s' locally\n", r)
		}
		o.Progress = newProgress(a.stderr).event
	}, func(res *registry.PullResult) {
		pullStatus(a.stderr, res.Digest.String(), res.UpToDate, res.Ref)
	})
	if err != nil {
		return &engine.ExitError{Code: 125, Err: err}
	}
	return nil
}

func cmdPush(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 1, 1); err != nil {
		return err
	}
	f := a.opts.(*pullFlags)
	o := registryOptions(f.insecure)
	e, err := a.engine()
	if err != nil {
		return err
	}
	r, err := reference.Parse(args[0])
	if err != nil {
		return err
	}
	if defaultedTag(args[0]) && !f.quiet {
		fmt.Fprintln(a.stdout, "Using default tag: latest")
	}
	if !f.quiet {
		fmt.Fprintf(a.stdout, "The push refers to repository [%s]\n", r.Domain+"/"+r.Path)
		o.Progress = newProgress(a.stdout).event
	}
	res, err := e.Push(ctx, args[0], o)
	if err != nil {
		return err
	}
	if f.quiet {
		fmt.Fprintln(a.stdout, r.Full())
		return nil
	}
	fmt.Fprintf(a.stdout, "%s: digest: %s size: %d\n", res.Tag, res.Digest, res.Size)
	return nil
}

func cmdLogin(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 0, 1); err != nil {
		return err
	}
	f := a.opts.(*loginFlags)
	server := ""
	if len(args) == 1 {
		server = args[0]
	}
	user, password := f.user, f.password
	if f.passwordStdin {
		if f.password != "" {
			return errors.New("--password and --password-stdin are mutually exclusive")
		}
		if user == "" {
			return errors.New("must provide --username with --password-stdin")
		}
		b, err := io.ReadAll(a.stdin)
		if err != nil {
			return err
		}
		password = strings.TrimRight(string(b), "\r\n")
	}
	in := bufio.NewReader(a.stdin)
	if user == "" {
		fmt.Fprint(a.stdout, "Username: ")
		l, _ := in.ReadString('\n')
		user = strings.TrimSpace(l)
	}
	if password == "" && !f.passwordStdin {
		fmt.Fprint(a.stdout, "Password: ")
		restore := noEcho(a.stdin)
		l, _ := in.ReadString('\n')
		restore()
		password = strings.TrimRight(l, "\r\n")
		fmt.Fprintln(a.stdout)
	}
	if user == "" || password == "" {
		return errors.New("error: username and password are required")
	}
	if f.password != "" {
		fmt.Fprintln(a.stderr, "WARNING! Using --password via the CLI is insecure. Use --password-stdin.")
	}
	if _, err := registry.Login(ctx, server, user, password, registryOptions(nil)); err != nil {
		return err
	}
	fmt.Fprintln(a.stdout, "Login Succeeded")
	return nil
}

// progress renders pull and push events as Docker does: on a terminal one line per
// layer rewritten in place with a bar; otherwise one line per status change.
type progress struct {
	w     io.Writer
	tty   bool
	ids   []string
	lines map[string]string
	last  map[string]string
}

func newProgress(w io.Writer) *progress {
	p := &progress{w: w, lines: map[string]string{}, last: map[string]string{}}
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		p.tty = true
	}
	return p
}

func (p *progress) event(ev registry.Event) {
	if strings.HasPrefix(ev.Status, "Pulling from ") {
		fmt.Fprintf(p.w, "%s: %s\n", ev.ID, ev.Status)
		return
	}
	text := ev.Status
	if ev.Total > 0 && (ev.Status == "Downloading" || ev.Status == "Pushing" || ev.Status == "Extracting") {
		if !p.tty {
			// Docker prints no byte counts without a terminal: only status changes.
			if p.last[ev.ID] == ev.Status {
				return
			}
			p.last[ev.ID] = ev.Status
			if ev.Status == "Extracting" {
				return
			}
		} else {
			text = fmt.Sprintf("%-13s %s", ev.Status, bar(ev.Current, ev.Total))
		}
	}
	if !p.tty {
		if ev.Status == "Downloading" || ev.Status == "Pushing" {
			return
		}
		p.last[ev.ID] = ev.Status
		fmt.Fprintf(p.w, "%s: %s\n", ev.ID, text)
		return
	}
	line := ev.ID + ": " + text
	if _, ok := p.lines[ev.ID]; !ok {
		p.ids = append(p.ids, ev.ID)
		p.lines[ev.ID] = line
		fmt.Fprintf(p.w, "%s\n", line)
		return
	}
	p.lines[ev.ID] = line
	up := 0
	for i, id := range p.ids {
		if id == ev.ID {
			up = len(p.ids) - i
		}
	}
	fmt.Fprintf(p.w, "\x1b[%dA\r\x1b[2K%s\r\x1b[%dB", up, line, up)
}

// pullStatus prints the end of a pull as Docker does: the digest and what happened.
func pullStatus(w io.Writer, digest string, upToDate bool, ref fmt.Stringer) {
	fmt.Fprintf(w, "Digest: %s\n", digest)
	if upToDate {
		fmt.Fprintf(w, "Status: Image is up to date for %s\n", ref)
	} else {
		fmt.Fprintf(w, "Status: Downloaded newer image for %s\n", ref)
	}
}

// bar is Docker's progress bar: 50 columns, then current/total in decimal units.
func bar(cur, total int64) string {
	if cur > total {
		cur = total
	}
	n := int(50 * cur / total)
	b := strings.Repeat("=", n)
	if n < 50 {
		if n > 0 {
			b = b[:n-1] + ">"
		}
		b += strings.Repeat(" ", 50-len(b))
	}
	return fmt.Sprintf("[%s] %8s/%s", b, units.HumanSize(float64(cur)), units.HumanSize(float64(total)))
}

func archiveCommands() map[string]*command {
	return map[string]*command{
		"save": {usage: "[OPTIONS] IMAGE [IMAGE...]", short: "Save one or more images to a tar archive (streamed to STDOUT by default)", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				return fs.StringP("output", "o", "", "Write to a file, instead of STDOUT")
			},
			run: cmdSave},
		"load": {usage: "[OPTIONS]", short: "Load an image from a tar archive or STDIN", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &struct {
					input string
					quiet bool
				}{}
				fs.StringVarP(&f.input, "input", "i", "", "Read from tar archive file, instead of STDIN")
				fs.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the load output")
				return f
			},
			run: cmdLoad},
	}
}

func cmdSave(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 1, -1); err != nil {
		return err
	}
	out := *a.opts.(*string)
	e, err := a.engine()
	if err != nil {
		return err
	}
	if out == "" || out == "-" {
		if f, ok := a.stdout.(*os.File); ok && isTerminal(f) {
			return errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		return e.Save(ctx, args, a.stdout)
	}
	// The archive appears under its name only once it is whole.
	tmp, err := os.CreateTemp(filepath.Dir(out), ".lab-save-")
	if err != nil {
		return fmt.Errorf("failed to save image: %w", err)
	}
	defer os.Remove(tmp.Name())
	if err := e.Save(ctx, args, tmp); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), out)
}

func cmdLoad(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 0, 0); err != nil {
		return err
	}
	f := a.opts.(*struct {
		input string
		quiet bool
	})
	in := a.stdin
	if f.input != "" {
		file, err := os.Open(f.input)
		if err != nil {
			return err
		}
		defer file.Close()
		in = file
	} else if file, ok := a.stdin.(*os.File); ok && isTerminal(file) {
		return errors.New("requested load from stdin, but stdin is empty")
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	loaded, err := e.Load(ctx, in)
	if err != nil {
		return err
	}
	if f.quiet {
		return nil
	}
	for _, l := range loaded {
		if l.Tag != "" {
			fmt.Fprintf(a.stdout, "Loaded image: %s\n", l.Tag)
		} else {
			fmt.Fprintf(a.stdout, "Loaded image ID: %s\n", l.Image.ID)
		}
	}
	return nil
}

// noEcho turns off the echo of a terminal on r while a password is typed.
func noEcho(r io.Reader) func() {
	f, ok := r.(*os.File)
	if !ok || !isTerminal(f) {
		return func() {}
	}
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	t := *saved
	t.Lflag &^= unix.ECHO
	unix.IoctlSetTermios(fd, unix.TCSETS, &t)
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, saved) }
}
