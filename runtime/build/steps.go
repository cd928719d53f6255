package build

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"sync"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/archive"
	"lab/runtime/engine"
	"lab/runtime/image"
)

// run executes a RUN step: a container of the stage's image runs the command, and what
// it changed becomes the step's layer. A command that changes nothing adds no layer.
func (b *builder) run(ctx context.Context, st *state, c *instructions.RunCommand, rep *Step) error {
	argv := b.command(st, c.ShellDependantCmdLine)
	if len(argv) == 0 {
		return errors.New("RUN requires at least one argument")
	}
	// Build arguments reach the command's environment (unless ENV sets the same name)
	// and, as in the classic builder, its history line and cache key.
	var args []string
	for _, kv := range argList(st.args) {
		k, _, _ := strings.Cut(kv, "=")
		if !hasEnv(st.img.Config.Config.Env, k) {
			args = setEnv(args, kv)
		}
	}
	cmdline := strings.Join(argv, " ")
	createdBy := cmdline
	if len(args) > 0 {
		createdBy = fmt.Sprintf("|%d %s %s", len(args), strings.Join(args, " "), cmdline)
	}
	key := "RUN " + jsonList(argv) + " " + jsonList(args)
	return b.commit(st, key, rep, change{createdBy: createdBy, apply: func(*ocispec.Image) (*image.Layer, error) {
		co := engine.CreateOptions{Image: st.img.ID.String(), Cmd: argv, Entrypoint: &[]string{}, Env: args}
		if err := b.publishParent(st, false); err != nil {
			return nil, err
		}
		ctr, err := b.eng.Create(ctx, co)
		if errors.Is(err, image.ErrNotFound) {
			// A concurrent build that had published the same image has just forgotten
			// it again: publish it for this build too.
			if err := b.publishParent(st, true); err != nil {
				return nil, err
			}
			ctr, err = b.eng.Create(ctx, co)
		}
		if err != nil {
			return nil, err
		}
		id, short := ctr.ID, ctr.ShortID()
		rep.Container = id
		// The container goes whatever happens: intermediate containers never outlive
		// their step (Docker's --rm, on by default; --force-rm for failures).
		defer b.eng.Remove(id, true)
		fmt.Fprintf(b.out, " ---> Running in %s\n", short)
		tail := &tailBuffer{max: maxOutput}
		w := io.MultiWriter(b.out, tail)
		sync := &lockedWriter{w: w}
		ctr, err = b.eng.Start(ctx, id, engine.StartOptions{IO: engine.IO{Stdout: sync, Stderr: sync}})
		rep.Output = tail.String()
		if err != nil {
			var ee *engine.ExitError
			if errors.As(err, &ee) && ctx.Err() == nil {
				// The command could not be started (not found, not executable): Docker
				// reports it with the code it maps to.
				fmt.Fprintln(b.out, ee.Error())
				rep.Output = tail.String() + ee.Error() + "\n"
				return nil, &RunError{Line: line(c.Location()), Command: cmdline, Code: ee.Code, Output: rep.Output}
			}
			return nil, err
		}
		if code := ctr.State.ExitCode; code != 0 {
			return nil, &RunError{Line: line(c.Location()), Command: cmdline, Code: code, Output: rep.Output}
		}
		upper := b.eng.Containers.UpperDir(id)
		var layer *image.Layer
		if !emptyDir(upper) {
			pr, pw := io.Pipe()
			go func() {
				pw.CloseWithError(archive.WriteLayerWith(ctx, pw, upper, archive.TreeOptions{ClampTime: engine.SourceDateEpoch()}))
			}()
			l, err := b.eng.Images.ImportLayer(ctx, pr)
			pr.CloseWithError(err)
			if err != nil {
				return nil, fmt.Errorf("commit %s: %w", short, err)
			}
			layer = &l
		}
		fmt.Fprintf(b.out, "Removing intermediate container %s\n", short)
		return layer, nil
	}})
}

func hasEnv(env []string, k string) bool {
	for _, e := range env {
		if ek, _, _ := strings.Cut(e, "="); ek == k {
			return true
		}
	}
	return false
}

func emptyDir(p string) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	return err == io.EOF && len(names) == 0
}

// copy executes COPY or ADD: it lists what to write, checksums it for the cache key and
// writes it as a layer with no container involved.
func (b *builder) copy(ctx context.Context, st *state, c instructions.Command, rep *Step, s copySpec, chown, chmod string) error {
	instr := instrName(s.add)
	t, err := b.tree(ctx, st)
	if err != nil {
		return err
	}
	s.workdir = st.img.Config.Config.WorkingDir
	var flags []string
	if chown != "" {
		own, err := b.owner(t, chown)
		if err != nil {
			return err
		}
		s.own = own
		flags = append(flags, "--chown="+chown)
	}
	if chmod != "" {
		m, err := strconv.ParseUint(chmod, 8, 32)
		if err != nil || m > 0o7777 {
			return fmt.Errorf("invalid --chmod=%s: lab takes an octal mode", chmod)
		}
		mode := int64(m)
		s.chmod = &mode
		flags = append(flags, "--chmod="+chmod)
	}
	var src tree = b.ctx
	fromContext := true
	if i, ok := b.froms[c]; ok {
		fromContext = false
		if src, err = b.fromTree(ctx, c, i); err != nil {
			return err
		}
		flags = append(flags, "--from="+c.(*instructions.CopyCommand).From)
	}
	entries, err := plan(src, t, s, fromContext)
	if err != nil {
		return fmt.Errorf("%s failed: %w", instr, err)
	}
	sum, err := checksum(entries)
	if err != nil {
		return fmt.Errorf("%s failed: %w", instr, err)
	}
	kind := "multi"
	if len(s.srcs) == 1 {
		kind = "file"
		if len(entries) != 1 || entries[0].typ == tar.TypeDir {
			kind = "dir"
		}
	}
	flag := ""
	if len(flags) > 0 {
		flag = strings.Join(flags, " ") + " "
	}
	createdBy := fmt.Sprintf("/bin/sh -c #(nop) %s %s%s:%s in %s ", instr, flag, kind, sum, s.dest)
	key := fmt.Sprintf("%s %s", instr, sum)
	return b.commit(st, key, rep, change{createdBy: createdBy, apply: func(*ocispec.Image) (*image.Layer, error) {
		if len(entries) == 0 {
			return nil, nil
		}
		return b.importLayer(ctx, t, entries, s.own)
	}})
}

// fromTree is the filesystem COPY --from reads: a finished stage's or an image's.
func (b *builder) fromTree(ctx context.Context, c instructions.Command, stage int) (tree, error) {
	var img *image.Image
	if stage >= 0 {
		img = b.results[stage].img
	} else {
		img = b.fromImgs[c]
	}
	dirs, err := b.eng.Images.LayerDirs(ctx, img)
	if err != nil {
		return nil, err
	}
	return newLayerTree(dirs), nil
}

// owner resolves --chown=USER[:GROUP] against the image's own /etc/passwd and
// /etc/group. Without a group the gid is the uid, as Docker documents it.
func (b *builder) owner(t tree, spec string) (*owner, error) {
	u, g, hasGroup := strings.Cut(spec, ":")
	uid, err := lookupID(t, "/etc/passwd", u, "user")
	if err != nil {
		return nil, err
	}
	gid := uid
	if hasGroup {
		if gid, err = lookupID(t, "/etc/group", g, "group"); err != nil {
			return nil, err
		}
	}
	return &owner{uid: uid, gid: gid}, nil
}

func lookupID(t tree, file, name, what string) (int, error) {
	if n, err := strconv.Atoi(name); err == nil && n >= 0 {
		return n, nil
	}
	if name == "" {
		return 0, fmt.Errorf("invalid --chown: empty %s", what)
	}
	_, n, err := resolve(t, file, true)
	if err != nil || n == nil || n.host == "" {
		return 0, fmt.Errorf("unable to find %s %s: no %s file", what, name, file)
	}
	data, err := os.ReadFile(n.host)
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		f := strings.Split(l, ":")
		if len(f) > 2 && f[0] == name {
			id, err := strconv.Atoi(f[2])
			if err != nil {
				return 0, fmt.Errorf("unable to find %s %s: bad entry in %s", what, name, file)
			}
			return id, nil
		}
	}
	return 0, fmt.Errorf("unable to find %s %s: no matching entries in %s file", what, name, strings.TrimPrefix(file, "/etc/"))
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.b) }

// lockedWriter serialises the container's two output streams into one.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
