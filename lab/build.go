//go:build !lean

package lab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/spf13/pflag"

	"lab/runtime/build"
	"lab/runtime/engine"
	"lab/runtime/image"
	"lab/runtime/reference"
	"lab/runtime/registry"
)

func init() { register(buildCommands()) }

type buildFlags struct {
	tags, buildArgs []string
	file, target    string
	noCache, quiet  bool
	pull            bool
}

func buildCommands() map[string]*command {
	return map[string]*command{
		"build": {usage: "[OPTIONS] PATH | -", short: "Build an image from a Dockerfile", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &buildFlags{}
				fs.StringArrayVarP(&f.tags, "tag", "t", nil, "Name and optionally a tag in the 'name:tag' format")
				fs.StringVarP(&f.file, "file", "f", "", "Name of the Dockerfile (Default is 'PATH/Dockerfile')")
				fs.StringArrayVar(&f.buildArgs, "build-arg", nil, "Set build-time variables")
				fs.StringVar(&f.target, "target", "", "Set the target build stage to build")
				fs.BoolVar(&f.noCache, "no-cache", false, "Do not use cache when building the image")
				fs.BoolVarP(&f.quiet, "quiet", "q", false, "Suppress the build output and print image ID on success")
				// Accepted so that Docker command lines work as typed: lab build
				// containers never have a network, and are always removed.
				fs.String("network", "default", "Accepted for compatibility (build containers have no network)")
				fs.Bool("rm", true, "Accepted for compatibility (intermediate containers are always removed)")
				fs.Bool("force-rm", false, "Accepted for compatibility (intermediate containers are always removed)")
				fs.BoolVar(&f.pull, "pull", false, "Always attempt to pull a newer version of the image")
				return f
			},
			run: cmdBuild},
		"builder": {usage: "prune [OPTIONS]", short: "Manage the build cache (prune: remove it)", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &builderPruneFlags{}
				fs.BoolVarP(&f.force, "force", "f", false, "Do not prompt for confirmation")
				fs.BoolVarP(&f.all, "all", "a", false, "Remove all unused build cache (the only kind lab keeps)")
				return f
			},
			run: cmdBuilder},
	}
}

type builderPruneFlags struct{ force, all bool }

// cmdBuilder is `lab builder prune`: the cache records go, and with them the
// intermediate images that no tagged or untagged image in the index uses.
func cmdBuilder(ctx context.Context, a *app, args []string) error {
	if len(args) != 1 || args[0] != "prune" {
		return &statusError{code: 125, msg: "lab builder: the only subcommand is prune\nUsage:  lab builder prune [-f]"}
	}
	f := a.opts.(*builderPruneFlags)
	if !f.force {
		fmt.Fprint(a.stdout, "WARNING! This will remove all build cache. Are you sure you want to continue? [y/N] ")
		answer, _ := bufio.NewReader(a.stdin).ReadString('\n')
		if a := strings.ToLower(strings.TrimSpace(answer)); a != "y" && a != "yes" {
			return nil
		}
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	// A build running now may be using what it just wrote; a minute spares it.
	r, err := build.Prune(e, time.Minute)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "Deleted %d build cache records, %d blobs, %d unpacked layers\nTotal reclaimed space: %s\n", r.Records, r.Blobs, r.Layers, humanSize(r.Reclaimed))
	return nil
}

func cmdBuild(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 1, 1); err != nil {
		return err
	}
	f := a.opts.(*buildFlags)
	o := build.Options{Tags: f.tags, Target: f.target, NoCache: f.noCache, BuildArgs: map[string]string{}}
	for _, kv := range f.buildArgs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			// Docker: a bare KEY takes its value from the environment, if set there.
			if v, ok = os.LookupEnv(k); !ok {
				continue
			}
		}
		o.BuildArgs[k] = v
	}
	if args[0] == "-" {
		if f.file != "" && f.file != "-" {
			return &statusError{code: 125, msg: "lab build: -f cannot be used when the Dockerfile comes from stdin (PATH is -)"}
		}
		text, err := io.ReadAll(a.stdin)
		if err != nil {
			return err
		}
		o.DockerfileText = text
	} else {
		o.Context = args[0]
		switch {
		case f.file == "-":
			text, err := io.ReadAll(a.stdin)
			if err != nil {
				return err
			}
			o.DockerfileText = text
		case f.file != "":
			o.Dockerfile = f.file
			// Docker reads -f relative to the working directory; a path that is only
			// found inside the context is taken from there too.
			if _, err := os.Stat(f.file); errors.Is(err, fs.ErrNotExist) && !filepath.IsAbs(f.file) {
				if p := filepath.Join(o.Context, f.file); exists(p) {
					o.Dockerfile = p
				}
			}
		}
	}
	if !f.quiet {
		o.Output = a.stdout
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	o.BaseImage = func(ref string) (*image.Image, error) {
		policy := engine.PullMissing
		if f.pull {
			policy = engine.PullAlways
		}
		out := io.Writer(io.Discard)
		if o.Output != nil {
			out = o.Output
		}
		ro := registryOptions(nil)
		return e.EnsureImage(ctx, ref, policy, ro, func(r reference.Ref, ro *registry.Options) {
			ro.Progress = newProgress(out).event
		}, func(res *registry.PullResult) {
			fmt.Fprintf(out, "Digest: %s\nStatus: Downloaded newer image for %s\n", res.Digest, res.Ref)
		})
	}
	// Ctrl-C stops the step's container and ends the build cleanly: no intermediate
	// container or image is left behind.
	ctx, stop := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stop()
	res, err := build.Build(ctx, e, o)
	if ctx.Err() != nil && err != nil {
		return &statusError{code: 130, msg: "lab build: interrupted"}
	}
	if err != nil {
		var re *build.RunError
		if errors.As(err, &re) {
			if f.quiet {
				// Docker -q hides the failing command's output too; it is what
				// explains the failure, so lab shows it.
				fmt.Fprint(a.stderr, re.Output)
			}
			// Like Docker: the build exits with the command's status.
			return &statusError{code: re.Code, msg: re.Error()}
		}
		return &statusError{code: 1, msg: err.Error()}
	}
	if f.quiet {
		fmt.Fprintln(a.stdout, res.Image.ID)
	}
	return nil
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}
