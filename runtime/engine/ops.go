package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"

	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/archive"
	"lab/runtime/cgroup"
	"lab/runtime/container"
	"lab/runtime/image"
	"lab/runtime/lineage"
	"lab/runtime/logging"
	"lab/runtime/proc"
	"lab/runtime/reference"
)

// CommitOptions are `docker commit` options.
type CommitOptions struct {
	Ref     string   // REPO[:TAG]; empty leaves the image untagged
	Message string   // -m
	Author  string   // -a
	Changes []string // -c: Dockerfile instructions applied to the config
	// NoPause leaves a running container running while its layer is read
	// (--pause=false). By default it is frozen, as Docker does, so that the layer is
	// one consistent state of the tree.
	NoPause bool
}

// Commit turns the container's writable layer into a new image on top of its image.
// The cost is proportional to what the container changed, not to the image.
func (e *Engine) Commit(ctx context.Context, ref string, o CommitOptions) (*image.Image, error) {
	var target *reference.Ref
	if o.Ref != "" {
		r, err := reference.ParseTagged(o.Ref)
		if err != nil {
			return nil, err
		}
		target = &r
	}
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, err
	}
	parent, err := e.Images.Get(c.Image)
	if err != nil {
		return nil, fmt.Errorf("image of container %s: %w", c.ShortID(), err)
	}
	cfg := parent.Config
	cfg.History = append([]ocispec.History{}, parent.Config.History...)
	cfg.Config.Env = append([]string{}, c.Config.Env...)
	cfg.Config.Cmd = c.Config.Cmd
	cfg.Config.Entrypoint = c.Config.Entrypoint
	cfg.Config.WorkingDir = c.Config.WorkingDir
	cfg.Config.User = c.Config.User
	if err := ApplyChanges(&cfg.Config, o.Changes); err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	epoch := SourceDateEpoch()
	if epoch != nil {
		now = *epoch
	}
	cfg.Created = &now
	cfg.Author = o.Author
	cfg.History = append(cfg.History, ocispec.History{Created: &now, CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " "), Author: o.Author, Comment: o.Message})
	upper, err := e.upperDir(c)
	if err != nil {
		return nil, err
	}
	if !o.NoPause {
		thaw, err := e.pause(c)
		if err != nil {
			return nil, fmt.Errorf("commit %s: %w", c.ShortID(), err)
		}
		defer thaw()
	}
	pr, pw := io.Pipe()
	go func() {
		pw.CloseWithError(archive.WriteLayerWith(ctx, pw, upper, archive.TreeOptions{ClampTime: epoch}))
	}()
	layer, err := e.Images.ImportLayer(ctx, pr)
	pr.CloseWithError(err)
	if err != nil {
		return nil, fmt.Errorf("commit %s: %w", c.ShortID(), err)
	}
	layers := make([]image.Layer, 0, len(parent.Layers)+1)
	for i, l := range parent.Layers {
		layers = append(layers, image.Layer{Desc: l, DiffID: parent.Config.RootFS.DiffIDs[i]})
	}
	img, err := e.Images.Create(cfg, append(layers, layer), target)
	if err == nil {
		// Where the image came from, for lab tree and lab.lineage; the image stands
		// without it, so a failure to record it is not the commit's.
		e.Lineage.Put(lineage.Record{Image: img.ID, Parent: parent.ID, Container: c.ID, ContainerName: c.Name, Created: now})
	}
	return img, err
}

// pause freezes a running container's processes until the returned function is
// called; for a container that is not running it does nothing. A host with no
// freezer cgroup at all commits without pausing: the layer is read safely either
// way (see archive), only not as one instant of the tree.
func (e *Engine) pause(c *container.Container) (func(), error) {
	nothing := func() {}
	if !e.Containers.IsRunning(c.ID) {
		return nothing, nil
	}
	cur, err := e.Containers.Get(c.ID)
	if err != nil || cur.State.Pid <= 0 {
		return nothing, nil
	}
	pid := cur.State.Pid
	if _, err := proc.Members(pid); err != nil {
		return nothing, nil // it has just exited
	}
	thaw, err := cgroup.Freeze(c.ID, func() ([]int, error) { return proc.Members(pid) })
	if errors.Is(err, cgroup.ErrUnsupported) {
		return nothing, nil
	}
	if err != nil {
		return nil, fmt.Errorf("pause: %w (commit with --pause=false to skip the pause)", err)
	}
	return func() { thaw() }, nil
}

// ApplyChanges applies `docker commit -c` / `docker import -c` instructions.
func ApplyChanges(c *ocispec.ImageConfig, changes []string) error {
	for _, ch := range changes {
		ch = strings.TrimSpace(ch)
		instr, arg, _ := strings.Cut(ch, " ")
		arg = strings.TrimSpace(arg)
		switch strings.ToUpper(instr) {
		case "CMD":
			c.Cmd = parseCommand(arg)
		case "ENTRYPOINT":
			c.Entrypoint = parseCommand(arg)
		case "ENV":
			for _, kv := range splitKV(arg) {
				c.Env = setEnv(append([]string{}, c.Env...), kv)
			}
		case "WORKDIR":
			c.WorkingDir = arg
		case "USER":
			c.User = arg
		case "LABEL":
			if c.Labels == nil {
				c.Labels = map[string]string{}
			}
			for _, kv := range splitKV(arg) {
				k, v, _ := strings.Cut(kv, "=")
				c.Labels[k] = v
			}
		case "EXPOSE":
			if c.ExposedPorts == nil {
				c.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range strings.Fields(arg) {
				if !strings.Contains(p, "/") {
					p += "/tcp"
				}
				c.ExposedPorts[p] = struct{}{}
			}
		case "STOPSIGNAL":
			c.StopSignal = arg
		default:
			return fmt.Errorf("%s is not a valid change command", instr)
		}
	}
	return nil
}

// parseCommand reads the JSON (exec) form or falls back to the shell form.
func parseCommand(arg string) []string {
	if strings.HasPrefix(arg, "[") {
		var out []string
		if err := jsonUnmarshal(arg, &out); err == nil {
			return out
		}
	}
	return []string{"/bin/sh", "-c", arg}
}

// splitKV splits "A=1 B='x y'" or the legacy "A 1" form into "K=V" items.
func splitKV(arg string) []string {
	if !strings.Contains(arg, "=") {
		k, v, _ := strings.Cut(arg, " ")
		return []string{k + "=" + strings.TrimSpace(v)}
	}
	var out []string
	var cur strings.Builder
	quote := rune(0)
	for _, r := range arg {
		switch {
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
		case quote == 0 && r == ' ':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteRune(r)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

// Diff lists what the container changed relative to its image, like `docker diff`.
func (e *Engine) Diff(ref string) ([]archive.Change, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, err
	}
	upper, err := e.upperDir(c)
	if err != nil {
		return nil, err
	}
	lowers, err := e.imageLayers(c)
	if err != nil {
		return nil, err
	}
	return archive.Changes(upper, lowers)
}

// ErrNoDiskLayer is returned for a container made with --rm (AutoRemove): its writable
// layer lives on a tmpfs inside it (proc.Spec.Scratch), so lab cannot read it from the
// host.
var ErrNoDiskLayer = errors.New("its filesystem lives only inside it (--rm), not on disk")

// upperDir is the container's writable layer on disk.
func (e *Engine) upperDir(c *container.Container) (string, error) {
	if c.Config.AutoRemove {
		return "", fmt.Errorf("container %s: %w", c.ShortID(), ErrNoDiskLayer)
	}
	return e.Containers.UpperDir(c.ID), nil
}

func (e *Engine) imageLayers(c *container.Container) ([]string, error) {
	img, err := e.Images.Get(c.Image)
	if err != nil {
		return nil, fmt.Errorf("image of container %s: %w", c.ShortID(), err)
	}
	return e.Images.LayerDirs(context.Background(), img)
}

// layerStack is the container's filesystem as a list of dirs, topmost first.
func (e *Engine) layerStack(c *container.Container) ([]string, error) {
	upper, err := e.upperDir(c)
	if err != nil {
		return nil, err
	}
	lowers, err := e.imageLayers(c)
	if err != nil {
		return nil, err
	}
	return append([]string{upper}, lowers...), nil
}

// Export writes the container's filesystem as one flat tar, like `docker export`.
func (e *Engine) Export(ctx context.Context, ref string, w io.Writer) error {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return err
	}
	stack, err := e.layerStack(c)
	if err != nil {
		return err
	}
	return archive.WriteMerged(ctx, w, stack)
}

// ReadFile reads a file from a container's filesystem (running or not) without
// mounting anything. The path is resolved inside the container's view, relative to
// open directories, so a running container that swaps a directory for a symlink
// cannot make lab read a host file.
func (e *Engine) ReadFile(ref, path string) ([]byte, error) {
	c, err := e.Containers.Get(ref)
	if err != nil {
		return nil, err
	}
	stack, err := e.layerStack(c)
	if err != nil {
		return nil, err
	}
	return archive.ReadFile(stack, path)
}

// ReadImageFile reads a file from an image's filesystem.
func (e *Engine) ReadImageFile(ref, path string) ([]byte, error) {
	img, err := e.Images.Get(ref)
	if err != nil {
		return nil, err
	}
	dirs, err := e.Images.LayerDirs(context.Background(), img)
	if err != nil {
		return nil, err
	}
	return archive.ReadFile(dirs, path)
}

// Remove deletes a container. A running one needs force, which kills it first; if
// its end removes it meanwhile (--rm), that is the removal asked for.
func (e *Engine) Remove(ref string, force bool) (*container.Container, error) {
	c, err := e.Containers.Get(ref)
	if errors.Is(err, container.ErrCorrupt) {
		// Its record is unreadable but its name is taken: removal needs only its ID.
		id, name, rerr := e.Containers.Resolve(ref)
		if rerr != nil {
			return nil, err
		}
		c, err = &container.Container{ID: id, Name: name}, nil
	}
	if err != nil {
		return nil, err
	}
	// Remove holds the run lock, so that no lab process can start the container while
	// its directory goes away under it.
	t0 := time.Now()
	unlock, err := e.lockStopped(c, force)
	if errors.Is(err, container.ErrNotFound) && force {
		logging.L().Debug("rm: removed by its own end meanwhile", "container", c.ShortID(), logging.Since(t0))
		return c, nil
	}
	if err != nil {
		return nil, err
	}
	defer unlock()
	if cur, err := e.Containers.Get(c.ID); err == nil {
		c = cur // its last state, for anyone waiting on it
	}
	if err := removeCgroups(c.ID); err != nil {
		return nil, err
	}
	err = e.Containers.Remove(c)
	logging.L().Debug("rm", "container", c.ShortID(), logging.Since(t0))
	return c, err
}

// lockStopped takes the run lock of c; with force it first kills a running c and waits
// for the lab process running it to record the exit and let go.
func (e *Engine) lockStopped(c *container.Container, force bool) (func(), error) {
	for i := 0; i < 1000; i++ {
		unlock, err := e.Containers.Lock(c.ID)
		if err == nil {
			return unlock, nil
		}
		if !errors.Is(err, container.ErrRunning) {
			return nil, err
		}
		// A lock that IsRunning does not confirm is a copy held for an instant by a
		// child being forked elsewhere in this process: just try again.
		if e.Containers.IsRunning(c.ID) {
			if !force {
				return nil, fmt.Errorf("cannot remove container %q: container is running: stop the container before removing or force remove", c.Name)
			}
			if cur, err := e.Containers.Get(c.ID); err == nil && cur.State.Pid > 0 && i%50 == 0 {
				syscall.Kill(cur.State.Pid, syscall.SIGKILL)
				cgroup.Thaw(c.ID)
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	return nil, fmt.Errorf("cannot remove container %q: it did not stop", c.Name)
}

// Tag points target at the image named by source.
func (e *Engine) Tag(source, target string) error {
	img, err := e.Images.Get(source)
	if err != nil {
		return err
	}
	r, err := reference.ParseTagged(target)
	if err != nil {
		return err
	}
	return e.Images.Tag(img, r)
}

// RemoveImage is `docker rmi`: it untags ref and deletes the image once it has no tag
// left and no container uses it. It returns Docker's "Untagged: ..." / "Deleted: ..."
// lines.
func (e *Engine) RemoveImage(ref string, force bool) ([]string, error) {
	img, err := e.Images.Get(ref)
	if err != nil && !errors.Is(err, image.ErrNotFound) {
		// A damaged image (its manifest or config gone) can still be removed by tag.
		if r, perr := reference.Parse(ref); perr == nil {
			if tags, derr := e.Images.RemoveDamaged(r); derr == nil {
				var out []string
				for _, t := range tags {
					out = append(out, "Untagged: "+t)
				}
				return out, nil
			}
		}
	}
	if err != nil {
		return nil, err
	}
	users, err := e.containersUsing(img)
	if err != nil {
		return nil, err
	}
	var out []string
	byTag := false
	if r, perr := reference.Parse(ref); perr == nil {
		for _, t := range img.Tags {
			if t == r.String() {
				byTag = true
			}
		}
		if byTag {
			if len(img.Tags) == 1 && len(users) > 0 && !force {
				return nil, fmt.Errorf("conflict: unable to remove repository reference %q (must force) - container %s is using its referenced image %s", ref, users[0].ShortID(), short(img))
			}
			if _, err := e.Images.Untag(r); err != nil {
				return nil, err
			}
			out = append(out, "Untagged: "+r.String())
			if len(img.Tags) > 1 {
				return out, nil
			}
		}
	}
	if !byTag {
		if len(img.Tags) > 1 && !force {
			return nil, fmt.Errorf("conflict: unable to delete %s (must be forced) - image is referenced in multiple repositories", short(img))
		}
		if len(users) > 0 {
			return nil, fmt.Errorf("conflict: unable to delete %s (cannot be forced) - image is being used by container %s", short(img), users[0].ShortID())
		}
		for _, t := range img.Tags {
			r, _ := reference.Parse(t)
			if _, err := e.Images.Untag(r); err != nil && !errors.Is(err, image.ErrNotFound) {
				return out, err
			}
			out = append(out, "Untagged: "+t)
		}
	}
	if len(users) > 0 {
		return out, nil // kept, untagged, for the containers that use it
	}
	if err := e.Images.Delete(img); err != nil {
		return out, err
	}
	e.Lineage.Remove(img.ID) // after the image: a crash between leaves only a stale record
	return append(out, "Deleted: "+img.ID.String()), nil
}

func short(img *image.Image) string { return img.ID.Encoded()[:12] }

func (e *Engine) containersUsing(img *image.Image) ([]*container.Container, error) {
	cs, err := e.Containers.List()
	if err != nil {
		return nil, err
	}
	var out []*container.Container
	for _, c := range cs {
		if c.Image == img.ID.String() {
			out = append(out, c)
		}
	}
	return out, nil
}

// Import makes a one-layer image from a rootfs tar (plain or gzip), like `docker import`.
func (e *Engine) Import(ctx context.Context, r io.Reader, ref, message string, changes []string) (*image.Image, error) {
	var target *reference.Ref
	if ref != "" {
		t, err := reference.ParseTagged(ref)
		if err != nil {
			return nil, err
		}
		target = &t
	}
	plain, done, err := image.Decompress(r)
	if err != nil {
		return nil, fmt.Errorf("import: %w", err)
	}
	defer done()
	layer, err := e.Images.ImportLayer(ctx, plain)
	if err != nil {
		return nil, err
	}
	now := time.Now().UTC()
	cfg := ocispec.Image{Created: &now, Platform: ocispec.Platform{Architecture: hostArch(), OS: "linux"}}
	if err := ApplyChanges(&cfg.Config, changes); err != nil {
		return nil, err
	}
	if message == "" {
		message = "Imported from -"
	}
	cfg.History = []ocispec.History{{Created: &now, Comment: message}}
	return e.Images.Create(cfg, []image.Layer{layer}, target)
}

// Bootstrap builds a base image from the host (only "busybox" for now).
func (e *Engine) Bootstrap(ctx context.Context, name string) (*image.Image, error) {
	return e.Images.Bootstrap(ctx, name)
}
