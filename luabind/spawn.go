package luabind

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/container"
	"lab/runtime/engine"
	"lab/runtime/proc"
)

const sessionType = "lab.Session"

// defaultExpectTimeout bounds an expect that names no timeout, so a script waiting for
// text that never comes fails with what the screen showed instead of hanging.
const defaultExpectTimeout = 10 * time.Second

// session is a live container driven by a script: lab.spawn starts it, send/expect
// talk to it (through a pseudo-terminal with tty=true, else through pipes), wait
// collects the exited Container. The container runs in its own goroutine; everything
// the script sees goes through the mutex-guarded output buffer, so the LState stays on
// the script's goroutine.
type session struct {
	tty    bool
	stdin  *io.PipeWriter
	cancel context.CancelFunc

	name string    // the container's name, once known
	echo io.Writer // Options.EchoSessions: a copy of the output as it comes (lab test -v)

	mu       sync.Mutex
	out      bytes.Buffer
	consumed int           // output before this offset was matched by an earlier expect
	changed  chan struct{} // closed and replaced whenever output arrives or the run ends
	done     bool
	rec      *container.Container
	err      error
}

func (s *session) Write(p []byte) (int, error) {
	s.mu.Lock()
	s.out.Write(p)
	if s.echo != nil {
		s.echo.Write(p)
	}
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
	return len(p), nil
}

func (s *session) finish(rec *container.Container, err error) {
	s.mu.Lock()
	s.done, s.rec, s.err = true, rec, err
	close(s.changed)
	s.changed = make(chan struct{})
	s.mu.Unlock()
}

var spawnOptions = []string{"env", "workdir", "name", "rm", "hostname", "user", "entrypoint", "tty", "rows", "cols", "memory", "pids_limit", "cpus", "security_opt", "cap_add", "cap_drop", "privileged"}

// spawn is lab.spawn(image, cmd, opts): start a container and return at once with a
// Session. The container is not tied to the calling statement's context (a REPL line
// ends long before the session does); s:kill(), the end of the script or the scenario's
// cleanup end it.
func (b *binding) spawn(L *lua.LState) int {
	co, t, _ := b.createOptions(L, spawnOptions)
	co.OpenStdin = true
	size := proc.Winsize{Rows: 24, Cols: 80}
	if t != nil {
		if n, ok := t.RawGetString("rows").(lua.LNumber); ok {
			size.Rows = uint16(n)
		}
		if n, ok := t.RawGetString("cols").(lua.LNumber); ok {
			size.Cols = uint16(n)
		}
	}
	rec, err := b.eng.Create(ctx(L), co)
	if err != nil {
		b.raise(L, "lab.spawn", err, 125, nil)
	}
	pr, pw := io.Pipe()
	runCtx, cancel := context.WithCancel(context.Background())
	s := &session{tty: co.Tty, stdin: pw, cancel: cancel, changed: make(chan struct{}), name: rec.Name}
	if b.opts.EchoSessions {
		s.echo = b.opts.Stdout
	}
	so := engine.StartOptions{IO: engine.IO{Stdin: pr, Stdout: s, Stderr: s}}
	if co.Tty {
		so.Size = &size
	}
	// Return once the container runs (its run lock is taken) or has already ended, so
	// that a send right after spawn reaches it.
	started := make(chan struct{})
	var once sync.Once
	ready := func() { once.Do(func() { close(started) }) }
	go func() {
		got, err := b.eng.Start(runCtx, rec.ID, so)
		pr.Close()
		s.finish(got, err)
		ready()
	}()
	go func() {
		for i := 0; i < 1000 && !b.eng.Containers.IsRunning(rec.ID); i++ {
			select {
			case <-started:
				return
			case <-time.After(time.Millisecond):
			}
		}
		ready()
	}()
	select {
	case <-started:
	case <-ctx(L).Done():
	}
	ud := L.NewUserData()
	ud.Value = s
	L.SetMetatable(ud, L.GetTypeMetatable(sessionType))
	L.Push(ud)
	return 1
}

// sessionMethodNames are a Session's methods, for completion and help.
var sessionMethodNames = []string{"send", "expect", "close", "wait", "kill", "output"}

// text is how a session prints: <session busybox /bin/sh, running, 120 bytes of output>.
func (s *session) text() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	state := "running"
	if s.done {
		state = "exited"
		if s.rec != nil {
			state = fmt.Sprintf("exited (%d)", s.rec.State.ExitCode)
		}
	}
	what := ""
	if s.rec != nil {
		what = s.rec.Name + ", "
	} else if s.name != "" {
		what = s.name + ", "
	}
	return fmt.Sprintf("<session %s%s, %d bytes of output>", what, state, s.out.Len())
}

func (b *binding) registerSession(L *lua.LState) {
	mt := L.NewTypeMetatable(sessionType)
	mt.RawSetString("__name", lua.LString(sessionType))
	methods := namedFuncs("session:", map[string]lua.LGFunction{
		"send":   b.sSend,
		"expect": b.sExpect,
		"close":  b.sClose,
		"wait":   b.sWait,
		"kill":   b.sKill,
		"output": b.sOutput,
	})
	mt.RawSetString("__index", L.SetFuncs(L.NewTable(), methods))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(checkSession(L, 1).text()))
		return 1
	}))
}

func checkSession(L *lua.LState, n int) *session {
	if ud, ok := L.Get(n).(*lua.LUserData); ok {
		if s, ok := ud.Value.(*session); ok {
			return s
		}
	}
	argError(L, n, "session expected, got "+typeName(L.Get(n)))
	return nil
}

// send writes text to the container's input ("\4" is Ctrl-D on a terminal).
func (b *binding) sSend(L *lua.LState) int {
	s := checkSession(L, 1)
	text := checkString(L, 2)
	s.mu.Lock()
	done := s.done
	s.mu.Unlock()
	if done {
		b.raise(L, "session:send", fmt.Errorf("the container has exited"), 1, nil)
	}
	if _, err := io.WriteString(s.stdin, text); err != nil {
		b.raise(L, "session:send", err, 1, nil)
	}
	L.Push(L.Get(1))
	return 1
}

// expect waits for a Lua pattern to appear in the output not yet matched, returns the
// match (and its captures), and consumes the output up to its end, like expect(1).
func (b *binding) sExpect(L *lua.LState) int {
	s := checkSession(L, 1)
	pattern := checkString(L, 2)
	timeout := defaultExpectTimeout
	if n, ok := L.Get(3).(lua.LNumber); ok {
		timeout = time.Duration(float64(n) * float64(time.Second))
	}
	find := L.GetField(L.GetGlobal("string"), "find")
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		s.mu.Lock()
		rest := s.out.String()[s.consumed:]
		base := s.consumed
		done, changed := s.done, s.changed
		s.mu.Unlock()
		top := L.GetTop()
		L.Push(find)
		L.Push(lua.LString(rest))
		L.Push(lua.LString(pattern))
		L.Call(2, lua.MultRet)
		// string.find left start, end and any captures above expect's own arguments.
		var res []lua.LValue
		for i := top + 1; i <= L.GetTop(); i++ {
			res = append(res, L.Get(i))
		}
		L.SetTop(top)
		if len(res) >= 2 && res[0] != lua.LNil {
			start, end := int(res[0].(lua.LNumber)), int(res[1].(lua.LNumber))
			s.mu.Lock()
			s.consumed = base + end
			s.mu.Unlock()
			L.Push(lua.LString(rest[start-1 : end]))
			for _, c := range res[2:] {
				L.Push(c)
			}
			return 1 + len(res) - 2
		}
		if done {
			code := -1
			if s.rec != nil {
				code = s.rec.State.ExitCode
			}
			fail(L, fmt.Sprintf("expect %q: the container exited (code %d) before it appeared", pattern, code), "output so far:\n"+screen(rest))
		}
		select {
		case <-changed:
		case <-deadline.C:
			fail(L, fmt.Sprintf("expect %q: timed out after %s", pattern, timeout), "output so far:\n"+screen(rest))
		case <-ctx(L).Done():
			b.raise(L, "session:expect", ctx(L).Err(), 1, nil)
		}
	}
}

// screen shows the tail of unmatched output, control characters made visible.
func screen(s string) string {
	if len(s) > 2000 {
		s = "..." + s[len(s)-2000:]
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	var sb strings.Builder
	for _, r := range s {
		switch {
		case r == '\n' || r == '\t':
			sb.WriteRune(r)
		case r < 32:
			sb.WriteString(fmt.Sprintf("^%c", r+64))
		default:
			sb.WriteRune(r)
		}
	}
	return "    " + strings.ReplaceAll(sb.String(), "\n", "\n    ")
}

// close ends the container's input: Ctrl-D on a terminal, end-of-file on a pipe.
func (b *binding) sClose(L *lua.LState) int {
	s := checkSession(L, 1)
	if s.tty {
		io.WriteString(s.stdin, "\x04")
	} else {
		s.stdin.Close()
	}
	return 0
}

// wait waits (timeout seconds, default none) for the container to exit and returns it
// as a Container whose stdout is everything the session printed.
func (b *binding) sWait(L *lua.LState) int {
	s := checkSession(L, 1)
	var timer <-chan time.Time
	if n, ok := L.Get(2).(lua.LNumber); ok {
		t := time.NewTimer(time.Duration(float64(n) * float64(time.Second)))
		defer t.Stop()
		timer = t.C
	}
	for {
		s.mu.Lock()
		done, changed := s.done, s.changed
		s.mu.Unlock()
		if done {
			break
		}
		select {
		case <-changed:
		case <-timer:
			fail(L, "session:wait: timed out; the container is still running", "output so far:\n"+screen(s.output()))
		case <-ctx(L).Done():
			b.raise(L, "session:wait", ctx(L).Err(), 1, nil)
		}
	}
	if s.rec == nil {
		b.raise(L, "session:wait", s.err, 125, nil)
	}
	c := &ctr{rec: s.rec, stdout: s.output(), captured: true}
	b.remember(c)
	return b.pushContainer(L, c)
}

func (s *session) output() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.out.String()
}

// kill ends the container now.
func (b *binding) sKill(L *lua.LState) int {
	checkSession(L, 1).cancel()
	return 0
}

// output returns everything the container printed so far.
func (b *binding) sOutput(L *lua.LState) int {
	L.Push(lua.LString(checkSession(L, 1).output()))
	return 1
}

// sleep is lab.sleep(seconds): a pause that a timeout or Ctrl-C still interrupts. A
// script typing into a terminal needs it where a person would pause: type-ahead goes to
// whichever program reads the terminal first, as on a real one.
func (b *binding) sleep(L *lua.LState) int {
	d := time.Duration(float64(L.CheckNumber(1)) * float64(time.Second))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx(L).Done():
		b.raise(L, "lab.sleep", ctx(L).Err(), 1, nil)
	}
	return 0
}
