package lab

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"

	"lab/runtime/engine"
)

// Store maintenance: `lab fsck` (alias `lab system check`) and Docker's prune verbs,
// plus the `lab container VERB` / `lab image VERB` management forms, which map onto
// the top-level verbs as Docker's do.

func init() { register(systemCommands()) }

// defaultGrace spares leftovers this recent: they may belong to a command still
// running in another lab process on the same store.
const defaultGrace = 10 * time.Second

func systemCommands() map[string]*command {
	return map[string]*command{
		"fsck": {usage: "[OPTIONS]", short: "Check the store and remove leftovers of interrupted commands (--repair)", interspersed: true,
			flags: addFsckFlags, run: cmdFsck},
		"system": {usage: "COMMAND", short: "Manage lab's store (prune, check)", run: func(ctx context.Context, a *app, args []string) error {
			return subcommand(ctx, a, "system", args, map[string]*command{"prune": systemPrune, "check": systemCheck, "df": systemDf}, nil)
		}},
		"container": {usage: "COMMAND", short: "Manage containers (prune; ls, rm, inspect... as the top-level verbs)", run: func(ctx context.Context, a *app, args []string) error {
			return subcommand(ctx, a, "container", args, map[string]*command{"prune": containerPrune}, map[string]string{
				"ls": "ps", "list": "ps", "ps": "ps", "rm": "rm", "remove": "rm", "run": "run", "create": "create",
				"start": "start", "stop": "stop", "kill": "kill", "wait": "wait", "commit": "commit",
				"diff": "diff", "logs": "logs", "export": "export", "inspect": "inspect",
			})
		}},
		"image": {usage: "COMMAND", short: "Manage images (prune; ls, rm, tag... as the top-level verbs)", run: func(ctx context.Context, a *app, args []string) error {
			return subcommand(ctx, a, "image", args, map[string]*command{"prune": imagePrune}, map[string]string{
				"ls": "images", "list": "images", "rm": "rmi", "remove": "rmi", "tag": "tag", "history": "history",
				"import": "import", "inspect": "inspect",
			})
		}},
	}
}

type fsckFlags struct {
	repair bool
	grace  time.Duration
	layers bool
}

func addFsckFlags(fs *pflag.FlagSet) any {
	f := &fsckFlags{}
	fs.BoolVar(&f.repair, "repair", false, "Remove leftovers and repair what can be repaired")
	fs.DurationVar(&f.grace, "grace", defaultGrace, "Keep leftovers changed more recently than this (another lab may still be using them)")
	fs.BoolVar(&f.layers, "layers", false, "Also check every unpacked layer's files against its layer blob")
	return f
}

var systemCheck = &command{usage: "[OPTIONS]", short: "Check the store (same as lab fsck)", flags: addFsckFlags, run: cmdFsck}

func cmdFsck(ctx context.Context, a *app, args []string) error {
	if len(args) > 0 {
		return &statusError{code: 1, msg: fmt.Sprintf("\"lab %s\" accepts no arguments.", a.verb)}
	}
	f := a.opts.(*fsckFlags)
	e, err := a.engine()
	if err != nil {
		return err
	}
	r, err := e.Fsck(ctx, engine.FsckOptions{Repair: f.repair, Grace: f.grace, Layers: f.layers})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "checked %d blobs, %d images, %d containers, %d unpacked layers\n", r.Blobs, r.Images, r.Containers, r.Layers)
	for _, l := range r.Repaired {
		fmt.Fprintln(a.stdout, l)
	}
	for _, l := range r.Leftovers {
		fmt.Fprintln(a.stdout, "leftover: "+l)
	}
	for _, l := range r.Problems {
		fmt.Fprintln(a.stdout, "problem: "+l)
	}
	if f.repair && r.Reclaimed > 0 {
		fmt.Fprintln(a.stdout, "Total reclaimed space:", units.HumanSize(float64(r.Reclaimed)))
	}
	if !f.repair && len(r.Leftovers) > 0 {
		fmt.Fprintln(a.stdout, "run 'lab fsck --repair' to remove the leftovers")
	}
	if !r.OK() {
		return &statusError{code: 1, msg: fmt.Sprintf("lab %s: %d problem(s) found", a.verb, len(r.Problems))}
	}
	fmt.Fprintln(a.stdout, "ok")
	return nil
}

// subcommand runs `lab PARENT SUB ...`: one of own, with its own flags, or an alias of
// a top-level verb, run exactly as that verb.
func subcommand(ctx context.Context, a *app, parent string, args []string, own map[string]*command, alias map[string]string) error {
	if len(args) == 0 || args[0] == "help" {
		var names []string
		for n := range own {
			names = append(names, n)
		}
		for n := range alias {
			names = append(names, n)
		}
		sort.Strings(names)
		fmt.Fprintf(a.stdout, "\nUsage:  lab %s COMMAND\n\nCommands:\n", parent)
		for _, n := range names {
			if c, ok := own[n]; ok {
				fmt.Fprintf(a.stdout, "  %-10s %s\n", n, c.short)
			} else {
				fmt.Fprintf(a.stdout, "  %-10s same as lab %s\n", n, alias[n])
			}
		}
		return nil
	}
	if verb, ok := alias[args[0]]; ok {
		if code := run(ctx, a, append([]string{verb}, args[1:]...)); code != 0 {
			return &statusError{code: code}
		}
		return nil
	}
	c, ok := own[args[0]]
	if !ok {
		return &statusError{code: 1, msg: fmt.Sprintf("lab: unknown command: lab %s %s\n\nRun 'lab %s --help' for more information", parent, args[0], parent)}
	}
	name := parent + " " + args[0]
	fs := pflag.NewFlagSet("lab "+name, pflag.ContinueOnError)
	fs.SetOutput(io.Discard)
	help := fs.Bool("help", false, "Print usage")
	if c.flags != nil {
		a.opts = c.flags(fs)
	}
	if err := fs.Parse(args[1:]); err != nil {
		return &statusError{code: 125, msg: fmt.Sprintf("lab %s: %v\nSee 'lab %s --help'.", name, err, name)}
	}
	if *help {
		fmt.Fprintf(a.stdout, "\nUsage:  lab %s %s\n\n%s\n\nOptions:\n%s", name, c.usage, c.short, fs.FlagUsages())
		return nil
	}
	a.verb = name
	if err := c.run(ctx, a, fs.Args()); err != nil {
		if _, ok := err.(*statusError); ok {
			return err
		}
		return &statusError{code: 1, msg: fmt.Sprintf("lab %s: %v", name, err)}
	}
	return nil
}

type pruneFlags struct {
	force, all bool
	grace      time.Duration
}

// confirm asks Docker's question; anything but y or yes is a no.
func confirm(a *app, warning string) bool {
	fmt.Fprintf(a.stdout, "WARNING! %s\nAre you sure you want to continue? [y/N] ", warning)
	line, _ := bufio.NewReader(a.stdin).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return true
	}
	return false
}

func noArgs(a *app, args []string) error {
	if len(args) > 0 {
		return &statusError{code: 1, msg: fmt.Sprintf("\"lab %s\" accepts no arguments.\nSee 'lab %s --help'.", a.verb, a.verb)}
	}
	return nil
}

// printPrune prints a report in Docker's layout: sections, a blank line, the total.
func printPrune(w io.Writer, r *engine.PruneReport) {
	section := func(title string, lines []string) {
		if len(lines) == 0 {
			return
		}
		fmt.Fprintln(w, title)
		for _, l := range lines {
			fmt.Fprintln(w, l)
		}
		fmt.Fprintln(w)
	}
	section("Deleted Containers:", r.Containers)
	section("Deleted Images:", r.Images)
	section("Removed leftovers of interrupted commands:", r.Leftovers)
	fmt.Fprintln(w, "Total reclaimed space:", units.HumanSize(float64(r.Reclaimed)))
}

// prune asks (unless -f), runs do on the store and prints Docker's prune report.
func prune(a *app, args []string, warning string, do func(e *engine.Engine) (*engine.PruneReport, error)) error {
	if err := noArgs(a, args); err != nil {
		return err
	}
	if !a.opts.(*pruneFlags).force && !confirm(a, warning) {
		return nil // as Docker's client: a "no" prints nothing more
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	r, err := do(e)
	if r != nil {
		printPrune(a.stdout, r)
	}
	return err
}

var containerPrune = &command{usage: "[OPTIONS]", short: "Remove all stopped containers",
	flags: func(fs *pflag.FlagSet) any {
		f := &pruneFlags{}
		fs.BoolVarP(&f.force, "force", "f", false, "Do not prompt for confirmation")
		return f
	},
	run: func(ctx context.Context, a *app, args []string) error {
		return prune(a, args, "This will remove all stopped containers.", func(e *engine.Engine) (*engine.PruneReport, error) {
			return e.PruneContainers()
		})
	}}

var imagePrune = &command{usage: "[OPTIONS]", short: "Remove unused images",
	flags: func(fs *pflag.FlagSet) any {
		f := &pruneFlags{}
		fs.BoolVarP(&f.all, "all", "a", false, "Remove all unused images, not just dangling ones")
		fs.BoolVarP(&f.force, "force", "f", false, "Do not prompt for confirmation")
		return f
	},
	run: func(ctx context.Context, a *app, args []string) error {
		all := a.opts.(*pruneFlags).all
		warning := "This will remove all dangling images."
		if all {
			warning = "This will remove all images without at least one container associated to them."
		}
		return prune(a, args, warning, func(e *engine.Engine) (*engine.PruneReport, error) {
			return e.PruneImages(all)
		})
	}}

var systemPrune = &command{usage: "[OPTIONS]", short: "Remove stopped containers, unused images and leftovers of interrupted commands",
	flags: func(fs *pflag.FlagSet) any {
		f := &pruneFlags{}
		fs.BoolVarP(&f.all, "all", "a", false, "Remove all unused images, not just dangling ones")
		fs.BoolVarP(&f.force, "force", "f", false, "Do not prompt for confirmation")
		fs.DurationVar(&f.grace, "grace", defaultGrace, "Keep leftovers changed more recently than this (another lab may still be using them)")
		return f
	},
	run: func(ctx context.Context, a *app, args []string) error {
		f := a.opts.(*pruneFlags)
		images := "  - all dangling images\n"
		if f.all {
			images = "  - all images without at least one container associated to them\n"
		}
		warning := "This will remove:\n  - all stopped containers\n" + images +
			"  - leftovers of interrupted lab commands (temporary files, unused blobs and layers)\n"
		return prune(a, args, warning, func(e *engine.Engine) (*engine.PruneReport, error) {
			return e.PruneSystem(ctx, f.all, f.grace)
		})
	}}
