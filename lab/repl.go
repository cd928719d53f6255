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

	"lab/luabind"
	"lab/runtime/engine"
)

func init() { replMain = runREPL }

const (
	prompt     = "lab> "
	contPrompt = ">> "
)

// runREPL is the interactive Lua prompt: one LState for the session, each statement
// under its own context so Ctrl-C stops that statement (and kills its container)
// without leaving the REPL.
func runREPL(ctx context.Context, a *app) int {
	eng, err := a.engine()
	if err != nil {
		fmt.Fprintf(a.stderr, "lab: %v\n", err)
		return 1
	}
	rl, err := readline.NewEx(&readline.Config{
		Prompt:          prompt,
		HistoryFile:     filepath.Join(eng.Root, "repl_history"),
		HistoryLimit:    1000,
		AutoComplete:    &completer{eng: eng},
		InterruptPrompt: "^C",
		EOFPrompt:       "\n", // readline's spelling of "nothing": Ctrl-D just ends the line
		Stdout:          a.stdout,
		Stderr:          a.stderr,
	})
	if err != nil {
		fmt.Fprintf(a.stderr, "lab: %v\n", err)
		return 1
	}
	defer rl.Close()

	L := luabind.NewState(eng, luabind.Options{Stdout: a.stdout, Stderr: a.stderr, Echo: true, Unsafe: unsafeLua()})
	defer L.Close()

	// While a statement runs the terminal is in cooked mode, so Ctrl-C arrives as
	// SIGINT: it cancels that statement. At the prompt readline reads it as a key.
	var mu sync.Mutex
	var cancelStmt context.CancelFunc
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT)
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

	fmt.Fprintf(a.stdout, "lab: Lua with the lab module (lab.run, lab.ps, lab.images, ...) on %s\nTab completes, Ctrl-C stops a statement, Ctrl-D exits.\n", eng.Root)
	var chunk []string
	for {
		if len(chunk) == 0 {
			rl.SetPrompt(prompt)
		} else {
			rl.SetPrompt(contPrompt)
		}
		line, err := rl.Readline()
		switch {
		case errors.Is(err, readline.ErrInterrupt):
			chunk = nil // Ctrl-C at the prompt drops what was typed so far
			continue
		case errors.Is(err, io.EOF):
			return 0
		case err != nil:
			fmt.Fprintf(a.stderr, "lab: %v\n", err)
			return 1
		}
		if len(chunk) == 0 && strings.TrimSpace(line) == "" {
			continue
		}
		chunk = append(chunk, line)
		fn, incomplete, err := compileInput(L, strings.Join(chunk, "\n"))
		if incomplete {
			continue
		}
		chunk = nil
		if err != nil {
			writeFailure(a.stderr, "", err)
			continue
		}

		sctx, cancel := context.WithCancel(ctx)
		mu.Lock()
		cancelStmt = cancel
		mu.Unlock()
		vals, err := call(L, sctx, fn)
		mu.Lock()
		cancelStmt = nil
		mu.Unlock()
		interrupted := sctx.Err() != nil
		cancel()
		switch {
		case interrupted:
			fmt.Fprintln(a.stderr, "interrupted")
		case err != nil:
			if reason, ok := luabind.SkipReason(err); ok {
				fmt.Fprintf(a.stderr, "skipped: %s\n", reason)
				break
			}
			writeFailure(a.stderr, "", err)
		case len(vals) > 0:
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

// call runs fn under ctx and returns what it returned.
func call(L *lua.LState, ctx context.Context, fn *lua.LFunction) ([]lua.LValue, error) {
	L.SetContext(ctx)
	defer L.RemoveContext()
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
type completer struct{ eng *engine.Engine }

func (c *completer) Do(line []rune, pos int) ([][]rune, int) {
	word, quoted := wordBefore(string(line[:pos]))
	if word == "" && !quoted {
		return nil, 0
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
