package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"lab/runtime/engine"
	"lab/runtime/logging"
)

// command is one CLI verb.
type command struct {
	usage string // after "lab VERB "
	short string
	run   func(ctx context.Context, a *app, args []string) error
	// interspersed lets flags follow arguments; off for verbs that pass a command line on.
	interspersed bool
	flags        func(fs *pflag.FlagSet) any
	// goFlags also accepts single-dash long flags (-run X), as `go test` users type them.
	goFlags bool
}

// app carries what every verb needs.
type app struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	eng    *engine.Engine
	opts   any
	verb   string
	// luaMemory is --lua-memory, given before a script, `test` or nothing (the REPL).
	luaMemory luaMemoryValue
}

func (a *app) engine() (*engine.Engine, error) {
	if a.eng != nil {
		return a.eng, nil
	}
	e, err := engine.Open(engine.DefaultRoot())
	if err != nil {
		return nil, err
	}
	a.eng = e
	return e, nil
}

// statusError makes a verb exit with a given status after printing msg (if any).
type statusError struct {
	code int
	msg  string
}

func (e *statusError) Error() string { return e.msg }

// commands holds every verb; each file registers its own from an init function.
var commands = map[string]*command{}

func register(m map[string]*command) {
	for name, c := range m {
		commands[name] = c
	}
}

func init() {
	register(containerCommands())
	register(imageCommands())
}

// Hooks for the Lua side of the program, set by the files that implement it:
// scriptMain runs `lab FILE.lua ARGS...` (file "-" reads the script from stdin), and
// replMain runs the interactive REPL. Each returns the exit status.
var (
	scriptMain func(ctx context.Context, a *app, file string, args []string) int
	replMain   func(ctx context.Context, a *app) int
)

// Main runs lab with args (without the program name) and returns the exit status.
func Main(args []string) int {
	return run(context.Background(), &app{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, args)
}

func run(ctx context.Context, a *app, args []string) int {
	orig := args
	args, gerr := globalFlags(a, args)
	if gerr != nil {
		fmt.Fprintf(a.stderr, "lab: %v\nSee 'lab --help'.\n", gerr)
		return 125
	}
	args, err := luaMemoryFlag(a, args)
	if err != nil {
		fmt.Fprintf(a.stderr, "lab: %v\nSee 'lab --help'.\n", err)
		return 125
	}
	if needsFull(args) {
		return execFull(a, orig) // global flags and all
	}
	if len(args) == 0 {
		f, ok := a.stdin.(*os.File)
		switch {
		case ok && isTerminal(f) && replMain != nil:
			return replMain(ctx, a)
		case !ok || !isTerminal(f):
			if scriptMain != nil {
				return scriptMain(ctx, a, "-", nil)
			}
		}
	}
	if len(args) > 0 && (strings.HasSuffix(args[0], ".lua") || args[0] == "-") && scriptMain != nil {
		return scriptMain(ctx, a, args[0], args[1:])
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "--help" || args[0] == "-h" {
		usage(a.stdout)
		return 0
	}
	if args[0] == "--version" || args[0] == "-v" {
		printVersionLine(a.stdout)
		return 0
	}
	verb := args[0]
	c, ok := commands[verb]
	if !ok {
		// Docker's client: an unknown command is a usage error, exit 1.
		fmt.Fprintf(a.stderr, "lab: unknown command: lab %s\n\nRun 'lab --help' for more information\n", verb)
		return 1
	}
	a.verb = verb
	fs := pflag.NewFlagSet("lab "+verb, pflag.ContinueOnError)
	fs.SetInterspersed(c.interspersed)
	fs.SetOutput(io.Discard)
	help := fs.Bool("help", false, "Print usage")
	if c.flags != nil {
		a.opts = c.flags(fs)
	}
	rest := args[1:]
	if c.goFlags {
		rest = goStyleFlags(fs, rest)
	}
	if err := fs.Parse(rest); err != nil {
		fmt.Fprintf(a.stderr, "lab %s: %v\nSee 'lab %s --help'.\n", verb, err, verb)
		return 125
	}
	if *help {
		fmt.Fprintf(a.stdout, "\nUsage:  lab %s %s\n\n%s\n\nOptions:\n%s", verb, c.usage, c.short, fs.FlagUsages())
		return 0
	}
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGPIPE)
	defer stop()
	t0 := time.Now()
	err = c.run(ctx, a, fs.Args())
	logging.L().Debug("lab "+verb+" done", logging.Since(t0))
	if err == nil {
		return 0
	}
	var se *statusError
	if errors.As(err, &se) {
		if se.msg != "" {
			fmt.Fprintln(a.stderr, engine.Clip(se.msg))
		}
		return se.code
	}
	if errors.Is(err, syscall.EPIPE) {
		// Whoever read our output stopped (lab ps | head): end quietly with the
		// status of a Unix tool killed by SIGPIPE.
		return 128 + int(syscall.SIGPIPE)
	}
	fmt.Fprintf(a.stderr, "lab %s: %s\n", verb, engine.Clip(err.Error()))
	// Docker: the run family exits 125 when lab itself fails, other verbs 1.
	switch verb {
	case "run", "create", "start":
		return engine.Code(err, 125)
	}
	return engine.Code(err, 1)
}

// globalFlags takes Docker's global logging flags from the front of args: -D/--debug
// and -l/--log-level LEVEL turn on lab's own log lines on stderr (what it mounts and
// locks, how long each step takes). Without them lab prints none.
func globalFlags(a *app, args []string) ([]string, error) {
	level, on := slog.LevelInfo, false
	for len(args) > 0 {
		arg := args[0]
		name, val, hasVal := strings.Cut(arg, "=")
		switch name {
		case "-D", "--debug":
			if hasVal {
				return nil, fmt.Errorf("flag %s takes no value", name)
			}
			level, on = slog.LevelDebug, true
			args = args[1:]
			continue
		case "-l", "--log-level":
			if !hasVal {
				if len(args) < 2 {
					return nil, fmt.Errorf("flag needs an argument: %s", name)
				}
				val, args = args[1], args[1:]
			}
			l, err := logging.ParseLevel(val)
			if err != nil {
				return nil, err
			}
			level, on = l, true
			args = args[1:]
			continue
		}
		break
	}
	if on {
		logging.Enable(a.stderr, level)
	}
	return args, nil
}

func usage(w io.Writer) {
	fmt.Fprint(w, "\nUsage:  lab [-D | --log-level LEVEL] COMMAND [OPTIONS]\n        lab FILE.lua [ARGS...]\n        lab                 (REPL on a terminal, script on stdin otherwise)\n\nGlobal options:\n  -D, --debug, -l/--log-level LEVEL   lab's own log lines on stderr\n  --lua-memory SIZE   Memory cap of a Lua state (before FILE.lua, test, or nothing; default 1 GiB, 0 = none)\n\nA container lab driven by Lua, with Docker's verbs.\n\nCommands:\n")
	var names []string
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-10s %s\n", n, commands[n].short)
	}
	fmt.Fprint(w, "\nRun 'lab COMMAND --help' for more information on a command.\n")
}

// needArgs checks the argument count like Docker's cobra validators.
func needArgs(a *app, args []string, min, max int) error {
	if len(args) >= min && (max < 0 || len(args) <= max) {
		return nil
	}
	c := commands[a.verb]
	want := fmt.Sprintf("at least %d argument", min)
	if min == max {
		want = fmt.Sprintf("exactly %d argument", min)
	}
	if min != 1 && !strings.HasSuffix(want, "s") {
		want += "s"
	}
	// Exit 1, as Docker's client (28) exits for a wrong argument count.
	return &statusError{code: 1, msg: fmt.Sprintf("\"lab %s\" requires %s.\nSee 'lab %s --help'.\n\nUsage:  lab %s %s\n\n%s", a.verb, want, a.verb, a.verb, c.usage, c.short)}
}

// goStyleFlags rewrites Go-style long flags (-run X, -timeout=2s) to pflag's --run X,
// leaving shorthands (-v, -j 2), flag values and arguments alone.
func goStyleFlags(fs *pflag.FlagSet, args []string) []string {
	out := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		out = append(out, a)
		if a == "--" {
			return append(out, args[i+1:]...)
		}
		if !strings.HasPrefix(a, "-") || len(a) < 2 {
			continue
		}
		name, _, hasValue := strings.Cut(strings.TrimLeft(a, "-"), "=")
		f := fs.Lookup(name)
		if f == nil || len(name) < 2 {
			f = nil
			if !strings.HasPrefix(a, "--") && len(a) == 2 {
				f = fs.ShorthandLookup(a[1:])
			}
			if f == nil {
				continue
			}
		} else if !strings.HasPrefix(a, "--") {
			out[len(out)-1] = "-" + a
		}
		if !hasValue && f.NoOptDefVal == "" && i+1 < len(args) {
			// The next argument is this flag's value, even if it starts with '-'.
			i++
			out = append(out, args[i])
		}
	}
	return out
}
