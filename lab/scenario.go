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
	"io/fs"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/pflag"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/ast"
	"github.com/yuin/gopher-lua/parse"

	"lab/luabind"
	"lab/runtime/engine"
	"lab/runtime/reference"
)

func init() {
	register(map[string]*command{"test": {
		usage:        "[OPTIONS] [PATH...]",
		short:        "Run Lua scenarios (default scripts/), each file in its own throwaway state",
		interspersed: true,
		goFlags:      true,
		flags: func(fs *pflag.FlagSet) any {
			o := &testFlags{}
			fs.BoolVarP(&o.verbose, "verbose", "v", false, "Print each scenario's transcript (print output and container output)")
			fs.StringVar(&o.run, "run", "", "Run only scenarios whose name (file or file/TestCase) matches this regular expression")
			fs.IntVarP(&o.jobs, "jobs", "j", 1, "Run this many scenario files in parallel")
			fs.DurationVar(&o.timeout, "timeout", 60*time.Second, "Fail a scenario (a file's setup, or one case) that runs longer than this")
			fs.StringVar(&o.junit, "junit", "", "Also write the results as JUnit XML to this file")
			fs.StringVar(&o.base, "base", "", "State directory the scenarios' images come from (default: the user's store); never modified")
			fs.StringArrayVar(&o.images, "image", nil, "Base image of scenarios that declare none (default busybox; repeatable)")
			fs.StringVar(&o.shard, "shard", "", "Run only shard K of N (K/N): files are dealt round-robin, the same way on every machine")
			fs.BoolVar(&o.list, "list", false, "Print the selected scenarios' names and exit")
			fs.BoolVar(&o.failfast, "failfast", false, "Start no new scenario after the first failure")
			fs.StringVar(&o.rerunFailed, "rerun-failed", "", "Run only the scenarios that failed in this JUnit report")
			fs.BoolVar(&o.update, "update", false, "Write golden files (expect(x):golden(name)) instead of comparing with them")
			fs.Var(&o.luaMemory, "lua-memory", "Memory cap of each scenario's Lua state (0 = none; states running at once share the process)")
			return o
		},
		run: runTests,
	}})
}

type testFlags struct {
	verbose     bool
	run         string
	jobs        int
	timeout     time.Duration
	junit       string
	base        string
	images      []string
	shard       string
	list        bool
	failfast    bool
	rerunFailed string
	update      bool
	// luaMemory is --lua-memory; unset, the global one (lab --lua-memory X test).
	luaMemory luaMemoryValue
}

// unit is one scenario file: the unit of state, parallelism and sharding. Its top level
// is its setup and runs once; each global Test* function is a case run after it, in the
// same Lua state and store. A file without cases is a single scenario.
type unit struct {
	name   string   // path below the directory given, without .lua: "build/cache"
	file   string   // path as given, also the chunk name so errors read file:line
	src    []byte   // the source, shebang blanked
	cases  []string // the selected static Test* cases, in source order
	static []string // every static case, selected or not
	images []string // base images the scenario starts with
	// probe: the file has no static cases and its name is not selected, but it may make
	// cases at run time that are; it runs, and reports only such cases.
	probe bool
}

// scenarioName is how results, -run and JUnit name a case of u ("" for u as a whole).
func (u *unit) scenarioName(fn string) string {
	if fn == "" {
		return u.name
	}
	return u.name + "/" + fn
}

const (
	passed  = "ok"
	failed  = "FAIL"
	skipped = "skip"
)

// outcome is what happened to one scenario.
type outcome struct {
	name    string
	file    string
	status  string // passed, failed, skipped
	errKind string // for a failure: "failure" (a check failed) or "error" (a runtime error, a timeout)
	msg     string // "file:line: message", a skip reason, "timed out after 2s"
	detail  string // expected/actual, a diff, a container's output tail
	dur     time.Duration
	output  string // the transcript (print output, container output)
	stderr  string // the stderr part of it
}

// selection decides which scenarios run: -run, --rerun-failed.
type selection struct {
	re    *regexp.Regexp
	names map[string]bool // from --rerun-failed; nil = all
}

func (s selection) match(name string) bool {
	if s.names != nil && !s.names[name] {
		return false
	}
	return s.re == nil || s.re.MatchString(name)
}

func runTests(ctx context.Context, a *app, args []string) error {
	o := a.opts.(*testFlags)
	if o.jobs < 1 {
		return &statusError{code: 125, msg: "lab test: -j must be at least 1"}
	}
	if o.timeout <= 0 {
		return &statusError{code: 125, msg: "lab test: -timeout must be positive"}
	}
	if o.luaMemory == 0 {
		o.luaMemory = a.luaMemory
	}
	var sel selection
	if o.run != "" {
		re, err := regexp.Compile(o.run)
		if err != nil {
			return &statusError{code: 125, msg: fmt.Sprintf("lab test: invalid -run: %v", err)}
		}
		sel.re = re
	}
	shardK, shardN := 0, 0
	if o.shard != "" {
		if _, err := fmt.Sscanf(o.shard, "%d/%d", &shardK, &shardN); err != nil || shardN < 1 || shardK < 1 || shardK > shardN || o.shard != fmt.Sprintf("%d/%d", shardK, shardN) {
			return &statusError{code: 125, msg: fmt.Sprintf("lab test: invalid --shard %q: want K/N with 1 <= K <= N", o.shard)}
		}
	}
	if o.rerunFailed != "" {
		names, err := failedInJUnit(o.rerunFailed)
		if err != nil {
			return &statusError{code: 125, msg: fmt.Sprintf("lab test: --rerun-failed: %v", err)}
		}
		sel.names = names
	}
	if len(args) == 0 {
		args = []string{"scripts"}
	}
	defaults := o.images
	if len(defaults) == 0 {
		defaults = []string{"busybox"}
	}
	all, err := collectScenarios(args, defaults)
	if err != nil {
		return err
	}
	var todo []*unit
	for _, u := range all {
		if len(u.static) == 0 {
			if sel.match(u.name) {
				todo = append(todo, u)
			} else if bytes.Contains(u.src, []byte("Test")) {
				u.probe = true
				todo = append(todo, u)
			}
			continue
		}
		for _, fn := range u.static {
			if sel.match(u.scenarioName(fn)) {
				u.cases = append(u.cases, fn)
			}
		}
		if len(u.cases) > 0 {
			todo = append(todo, u)
		}
	}
	if shardN > 0 {
		var mine []*unit
		for i, u := range todo {
			if i%shardN == shardK-1 {
				mine = append(mine, u)
			}
		}
		todo = mine
	}
	if o.list {
		for _, u := range todo {
			if len(u.static) == 0 && !u.probe {
				fmt.Fprintln(a.stdout, u.name)
			}
			for _, fn := range u.cases {
				fmt.Fprintln(a.stdout, u.scenarioName(fn))
			}
		}
		return nil
	}
	if len(todo) == 0 && (sel.re != nil || sel.names != nil) {
		// As `go test -run` warns; an exit of 0 would let a typo in CI pass silently.
		fmt.Fprintln(a.stdout, "0 passed, 0 failed")
		return &statusError{code: 1, msg: "lab test: no scenario matches the selection (-run, --rerun-failed)"}
	}

	// Ctrl-C stops the scenarios still running (their containers are killed and removed
	// like any other's) and reports what finished.
	ctx, stop := signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	started := time.Now()
	var base *engine.Engine
	var missing map[string]error
	if len(todo) > 0 {
		var cleanup func()
		base, missing, cleanup, err = privateBase(ctx, o, todo)
		if err != nil {
			return err
		}
		defer cleanup()
	}
	results := runScenarios(ctx, base, missing, todo, o, sel, a.stdout)
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
		if err := writeJUnit(o.junit, results, started); err != nil {
			return fmt.Errorf("write junit: %w", err)
		}
	}
	switch {
	case ctx.Err() != nil:
		return &statusError{code: 130}
	case nfail > 0:
		return &statusError{code: 1}
	case len(results) == 0 && (sel.re != nil || sel.names != nil):
		return &statusError{code: 1, msg: "lab test: no scenario matches the selection (-run, --rerun-failed)"}
	}
	return nil
}

// privateBase builds the store every scenario of this run forks from: a fresh directory
// holding just the images the scenarios declare, taken from --base or the user's store
// (blobs hard-linked, layers unpacked anew, so a later rmi there cannot reach a running
// scenario) or, for busybox, bootstrapped. The source store is never modified. An image
// found nowhere fails the scenarios that need it (missing), not the run.
func privateBase(ctx context.Context, o *testFlags, todo []*unit) (*engine.Engine, map[string]error, func(), error) {
	var src *engine.Engine
	srcRoot := o.base
	if srcRoot == "" {
		srcRoot = engine.DefaultRoot()
	}
	if _, err := os.Stat(filepath.Join(srcRoot, "index.json")); err == nil {
		if src, err = engine.Open(srcRoot); err != nil {
			return nil, nil, nil, err
		}
	} else if o.base != "" {
		// An existing store only: a typo should not silently start from nothing.
		return nil, nil, nil, fmt.Errorf("--base %s: not a lab state directory", o.base)
	}
	dir, err := os.MkdirTemp("", "lab-test-base-")
	if err != nil {
		return nil, nil, nil, err
	}
	cleanup := func() { os.RemoveAll(dir) }
	base, err := engine.Open(dir)
	if err != nil {
		cleanup()
		return nil, nil, nil, err
	}
	missing := map[string]error{}
	done := map[string]bool{}
	for _, u := range todo {
		for _, ref := range u.images {
			if done[ref] {
				continue
			}
			done[ref] = true
			if src != nil {
				if _, err := src.Images.Get(ref); err == nil {
					if err := src.CopyImage(ctx, base, ref, false); err != nil {
						missing[ref] = err
					}
					continue
				}
			}
			if r, err := reference.Parse(ref); err == nil && r.String() == "busybox:latest" {
				if _, err := base.Bootstrap(ctx, "busybox"); err != nil {
					missing[ref] = fmt.Errorf("bootstrap busybox: %w", err)
				}
				continue
			}
			// Not in the store: pulled into the run's private base, never the user's.
			if _, err := base.Pull(ctx, ref, registryOptions(nil)); err != nil {
				missing[ref] = fmt.Errorf("no image %s in %s, and pulling it failed: %v", ref, srcRoot, engine.Clip(err.Error()))
			}
		}
	}
	return base, missing, cleanup, nil
}

// imagesHeader finds "-- lab: images a, b" in a file's leading comments.
var imagesHeader = regexp.MustCompile(`^--\s*lab:\s*images?\s+(.+)$`)

func declaredImages(src []byte) []string {
	var out []string
	for _, line := range strings.Split(string(src), "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		if !strings.HasPrefix(line, "--") {
			break
		}
		if m := imagesHeader.FindStringSubmatch(line); m != nil {
			out = append(out, strings.FieldsFunc(m[1], func(r rune) bool { return r == ',' || r == ' ' || r == '\t' })...)
		}
	}
	return out
}

// collectScenarios lists the scenario files in paths: every *.lua file below a
// directory (recursively, in path order) or a file named directly. A file's global
// Test* functions (defined at its top level) are its cases, in source order.
func collectScenarios(paths []string, defaultImages []string) ([]*unit, error) {
	var out []*unit
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		type found struct{ file, name string }
		var files []found
		if st.IsDir() {
			err := filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() && path != p && (strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata") {
					return filepath.SkipDir // fixtures and golden files live there
				}
				// _name.lua is a helper module for require, not a scenario.
				if !d.IsDir() && strings.HasSuffix(path, ".lua") && !strings.HasPrefix(d.Name(), "_") {
					rel, _ := filepath.Rel(p, path)
					files = append(files, found{path, strings.TrimSuffix(filepath.ToSlash(rel), ".lua")})
				}
				return nil
			})
			if err != nil {
				return nil, err
			}
			sort.Slice(files, func(i, j int) bool { return files[i].name < files[j].name })
			if len(files) == 0 {
				return nil, fmt.Errorf("no *.lua scenarios in %s", p)
			}
		} else {
			files = []found{{p, strings.TrimSuffix(filepath.Base(p), ".lua")}}
		}
		for _, f := range files {
			src, err := os.ReadFile(f.file)
			if err != nil {
				return nil, err
			}
			// Blank a shebang line, keeping line numbers, as the script runner does.
			if bytes.HasPrefix(src, []byte("#")) {
				if i := bytes.IndexByte(src, '\n'); i >= 0 {
					src = src[i:]
				}
			}
			images := declaredImages(src)
			if len(images) == 0 {
				images = defaultImages
			}
			// A file that does not parse is one scenario, which fails when run with
			// the syntax error at its file:line.
			out = append(out, &unit{name: f.name, file: f.file, src: src, static: testFunctions(src, f.file), images: images})
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
// in order, streaming each file's transcript (-v) as soon as those before it are done.
func runScenarios(ctx context.Context, base *engine.Engine, missing map[string]error, todo []*unit, o *testFlags, sel selection, out io.Writer) []outcome {
	width := 0
	for _, u := range todo {
		width = max(width, len(u.name))
		for _, fn := range u.cases {
			width = max(width, len(u.scenarioName(fn)))
		}
	}
	results := make([][]outcome, len(todo))
	seq := newSequencer(out, len(todo))
	var anyFailed atomic.Bool
	next := make(chan int)
	var wg sync.WaitGroup
	for range min(o.jobs, max(len(todo), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if o.failfast && anyFailed.Load() {
					seq.finish(i, "") // handed out just before the failure was known
					continue
				}
				r := &unitRun{ctx: ctx, base: base, missing: missing, u: todo[i], o: o, sel: sel, w: seq.writer(i), width: width, anyFailed: &anyFailed}
				results[i] = r.run()
				seq.finish(i, "")
			}
		}()
	}
	i := 0
dispatch:
	for ; i < len(todo); i++ {
		if o.failfast && anyFailed.Load() {
			break
		}
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
	var all []outcome
	for _, rs := range results {
		all = append(all, rs...)
	}
	return all
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

// unitRun runs one scenario file in a fork of the private base: its top level once (the
// setup), then each case with the global setup()/teardown() around it, then
// teardown_file(). Containers and images a case makes are removed after it, so every
// case starts from the state the setup left. The fork is removed at the end, whatever
// happened: its containers (killed if still running), then its directory.
type unitRun struct {
	ctx       context.Context
	base      *engine.Engine
	missing   map[string]error
	u         *unit
	o         *testFlags
	sel       selection
	w         io.Writer // the file's place in the ordered output
	width     int
	anyFailed *atomic.Bool

	eng     *engine.Engine
	out     transcript
	calls   chan func(*lua.LState) phaseResult
	results chan phaseResult
	stuck   bool
	res     []outcome
}

// phaseResult is how one call into the scenario's Lua state ended.
type phaseResult struct {
	err       error
	assertion bool // err is a failed check, not a runtime error
}

func (r *unitRun) run() []outcome {
	u := r.u
	for _, ref := range u.images {
		if err := r.missing[ref]; err != nil {
			r.failAll(outcome{status: failed, errKind: "error", msg: fmt.Sprintf("base image %s: %v", ref, err)})
			return r.res
		}
	}
	dir, err := os.MkdirTemp("", "lab-test-")
	if err != nil {
		r.failAll(outcome{status: failed, errKind: "error", msg: err.Error()})
		return r.res
	}
	r.eng, err = engine.Open(dir)
	for _, ref := range u.images {
		if err == nil {
			err = r.base.CopyImage(r.ctx, r.eng, ref, true)
		}
	}
	if err != nil {
		os.RemoveAll(dir)
		r.failAll(outcome{status: failed, errKind: "error", msg: err.Error()})
		return r.res
	}
	// Generated names follow from the file's name, so transcripts repeat.
	h := fnv.New64a()
	h.Write([]byte(u.name))
	r.eng.Containers.SetNameSeed(h.Sum64())

	r.out.echo = nil
	if r.o.verbose {
		r.out.echo = r.w
	}
	r.calls = make(chan func(*lua.LState) phaseResult)
	r.results = make(chan phaseResult)
	go r.luaLoop()
	r.phases()
	close(r.calls)

	if r.stuck {
		// Removing the directory under a still running scenario could pull files out
		// from under it; leave it and say where.
		if n := len(r.res); n > 0 {
			r.res[n-1].detail = strings.TrimSpace(r.res[n-1].detail + "\nthe scenario did not stop; its state is left in " + dir)
		}
	} else if err := removeFork(r.eng, dir); err != nil {
		r.emit(outcome{name: u.name + "/cleanup", status: failed, errKind: "error", msg: "cleanup: " + err.Error()})
	}
	return r.res
}

// luaLoop owns the scenario's Lua state: every call into it runs on this goroutine.
func (r *unitRun) luaLoop() {
	// Everything a scenario and its containers print is kept for the report (JUnit
	// system-out/err); only -v also shows it as it comes (r.out.echo).
	L := luabind.NewState(r.eng, luabind.Options{Stdout: r.out.stdout(), Stderr: r.out.stderr(), Echo: true, EchoSessions: true, Unsafe: unsafeLua(),
		Dir: filepath.Dir(r.u.file), Script: strings.TrimSuffix(filepath.Base(r.u.file), ".lua"), UpdateGolden: r.o.update,
		MemoryLimit: int64(r.o.luaMemory)})
	defer L.Close()
	for f := range r.calls {
		r.results <- f(L)
	}
}

// call runs f in the Lua state under its own timeout and reports how it ended. A call
// that does not stop after its deadline (blocked where neither the VM nor a container
// kill reaches) marks the file stuck: nothing more runs in it.
func (r *unitRun) call(f func(*lua.LState) error) (res phaseResult, timedOut bool) {
	pctx, cancel := context.WithTimeout(r.ctx, r.o.timeout)
	defer cancel()
	r.calls <- func(L *lua.LState) phaseResult {
		restore := luabind.SetContext(L, pctx) // also watches the state's memory cap
		err := f(L)
		restore()
		return phaseResult{err: err, assertion: err != nil && luabind.IsAssertion(L, err)}
	}
	select {
	case res = <-r.results:
	case <-pctx.Done():
		// The VM stops at its next instruction and a container is killed with the
		// context; this is only for a call blocked somewhere neither reaches.
		select {
		case res = <-r.results:
		case <-time.After(2 * time.Second):
			removeContainers(r.eng)
			select {
			case res = <-r.results:
			case <-time.After(5 * time.Second):
				r.stuck = true
			}
		}
	}
	// A call that finished just as the deadline passed did not time out.
	timedOut = (res.err != nil || r.stuck) && errors.Is(pctx.Err(), context.DeadlineExceeded) && r.ctx.Err() == nil
	return res, timedOut
}

// judge turns a call's end into an outcome (name, output and duration left to the caller).
func (r *unitRun) judge(res phaseResult, timedOut bool) outcome {
	var o outcome
	switch {
	case timedOut:
		where := ""
		if res.err != nil {
			where, _, _ = failure(res.err)
		}
		o.status, o.errKind, o.msg = failed, "error", fmt.Sprintf("timed out after %s", r.o.timeout)
		if where != "" {
			o.msg = where + ": " + o.msg
		}
	case r.stuck:
		o.status, o.errKind, o.msg = failed, "error", "did not stop"
	case res.err != nil && r.ctx.Err() != nil:
		o.status, o.errKind, o.msg = failed, "error", "interrupted"
	case res.err == nil:
		o.status = passed
	default:
		if reason, ok := luabind.SkipReason(res.err); ok {
			o.status, o.msg = skipped, reason
			break
		}
		if code, ok := luabind.ExitCode(res.err); ok {
			// lab.exit(0) ends a scenario as passed, any other code as failed.
			if code == 0 {
				o.status = passed
			} else {
				where, _, _ := failure(res.err)
				o.status, o.errKind, o.msg = failed, "failure", fmt.Sprintf("%s: lab.exit(%d)", where, code)
			}
			break
		}
		where, msg, detail := failure(res.err)
		if where != "" && !strings.HasPrefix(msg, where) {
			msg = where + ": " + msg
		}
		o.status, o.msg, o.detail = failed, msg, detail
		o.errKind = "error"
		if res.assertion {
			o.errKind = "failure"
		}
	}
	return o
}

func (r *unitRun) phases() {
	u := r.u
	// The setup: the file's top level.
	r.runHeader(u.name)
	start := time.Now()
	var dynamic []string
	res, timedOut := r.call(func(L *lua.LState) error {
		argt := L.NewTable()
		argt.RawSetInt(0, lua.LString(u.file))
		L.SetGlobal("arg", argt)
		fn, err := L.Load(bytes.NewReader(u.src), u.file)
		if err != nil {
			return err
		}
		L.Push(fn)
		if err := luabind.PCall(L, 0, 0, nil); err != nil {
			return err
		}
		// Cases the file made at run time (in a loop, by a helper) count too.
		known := map[string]bool{}
		for _, fn := range u.static {
			known[fn] = true
		}
		var others []string
		L.G.Global.ForEach(func(k, v lua.LValue) {
			name, ok := k.(lua.LString)
			if _, isFn := v.(*lua.LFunction); ok && isFn && strings.HasPrefix(string(name), "Test") && !known[string(name)] {
				others = append(others, string(name))
			}
		})
		// lab.cases' cases in the order they were made, then any others by name.
		for _, fn := range luabind.RegisteredCases(L) {
			known[fn] = true
			dynamic = append(dynamic, fn)
		}
		sort.Strings(others)
		for _, fn := range others {
			if !known[fn] {
				dynamic = append(dynamic, fn)
			}
		}
		return nil
	})
	setup := r.judge(res, timedOut)
	setupOut := r.out.take()
	cases := append([]string{}, u.cases...)
	for _, fn := range dynamic {
		if r.sel.match(u.scenarioName(fn)) {
			cases = append(cases, fn)
		}
	}
	if u.probe && setup.status == passed && len(cases) == 0 {
		return // nothing selected in it after all
	}
	if setup.status != passed || len(cases) == 0 {
		// A file without cases is one scenario; a setup that failed or skipped fails or
		// skips every case it would have run.
		setup.dur, setup.output, setup.stderr = time.Since(start), setupOut.all, setupOut.err
		if len(cases) == 0 {
			setup.name = u.name
			r.emit(setup)
		} else {
			setup.msg = "in setup: " + setup.msg
			r.failAll(setup)
		}
		if setup.status == passed || setup.status == skipped {
			r.teardownFile()
		}
		return
	}
	for i, fn := range cases {
		if r.stuck || r.ctx.Err() != nil || (r.o.failfast && r.anyFailed.Load()) {
			return
		}
		name := u.scenarioName(fn)
		if r.o.verbose {
			fmt.Fprintf(r.w, "=== RUN   %s\n", name)
		}
		start := time.Now()
		var keep snapshot
		res, timedOut := r.call(func(L *lua.LState) error {
			keep = takeSnapshot(r.eng)
			err := callGlobal(L, "setup", false)
			if err == nil {
				err = callGlobal(L, fn, true)
			}
			if terr := callGlobal(L, "teardown", false); err == nil {
				err = terr
			}
			return err
		})
		o := r.judge(res, timedOut)
		if !r.stuck {
			if err := keep.restore(r.eng); err != nil && o.status != failed {
				o.status, o.errKind, o.msg = failed, "error", "cleanup after the case: "+err.Error()
			}
		}
		got := r.out.take()
		o.name, o.dur, o.output, o.stderr = name, time.Since(start), got.all, got.err
		if i == 0 {
			o.output, o.stderr = setupOut.all+o.output, setupOut.err+o.stderr
		}
		r.emit(o)
	}
	r.teardownFile()
}

// runHeader prints -v's header for a file without static cases.
func (r *unitRun) runHeader(name string) {
	if r.o.verbose && len(r.u.static) == 0 {
		fmt.Fprintf(r.w, "=== RUN   %s\n", name)
	}
}

// teardownFile calls the file's teardown_file(), if it has one; a failure is reported
// as a scenario of its own.
func (r *unitRun) teardownFile() {
	if r.stuck || r.ctx.Err() != nil {
		return
	}
	start := time.Now()
	res, timedOut := r.call(func(L *lua.LState) error { return callGlobal(L, "teardown_file", false) })
	got := r.out.take()
	if o := r.judge(res, timedOut); o.status == failed {
		o.name, o.dur, o.output, o.stderr = r.u.name+"/teardown_file", time.Since(start), got.all, got.err
		r.emit(o)
	}
}

// emit records a scenario's outcome and prints its result line.
func (r *unitRun) emit(o outcome) {
	if o.file == "" {
		o.file = r.u.file
	}
	if o.status == failed {
		r.anyFailed.Store(true)
	}
	r.res = append(r.res, o)
	fmt.Fprint(r.w, resultLines(o.name, r.width, o))
}

// failAll reports o for every selected scenario of the file.
func (r *unitRun) failAll(o outcome) {
	if len(r.u.cases) == 0 {
		o.name = r.u.name
		r.emit(o)
		return
	}
	for _, fn := range r.u.cases {
		o.name = r.u.scenarioName(fn)
		r.emit(o)
	}
}

// callGlobal calls the global function name, if there is one (required: it must be).
func callGlobal(L *lua.LState, name string, required bool) error {
	f, ok := L.GetGlobal(name).(*lua.LFunction)
	if !ok {
		if required {
			return fmt.Errorf("%s is not a global function after running the file", name)
		}
		return nil
	}
	L.Push(f)
	return luabind.PCall(L, 0, 0, nil)
}

// snapshot is the containers and images of a scenario's store before a case.
type snapshot struct {
	containers map[string]bool
	images     map[string]bool
}

func takeSnapshot(eng *engine.Engine) snapshot {
	s := snapshot{containers: map[string]bool{}, images: map[string]bool{}}
	if cs, err := eng.Containers.List(); err == nil {
		for _, c := range cs {
			s.containers[c.ID] = true
		}
	}
	if is, err := eng.Images.List(); err == nil {
		for _, i := range is {
			s.images[i.ID.String()] = true
		}
	}
	return s
}

// restore removes the containers and images made since s, so the next case starts from
// the setup's state. Tags a case moved onto older images stay moved.
func (s snapshot) restore(eng *engine.Engine) error {
	var errs []error
	if cs, err := eng.Containers.List(); err == nil {
		for _, c := range cs {
			if !s.containers[c.ID] {
				if _, err := eng.Remove(c.ID, true); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	// Newest first: an image committed from another goes before its parent.
	if is, err := eng.Images.List(); err == nil {
		sort.Slice(is, func(i, j int) bool { return is[i].Created().After(is[j].Created()) })
		for _, i := range is {
			if !s.images[i.ID.String()] {
				if err := eng.Images.Delete(i); err != nil {
					errs = append(errs, err)
				}
			}
		}
	}
	return errors.Join(errs...)
}

// transcript collects what a scenario prints (print, io.write, container output with
// -v's echo) for one call at a time: all of it, and its stderr part for JUnit.
type transcript struct {
	mu   sync.Mutex
	all  bytes.Buffer
	err  bytes.Buffer
	echo io.Writer // -v: also straight to the ordered output
}

type taken struct{ all, err string }

func (t *transcript) take() taken {
	t.mu.Lock()
	defer t.mu.Unlock()
	got := taken{t.all.String(), t.err.String()}
	t.all.Reset()
	t.err.Reset()
	return got
}

func (t *transcript) stdout() io.Writer { return t.stream(false) }
func (t *transcript) stderr() io.Writer { return t.stream(true) }

func (t *transcript) stream(isErr bool) io.Writer {
	return writerFunc(func(p []byte) (int, error) {
		t.mu.Lock()
		defer t.mu.Unlock()
		t.all.Write(p)
		if isErr {
			t.err.Write(p)
		}
		if t.echo != nil {
			t.echo.Write(p)
		}
		return len(p), nil
	})
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
