package build

import (
	"archive/tar"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/moby/buildkit/frontend/dockerfile/instructions"
	"github.com/moby/buildkit/frontend/dockerfile/shell"
	"github.com/moby/patternmatcher"
	"github.com/moby/patternmatcher/ignorefile"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"lab/runtime/engine"
	"lab/runtime/image"
	"lab/runtime/lineage"
	"lab/runtime/reference"
)

// Options describe one build, as `docker build` takes them.
type Options struct {
	// Context is the build context directory. Empty means no context: COPY and ADD
	// then have nothing to copy from (a Dockerfile read from stdin, `build -`).
	Context string
	// Dockerfile is the Dockerfile's path; empty means Context/Dockerfile.
	Dockerfile string
	// DockerfileText, when not nil, is the Dockerfile itself and Dockerfile only names
	// it in messages.
	DockerfileText []byte
	Tags           []string          // -t NAME[:TAG], each given to the final image
	BuildArgs      map[string]string // --build-arg KEY=VALUE
	Target         string            // --target: the stage to build (default: the last)
	NoCache        bool              // --no-cache
	// Output receives what the classic builder prints: the steps, their results and
	// what RUN commands write. Nil discards it (-q).
	Output io.Writer
	// BaseImage finds the image a FROM names; nil looks in the store only. The CLI
	// sets it to pull a missing image first, as Docker's builder does (--pull).
	BaseImage func(ref string) (*image.Image, error)
}

// Step reports one Dockerfile instruction of a build.
type Step struct {
	Number      int    // N in "Step N/M"
	Line        int    // where the instruction starts in the Dockerfile
	Instruction string // as written (continuations joined)
	Stage       int    // index of its stage; -1 for ARGs before the first FROM
	Cached      bool   // reused from an earlier build (" ---> Using cache")
	Image       string // the image after the step, "sha256:<hex>"; "" for ARGs before FROM
	Layer       bool   // the step added a layer
	Container   string // ID of the container a RUN step ran in (removed since)
	Output      string // what a RUN step's command printed (its tail when long)
	Duration    time.Duration
}

// Result is a finished build.
type Result struct {
	Image *image.Image // the final image, tagged with Options.Tags
	Steps []Step
	// Unused lists --build-arg keys no ARG declared, which Docker warns about.
	Unused []string
}

// Hits counts the steps that came from the cache.
func (r *Result) Hits() int {
	n := 0
	for _, s := range r.Steps {
		if s.Cached {
			n++
		}
	}
	return n
}

const maxOutput = 64 << 10

// builder is one build in progress.
type builder struct {
	eng   *engine.Engine
	opts  Options
	out   io.Writer
	df    *dockerfile
	lex   *shell.Lex
	ctx   tree // the build context
	cache *cache
	now   func() time.Time

	metaArgs []arg       // ARGs before the first FROM, with their values
	bases    []base      // per stage: what its FROM names
	froms    map[any]int // COPY --from: a stage index, or -1 with fromImgs set
	fromImgs map[any]*image.Image
	results  map[int]*state // finished stages
	declared map[string]bool

	indexed   map[digest.Digest]bool         // images in the index: there at the start, or put there
	tagged    map[digest.Digest]*image.Image // the index at the start, with each image's tags
	published []*image.Image                 // intermediate images put in the index for a RUN
	final     digest.Digest                  // the build's result, once there is one

	total int
	steps []Step
}

// base is what a stage's FROM names: another stage, an image, or nothing (scratch).
type base struct {
	name  string
	stage int // -1 unless it names an earlier stage
	img   *image.Image
}

// arg is a declared build argument; value is nil when it has none.
type arg struct {
	key   string
	value *string
}

// state is a stage being built: its current image and what instructions left for the
// ones after them.
type state struct {
	index  int
	img    *image.Image // written to the store, not necessarily in the index
	layers []image.Layer
	args   []arg
	shell  []string
	cmdSet bool
	view   *layerTree
}

// Build runs the Dockerfile's instructions, each on the image the previous one left,
// and returns the final image tagged with o.Tags. A RUN runs in a container that is
// committed as a layer and then removed, COPY and ADD write their layer directly, and
// the other instructions only change the config. Steps done before on the same parent
// are reused unless o.NoCache is set.
func Build(ctx context.Context, eng *engine.Engine, o Options) (*Result, error) {
	now := func() time.Time { return time.Now().UTC() }
	if epoch := engine.SourceDateEpoch(); epoch != nil {
		now = func() time.Time { return *epoch } // reproducible: see engine.SourceDateEpoch
	}
	b := &builder{eng: eng, opts: o, out: o.Output, now: now,
		froms: map[any]int{}, fromImgs: map[any]*image.Image{}, results: map[int]*state{}, declared: map[string]bool{}}
	if b.out == nil {
		b.out = io.Discard
	}
	b.cache = &cache{dir: filepath.Join(eng.Root, "buildcache"), content: eng.Content}
	var tags []reference.Ref
	for _, t := range o.Tags {
		r, err := reference.ParseTagged(t)
		if err != nil {
			return nil, fmt.Errorf("invalid tag %q: %w", t, err)
		}
		tags = append(tags, r)
	}
	if err := b.load(); err != nil {
		return nil, err
	}
	for _, w := range b.df.warnings {
		fmt.Fprintf(b.out, "[WARNING]: %s\n", w)
	}
	imgs, err := eng.Images.List()
	if err != nil {
		return nil, err
	}
	b.indexed = map[digest.Digest]bool{}
	b.tagged = map[digest.Digest]*image.Image{}
	for _, img := range imgs {
		b.indexed[img.ID] = true
		b.tagged[img.ID] = img
	}
	defer b.forget()
	target, order, err := b.prepare()
	if err != nil {
		return nil, err
	}
	for _, m := range b.df.meta {
		b.header(line(m.Location()), m.String(), -1)
		b.record(Step{})
	}
	for _, i := range order {
		if err := b.buildStage(ctx, i); err != nil {
			return &Result{Steps: b.steps}, err
		}
	}
	final := b.results[target]
	var img *image.Image
	if prev := b.tagged[final.img.ID]; prev != nil && hasTags(prev, tags) {
		// An unchanged rebuild: the index already says all this, so nothing is written.
		img = prev
	} else {
		var first *reference.Ref
		if len(tags) > 0 {
			first = &tags[0]
		}
		if img, err = b.publish(final.img, final.layers, first); err != nil {
			return &Result{Steps: b.steps}, err
		}
		for _, t := range tags[min(1, len(tags)):] {
			if err := eng.Images.Tag(img, t); err != nil {
				return &Result{Steps: b.steps}, err
			}
			img.Tags = append(img.Tags, t.String())
		}
	}
	b.final = img.ID
	if base := b.baseImage(target); base != "" && base != img.ID {
		// Where the image came from, for lab tree; the build stands without it.
		eng.Lineage.Put(lineage.Record{Image: img.ID, Parent: base, Created: time.Now().UTC()})
	}
	res := &Result{Image: img, Steps: b.steps}
	for k := range o.BuildArgs {
		if !b.declared[k] {
			res.Unused = append(res.Unused, k)
		}
	}
	sort.Strings(res.Unused)
	if len(res.Unused) > 0 {
		fmt.Fprintf(b.out, "[Warning] One or more build-args %v were not consumed\n", res.Unused)
	}
	fmt.Fprintf(b.out, "Successfully built %s\n", img.ID.Encoded()[:12])
	for _, t := range tags {
		fmt.Fprintf(b.out, "Successfully tagged %s\n", t.String())
	}
	return res, nil
}

// load reads the Dockerfile and the context's .dockerignore.
func (b *builder) load() error {
	o := b.opts
	if o.Context != "" {
		st, err := os.Stat(o.Context)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("unable to prepare context: path %q not found", o.Context)
			}
			return fmt.Errorf("unable to prepare context: %w", err)
		}
		if !st.IsDir() {
			return fmt.Errorf("unable to prepare context: %s is not a directory", o.Context)
		}
	}
	name := o.Dockerfile
	text := o.DockerfileText
	if text == nil {
		p := o.Dockerfile
		if p == "" {
			if o.Context == "" {
				return errors.New("no Dockerfile and no context to find one in")
			}
			p, name = filepath.Join(o.Context, "Dockerfile"), "Dockerfile"
		}
		t, err := os.ReadFile(p)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("cannot locate specified Dockerfile: %s", p)
			}
			return fmt.Errorf("read Dockerfile: %w", err)
		}
		text = t
	}
	if name == "" {
		name = "Dockerfile"
	}
	df, err := parseDockerfile(name, text)
	if err != nil {
		return err
	}
	b.df = df
	b.lex = shell.NewLex(df.escape)
	if o.Context == "" {
		b.ctx = emptyTree{}
		return nil
	}
	dt := &dirTree{root: o.Context}
	// BuildKit's Dockerfile-specific ignore file wins over the context's.
	ignore := filepath.Join(o.Context, ".dockerignore")
	if o.Dockerfile != "" && o.DockerfileText == nil {
		if _, err := os.Stat(o.Dockerfile + ".dockerignore"); err == nil {
			ignore = o.Dockerfile + ".dockerignore"
		}
	}
	if f, err := os.Open(ignore); err == nil {
		patterns, err := ignorefile.ReadAll(f)
		f.Close()
		if err != nil {
			return fmt.Errorf("read %s: %w", filepath.Base(ignore), err)
		}
		if len(patterns) > 0 {
			if dt.pm, err = patternmatcher.New(patterns); err != nil {
				return fmt.Errorf("%s: %w", filepath.Base(ignore), err)
			}
		}
	}
	b.ctx = dt
	return nil
}

// emptyTree is the context of a build that has none.
type emptyTree struct{}

func (emptyTree) lstat(rel string) (node, error) {
	if rel == "" {
		return node{st: unix.Stat_t{Mode: unix.S_IFDIR | 0o755}}, nil
	}
	return node{}, &fs.PathError{Op: "stat", Path: rel, Err: fs.ErrNotExist}
}
func (emptyTree) names(string) ([]string, error) { return nil, nil }

// fail ties err to a Dockerfile line.
func (b *builder) fail(l int, err error) error {
	var be *Error
	var re *RunError
	if errors.As(err, &be) || errors.As(err, &re) || errors.Is(err, context.Canceled) {
		return err
	}
	return &Error{File: b.df.name, Line: l, Err: err}
}

// prepare resolves build arguments, every FROM and COPY --from, checks that the images
// they name exist, and picks the stages the target needs, before anything runs.
func (b *builder) prepare() (target int, order []int, err error) {
	for _, m := range b.df.meta {
		for _, a := range m.Args {
			key, _, err := b.lex.ProcessWord(a.Key, argEnv(b.metaArgs))
			if err != nil {
				return 0, nil, b.fail(line(m.Location()), err)
			}
			val := a.Value
			if val != nil {
				v, _, err := b.lex.ProcessWord(*val, argEnv(b.metaArgs))
				if err != nil {
					return 0, nil, b.fail(line(m.Location()), err)
				}
				val = &v
			}
			if v, ok := b.opts.BuildArgs[key]; ok {
				val = &v
			}
			b.declared[key] = true
			b.metaArgs = setArg(b.metaArgs, arg{key: key, value: val})
		}
	}
	stages := b.df.stages
	target = len(stages) - 1
	if b.opts.Target != "" {
		i, ok := instructions.HasStage(stages, b.opts.Target)
		if !ok {
			return 0, nil, fmt.Errorf("target stage %q could not be found", b.opts.Target)
		}
		target = i
	}
	b.bases = make([]base, len(stages))
	deps := make([][]int, len(stages))
	for i := range stages {
		s := &stages[i]
		l := line(s.Location)
		name, _, err := b.lex.ProcessWord(s.BaseName, argEnv(b.metaArgs))
		if err != nil {
			return 0, nil, b.fail(l, err)
		}
		if name == "" {
			return 0, nil, b.fail(l, fmt.Errorf("base name (%s) should not be blank", s.BaseName))
		}
		if s.Platform != "" {
			p, _, err := b.lex.ProcessWord(s.Platform, argEnv(b.metaArgs))
			if err != nil {
				return 0, nil, b.fail(l, err)
			}
			if host := "linux/" + goruntime.GOARCH; p != host {
				return 0, nil, b.fail(l, fmt.Errorf("FROM --platform=%s: lab builds for this host only (%s)", p, host))
			}
		}
		bs := base{name: name, stage: -1}
		if j, ok := instructions.HasStage(stages[:i], name); ok {
			bs.stage = j
			deps[i] = append(deps[i], j)
		} else if name != "scratch" {
			get := b.eng.Images.Get
			if b.opts.BaseImage != nil {
				get = b.opts.BaseImage
			}
			img, err := get(name)
			if err != nil {
				return 0, nil, b.fail(l, fmt.Errorf("FROM %s: %w", name, err))
			}
			bs.img = img
		}
		b.bases[i] = bs
		for _, c := range s.Commands {
			cp, ok := c.(*instructions.CopyCommand)
			if !ok || cp.From == "" {
				continue
			}
			from, _, err := b.lex.ProcessWord(cp.From, argEnv(b.metaArgs))
			if err != nil {
				return 0, nil, b.fail(line(c.Location()), err)
			}
			if n, err := strconv.Atoi(from); err == nil {
				if n < 0 || n >= i {
					return 0, nil, b.fail(line(c.Location()), fmt.Errorf("COPY --from=%d: there is no earlier stage %d", n, n))
				}
				b.froms[c] = n
				deps[i] = append(deps[i], n)
				continue
			}
			if j, ok := instructions.HasStage(stages[:i], from); ok {
				b.froms[c] = j
				deps[i] = append(deps[i], j)
				continue
			}
			img, err := b.eng.Images.Get(from)
			if err != nil {
				return 0, nil, b.fail(line(c.Location()), fmt.Errorf("COPY --from=%s: no stage or image of that name: %w", from, err))
			}
			b.froms[c] = -1
			b.fromImgs[c] = img
		}
	}
	// Only the stages the target needs are built, in Dockerfile order.
	need := map[int]bool{}
	var mark func(int)
	mark = func(i int) {
		if need[i] {
			return
		}
		need[i] = true
		for _, d := range deps[i] {
			mark(d)
		}
	}
	mark(target)
	for i := range stages {
		if need[i] {
			order = append(order, i)
			b.total += 1 + len(stages[i].Commands)
		}
	}
	b.total += len(b.df.meta)
	return target, order, nil
}

// hasTags reports whether img already carries every tag in tags (and is untagged only
// if no tag is asked for, as Docker leaves an untagged build).
func hasTags(img *image.Image, tags []reference.Ref) bool {
	if len(tags) == 0 {
		return true
	}
	for _, t := range tags {
		if !slices.Contains(img.Tags, t.String()) {
			return false
		}
	}
	return true
}

// setArg declares a, replacing an earlier declaration of the same key.
func setArg(args []arg, a arg) []arg {
	for i := range args {
		if args[i].key == a.key {
			args[i] = a
			return args
		}
	}
	return append(args, a)
}

// argEnv lists the arguments that have values as KEY=VALUE.
func argEnv(args []arg) shell.EnvGetter {
	return shell.EnvsFromSlice(argList(args))
}

func argList(args []arg) []string {
	var out []string
	for _, a := range args {
		if a.value != nil {
			out = append(out, a.key+"="+*a.value)
		}
	}
	return out
}

func (b *builder) header(l int, instr string, stage int) {
	n := len(b.steps) + 1
	fmt.Fprintf(b.out, "Step %d/%d : %s\n", n, b.total, instr)
	b.steps = append(b.steps, Step{Number: n, Line: l, Instruction: instr, Stage: stage})
}

// record completes the current step's report.
func (b *builder) record(s Step) {
	cur := &b.steps[len(b.steps)-1]
	s.Number, s.Line, s.Instruction, s.Stage = cur.Number, cur.Line, cur.Instruction, cur.Stage
	*cur = s
}

// baseImage is the image stage i starts FROM, through the stages it builds on ("" for
// FROM scratch).
func (b *builder) baseImage(i int) digest.Digest {
	for n := 0; n <= len(b.bases); n++ {
		bs := b.bases[i]
		switch {
		case bs.stage >= 0:
			i = bs.stage
		case bs.img != nil:
			return bs.img.ID
		default:
			return ""
		}
	}
	return ""
}

func (b *builder) buildStage(ctx context.Context, i int) error {
	s := &b.df.stages[i]
	l := line(s.Location)
	b.header(l, s.SourceCode, i)
	st := &state{index: i, shell: []string{"/bin/sh", "-c"}}
	bs := b.bases[i]
	switch {
	case bs.stage >= 0:
		// Docker keeps SHELL in the image config, so a stage built on another keeps it.
		prev := b.results[bs.stage]
		st.img, st.layers, st.shell = prev.img, prev.layers, prev.shell
	case bs.img != nil:
		st.img = bs.img
		for j, d := range bs.img.Layers {
			st.layers = append(st.layers, image.Layer{Desc: d, DiffID: bs.img.Config.RootFS.DiffIDs[j]})
		}
	default:
		cfg := ocispec.Image{Platform: ocispec.Platform{Architecture: goruntime.GOARCH, OS: "linux"}}
		img, err := b.eng.Images.Write(cfg, nil)
		if err != nil {
			return b.fail(l, err)
		}
		st.img = img
	}
	fmt.Fprintf(b.out, " ---> %s\n", st.img.ID.Encoded()[:12])
	b.record(Step{Image: st.img.ID.String()})
	for _, c := range s.Commands {
		start := time.Now()
		b.header(line(c.Location()), sourceText(c), i)
		rep, err := b.exec(ctx, st, c)
		if err != nil {
			if rep != nil {
				b.record(*rep)
			}
			return b.fail(line(c.Location()), err)
		}
		rep.Image = st.img.ID.String()
		rep.Duration = time.Since(start)
		b.record(*rep)
	}
	b.results[i] = st
	return nil
}

// sourceText is an instruction as written (continuation lines joined).
func sourceText(c instructions.Command) string {
	if s, ok := c.(fmt.Stringer); ok {
		return s.String()
	}
	return strings.ToUpper(c.Name())
}

// env is what variable expansion sees: the stage's arguments, then its ENV over them.
func (st *state) env() []string {
	return append(argList(st.args), st.img.Config.Config.Env...)
}

func (b *builder) expander(st *state) instructions.SingleWordExpander {
	env := shell.EnvsFromSlice(st.env())
	return func(word string) (string, error) {
		w, _, err := b.lex.ProcessWord(word, env)
		return w, err
	}
}

// tree is the stage's current filesystem, as COPY destinations and --chown see it.
func (b *builder) tree(ctx context.Context, st *state) (*layerTree, error) {
	if st.view == nil {
		dirs, err := b.eng.Images.LayerDirs(ctx, st.img)
		if err != nil {
			return nil, err
		}
		st.view = newLayerTree(dirs)
	}
	return st.view, nil
}

// change is what a step does to the image.
type change struct {
	createdBy string
	// apply edits a copy of the parent's config; it may return a layer.
	apply func(cfg *ocispec.Image) (*image.Layer, error)
}

// commit finishes a step: from the cache when the same step was done on the same
// parent before (and --no-cache is off), else by applying the change and writing the
// resulting image.
func (b *builder) commit(st *state, key string, rep *Step, ch change) error {
	parent := st.img.ID
	k := cacheKey(parent, key)
	if !b.opts.NoCache {
		if img, layers, ok := b.cache.get(k); ok {
			fmt.Fprintf(b.out, " ---> Using cache\n")
			rep.Cached = true
			rep.Layer = len(layers) > len(st.layers)
			b.advance(st, img, layers)
			fmt.Fprintf(b.out, " ---> %s\n", img.ID.Encoded()[:12])
			return nil
		}
	}
	cfg, err := cloneConfig(st.img.Config)
	if err != nil {
		return err
	}
	layer, err := ch.apply(&cfg)
	if err != nil {
		return err
	}
	now := b.now()
	cfg.Created = &now
	cfg.History = append(cfg.History, ocispec.History{Created: &now, CreatedBy: ch.createdBy, EmptyLayer: layer == nil})
	layers := slices.Clone(st.layers)
	if layer != nil {
		layers = append(layers, *layer)
		rep.Layer = true
	}
	img, err := b.eng.Images.Write(cfg, layers)
	if err != nil {
		return err
	}
	if err := b.cache.put(k, parent, key, img, layers); err != nil {
		return err
	}
	b.advance(st, img, layers)
	fmt.Fprintf(b.out, " ---> %s\n", img.ID.Encoded()[:12])
	return nil
}

func (b *builder) advance(st *state, img *image.Image, layers []image.Layer) {
	if len(layers) != len(st.layers) {
		st.view = nil
	}
	st.img, st.layers = img, layers
}

// cloneConfig deep-copies an image config so a step can edit it freely.
func cloneConfig(c ocispec.Image) (ocispec.Image, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return c, err
	}
	var out ocispec.Image
	return out, json.Unmarshal(b, &out)
}

// nop is how the classic builder records a step that ran nothing.
func nop(s string) string { return "/bin/sh -c #(nop)  " + s }

// exec runs one instruction on st.
func (b *builder) exec(ctx context.Context, st *state, c instructions.Command) (*Step, error) {
	rep := &Step{}
	if e, ok := c.(instructions.SupportsSingleWordExpansion); ok {
		if _, isRun := c.(*instructions.RunCommand); !isRun {
			if err := e.Expand(b.expander(st)); err != nil {
				return rep, err
			}
		}
	}
	meta := func(desc string, apply func(cfg *ocispec.Image), key ...string) error {
		return b.commit(st, strings.Join(append([]string{desc}, key...), " "), rep, change{createdBy: nop(desc), apply: func(cfg *ocispec.Image) (*image.Layer, error) {
			apply(cfg)
			return nil, nil
		}})
	}
	var err error
	switch c := c.(type) {
	case *instructions.EnvCommand:
		var kvs []string
		for _, kv := range c.Env {
			kvs = append(kvs, kv.Key+"="+kv.Value)
		}
		err = meta("ENV "+strings.Join(kvs, " "), func(cfg *ocispec.Image) {
			for _, kv := range kvs {
				cfg.Config.Env = setEnv(cfg.Config.Env, kv)
			}
		})
	case *instructions.LabelCommand:
		var kvs []string
		for _, kv := range c.Labels {
			kvs = append(kvs, kv.Key+"="+kv.Value)
		}
		err = meta("LABEL "+strings.Join(kvs, " "), func(cfg *ocispec.Image) {
			if cfg.Config.Labels == nil {
				cfg.Config.Labels = map[string]string{}
			}
			for _, kv := range c.Labels {
				cfg.Config.Labels[kv.Key] = kv.Value
			}
		})
	case *instructions.MaintainerCommand:
		err = meta("MAINTAINER "+c.Maintainer, func(cfg *ocispec.Image) { cfg.Author = c.Maintainer })
	case *instructions.ArgCommand:
		var kvs []string
		for _, a := range c.Args {
			v := a.Value
			if bv, ok := b.opts.BuildArgs[a.Key]; ok {
				v = &bv
			} else if v == nil {
				// ARG NAME inside a stage takes the value of a global ARG NAME.
				for _, m := range b.metaArgs {
					if m.key == a.Key {
						v = m.value
					}
				}
			}
			b.declared[a.Key] = true
			st.args = setArg(st.args, arg{key: a.Key, value: v})
			kvs = append(kvs, a.String())
		}
		err = meta("ARG "+strings.Join(kvs, " "), func(*ocispec.Image) {})
	case *instructions.WorkdirCommand:
		err = b.workdir(ctx, st, c, rep)
	case *instructions.UserCommand:
		err = meta("USER "+c.User, func(cfg *ocispec.Image) { cfg.Config.User = c.User })
	case *instructions.ExposeCommand:
		var ports []string
		for _, p := range c.Ports {
			w, _, perr := b.lex.ProcessWord(p, shell.EnvsFromSlice(st.env()))
			if perr != nil {
				return rep, perr
			}
			ps, perr := parsePorts(w)
			if perr != nil {
				return rep, perr
			}
			ports = append(ports, ps...)
		}
		err = meta("EXPOSE "+strings.Join(ports, " "), func(cfg *ocispec.Image) {
			if cfg.Config.ExposedPorts == nil {
				cfg.Config.ExposedPorts = map[string]struct{}{}
			}
			for _, p := range ports {
				cfg.Config.ExposedPorts[p] = struct{}{}
			}
		})
	case *instructions.VolumeCommand:
		err = meta(fmt.Sprintf("VOLUME %s", jsonList(c.Volumes)), func(cfg *ocispec.Image) {
			if cfg.Config.Volumes == nil {
				cfg.Config.Volumes = map[string]struct{}{}
			}
			for _, v := range c.Volumes {
				cfg.Config.Volumes[v] = struct{}{}
			}
		})
	case *instructions.StopSignalCommand:
		if verr := validSignal(c.Signal); verr != nil {
			return rep, verr
		}
		err = meta("STOPSIGNAL "+c.Signal, func(cfg *ocispec.Image) { cfg.Config.StopSignal = c.Signal })
	case *instructions.ShellCommand:
		st.shell = slices.Clone(c.Shell)
		err = meta(fmt.Sprintf("SHELL %s", jsonList(c.Shell)), func(*ocispec.Image) {})
	case *instructions.CmdCommand:
		argv := b.command(st, c.ShellDependantCmdLine)
		st.cmdSet = true
		err = meta(fmt.Sprintf("CMD %s", jsonList(argv)), func(cfg *ocispec.Image) { cfg.Config.Cmd = argv })
	case *instructions.EntrypointCommand:
		argv := b.command(st, c.ShellDependantCmdLine)
		// Like Docker: a new ENTRYPOINT drops the CMD inherited from the base image,
		// but keeps one this stage set before it.
		keepCmd := st.cmdSet
		err = meta(fmt.Sprintf("ENTRYPOINT %s", jsonList(argv)), func(cfg *ocispec.Image) {
			cfg.Config.Entrypoint = argv
			if !keepCmd {
				cfg.Config.Cmd = nil
			}
		}, fmt.Sprintf("keep-cmd=%t", keepCmd))
	case *instructions.RunCommand:
		err = b.run(ctx, st, c, rep)
	case *instructions.CopyCommand:
		err = b.copy(ctx, st, c, rep, copySpec{srcs: c.SourcePaths, dest: c.DestPath}, c.Chown, c.Chmod)
	case *instructions.AddCommand:
		unpack := c.Unpack == nil || *c.Unpack
		err = b.copy(ctx, st, c, rep, copySpec{add: true, srcs: c.SourcePaths, dest: c.DestPath, unpack: unpack}, c.Chown, c.Chmod)
	default:
		err = fmt.Errorf("%s is not supported by lab build", strings.ToUpper(c.Name()))
	}
	return rep, err
}

// command is the argv of a CMD, ENTRYPOINT or RUN: JSON form as is, shell form run
// by the stage's SHELL.
func (b *builder) command(st *state, c instructions.ShellDependantCmdLine) []string {
	if !c.PrependShell {
		return slices.Clone(c.CmdLine)
	}
	return append(slices.Clone(st.shell), strings.Join(c.CmdLine, " "))
}

// jsonList prints a list the way the classic builder's history does: ["a" "b"].
func jsonList(l []string) string {
	q := make([]string, len(l))
	for i, s := range l {
		q[i] = strconv.Quote(s)
	}
	return "[" + strings.Join(q, " ") + "]"
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

// parsePorts turns an EXPOSE word into "PORT/PROTO" keys, expanding ranges.
func parsePorts(w string) ([]string, error) {
	p, proto, _ := strings.Cut(w, "/")
	if proto == "" {
		proto = "tcp"
	}
	proto = strings.ToLower(proto)
	if proto != "tcp" && proto != "udp" && proto != "sctp" {
		return nil, fmt.Errorf("invalid proto: %s", proto)
	}
	lo, hi, isRange := strings.Cut(p, "-")
	a, err := strconv.ParseUint(lo, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("invalid containerPort: %s", p)
	}
	z := a
	if isRange {
		if z, err = strconv.ParseUint(hi, 10, 16); err != nil || z < a {
			return nil, fmt.Errorf("invalid containerPort: %s", p)
		}
	}
	var out []string
	for n := a; n <= z; n++ {
		out = append(out, fmt.Sprintf("%d/%s", n, proto))
	}
	return out, nil
}

var signals = map[string]bool{"HUP": true, "INT": true, "QUIT": true, "ILL": true, "TRAP": true, "ABRT": true,
	"BUS": true, "FPE": true, "KILL": true, "USR1": true, "SEGV": true, "USR2": true, "PIPE": true, "ALRM": true,
	"TERM": true, "STKFLT": true, "CHLD": true, "CONT": true, "STOP": true, "TSTP": true, "TTIN": true, "TTOU": true,
	"URG": true, "XCPU": true, "XFSZ": true, "VTALRM": true, "PROF": true, "WINCH": true, "IO": true, "PWR": true, "SYS": true}

func validSignal(s string) error {
	if n, err := strconv.Atoi(s); err == nil {
		if n < 1 || n > 64 {
			return fmt.Errorf("invalid signal: %s", s)
		}
		return nil
	}
	name := strings.TrimPrefix(strings.ToUpper(s), "SIG")
	if signals[name] || strings.HasPrefix(name, "RTMIN") || strings.HasPrefix(name, "RTMAX") {
		return nil
	}
	return fmt.Errorf("invalid signal: %s", s)
}

// workdir sets the working directory and, like Docker, creates it when the image
// lacks it (a layer holding just the directory); otherwise it only changes the config.
func (b *builder) workdir(ctx context.Context, st *state, c *instructions.WorkdirCommand, rep *Step) error {
	wd := c.Path
	if !path.IsAbs(wd) {
		cur := st.img.Config.Config.WorkingDir
		if cur == "" {
			cur = "/"
		}
		wd = path.Join(cur, wd)
	}
	wd = path.Clean(wd)
	t, err := b.tree(ctx, st)
	if err != nil {
		return err
	}
	rel, n, err := resolve(t, wd, true)
	if err != nil {
		return err
	}
	if n != nil && !n.isDir() {
		return fmt.Errorf("WORKDIR %s: not a directory in the image", wd)
	}
	desc := "WORKDIR " + wd
	return b.commit(st, desc, rep, change{createdBy: "/bin/sh -c #(nop) " + desc, apply: func(cfg *ocispec.Image) (*image.Layer, error) {
		cfg.Config.WorkingDir = wd
		if n != nil {
			return nil, nil
		}
		e := entry{name: rel, typ: tar.TypeDir, mode: 0o755, mtime: b.now().Truncate(time.Second)}
		return b.importLayer(ctx, t, []entry{e}, nil)
	}})
}

// importLayer writes entries as a layer on top of the image t shows and stores it.
func (b *builder) importLayer(ctx context.Context, t tree, entries []entry, own *owner) (*image.Layer, error) {
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeLayer(ctx, pw, t, entries, own)) }()
	l, err := b.eng.Images.ImportLayer(ctx, pr)
	pr.CloseWithError(err)
	if err != nil {
		return nil, err
	}
	return &l, nil
}

// publish puts an image in the index (tagged ref when it is not nil) and returns it as
// the index has it.
func (b *builder) publish(img *image.Image, layers []image.Layer, ref *reference.Ref) (*image.Image, error) {
	out, err := b.eng.Images.Create(img.Config, layers, ref)
	if err != nil {
		return nil, err
	}
	if out.ID != img.ID {
		return nil, fmt.Errorf("publish image %s: the store wrote it as %s", img.ID, out.ID)
	}
	b.indexed[out.ID] = true
	return out, nil
}

// publishParent makes the stage's current image one a container can be created from
// (force: even if the index had it). Intermediate images published this way are
// forgotten again when the build ends.
func (b *builder) publishParent(st *state, force bool) error {
	if b.indexed[st.img.ID] && !force {
		return nil
	}
	img, err := b.publish(st.img, st.layers, nil)
	if err != nil {
		return err
	}
	b.published = append(b.published, img)
	return nil
}

// forget drops from the index the intermediate images this build put there, unless
// it is the build's result or a container uses it.
func (b *builder) forget() {
	if len(b.published) == 0 {
		return
	}
	used := map[string]bool{}
	if cs, err := b.eng.Containers.List(); err == nil {
		for _, c := range cs {
			used[c.Image] = true
		}
	}
	for _, img := range b.published {
		if img.ID == b.final || used[img.ID.String()] {
			continue
		}
		b.eng.Images.Forget(img)
	}
}
