package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strings"
	"syscall"

	"github.com/spf13/pflag"

	"lab/runtime/engine"
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
	err := c.run(ctx, a, fs.Args())
	if err == nil {
		return 0
	}
	var se *statusError
	if errors.As(err, &se) {
		if se.msg != "" {
			fmt.Fprintln(a.stderr, se.msg)
		}
		return se.code
	}
	fmt.Fprintf(a.stderr, "lab %s: %v\n", verb, err)
	// Docker: the run family exits 125 when lab itself fails, other verbs 1.
	switch verb {
	case "run", "create", "start":
		return engine.Code(err, 125)
	}
	return engine.Code(err, 1)
}

func usage(w io.Writer) {
	fmt.Fprint(w, "\nUsage:  lab COMMAND [OPTIONS]\n        lab FILE.lua [ARGS...]\n        lab                 (REPL on a terminal, script on stdin otherwise)\n\nA container lab driven by Lua, with Docker's verbs.\n\nCommands:\n")
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
