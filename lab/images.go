package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"

	"lab/lab/table"
	"lab/runtime/engine"
	"lab/runtime/image"
	"lab/runtime/reference"
)

type imagesFlags struct {
	all, quiet, noTrunc, digests bool
	format                       string
	filters                      []string
}

type commitFlags struct {
	message, author string
	changes         []string
	pause           bool
}

type importFlags struct {
	message string
	changes []string
}

func imageCommands() map[string]*command {
	return map[string]*command{
		"images": {usage: "[OPTIONS] [REPOSITORY[:TAG]]", short: "List images", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &imagesFlags{}
				fs.BoolVarP(&f.all, "all", "a", false, "Show all images (default hides intermediate images)")
				fs.BoolVarP(&f.quiet, "quiet", "q", false, "Only show image IDs")
				fs.BoolVar(&f.noTrunc, "no-trunc", false, "Don't truncate output")
				fs.BoolVar(&f.digests, "digests", false, "Show digests")
				fs.StringVar(&f.format, "format", "", formatUsage)
				fs.VarP(filterFlag{&f.filters}, "filter", "f", "Filter output based on conditions provided")
				return f
			},
			run: cmdImages},
		"commit": {usage: "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", short: "Create a new image from a container's changes", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &commitFlags{}
				fs.StringVarP(&f.message, "message", "m", "", "Commit message")
				fs.StringVarP(&f.author, "author", "a", "", "Author (e.g., \"John Hannibal Smith <hannibal@a-team.com>\")")
				fs.StringArrayVarP(&f.changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
				fs.BoolVarP(&f.pause, "pause", "p", true, "Pause container during commit")
				return f
			},
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, 2); err != nil {
					return err
				}
				f := a.opts.(*commitFlags)
				e, err := a.engine()
				if err != nil {
					return err
				}
				ref := ""
				if len(args) == 2 {
					ref = args[1]
				}
				img, err := e.Commit(ctx, args[0], commitOptions(ref, f))
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, img.ID)
				return nil
			}},
		"rmi": {usage: "[OPTIONS] IMAGE [IMAGE...]", short: "Remove one or more images", interspersed: true,
			flags: func(fs *pflag.FlagSet) any { return fs.BoolP("force", "f", false, "Force removal of the image") },
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, -1); err != nil {
					return err
				}
				e, err := a.engine()
				if err != nil {
					return err
				}
				var failed error
				for _, ref := range args {
					lines, err := e.RemoveImage(ref, *a.opts.(*bool))
					for _, l := range lines {
						fmt.Fprintln(a.stdout, l)
					}
					if err != nil {
						fmt.Fprintf(a.stderr, "lab rmi: %v\n", err)
						// Docker: with -f a missing image is reported but not a failure.
						if !*a.opts.(*bool) || !errors.Is(err, image.ErrNotFound) {
							failed = &statusError{code: 1}
						}
					}
				}
				return failed
			}},
		"tag": {usage: "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", short: "Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE", interspersed: true,
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 2, 2); err != nil {
					return err
				}
				e, err := a.engine()
				if err != nil {
					return err
				}
				return e.Tag(args[0], args[1])
			}},
		"history": {usage: "[OPTIONS] IMAGE", short: "Show the history of an image", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &imagesFlags{}
				fs.BoolVarP(&f.quiet, "quiet", "q", false, "Only show image IDs")
				fs.BoolVar(&f.noTrunc, "no-trunc", false, "Don't truncate output")
				fs.StringVar(&f.format, "format", "", formatUsage)
				return f
			},
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, 1); err != nil {
					return err
				}
				f := a.opts.(*imagesFlags)
				e, err := a.engine()
				if err != nil {
					return err
				}
				hs, err := e.History(args[0])
				if err != nil {
					return err
				}
				if f.format != "" && f.format != "table" {
					return writeHistory(a, f, hs)
				}
				var rows []table.History
				for _, h := range hs {
					id := h.ID
					if id != "<missing>" && !f.noTrunc {
						id = strings.TrimPrefix(id, "sha256:")[:12]
					}
					if f.quiet {
						fmt.Fprintln(a.stdout, id)
						continue
					}
					rows = append(rows, table.History{ID: id, Created: h.Created, CreatedBy: h.CreatedBy, Size: h.Size, Comment: h.Comment})
				}
				if f.quiet {
					return nil
				}
				return table.HistoryTable(a.stdout, rows, f.noTrunc, time.Now())
			}},
		"import": {usage: "[OPTIONS] file|- [REPOSITORY[:TAG]]", short: "Import the contents from a tarball to create a filesystem image", interspersed: true,
			flags: func(fs *pflag.FlagSet) any {
				f := &importFlags{}
				fs.StringVarP(&f.message, "message", "m", "", "Set commit message for imported image")
				fs.StringArrayVarP(&f.changes, "change", "c", nil, "Apply Dockerfile instruction to the created image")
				return f
			},
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, 2); err != nil {
					return err
				}
				f := a.opts.(*importFlags)
				e, err := a.engine()
				if err != nil {
					return err
				}
				var r io.Reader = a.stdin
				switch {
				case strings.HasPrefix(args[0], "http://") || strings.HasPrefix(args[0], "https://"):
					// docker import URL: the tarball is fetched, not opened.
					req, err := http.NewRequestWithContext(ctx, http.MethodGet, args[0], nil)
					if err != nil {
						return &statusError{code: 1, msg: fmt.Sprintf("lab import: %v", err)}
					}
					resp, err := http.DefaultClient.Do(req)
					if err != nil {
						return &statusError{code: 1, msg: fmt.Sprintf("lab import: %v", err)}
					}
					defer resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						return &statusError{code: 1, msg: fmt.Sprintf("lab import: %s: %s", args[0], resp.Status)}
					}
					r = resp.Body
				case args[0] != "-":
					file, err := os.Open(args[0])
					if err != nil {
						return err
					}
					defer file.Close()
					r = file
				}
				ref := ""
				if len(args) == 2 {
					ref = args[1]
				}
				img, err := e.Import(ctx, r, ref, f.message, f.changes)
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, img.ID)
				return nil
			}},
		"bootstrap": {usage: "busybox", short: "Build a base image from the host (busybox:latest from busybox-static)", interspersed: true,
			run: func(ctx context.Context, a *app, args []string) error {
				if err := needArgs(a, args, 1, 1); err != nil {
					return err
				}
				e, err := a.engine()
				if err != nil {
					return err
				}
				img, err := e.Bootstrap(ctx, args[0])
				if err != nil {
					return err
				}
				fmt.Fprintln(a.stdout, img.ID)
				return nil
			}},
	}
}

func commitOptions(ref string, f *commitFlags) engineCommit {
	return engineCommit{Ref: ref, Message: f.message, Author: f.author, Changes: f.changes, NoPause: !f.pause}
}

func cmdImages(ctx context.Context, a *app, args []string) error {
	if err := needArgs(a, args, 0, 1); err != nil {
		return err
	}
	f := a.opts.(*imagesFlags)
	e, err := a.engine()
	if err != nil {
		return err
	}
	imgs, damaged, err := e.Images.ListDamaged()
	if err != nil {
		return err
	}
	for _, d := range damaged {
		fmt.Fprintf(a.stderr, "WARNING: %s (lab fsck --repair removes it)\n", d)
	}
	var filter *reference.Ref
	if len(args) == 1 {
		r, err := reference.Parse(args[0])
		if err != nil {
			return err
		}
		filter = &r
	}
	rows := table.FromImages(imgs)
	if filter != nil {
		var kept []table.Image
		for _, r := range rows {
			if r.Repository == filter.Repository() && (!strings.Contains(args[0], ":") || r.Tag == filter.Tag) {
				kept = append(kept, r)
			}
		}
		rows = kept
	}
	fl, err := parseFilters(f.filters, "dangling", "reference", "label", "before", "since")
	if err != nil {
		return err
	}
	if rows, err = filterImages(e, rows, fl); err != nil {
		return err
	}
	return writeImages(a, f, rows)
}

type engineCommit = engine.CommitOptions

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func humanSize(n int64) string { return units.HumanSizeWithPrecision(float64(n), 3) }
