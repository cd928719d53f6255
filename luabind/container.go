package luabind

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"time"

	lua "github.com/yuin/gopher-lua"

	"lab/lab/table"
	"lab/runtime/container"
	"lab/runtime/engine"
)

const containerType = "lab.Container"

// ctr is what a Container userdata holds: the record as last seen and the output of
// the last run or start made through this state.
type ctr struct {
	rec            *container.Container
	stdout, stderr string
	captured       bool    // stdout/stderr are set (from a run/start, or read from the log)
	truncated      bool    // the capture hit maxCapture
	stdin          *string // given to create, fed to the next start
}

// containerFields are the fields a Container has, for completion and errors.
var containerFields = []string{"id", "short_id", "name", "image", "command", "status", "exit_code", "stdout", "stderr", "created", "started", "finished", "duration"}

func (b *binding) containerMethods() map[string]lua.LGFunction {
	return map[string]lua.LGFunction{
		"commit":  b.cCommit,
		"diff":    b.cDiff,
		"read":    b.cRead,
		"exists":  b.cExists,
		"start":   b.cStart,
		"wait":    b.cWait,
		"rm":      b.cRm,
		"inspect": b.cInspect,
		"logs":    b.cLogs,
	}
}

func (b *binding) registerContainer(L *lua.LState) {
	mt := L.NewTypeMetatable(containerType)
	mt.RawSetString("__name", lua.LString(containerType))
	methods := L.SetFuncs(L.NewTable(), namedFuncs("container:", b.containerMethods()))
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		c := checkCtr(L, 1)
		key := L.CheckString(2)
		if m := methods.RawGetString(key); m != lua.LNil {
			L.Push(m)
			return 1
		}
		if !hasField(containerFields, key) {
			noField(L, "Container", key, containerFields, methods)
		}
		L.Push(b.containerField(c, key))
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("cannot set field %q of a container (it is read-only)", L.CheckString(2))
		return 0
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(containerRow(checkCtr(L, 1).rec)))
		return 1
	}))
	mt.RawSetString("__eq", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(checkCtr(L, 1).rec.ID == checkCtr(L, 2).rec.ID))
		return 1
	}))
}

func (b *binding) containerField(c *ctr, key string) lua.LValue {
	r := c.rec
	switch key {
	case "id":
		return lua.LString(r.ID)
	case "short_id":
		return lua.LString(r.ShortID())
	case "name":
		return lua.LString(r.Name)
	case "image":
		return lua.LString(r.Config.Image)
	case "command":
		return lua.LString(r.Command())
	case "status":
		return lua.LString(r.State.Status)
	case "exit_code":
		return lua.LNumber(r.State.ExitCode)
	case "stdout":
		b.loadOutput(c)
		return lua.LString(c.stdout)
	case "stderr":
		b.loadOutput(c)
		return lua.LString(c.stderr)
	case "created":
		return luaTime(r.Created)
	case "started":
		return luaTime(r.State.StartedAt)
	case "finished":
		return luaTime(r.State.FinishedAt)
	case "duration":
		if r.State.StartedAt.IsZero() || r.State.FinishedAt.IsZero() || r.State.FinishedAt.Before(r.State.StartedAt) {
			return lua.LNil
		}
		return lua.LNumber(r.State.FinishedAt.Sub(r.State.StartedAt).Seconds())
	}
	return lua.LNil
}

// loadOutput fills stdout/stderr of a container this state did not run from its log,
// so a looked-up container still shows what it printed (every start, as `logs` does).
func (b *binding) loadOutput(c *ctr) {
	if c.captured {
		return
	}
	var out, errb bytes.Buffer
	if err := b.eng.Logs(c.rec.ID, &out, &errb); err == nil {
		c.stdout, c.stderr = out.String(), errb.String()
	}
	c.captured = true
}

// luaTime is whole seconds since the epoch, as os.time() counts and os.date() takes,
// or nil for a time that has not happened. (Fractions would print as 1.7e+09 in
// gopher-lua; the duration field carries sub-second precision instead.)
func luaTime(t time.Time) lua.LValue {
	if t.IsZero() {
		return lua.LNil
	}
	return lua.LNumber(t.Unix())
}

func containerRow(r *container.Container) string {
	return table.PsRow(table.FromContainer(r), table.PsOptions{})
}

func (b *binding) newContainer(L *lua.LState, c *ctr) *lua.LUserData {
	ud := L.NewUserData()
	ud.Value = c
	L.SetMetatable(ud, L.GetTypeMetatable(containerType))
	return ud
}

func (b *binding) pushContainer(L *lua.LState, c *ctr) int {
	L.Push(b.newContainer(L, c))
	return 1
}

// checkCtr is the Container at n, or an argument error.
func checkCtr(L *lua.LState, n int) *ctr {
	if ud, ok := L.Get(n).(*lua.LUserData); ok {
		if c, ok := ud.Value.(*ctr); ok {
			return c
		}
	}
	argError(L, n, "container expected, got "+typeName(L.Get(n)))
	return nil
}

// containerRef is the container at n given as a Container or a name/ID string.
func (b *binding) containerRef(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		if v == "" {
			argError(L, n, "container name or ID is empty")
		}
		return string(v)
	case *lua.LUserData:
		if c, ok := v.Value.(*ctr); ok {
			return c.rec.ID
		}
	}
	argError(L, n, "container or name expected, got "+typeName(L.Get(n)))
	return ""
}

// typeName names a Lua value's type the way our errors talk about it.
func typeName(v lua.LValue) string {
	if ud, ok := v.(*lua.LUserData); ok {
		switch ud.Value.(type) {
		case *ctr:
			return "container"
		case *img:
			return "image"
		case *Error:
			return "error"
		}
	}
	return v.Type().String()
}

func (b *binding) cCommit(L *lua.LState) int {
	c := checkCtr(L, 1)
	ref := optRef(L, 2)
	o := b.commitOptions(L, 3)
	o.Ref = ref
	return b.commit(L, "commit", c.rec.ID, o)
}

func (b *binding) cDiff(L *lua.LState) int {
	return b.diff(L, "diff", checkCtr(L, 1).rec.ID)
}

func (b *binding) cRead(L *lua.LState) int {
	c := checkCtr(L, 1)
	p := checkPath(L, 2)
	data, err := b.eng.ReadFile(c.rec.ID, p)
	return b.fileResult(L, "read", data, err)
}

func (b *binding) cExists(L *lua.LState) int {
	c := checkCtr(L, 1)
	p := checkPath(L, 2)
	_, err := b.eng.ReadFile(c.rec.ID, p)
	return b.existsResult(L, "exists", err)
}

// fileResult returns a file's content, or nil and a message when it does not exist
// (a lookup), raising for anything else.
func (b *binding) fileResult(L *lua.LState, op string, data []byte, err error) int {
	if err == nil {
		L.Push(lua.LString(data))
		return 1
	}
	if isNotExist(err) {
		L.Push(lua.LNil)
		L.Push(lua.LString(err.Error()))
		return 2
	}
	b.raise(L, op, err, 1, nil)
	return 0
}

func (b *binding) existsResult(L *lua.LState, op string, err error) int {
	switch {
	case err == nil:
		L.Push(lua.LTrue)
	case isNotExist(err):
		L.Push(lua.LFalse)
	default:
		// A directory "exists" although it cannot be read as a file.
		if strings.Contains(err.Error(), "is a directory") {
			L.Push(lua.LTrue)
			return 1
		}
		b.raise(L, op, err, 1, nil)
	}
	return 1
}

func isNotExist(err error) bool {
	return errors.Is(err, fs.ErrNotExist)
}

func (b *binding) cStart(L *lua.LState) int {
	c := checkCtr(L, 1)
	t := checkOpts(L, 2, "stdin", "timeout")
	so := engine.StartOptions{Timeout: optTimeout(L, 2, t)}
	stdin := c.stdin
	if s, ok := optString(L, 2, t, "stdin"); ok {
		if !c.rec.Config.OpenStdin {
			argError(L, 2, "stdin given, but the container was created without stdin (create it with stdin= or interactive=true)")
		}
		stdin = &s
	}
	if stdin != nil {
		so.Stdin = strings.NewReader(*stdin)
	}
	out := b.capture(&so)
	rec, err := b.eng.Start(ctx(L), c.rec.ID, so)
	if rec != nil {
		c.rec = rec
		out.into(c)
		b.remember(c)
	}
	if err != nil {
		var cc *ctr
		if rec != nil {
			cc = c
		}
		b.raise(L, "start", err, 125, cc)
	}
	L.Push(L.Get(1))
	return 1
}

// cWait returns the container: in this synchronous model a start has already run it
// to completion. It refreshes the record so a container run elsewhere shows its end.
func (b *binding) cWait(L *lua.LState) int {
	c := checkCtr(L, 1)
	rec, err := b.eng.Containers.Get(c.rec.ID)
	if err != nil {
		// A removed container has nothing left to wait for: its last state would be
		// a stale answer.
		b.raise(L, "container:wait", err, 1, nil)
	}
	c.rec = rec
	L.Push(L.Get(1))
	return 1
}

func (b *binding) cRm(L *lua.LState) int {
	c := checkCtr(L, 1)
	t := checkOpts(L, 2, "force")
	force := optBool(L, 2, t, "force")
	if _, err := b.eng.Remove(c.rec.ID, force); err != nil {
		b.raise(L, "rm", err, 1, nil)
	}
	return 0
}

func (b *binding) cInspect(L *lua.LState) int {
	c := checkCtr(L, 1)
	rec, err := b.eng.Containers.Get(c.rec.ID)
	if err != nil {
		b.raise(L, "inspect", err, 1, nil)
	}
	c.rec = rec
	L.Push(toLua(L, b.eng.InspectContainer(rec)))
	return 1
}

func (b *binding) cLogs(L *lua.LState) int {
	return b.logs(L, "logs", checkCtr(L, 1).rec.ID)
}

func (b *binding) logs(L *lua.LState, op, ref string) int {
	var out, errb bytes.Buffer
	if err := b.eng.Logs(ref, &out, &errb); err != nil {
		b.raise(L, op, err, 1, nil)
	}
	L.Push(lua.LString(out.String()))
	L.Push(lua.LString(errb.String()))
	return 2
}

const recentContainers = 8

// remember keeps the last containers run, so a failing assertion on a string can say
// which container printed it.
func (b *binding) remember(c *ctr) {
	for i, r := range b.recent {
		if r == c {
			b.recent = append(b.recent[:i], b.recent[i+1:]...)
			break
		}
	}
	b.recent = append(b.recent, c)
	if len(b.recent) > recentContainers {
		b.recent = b.recent[1:]
	}
}

// producer is the recently run container whose stdout or stderr is s, if any.
func (b *binding) producer(s string) *ctr {
	if s == "" {
		return nil
	}
	for i := len(b.recent) - 1; i >= 0; i-- {
		if c := b.recent[i]; c.stdout == s || c.stderr == s {
			return c
		}
	}
	return nil
}

const tailLines = 10

// tail describes how a container ended and the last lines it printed, for failures.
func (c *ctr) tail() string {
	r := c.rec
	var sb strings.Builder
	name := r.Name
	if name == "" {
		name = r.ShortID()
	}
	cmd := strconv.Quote(truncate(r.Command(), 60))
	switch r.State.Status {
	case container.Exited:
		fmt.Fprintf(&sb, "container %s (%s, %s) exited with code %d", name, r.ShortID(), cmd, r.State.ExitCode)
	default:
		fmt.Fprintf(&sb, "container %s (%s, %s) is %s", name, r.ShortID(), cmd, r.State.Status)
	}
	if r.State.Error != "" {
		fmt.Fprintf(&sb, ": %s", r.State.Error)
	}
	for _, s := range []struct{ name, text string }{{"stdout", c.stdout}, {"stderr", c.stderr}} {
		if s.text == "" {
			continue
		}
		lines := strings.Split(strings.TrimSuffix(s.text, "\n"), "\n")
		head := fmt.Sprintf("%s:", s.name)
		if len(lines) > tailLines {
			head = fmt.Sprintf("%s (last %d of %d lines):", s.name, tailLines, len(lines))
			lines = lines[len(lines)-tailLines:]
		}
		sb.WriteString("\n" + head)
		for _, l := range lines {
			sb.WriteString("\n  | " + l)
		}
	}
	return sb.String()
}
