package luabind

import (
	"math"

	"bytes"
	"errors"
	"fmt"
	units "github.com/docker/go-units"
	"os"
	"slices"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"lab/lab/table"
	"lab/runtime/archive"
	"lab/runtime/container"
	"lab/runtime/engine"
	"lab/runtime/image"
)

// Metatables of the lists the module returns: their tostring is the Docker table.
const (
	containerListType = "lab.ContainerList"
	imageListType     = "lab.ImageList"
	changeListType    = "lab.Changes"
	changeType        = "lab.Change"
	historyListType   = "lab.History"
)

func (b *binding) moduleFuncs() map[string]lua.LGFunction {
	return map[string]lua.LGFunction{
		"run":       b.run,
		"create":    b.create,
		"ps":        b.ps,
		"images":    b.images,
		"image":     b.image,
		"container": b.container,
		"commit":    b.commitFn,
		"rm":        b.rm,
		"rmi":       b.rmi,
		"tag":       b.tagFn,
		"import":    b.importFn,
		"export":    b.export,
		"bootstrap": b.bootstrap,
		"diff":      b.diffFn,
		"inspect":   b.inspect,
		"history":   b.historyFn,
		"logs":      b.logsFn,
		"spawn":     b.spawn,
		"sleep":     b.sleep,
		"expect":    b.expect,
		"assert_eq": b.assertEq,
		"fail":      b.failFn,
	}
}

func (b *binding) registerTypes(L *lua.LState) {
	b.registerErrorTypes(L)
	b.registerContainer(L)
	b.registerImage(L)
	b.registerExpect(L)
	b.registerSession(L)
	lists := map[string]func(L *lua.LState, t *lua.LTable) string{
		containerListType: func(L *lua.LState, t *lua.LTable) string { return psTable(listItems[*ctr](t)) },
		imageListType:     func(L *lua.LState, t *lua.LTable) string { return imagesTable(listItems[*img](t)) },
		changeListType:    func(L *lua.LState, t *lua.LTable) string { return changesText(t) },
		changeType:        func(L *lua.LState, t *lua.LTable) string { return changeText(t) },
		historyListType:   func(L *lua.LState, t *lua.LTable) string { return historyTable(t) },
	}
	for name, render := range lists {
		mt := L.NewTypeMetatable(name)
		mt.RawSetString("__name", lua.LString(name))
		mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LString(render(L, L.CheckTable(1))))
			return 1
		}))
	}
}

// listItems collects the userdata values of type T in a list, skipping anything a
// script put there that is not one.
func listItems[T any](t *lua.LTable) []T {
	var out []T
	for i, n := 1, seqLen(t); i <= n; i++ {
		if ud, ok := t.RawGetInt(i).(*lua.LUserData); ok {
			if v, ok := ud.Value.(T); ok {
				out = append(out, v)
			}
		}
	}
	return out
}

func psTable(cs []*ctr) string {
	recs := make([]*container.Container, len(cs))
	for i, c := range cs {
		recs[i] = c.rec
	}
	var buf bytes.Buffer
	table.Ps(&buf, table.FromContainers(recs), table.PsOptions{})
	return strings.TrimSuffix(buf.String(), "\n")
}

func imagesTable(is []*img) string {
	recs := make([]*image.Image, len(is))
	for i, x := range is {
		recs[i] = x.rec
	}
	var buf bytes.Buffer
	table.Images(&buf, table.FromImages(recs), table.ImagesOptions{})
	return strings.TrimSuffix(buf.String(), "\n")
}

func changeText(t *lua.LTable) string {
	return t.RawGetString("kind").String() + " " + t.RawGetString("path").String()
}

func changesText(t *lua.LTable) string {
	var lines []string
	for i, n := 1, seqLen(t); i <= n; i++ {
		if e, ok := t.RawGetInt(i).(*lua.LTable); ok {
			lines = append(lines, changeText(e))
		}
	}
	return strings.Join(lines, "\n")
}

func historyTable(t *lua.LTable) string {
	var hs []table.History
	for i, n := 1, seqLen(t); i <= n; i++ {
		e, ok := t.RawGetInt(i).(*lua.LTable)
		if !ok {
			continue
		}
		h := table.History{ID: e.RawGetString("id").String(), CreatedBy: e.RawGetString("created_by").String(), Comment: e.RawGetString("comment").String()}
		if n, ok := e.RawGetString("size").(lua.LNumber); ok {
			h.Size = int64(n)
		}
		if n, ok := e.RawGetString("created").(lua.LNumber); ok {
			h.Created = time.Unix(0, int64(float64(n)*1e9))
		}
		hs = append(hs, h)
	}
	var buf bytes.Buffer
	table.HistoryTable(&buf, hs, false, time.Time{})
	return strings.TrimSuffix(buf.String(), "\n")
}

var runOptions = []string{"stdin", "env", "workdir", "name", "rm", "hostname", "user", "entrypoint", "timeout", "tty", "detach", "memory", "pids_limit", "cpus", "pull", "security_opt", "cap_add", "cap_drop", "privileged"}

// createOptions reads run/create's (image, cmd, opts) arguments.
func (b *binding) createOptions(L *lua.LState, allowed []string) (engine.CreateOptions, *lua.LTable, *string) {
	co := engine.CreateOptions{Image: imageRef(L, 1), Cmd: checkCmd(L, 2)}
	t := checkOpts(L, 3, allowed...)
	co.Env = optEnv(L, 3, t)
	co.WorkingDir, _ = optString(L, 3, t, "workdir")
	co.Name, _ = optString(L, 3, t, "name")
	co.Hostname, _ = optString(L, 3, t, "hostname")
	co.User, _ = optString(L, 3, t, "user")
	co.AutoRemove = optBool(L, 3, t, "rm")
	if t != nil && t.RawGetString("entrypoint") != lua.LNil {
		ep := optStringList(L, 3, t, "entrypoint")
		co.Entrypoint = &ep
	}
	co.Memory, co.PidsLimit, co.NanoCPUs = limitOptions(L, 3, t)
	// As the CLI's --security-opt, --cap-add, --cap-drop, --privileged; each list may
	// also be a single string.
	co.SecurityOpt = optStringList(L, 3, t, "security_opt")
	co.CapAdd = optStringList(L, 3, t, "cap_add")
	co.CapDrop = optStringList(L, 3, t, "cap_drop")
	co.Privileged = optBool(L, 3, t, "privileged")
	// run and create capture output; a terminal belongs to lab.spawn's sessions.
	co.Tty = optBool(L, 3, t, "tty")
	if co.Tty && !slices.Contains(allowed, "rows") {
		argError(L, 3, "option 'tty' is not supported by lab.run: it captures output; use lab.spawn(image, cmd, {tty = true}) or the CLI's `lab run -it`")
	}
	if optBool(L, 3, t, "detach") {
		argError(L, 3, "option 'detach' is not supported: lab.run waits for the container to exit")
	}
	var stdin *string
	if s, ok := optString(L, 3, t, "stdin"); ok {
		stdin = &s
		co.OpenStdin = true
	}
	if optBool(L, 3, t, "interactive") {
		co.OpenStdin = true
	}
	return co, t, stdin
}

// run is lab.run(image, cmd, opts): create, start, wait; the container's exit code
// is data, failing to run it is an error.
func (b *binding) run(L *lua.LState) int {
	co, t, stdin := b.createOptions(L, runOptions)
	b.pullIfAsked(L, "lab.run", co.Image, t)
	so := engine.StartOptions{Timeout: optTimeout(L, 3, t)}
	if stdin != nil {
		so.Stdin = strings.NewReader(*stdin)
	}
	cp := b.capture(&so)
	rec, err := b.eng.Run(ctx(L), co, so)
	var c *ctr
	if rec != nil {
		c = &ctr{rec: rec}
		cp.into(c)
		b.remember(c)
	}
	if err != nil {
		b.raise(L, "lab.run", err, 125, c)
	}
	return b.pushContainer(L, c)
}

func (b *binding) create(L *lua.LState) int {
	co, t, stdin := b.createOptions(L, append(runOptions[:len(runOptions):len(runOptions)], "interactive"))
	b.pullIfAsked(L, "lab.create", co.Image, t)
	rec, err := b.eng.Create(ctx(L), co)
	if err != nil {
		b.raise(L, "lab.create", err, 125, nil)
	}
	return b.pushContainer(L, &ctr{rec: rec, stdin: stdin})
}

// ps is `docker ps`: running containers, all of them with all=true, the n last
// created with last=n, the latest with latest=true; newest first.
func (b *binding) ps(L *lua.LState) int {
	t := checkOpts(L, 1, "all", "latest", "last")
	all := optBool(L, 1, t, "all")
	n := -1
	if t != nil {
		switch v := t.RawGetString("last").(type) {
		case *lua.LNilType:
		case lua.LNumber:
			n = int(v)
		default:
			argError(L, 1, "option 'last' must be a number, got "+typeName(v))
		}
	}
	if optBool(L, 1, t, "latest") {
		n = 1
	}
	list := b.eng.Containers.List
	if !all && n < 0 {
		list = b.eng.Containers.ListRunning
	}
	cs, err := list()
	if err != nil {
		b.raise(L, "lab.ps", err, 1, nil)
	}
	out := L.NewTable()
	for _, c := range cs {
		if n >= 0 && out.Len() >= n {
			break
		}
		if all || n > 0 || c.State.Status == container.Running {
			out.Append(b.newContainer(L, &ctr{rec: c}))
		}
	}
	L.SetMetatable(out, L.GetTypeMetatable(containerListType))
	L.Push(out)
	return 1
}

func (b *binding) images(L *lua.LState) int {
	imgs, err := b.eng.Images.List()
	if err != nil {
		b.raise(L, "lab.images", err, 1, nil)
	}
	out := L.CreateTable(len(imgs), 0)
	for _, i := range imgs {
		out.Append(b.newImage(L, i))
	}
	L.SetMetatable(out, L.GetTypeMetatable(imageListType))
	L.Push(out)
	return 1
}

// image is a lookup: nil when there is no such image, an error only when the
// reference cannot be one.
func (b *binding) image(L *lua.LState) int {
	i, err := b.eng.Images.Get(checkRef(L, 1))
	if errors.Is(err, image.ErrNotFound) {
		L.Push(lua.LNil)
		return 1
	}
	if err != nil {
		b.raise(L, "lab.image", err, 1, nil)
	}
	L.Push(b.newImage(L, i))
	return 1
}

func (b *binding) container(L *lua.LState) int {
	v, ok := L.Get(1).(lua.LString)
	if !ok || v == "" {
		argError(L, 1, "container name or ID expected, got "+typeName(L.Get(1)))
	}
	rec, err := b.eng.Containers.Get(string(v))
	if errors.Is(err, container.ErrNotFound) {
		L.Push(lua.LNil)
		return 1
	}
	if err != nil {
		b.raise(L, "lab.container", err, 1, nil)
	}
	return b.pushContainer(L, &ctr{rec: rec})
}

func (b *binding) commitOptions(L *lua.LState, n int) engine.CommitOptions {
	t := checkOpts(L, n, "message", "author", "changes", "pause")
	var o engine.CommitOptions
	// pause defaults to true, as --pause does: only an explicit false opts out.
	if t != nil && t.RawGetString("pause") != lua.LNil {
		o.NoPause = !optBool(L, n, t, "pause")
	}
	o.Message, _ = optString(L, n, t, "message")
	o.Author, _ = optString(L, n, t, "author")
	o.Changes = optStringList(L, n, t, "changes")
	return o
}

func (b *binding) commitFn(L *lua.LState) int {
	ref := b.containerRef(L, 1)
	o := b.commitOptions(L, 3)
	o.Ref = optRef(L, 2)
	return b.commit(L, "lab.commit", ref, o)
}

func (b *binding) commit(L *lua.LState, op, ref string, o engine.CommitOptions) int {
	i, err := b.eng.Commit(ctx(L), ref, o)
	if err != nil {
		b.raise(L, op, err, 1, nil)
	}
	L.Push(b.newImage(L, i))
	return 1
}

// trailingOpts splits variadic arguments from an options table at the end.
func trailingOpts(L *lua.LState, allowed ...string) (int, *lua.LTable) {
	last := L.GetTop()
	if _, ok := L.Get(last).(*lua.LTable); ok && last > 1 {
		return last - 1, checkOpts(L, last, allowed...)
	}
	return last, nil
}

// rm is lab.rm(c1, c2, ..., {force = true}); every argument is checked before any
// container is removed.
func (b *binding) rm(L *lua.LState) int {
	last, t := trailingOpts(L, "force")
	if last < 1 {
		argError(L, 1, "container or name expected, got no value")
	}
	force := optBool(L, last+1, t, "force")
	refs := make([]string, last)
	for i := 1; i <= last; i++ {
		refs[i-1] = b.containerRef(L, i)
	}
	for _, ref := range refs {
		if _, err := b.eng.Remove(ref, force); err != nil {
			b.raise(L, "lab.rm", err, 1, nil)
		}
	}
	return 0
}

// rmi is lab.rmi(img1, ..., {force = true}); it returns Docker's "Untagged: ..." and
// "Deleted: ..." lines.
func (b *binding) rmi(L *lua.LState) int {
	last, t := trailingOpts(L, "force")
	if last < 1 {
		argError(L, 1, "image or reference expected, got no value")
	}
	force := optBool(L, last+1, t, "force")
	refs := make([]string, last)
	for i := 1; i <= last; i++ {
		refs[i-1] = imageRef(L, i)
	}
	var lines []string
	for _, ref := range refs {
		out, err := b.eng.RemoveImage(ref, force)
		lines = append(lines, out...)
		if err != nil {
			b.raise(L, "lab.rmi", err, 1, nil)
		}
	}
	L.Push(stringList(L, lines))
	return 1
}

func (b *binding) tagFn(L *lua.LState) int {
	return b.tag(L, "lab.tag", imageRef(L, 1), checkRef(L, 2))
}

// tag returns the image as it is after tagging, with the new tag among its tags.
func (b *binding) tag(L *lua.LState, op, src, target string) int {
	if err := b.eng.Tag(src, target); err != nil {
		b.raise(L, op, err, 1, nil)
	}
	i, err := b.eng.Images.Get(target)
	if err != nil {
		b.raise(L, op, err, 1, nil)
	}
	L.Push(b.newImage(L, i))
	return 1
}

func (b *binding) importFn(L *lua.LState) int {
	path := b.resolve(checkPath(L, 1))
	ref := optRef(L, 2)
	t := checkOpts(L, 3, "message", "changes")
	msg, _ := optString(L, 3, t, "message")
	changes := optStringList(L, 3, t, "changes")
	f, err := os.Open(path)
	if err != nil {
		b.raise(L, "lab.import", err, 1, nil)
	}
	defer f.Close()
	if msg == "" {
		msg = "Imported from " + path
	}
	i, err := b.eng.Import(ctx(L), f, ref, msg, changes)
	if err != nil {
		b.raise(L, "lab.import", err, 1, nil)
	}
	L.Push(b.newImage(L, i))
	return 1
}

// export writes the container's filesystem as a tar at path; a failed export leaves
// no partial file behind.
func (b *binding) export(L *lua.LState) int {
	ref := b.containerRef(L, 1)
	path := b.resolve(checkPath(L, 2))
	f, err := os.Create(path)
	if err != nil {
		b.raise(L, "lab.export", err, 1, nil)
	}
	err = b.eng.Export(ctx(L), ref, f)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		b.raise(L, "lab.export", err, 1, nil)
	}
	return 0
}

func (b *binding) bootstrap(L *lua.LState) int {
	name := optStr(L, 1, "busybox")
	i, err := b.eng.Bootstrap(ctx(L), name)
	if err != nil {
		b.raise(L, "lab.bootstrap", err, 1, nil)
	}
	L.Push(b.newImage(L, i))
	return 1
}

func (b *binding) diffFn(L *lua.LState) int {
	return b.diff(L, "lab.diff", b.containerRef(L, 1))
}

// diff lists changes as {kind = "A"|"C"|"D", path = ...}; tostring of the list is
// what `docker diff` prints.
func (b *binding) diff(L *lua.LState, op, ref string) int {
	changes, err := b.eng.Diff(ref)
	if err != nil {
		b.raise(L, op, err, 1, nil)
	}
	L.Push(changeList(L, changes))
	return 1
}

func changeList(L *lua.LState, changes []archive.Change) *lua.LTable {
	out := L.CreateTable(len(changes), 0)
	emt := L.GetTypeMetatable(changeType)
	for _, ch := range changes {
		e := L.CreateTable(0, 2)
		e.RawSetString("kind", lua.LString(string(ch.Kind)))
		e.RawSetString("path", lua.LString(ch.Path))
		L.SetMetatable(e, emt)
		out.Append(e)
	}
	L.SetMetatable(out, L.GetTypeMetatable(changeListType))
	return out
}

// inspect is `docker inspect` as a table with Docker's field names: of a Container
// or Image, or of a reference looked up as a container first, then as an image.
func (b *binding) inspect(L *lua.LState) int {
	switch v := L.Get(1).(type) {
	case *lua.LUserData:
		switch x := v.Value.(type) {
		case *ctr:
			return b.cInspect(L)
		case *img:
			L.Push(toLua(L, b.eng.InspectImage(x.rec)))
			return 1
		}
	case lua.LString:
		if rec, err := b.eng.Containers.Get(string(v)); err == nil {
			L.Push(toLua(L, b.eng.InspectContainer(rec)))
			return 1
		}
		i, err := b.eng.Images.Get(string(v))
		if err != nil {
			b.raise(L, "lab.inspect", fmt.Errorf("no such object: %s", v), 1, nil)
		}
		L.Push(toLua(L, b.eng.InspectImage(i)))
		return 1
	}
	argError(L, 1, "container, image or reference expected, got "+typeName(L.Get(1)))
	return 0
}

func (b *binding) historyFn(L *lua.LState) int {
	return b.history(L, "lab.history", imageRef(L, 1))
}

func (b *binding) logsFn(L *lua.LState) int {
	return b.logs(L, "lab.logs", b.containerRef(L, 1))
}

// limitOptions reads the resource limits of run/create/spawn: memory (bytes, or a
// string such as "64m"), pids_limit and cpus (a fraction of CPUs), as the CLI's
// --memory, --pids-limit and --cpus. The engine checks their ranges.
func limitOptions(L *lua.LState, n int, t *lua.LTable) (memory, pids, nanoCPUs int64) {
	if t == nil {
		return 0, 0, 0
	}
	switch v := t.RawGetString("memory").(type) {
	case lua.LNumber:
		memory = int64(v)
	case lua.LString:
		m, err := units.RAMInBytes(string(v))
		if err != nil {
			argError(L, n, fmt.Sprintf("option 'memory': invalid size %q", string(v)))
		}
		memory = m
	case *lua.LNilType:
	default:
		argError(L, n, "option 'memory' must be a number of bytes or a size string such as \"64m\"")
	}
	if v, ok := t.RawGetString("pids_limit").(lua.LNumber); ok {
		pids = int64(v)
	}
	if v, ok := t.RawGetString("cpus").(lua.LNumber); ok {
		nanoCPUs = int64(math.Round(float64(v) * 1e9))
	}
	return memory, pids, nanoCPUs
}
