//go:build !lean

package lab

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"

	"lab/luabind"
	"lab/runtime/engine"
)

func init() {
	register(map[string]*command{"test": {
		usage:        "[OPTIONS] [PATH...]",
		short:        "Run Lua scenarios (default scripts/), each in its own throwaway state",
		interspersed: true,
		goFlags:      true,
		flags: func(fs *pflag.FlagSet) any {
			o := &testFlags{}
			fs.BoolVarP(&o.verbose, "verbose", "v", false, "Print each scenario's transcript (print output and container output)")
			fs.StringVar(&o.run, "run", "", "Run only scenarios whose name (file or file/TestCase) matches this regular expression")
			fs.IntVarP(&o.jobs, "jobs", "j", 1, "Run this many scenarios in parallel")
			fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "Fail a scenario that runs longer than this")
			fs.StringVar(&o.junit, "junit", "", "Also write the results as JUnit XML to this file")
			fs.StringVar(&o.base, "base", "", "State directory whose images scenarios start from (default: the user's store)")
			return o
		},
		run: runTests,
	}})
}

type testFlags struct {
	verbose bool
	run     string
	jobs    int
	timeout time.Duration
	junit   string
	base    string
}

// scenario is one unit `lab test` runs in a fresh state: a whole file, or one global
// Test* function of a file (the file is run first, then the function).
type scenario struct {
	name string // file name without .lua, plus "/TestCase" for a case
	file string // path as given, also the chunk name so errors read file:line
	fn   string // the Test* function, or "" for a whole-file scenario
	src  []byte
}

const (
	passed  = "ok"
	failed  = "FAIL"
	skipped = "skip"
)

// outcome is what happened to one scenario.
type outcome struct {
	status string // passed, failed, skipped; "" when it never ran (interrupted)
	msg    string // "file:line: message", a skip reason, "timed out after 2s"
	detail string // expected/actual, a diff, a container's output tail
	dur    time.Duration
	output string // the transcript, for JUnit's system-out
}

func runTests(ctx context.Context, a *app, args []string) error {
	o := a.opts.(*testFlags)
	if o.jobs < 1 {
		return &statusError{code: 125, msg: "lab test: -j must be at least 1"}
	}
	if o.timeout <= 0 {
		return &statusError{code: 125, msg: "lab test: -timeout must be positive"}
	}
	var filter *regexp.Regexp
	if o.run != "" {
		re, err := regexp.Compile(o.run)
		if err != nil {
			return &statusError{code: 125, msg: fmt.Sprintf("lab test: invalid -run: %v", err)}
		}
		filter = re
	}
	if len(args) == 0 {
		args = []string{"scripts"}
	}
	all, err := collectScenarios(args)
	if err != nil {
		return err
	}
	var todo []*scenario
	for _, s := range all {
		if filter == nil || filter.MatchString(s.name) {
			todo = append(todo, s)
		}
	}

	base := a.eng
	if o.base != "" {
		// An existing store only: a typo should not silently start an empty one.
		if _, err := os.Stat(filepath.Join(o.base, "index.json")); err != nil {
			return fmt.Errorf("--base %s: not a lab state directory", o.base)
		}
		if base, err = engine.Open(o.base); err != nil {
			return err
		}
	} else if base, err = a.engine(); err != nil {
		return err
	}
	if len(todo) > 0 {
		// Scenarios may rely on busybox; a fresh store gets it once, here, rather than
		// in every scenario's fork.
		if _, err := base.Images.Get("busybox"); err != nil {
			fmt.Fprintf(a.stderr, "note: no busybox image in %s: bootstrapping it for the scenarios\n", base.Root)
			if _, err := base.Bootstrap(ctx, "busybox"); err != nil {
				return fmt.Errorf("bootstrap busybox: %w", err)
			}
		}
	}

	// Ctrl-C stops the scenarios still running (their containers are killed and removed
	// like any other's) and reports what finished.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	results := runScenarios(ctx, base, todo, o, a.stdout)
	var npass, nfail, nskip int
	for _, r := range results {
		switch r.status {
		case passed:
			npass++
		case failed:
			nfail++
		case skipped:
			nskip++
		}
	}
	summary := fmt.Sprintf("%d passed, %d failed", npass, nfail)
	if nskip > 0 {
		summary += fmt.Sprintf(", %d skipped", nskip)
	}
	fmt.Fprintln(a.stdout, summary)
	if o.junit != "" {
		if err := writeJUnit(o.junit, todo, results, started); err != nil {
			return fmt.Errorf("write junit: %w", err)
		}
	}
	switch {
	case ctx.Err() != nil:
		return &statusError{code: 130}
	case nfail > 0:
		return &statusError{code: 1}
	}
	return nil
}

// collectScenarios lists the scenarios in paths: each *.lua file of a directory (not
// recursive) or a file named directly, in name order; a file defining global Test*
// functions at its top level contributes one scenario per function, in source order.
func collectScenarios(paths []string) ([]*scenario, error) {
	var out []*scenario
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		files := []string{p}
		if st.IsDir() {
			if files, err = filepath.Glob(filepath.Join(p, "*.lua")); err != nil {
				return nil, err
			}
			sort.Strings(files)
			if len(files) == 0 {
				return nil, fmt.Errorf("no *.lua scenarios in %s", p)
			}
		}
		for _, f := range files {
			src, err := os.ReadFile(f)
			if err != nil {
				return nil, err
			}
			// Blank a shebang line, keeping line numbers, as the script runner does.
			if bytes.HasPrefix(src, []byte("#")) {
				if i := bytes.IndexByte(src, '\n'); i >= 0 {
					src = src[i:]
				}
			}
			name := strings.TrimSuffix(filepath.Base(f), ".lua")
			// A file that does not parse is one scenario, which fails when run with
			// the syntax error at its file:line.
			cases := testFunctions(src, f)
			if len(cases) == 0 {
				out = append(out, &scenario{name: name, file: f, src: src})
				continue
			}
			for _, fn := range cases {
				out = append(out, &scenario{name: name + "/" + fn, file: f, fn: fn, src: src})
			}
		}
	}
	return out, nil
}

// testFunctions finds the global functions named Test* that a chunk defines at its top
// level, in source order. It reads the syntax tree rather than running the file, so
// -run can pick cases before anything starts a container.
func testFunctions(src []byte, name string) []string {
	stmts, err := parse.Parse(bytes.NewReader(src), name)
	if err != nil {
		return nil
	}
	var names []string
	seen := map[string]bool{}
	add := func(e ast.Expr) {
		if id, ok := e.(*ast.IdentExpr); ok && strings.HasPrefix(id.Value, "Test") && !seen[id.Value] {
			seen[id.Value] = true
			names = append(names, id.Value)
		}
	}
	for _, st := range stmts {
		switch st := st.(type) {
		case *ast.FuncDefStmt:
			if st.Name.Receiver == nil {
				add(st.Name.Func)
			}
		case *ast.AssignStmt:
			for i, lhs := range st.Lhs {
				if i < len(st.Rhs) {
					if _, ok := st.Rhs[i].(*ast.FunctionExpr); ok {
						add(lhs)
					}
				}
			}
		}
	}
	return names
}

// runScenarios runs todo with o.jobs workers and prints one result line per scenario,
// in order, streaming each scenario's transcript (-v) as soon as those before it are done.
func runScenarios(ctx context.Context, base *engine.Engine, todo []*scenario, o *testFlags, out io.Writer) []outcome {
	width := 0
	for _, s := range todo {
		width = max(width, len(s.name))
	}
	results := make([]outcome, len(todo))
	seq := newSequencer(out, len(todo))
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(o.jobs, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				s := todo[i]
				w := seq.writer(i)
				if o.verbose {
					fmt.Fprintf(w, "=== RUN   %s\n", s.name)
				}
				r := runScenario(ctx, base, s, o, w)
				results[i] = r
				seq.finish(i, resultLines(s.name, width, r))
			}
		}()
	}
	i := 0
dispatch:
	for ; i < len(todo); i++ {
		select {
		case next <- i:
		case <-ctx.Done():
			break dispatch
		}
	}
	close(next)
	wg.Wait()
	for ; i < len(todo); i++ {
		seq.finish(i, "") // never started: let what finished after it print
	}
	return results
}

func resultLines(name string, width int, r outcome) string {
	var b strings.Builder
	switch r.status {
	case passed:
		fmt.Fprintf(&b, "ok   %-*s   %s\n", width, name, formatDuration(r.dur))
	case skipped:
		fmt.Fprintf(&b, "skip %s: %s\n", name, r.msg)
	case failed:
		fmt.Fprintf(&b, "FAIL %s: %s\n", name, r.msg)
		writeDetail(&b, r.detail)
	}
	return b.String()
}

func formatDuration(d time.Duration) string {
	if d < time.Second {
		return fmt.Sprintf("%dms", d.Milliseconds())
	}
	return fmt.Sprintf("%.2fs", d.Seconds())
}

// runScenario runs one scenario in a fork of base and removes the fork afterwards,
// whatever happened: its containers (killed if still running), then its directory.
func runScenario(ctx context.Context, base *engine.Engine, s *scenario, o *testFlags, w io.Writer) outcome {
	start := time.Now()
	var transcript lockedBuffer
	tw := io.Writer(&transcript)
	if o.verbose {
		tw = io.MultiWriter(&transcript, w)
	}
	dir, err := os.MkdirTemp("", "lab-test-")
	if err != nil {
		return outcome{status: failed, msg: err.Error()}
	}
	eng, err := base.Fork(dir)
	if err != nil {
		os.RemoveAll(dir)
		return outcome{status: failed, msg: err.Error()}
	}
	// Generated names follow from the scenario's name, so transcripts repeat.
	h := fnv.New64a()
	h.Write([]byte(s.name))
	eng.Containers.SetNameSeed(h.Sum64())

	sctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- runLua(sctx, eng, s, tw, o.verbose) }()
	var runErr error
	stuck := false
	select {
	case runErr = <-done:
	case <-sctx.Done():
		// The VM stops at its next instruction and a container is killed with the
		// context; this is only for a scenario blocked somewhere neither reaches.
		select {
		case runErr = <-done:
		case <-time.After(2 * time.Second):
			removeContainers(eng)
			select {
			case runErr = <-done:
			case <-time.After(5 * time.Second):
				stuck = true
			}
		}
	}
	r := outcome{dur: time.Since(start)}
	// A scenario that finished just as the deadline passed did not time out.
	timedOut := (runErr != nil || stuck) && errors.Is(sctx.Err(), context.DeadlineExceeded) && ctx.Err() == nil
	switch {
	case timedOut:
		where := ""
		if runErr != nil {
			where, _, _ = failure(runErr)
		}
		r.status, r.msg = failed, fmt.Sprintf("timed out after %s", o.timeout)
		if where != "" {
			r.msg = where + ": " + r.msg
		}
	case runErr != nil && ctx.Err() != nil:
		r.status, r.msg = failed, "interrupted"
	case runErr == nil:
		r.status = passed
	default:
		if reason, ok := luabind.SkipReason(runErr); ok {
			r.status, r.msg = skipped, reason
			break
		}
		where, msg, detail := failure(runErr)
		if where != "" && !strings.HasPrefix(msg, where) {
			msg = where + ": " + msg
		}
		r.status, r.msg, r.detail = failed, msg, detail
	}
	if stuck {
		// Removing the directory under a still running scenario could pull files out
		// from under it; leave it and say where.
		r.status = failed
		r.detail = strings.TrimSpace(r.detail + "\nthe scenario did not stop; its state is left in " + dir)
	} else if err := removeFork(eng, dir); err != nil {
		if r.status != failed {
			r.status, r.msg = failed, "cleanup: "+err.Error()
		} else {
			r.detail = strings.TrimSpace(r.detail + "\ncleanup: " + err.Error())
		}
	}
	r.output = transcript.String()
	return r
}

// runLua runs a scenario's file in a new LState and then its Test function, if any. It
// runs on its own goroutine, which alone touches the LState.
func runLua(ctx context.Context, eng *engine.Engine, s *scenario, w io.Writer, echo bool) error {
	L := luabind.NewState(eng, luabind.Options{Stdout: w, Stderr: w, Echo: echo, Unsafe: unsafeLua()})
	defer L.Close()
	L.SetContext(ctx)
	argt := L.NewTable()
	argt.RawSetInt(0, lua.LString(s.file))
	L.SetGlobal("arg", argt)
	fn, err := L.Load(bytes.NewReader(s.src), s.file)
	if err != nil {
		return err
	}
	L.Push(fn)
	if err := luabind.PCall(L, 0, 0, nil); err != nil {
		return err
	}
	if s.fn == "" {
		return nil
	}
	f, ok := L.GetGlobal(s.fn).(*lua.LFunction)
	if !ok {
		return fmt.Errorf("%s: %s is not a global function after running the file", s.file, s.fn)
	}
	L.Push(f)
	return luabind.PCall(L, 0, 0, nil)
}

// removeContainers force-removes every container of eng, killing running ones.
func removeContainers(eng *engine.Engine) error {
	cs, err := eng.Containers.List()
	if err != nil {
		return err
	}
	var errs []error
	for _, c := range cs {
		if _, err := eng.Remove(c.ID, true); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeFork removes a scenario's containers and then its state directory. A mount
// left under dir would make RemoveAll reach into whatever is mounted, so then the
// directory stays and the mounts are reported.
func removeFork(eng *engine.Engine, dir string) error {
	err := removeContainers(eng)
	if m := mountsUnder(dir); len(m) > 0 {
		return errors.Join(err, fmt.Errorf("mounts left under %s: %s", dir, strings.Join(m, " ")))
	}
	return errors.Join(err, os.RemoveAll(dir))
}

// mountsUnder lists the host's mount points at or below dir.
func mountsUnder(dir string) []string {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil
	}
	defer f.Close()
	var out []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && (fields[4] == dir || strings.HasPrefix(fields[4], dir+"/")) {
			out = append(out, fields[4])
		}
	}
	return out
}

// lockedBuffer is a transcript written by the Lua goroutine and by a container's
// output copiers at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// sequencer prints parallel scenarios' output in scenario order: the earliest
// unfinished scenario writes straight through, the others are held until it finishes.
type sequencer struct {
	mu   sync.Mutex
	out  io.Writer
	head int
	held []bytes.Buffer
	done []bool
	// nl tracks whether what was written for a scenario ends a line, so a result line
	// never continues a transcript's last line.
	nl []bool
}

func newSequencer(out io.Writer, n int) *sequencer {
	s := &sequencer{out: out, held: make([]bytes.Buffer, n), done: make([]bool, n), nl: make([]bool, n)}
	for i := range s.nl {
		s.nl[i] = true
	}
	return s
}

func (s *sequencer) write(i int, p []byte) {
	if len(p) == 0 {
		return
	}
	s.nl[i] = p[len(p)-1] == '\n'
	if i == s.head {
		s.out.Write(p)
		return
	}
	s.held[i].Write(p)
}

func (s *sequencer) writer(i int) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		s.mu.Lock()
		defer s.mu.Unlock()
		s.write(i, p)
		return len(p), nil
	})
}

// finish writes scenario i's last lines and lets the scenarios after it print.
func (s *sequencer) finish(i int, tail string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if tail != "" && !s.nl[i] {
		tail = "\n" + tail
	}
	s.write(i, []byte(tail))
	s.done[i] = true
	for s.head < len(s.done) && s.done[s.head] {
		s.head++
		if s.head < len(s.held) {
			s.out.Write(s.held[s.head].Bytes())
			s.held[s.head] = bytes.Buffer{}
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }
