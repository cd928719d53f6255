package lab

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"

	"github.com/spf13/pflag"
	"golang.org/x/sys/unix"

	"lab/runtime/container"
	"lab/runtime/engine"
	"lab/runtime/proc"
)

type runFlags struct {
	interactive, tty, rm, detach bool
	name, workdir, hostname      string
	network, entrypoint, user    string
	pull                         string
	entrypointSet                bool
	env                          []string
	limits                       limitFlags
	// noSigProxy is --sig-proxy=false: signals sent to lab are not relayed, so they end
	// lab (and with it the container, which must not outlive it) instead.
	noSigProxy                   bool
	capAdd, capDrop, securityOpt []string
	privileged                   bool
}

func addRunFlags(fs *pflag.FlagSet) any {
	f := &runFlags{}
	fs.BoolVarP(&f.interactive, "interactive", "i", false, "Keep STDIN open even if not attached")
	fs.BoolVarP(&f.tty, "tty", "t", false, "Allocate a pseudo-TTY")
	fs.BoolVar(&f.rm, "rm", false, "Automatically remove the container when it exits")
	fs.BoolVarP(&f.detach, "detach", "d", false, "Run container in background and print container ID")
	fs.StringVar(&f.name, "name", "", "Assign a name to the container")
	fs.StringVarP(&f.workdir, "workdir", "w", "", "Working directory inside the container")
	fs.StringVarP(&f.hostname, "hostname", "h", "", "Container host name")
	fs.StringVar(&f.network, "network", "none", "Connect a container to a network (only \"none\": loopback)")
	fs.StringVar(&f.network, "net", "none", "Docker's older spelling of --network")
	fs.MarkHidden("net")
	fs.Var(setString{&f.entrypoint, &f.entrypointSet}, "entrypoint", "Overwrite the default ENTRYPOINT of the image (\"\" clears it)")
	fs.StringVarP(&f.user, "user", "u", "", "Username or UID (format: <name|uid>[:<group|gid>])")
	fs.StringArrayVarP(&f.env, "env", "e", nil, "Set environment variables")
	fs.StringVar(&f.pull, "pull", "missing", "Pull image before running (\"always\", \"missing\", \"never\")")
	addLimitFlags(fs, &f.limits)
	fs.Var(negBool{&f.noSigProxy}, "sig-proxy", "Proxy received signals to the process")
	fs.Lookup("sig-proxy").NoOptDefVal = "true"
	fs.Lookup("sig-proxy").DefValue = "true"
	fs.StringSliceVar(&f.capAdd, "cap-add", nil, "Add Linux capabilities (ALL, or names with or without CAP_)")
	fs.StringSliceVar(&f.capDrop, "cap-drop", nil, "Drop Linux capabilities (ALL, or names with or without CAP_)")
	fs.BoolVar(&f.privileged, "privileged", false, "Give extended privileges to this container: every capability, no seccomp filter, /proc and /sys unmasked")
	fs.StringArrayVar(&f.securityOpt, "security-opt", nil, "Security options: seccomp=unconfined, seccomp=FILE.json, no-new-privileges")
	return f
}

// negBool is a boolean flag that defaults to true and stores its negation, so that the
// zero value of the struct holding it means Docker's default.
type negBool struct{ off *bool }

func (b negBool) String() string {
	if b.off != nil && *b.off {
		return "false"
	}
	return "true"
}
func (b negBool) Set(s string) error {
	v, err := strconv.ParseBool(s)
	if err != nil {
		return err
	}
	*b.off = !v
	return nil
}
func (b negBool) Type() string { return "bool" }

func (f *runFlags) createOptions(args []string) (engine.CreateOptions, error) {
	o := engine.CreateOptions{
		Image: args[0], Name: f.name, WorkingDir: f.workdir, Hostname: f.hostname,
		User: f.user, AutoRemove: f.rm, Tty: f.tty, OpenStdin: f.interactive,
		Memory: int64(f.limits.memory), PidsLimit: f.limits.pids, NanoCPUs: int64(f.limits.nanoCPUs),
		CapAdd: f.capAdd, CapDrop: f.capDrop, Privileged: f.privileged, SecurityOpt: f.securityOpt,
	}
	if len(args) > 1 {
		o.Cmd = args[1:]
	}
	if f.entrypointSet {
		// Docker: --entrypoint "" clears the image's entrypoint.
		ep := []string{}
		if f.entrypoint != "" {
			ep = []string{f.entrypoint}
		}
		o.Entrypoint = &ep
	}
	for _, e := range f.env {
		if !strings.Contains(e, "=") {
			// Docker: "-e NAME" passes the caller's value through, if set.
			v, ok := os.LookupEnv(e)
			if !ok {
				continue
			}
			e += "=" + v
		}
		o.Env = append(o.Env, e)
	}
	switch f.network {
	case "none", "":
	default:
		return o, &statusError{code: 125, msg: fmt.Sprintf("lab: network %q not supported: containers get a private loopback only (--network none)", f.network)}
	}
	if f.tty && f.interactive && !isTerminal(os.Stdin) {
		return o, &statusError{code: 1, msg: "the input device is not a TTY"}
	}
	if f.detach && f.rm {
		// The monitor process removes it at exit, as Docker's daemon does.
		o.AutoRemove = true
	}
	return o, nil
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// attach wires lab's stdio, signals and (with tty) terminal to a container start. The
// returned function undoes it: it must run on every exit path, since it restores the
// user's terminal.
func attach(a *app, interactive, tty, sigProxy bool) (engine.StartOptions, func(), error) {
	so := engine.StartOptions{IO: ioFor(a, interactive)}
	// Relay the signals a user sends lab, as Docker's --sig-proxy does: the container
	// runs in a session of its own, so this is the only way a Ctrl-C reaches it.
	in := make(chan os.Signal, 8)
	if sigProxy {
		signal.Notify(in, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGQUIT, syscall.SIGUSR1, syscall.SIGUSR2)
	}
	out := make(chan os.Signal, 8)
	stop := make(chan struct{})
	go func() {
		for {
			select {
			case <-stop:
				return
			case s := <-in:
				if tty && s == syscall.SIGHUP {
					// The terminal is gone: nobody is left to talk to the shell.
					s = syscall.SIGKILL
				}
				out <- s
			}
		}
	}()
	so.Signals = out
	var term *terminal
	if tty && !interactive {
		// Nothing reads the keyboard for the container: leave the terminal cooked, so
		// Ctrl-C still reaches lab (and through it the container), as on Docker.
		if f, ok := a.stdin.(*os.File); ok && isTerminal(f) {
			if ws, err := proc.GetWinsize(f); err == nil {
				so.Size = &ws
			}
		}
	}
	if tty && interactive {
		if f, ok := a.stdin.(*os.File); ok && isTerminal(f) {
			t, err := openTerminal(f)
			if err != nil {
				signal.Stop(in)
				close(stop)
				return so, nil, err
			}
			term = t
			so.Size, so.Resize = t.Size, t.Resize
		}
	}
	return so, func() {
		signal.Stop(in)
		close(stop)
		if term != nil {
			term.restore()
		}
	}, nil
}

func containerCommands() map[string]*command {
	return map[string]*command{
		"run": {usage: "[OPTIONS] IMAGE [COMMAND] [ARG...]", short: "Create and run a new container from an image", flags: addRunFlags,
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, -1); err != nil {
					return err
				}
				o, err := a.opts.(*runFlags).createOptions(args)
				if err != nil {
					return err
				}
				e, err := a.engine()
				if err != nil {
					return err
				}
				if err := pullForRun(ctx, a, e, o.Image, a.opts.(*runFlags).pull); err != nil {
					return err
				}
				if a.opts.(*runFlags).detach {
					if o.OpenStdin {
						return &statusError{code: 125, msg: "lab run: -d with -i is not supported: a detached container has no stdin"}
					}
					c, err := e.Create(ctx, o)
					if err != nil {
						return err
					}
					if _, err := e.Detach(ctx, c.ID); err != nil {
						return err
					}
					fmt.Fprintln(a.stdout, c.ID)
					return nil
				}
				so, done, err := attach(a, o.OpenStdin, o.Tty, !a.opts.(*runFlags).noSigProxy)
				if err != nil {
					return err
				}
				defer done()
				c, err := e.Run(ctx, o, so)
				if err != nil {
					return err
				}
				return exitWith(c)
			}},
		"create": {usage: "[OPTIONS] IMAGE [COMMAND] [ARG...]", short: "Create a new container", flags: addRunFlags,
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, -1); err != nil {
					return err
				}
				o, err := a.opts.(*runFlags).createOptions(args)
				if err != nil {
					return err
				}
				e, err := a.engine()
				if err != nil {
					return err
				}
				if err := pullForRun(ctx, a, e, o.Image, a.opts.(*runFlags).pull); err != nil {
					return err
				}
				c, err := e.Create(ctx, o)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, c.ID)
				return nil
			}},
		"start": {usage: "[OPTIONS] CONTAINER [CONTAINER...]", short: "Start one or more stopped containers", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &struct{ attach, interactive bool }{}
				fs.BoolVarP(&f.attach, "attach", "a", false, "Attach STDOUT/STDERR and forward signals")
				fs.BoolVarP(&f.interactive, "interactive", "i", false, "Attach container's STDIN")
				return f
			},
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, -1); err != nil {
					return err
				}
				f := a.opts.(*struct{ attach, interactive bool })
				e, err := a.engine()
				if err != nil {
					return err
				}
				if f.attach || f.interactive {
					if len(args) > 1 {
						return &statusError{code: 1, msg: "lab start: you cannot start and attach multiple containers at once"}
					}
					c, err := e.Containers.Get(args[0])
					if err != nil {
						return err
					}
					so, done, err := attach(a, f.interactive, c.Config.Tty, true)
					if err != nil {
						return err
					}
					defer done()
					c, err = e.Start(ctx, c.ID, so)
					if err != nil {
						return err
					}
					return exitWith(c)
				}
				// Without -a the container runs in the background under a monitor
				// process, and lab prints the name as Docker does.
				return startEach(a, args, func(ref string) error {
					_, err := e.Detach(ctx, ref)
					return err
				})
			}},
		"ps": {usage: "[OPTIONS]", short: "List containers", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &psFlags{}
				fs.BoolVarP(&f.all, "all", "a", false, "Show all containers (default shows just running)")
				fs.BoolVarP(&f.latest, "latest", "l", false, "Show the latest created container (includes all states)")
				fs.IntVarP(&f.last, "last", "n", -1, "Show n last created containers (includes all states)")
				fs.BoolVarP(&f.quiet, "quiet", "q", false, "Only display container IDs")
				fs.BoolVar(&f.noTrunc, "no-trunc", false, "Don't truncate output")
				fs.StringVar(&f.format, "format", "", formatUsage)
				fs.VarP(filterFlag{&f.filters}, "filter", "f", "Filter output based on conditions provided")
				return f
			},
			run: cmdPs},
		"stop": {usage: "[OPTIONS] CONTAINER [CONTAINER...]", short: "Stop one or more running containers", interspersed: true,
			flags: addStopFlags, run: cmdStop},
		"kill": {usage: "[OPTIONS] CONTAINER [CONTAINER...]", short: "Kill one or more running containers", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				return fs.StringP("signal", "s", "KILL", "Signal to send to the container")
			},
			run: func(ctx context.Context, a *app, args []string) error {
				sig, ok := signalByName(*a.opts.(*string))
				if !ok {
					return &statusError{code: 1, msg: fmt.Sprintf("lab kill: invalid signal: %s", *a.opts.(*string))}
				}
				return eachContainer(ctx, a, args, func(e *engine.Engine, ref string) error {
					_, err := e.Kill(ref, sig)
					return err
				})
			}},
		"wait": {usage: "CONTAINER [CONTAINER...]", short: "Block until one or more containers stop, then print their exit codes", interspersed: true,
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, -1); err != nil {
					return err
				}
				e, err := a.engine()
				if err != nil {
					return err
				}
				for _, ref := range args {
					c, err := e.Wait(ctx, ref)
					if err != nil {
						return err
					}
					fmt.Fprintln(a.stdout, c.State.ExitCode)
				}
				return nil
			}},
		"rm": {usage: "[OPTIONS] CONTAINER [CONTAINER...]", short: "Remove one or more containers", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				return fs.BoolP("force", "f", false, "Force the removal of a running container")
			},
			run: func(ctx context.Context, a *app, args []string) error {
				force := *a.opts.(*bool)
				return eachContainer(ctx, a, args, func(e *engine.Engine, ref string) error {
					_, err := e.Remove(ref, force)
					if force && errors.Is(err, container.ErrNotFound) {
						// Docker's client: with -f a missing container is reported, not a failure.
						return &notFatal{err}
					}
					return err
				})
			}},
		"diff": {usage: "CONTAINER", short: "Inspect changes to files or directories on a container's filesystem", interspersed: true,
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, 1); err != nil {
					return err
				}
				e, err := a.engine()
				if err != nil {
					return err
				}
				changes, err := e.Diff(args[0])
				if err != nil {
					return err
				}
				for _, c := range changes {
					fmt.Fprintln(a.stdout, c.String())
				}
				return nil
			}},
		"logs": {usage: "CONTAINER", short: "Fetch the logs of a container", interspersed: true,
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, 1); err != nil {
					return err
				}
				e, err := a.engine()
				if err != nil {
					return err
				}
				return e.Logs(args[0], a.stdout, a.stderr)
			}},
		"export": {usage: "[OPTIONS] CONTAINER", short: "Export a container's filesystem as a tar archive", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				return fs.StringP("output", "o", "", "Write to a file, instead of STDOUT")
			},
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, 1); err != nil {
					return err
				}
				e, err := a.engine()
				if err != nil {
					return err
				}
				out := *a.opts.(*string)
				if out == "" {
					if f, ok := a.stdout.(*os.File); ok && isTerminal(f) {
						return &statusError{code: 1, msg: "lab export: cowardly refusing to save to a terminal. Use the -o flag or redirect"}
					}
					return e.Export(ctx, args[0], a.stdout)
				}
				return writeFileWith(out, func(w io.Writer) error { return e.Export(ctx, args[0], w) })
			}},
		"inspect": {usage: "[OPTIONS] NAME|ID [NAME|ID...]", short: "Return low-level information on containers and images", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &inspectFlags{}
				fs.StringVar(&f.typ, "type", "", "Only inspect objects of the given type (container or image)")
				fs.StringVarP(&f.format, "format", "f", "", formatUsage)
				return f
			},
			run: cmdInspect},
	}
}

// ioFor wires lab's stdio to a container; stdin only with -i.
func ioFor(a *app, interactive bool) engine.IO {
	io := engine.IO{Stdout: a.stdout, Stderr: a.stderr}
	if interactive {
		io.Stdin = a.stdin
	}
	return io
}

// exitWith makes lab exit with the container's status, like `docker run`.
func exitWith(c *container.Container) error {
	if c.State.ExitCode != 0 {
		return &statusError{code: c.State.ExitCode}
	}
	return nil
}

// writeFileWith writes a file through fn, removing it again if fn fails.
func writeFileWith(path string, fn func(io.Writer) error) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := fn(f); err != nil {
		f.Close()
		os.Remove(path)
		return err
	}
	return f.Close()
}

type psFlags struct {
	all, latest, quiet, noTrunc bool
	last                        int
	format                      string
	filters                     []string
}

func cmdPs(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 0, 0); err != nil {
		return err
	}
	f := a.opts.(*psFlags)
	e, err := a.engine()
	if err != nil {
		return err
	}
	rows, err := psRows(e, f)
	if err != nil {
		return err
	}
	return writePs(a, f, rows)
}

func cmdInspect(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 1, -1); err != nil {
		return err
	}
	typ := a.opts.(*inspectFlags).typ
	e, err := a.engine()
	if err != nil {
		return err
	}
	var out []any
	var failed error
	for _, ref := range args {
		if typ != "image" {
			if c, err := e.Containers.Get(ref); err == nil {
				out = append(out, e.InspectContainer(c))
				continue
			} else if !errors.Is(err, container.ErrNotFound) || typ == "container" {
				fmt.Fprintf(a.stderr, "lab inspect: %v\n", err)
				failed = &statusError{code: 1}
				continue
			}
		}
		img, err := e.Images.Get(ref)
		if err != nil {
			fmt.Fprintf(a.stderr, "lab inspect: no such object: %s\n", ref)
			failed = &statusError{code: 1}
			continue
		}
		out = append(out, e.InspectImage(img))
	}
	if done, err := writeInspect(a, out); done {
		if err != nil {
			return err
		}
		return failed
	}
	if out == nil {
		out = []any{}
	}
	b, _ := json.MarshalIndent(out, "", "    ")
	fmt.Fprintln(a.stdout, string(b))
	return failed
}

// eachContainer applies fn to every named container, printing each name on success and
// one error line per failure, like Docker's multi-container verbs.
func eachContainer(ctx context.Context, a *app, args []string, fn func(e *engine.Engine, ref string) error) error {
	if err := needArgs(a, args, 1, -1); err != nil {
		return err
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	var failed error
	for _, ref := range args {
		if err := fn(e, ref); err != nil {
			fmt.Fprintf(a.stderr, "lab %s: %v\n", a.verb, err)
			if _, ok := err.(*notFatal); !ok {
				failed = &statusError{code: 1}
			}
			continue
		}
		fmt.Fprintln(a.stdout, ref)
	}
	return failed
}

// notFatal is an error eachContainer reports without failing the verb.
type notFatal struct{ error }

// signalByName accepts "KILL", "SIGKILL" or "9".
func signalByName(s string) (syscall.Signal, bool) {
	if n, err := strconv.Atoi(s); err == nil && n > 0 && n < 65 {
		return syscall.Signal(n), true
	}
	sig := unix.SignalNum("SIG" + strings.TrimPrefix(strings.ToUpper(s), "SIG"))
	return sig, sig != 0
}

// setString is a string flag that remembers being given, so that an explicit empty
// value (--entrypoint "") differs from none.
type setString struct {
	s   *string
	set *bool
}

func (v setString) String() string {
	if v.s == nil {
		return ""
	}
	return *v.s
}

func (v setString) Set(x string) error {
	*v.s, *v.set = x, true
	return nil
}

func (v setString) Type() string { return "string" }
