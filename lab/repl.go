//go:build !lean

package lab

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/chzyer/readline"
	lua "github.com/yuin/gopher-lua"
	"github.com/yuin/gopher-lua/parse"
	"golang.org/x/sys/unix"

	"lab/luabind"
	"lab/runtime/engine"
)

func init() { replMain = runREPL }

const (
	prompt     = "lab> "
	contPrompt = ">> "
	// exactChunk: multi-line input up to this size is compiled after every line, so
	// a syntax error shows at once; past it, only once the chunkScanner sees its
	// blocks and brackets closed.
	exactChunk = 4 << 10
)

// runREPL is the interactive Lua prompt: one LState for the session, each statement
// under its own context so Ctrl-C stops that statement (and kills its container)
// without leaving the REPL.
func runREPL(ctx context.Context, a *app) int { return runREPLRecording(ctx, a, nil) }

// runREPLRecording is the REPL, writing each statement to rec when it is not nil.
func runREPLRecording(ctx context.Context, a *app, rec *recorder) int {
	eng, err := a.engine()
	if err != nil {
		fmt.Fprintf(a.stderr, "lab: %v\n", err)
		return 1
	}
	comp := &completer{eng: eng}
	pasted := &pasteReader{r: os.Stdin}
	if f, ok := a.stdin.(*os.File); ok {
		pasted.r = f
	}
	rl, err := readline.NewEx(&readline.Config{
		Stdin:        readline.NewCancelableStdin(pasted),
		Prompt:       prompt,
		HistoryFile:  filepath.Join(eng.Root, "repl_history"),
		HistoryLimit: 1000,
		AutoComplete: comp,
		// A statement typed over several lines is saved as one entry (see remember).
		DisableAutoSaveHistory: true,
		InterruptPrompt:        "^C",
		EOFPrompt:              "\n", // readline's spelling of "nothing": Ctrl-D just ends the line
		Stdout:                 a.stdout,
		Stderr:                 a.stderr,
	})
	if err != nil {
		fmt.Fprintf(a.stderr, "lab: %v\n", err)
		return 1
	}
	defer rl.Close()

	L := luabind.NewState(eng, luabind.Options{Stdout: a.stdout, Stderr: a.stderr, Echo: true, Unsafe: unsafeLua(), MemoryLimit: int64(a.luaMemory)})
	defer L.Close()
	replGlobals(L, a.stdout)
	// Completion runs on readline's goroutine while this one waits in Readline, so the
	// state is never used by both at once.
	comp.L = L

	// While a statement runs the terminal is in cooked mode, so Ctrl-C arrives as
	// SIGINT: it cancels that statement. At the prompt readline reads it as a key.
	// Ctrl-D is made the quit key meanwhile (see stmtTerminal), so it cancels too.
	var mu sync.Mutex
	var cancelStmt context.CancelFunc
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGQUIT)
	defer signal.Stop(sigs)
	quit := make(chan struct{})
	defer close(quit)
	go func() {
		for {
			select {
			case <-sigs:
				mu.Lock()
				if cancelStmt != nil {
					cancelStmt()
				}
				mu.Unlock()
			case <-quit:
				return
			}
		}
	}()

	fmt.Fprintf(a.stdout, "lab: Lua with the lab module (lab.run, lab.ps, lab.images, ...) on %s\nTab completes, Ctrl-C (or Ctrl-D) stops a statement, Ctrl-D at the prompt exits.\n", eng.Root)
	// queue holds the lines of a paste, run one by one as if typed.
	var queue []string
	var chunk strings.Builder
	scan := newChunkScanner()
	resetChunk := func() { chunk.Reset(); scan = newChunkScanner() }
	for {
		p := prompt
		if chunk.Len() > 0 {
			p = contPrompt
		}
		var line string
		if len(queue) > 0 {
			line, queue = queue[0], queue[1:]
			fmt.Fprintf(a.stdout, "%s%s\n", p, line)
		} else {
			rl.SetPrompt(p)
			bracketedPaste(a.stdout, pasteOn)
			l, err := rl.Readline()
			bracketedPaste(a.stdout, pasteOff)
			switch {
			case errors.Is(err, readline.ErrInterrupt):
				resetChunk() // Ctrl-C at the prompt drops what was typed so far
				pasted.take()
				continue
			case errors.Is(err, io.EOF):
				return 0
			case err != nil:
				fmt.Fprintf(a.stderr, "lab: %v\n", err)
				return 1
			}
			line = l
			if text := pasted.take(); text != "" {
				// readline returned the line typed before the paste; the paste
				// continues it. A last line without a newline runs too.
				queue = strings.Split(strings.TrimSuffix(l+text, "\n"), "\n")
				continue
			}
		}
		if chunk.Len() == 0 && strings.TrimSpace(line) == "" {
			continue
		}
		if chunk.Len() > 0 {
			chunk.WriteByte('\n')
		}
		chunk.WriteString(line)
		scan.feed(line)
		if scan.open() && chunk.Len() > exactChunk {
			continue
		}
		fn, incomplete, err := compileInput(L, chunk.String())
		if incomplete {
			continue
		}
		src := chunk.String()
		remember(rl, src)
		resetChunk()
		if err != nil {
			writeFailure(a.stderr, "", err)
			continue
		}

		sctx, cancel := context.WithCancel(ctx)
		mu.Lock()
		cancelStmt = cancel
		mu.Unlock()
		restore := stmtTerminal(a.stdin)
		vals, err := call(L, sctx, fn)
		restore()
		mu.Lock()
		cancelStmt = nil
		mu.Unlock()
		interrupted := sctx.Err() != nil
		cancel()
		if rec != nil && !interrupted {
			if rerr := rec.statement(L, src, vals, err); rerr != nil {
				fmt.Fprintf(a.stderr, "lab record: %v\n", rerr)
			}
		}
		switch {
		case interrupted:
			fmt.Fprintln(a.stderr, "interrupted")
			queue = nil // the rest of a paste goes with the interrupted statement
		case err != nil:
			if code, ok := luabind.ExitCode(err); ok {
				return code // exit() or lab.exit()
			}
			if reason, ok := luabind.SkipReason(err); ok {
				fmt.Fprintf(a.stderr, "skipped: %s\n", reason)
				break
			}
			writeFailure(a.stderr, "", err)
		case len(vals) > 0:
			L.SetGlobal("_", vals[0]) // the last value, as in Python's REPL
			parts := make([]string, len(vals))
			for i, v := range vals {
				parts[i] = luabind.Pretty(v)
			}
			sep := "\t"
			if strings.Contains(strings.Join(parts, ""), "\n") {
				sep = "\n"
			}
			fmt.Fprintln(a.stdout, strings.TrimRight(strings.Join(parts, sep), "\n"))
		}
	}
}

// bracketedPaste turns the terminal's bracketed paste mode on or off (see paste.go):
// on only while readline reads, so a paste while a statement runs stays plain input.
func bracketedPaste(w io.Writer, mode string) {
	if f, ok := w.(*os.File); ok && isTerminal(f) {
		io.WriteString(f, mode)
	}
}

// stmtTerminal sets the terminal up for a running statement: Ctrl-D becomes the quit
// character (SIGQUIT, which the REPL takes as Ctrl-C) instead of end-of-file. Left as
// end-of-file, a Ctrl-D typed while a statement runs stays in the terminal's input
// and ends readline's reader at the next prompt, which then never reads again. It
// returns the function that puts the terminal back.
func stmtTerminal(in io.Reader) func() {
	f, ok := in.(*os.File)
	if !ok {
		return func() {}
	}
	fd := int(f.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return func() {}
	}
	t := *saved
	t.Cc[unix.VQUIT] = 'D' & 0x1f
	t.Cc[unix.VEOF] = 0 // _POSIX_VDISABLE
	if unix.IoctlSetTermios(fd, unix.TCSETS, &t) != nil {
		return func() {}
	}
	return func() { unix.IoctlSetTermios(fd, unix.TCSETS, saved) }
}

// call runs fn under ctx and returns what it returned.
func call(L *lua.LState, ctx context.Context, fn *lua.LFunction) ([]lua.LValue, error) {
	defer luabind.SetContext(L, ctx)()
	top := L.GetTop()
	L.Push(fn)
	if err := luabind.PCall(L, 0, lua.MultRet, nil); err != nil {
		L.SetTop(top)
		return nil, err
	}
	vals := make([]lua.LValue, 0, L.GetTop()-top)
	for i := top + 1; i <= L.GetTop(); i++ {
		vals = append(vals, L.Get(i))
	}
	L.SetTop(top)
	return vals, nil
}

// compileInput compiles what the user typed, as lua 5.4's REPL does: first as an
// expression whose value is printed ("return " .. src), then as a statement. It reports
// incomplete input (a chunk that ended too early: "for i=1,2 do") so the REPL asks for
// more lines instead of failing.
func compileInput(L *lua.LState, src string) (*lua.LFunction, bool, error) {
	expr := strings.TrimPrefix(src, "=") // "=x" is lua 5.1's way to print x
	fn, eerr := L.Load(strings.NewReader("return "+expr), "stdin")
	if eerr == nil {
		return fn, false, nil
	}
	fn, serr := L.Load(strings.NewReader(src), "stdin")
	if serr == nil {
		return fn, false, nil
	}
	if endsEarly(serr) || endsEarly(eerr) {
		return nil, true, nil
	}
	return nil, false, serr
}

// endsEarly reports a syntax error at the end of input, other than a one-line string
// left open (that one cannot be finished on the next line).
func endsEarly(err error) bool {
	var ae *lua.ApiError
	if errors.As(err, &ae) && ae.Cause != nil {
		err = ae.Cause // gopher-lua keeps the parser's error here, without Unwrap
	}
	var pe *parse.Error
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Pos.Line == parse.EOF && pe.Message != "unterminated string"
}

// completer offers luabind.Names (lab functions, methods, image refs, container names)
// for the word before the cursor; inside a string literal the word is what follows the
// quote, so `lab.run("bu` completes image refs.
type completer struct {
	eng *engine.Engine
	L   *lua.LState // the session's state: what a variable holds decides what follows it
}

func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	word, quoted := wordBefore(string(line[:pos]))
	if word == "" && !quoted {
		return nil, 0
	}
	if !quoted && c.L != nil {
		if cands, prefix, ok := c.typed(word); ok {
			out := make([][]rune, len(cands))
			for i, n := range cands {
				out[i] = []rune(n[len(prefix):])
			}
			// Counting the whole word makes the list show "lab.run", not "run".
			return out, len([]rune(word))
		}
	}
	names := luabind.Names(c.eng)
	prefix := word
	cands := matching(names, prefix)
	if i := strings.LastIndexAny(word, ".:"); len(cands) == 0 && i >= 0 && !quoted {
		// c:com or c.sta: a method or field of whatever c is.
		prefix = word[i+1:]
		cands = matching(names, prefix)
	}
	out := make([][]rune, len(cands))
	for i, n := range cands {
		out[i] = []rune(n[len(prefix):])
	}
	return out, len([]rune(prefix))
}

// matching returns the names that extend prefix, sorted.
func matching(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) && n != prefix {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	return out
}

// wordBefore returns the word ending at the cursor and whether it is inside a string.
func wordBefore(s string) (string, bool) {
	var quote rune
	start := 0
	for i, r := range s {
		switch {
		case quote != 0 && r == quote && s[i-1] != '\\':
			quote = 0
		case quote == 0 && (r == '"' || r == '\''):
			quote = r
			start = i + 1
		}
	}
	if quote != 0 {
		return s[start:], true
	}
	i := len(s)
	for i > 0 {
		c := s[i-1]
		if c == '_' || c == '.' || c == ':' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' {
			i--
			continue
		}
		break
	}
	return s[i:], false
}
