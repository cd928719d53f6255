//go:build !lean

package lab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"

	lua "github.com/yuin/gopher-lua"

	"lab/luabind"
)

func init() { scriptMain = runScript }

// unsafeLua is the user's opt-in to os.execute, io.popen, dofile and loadfile: scripts
// and the REPL are sandboxed unless LAB_UNSAFE=1.
func unsafeLua() bool { return os.Getenv("LAB_UNSAFE") == "1" }

// runScript runs `lab FILE.lua ARGS...` (FILE "-" reads stdin) against the user's store.
// Like the lua interpreter: arg[0] is the script, arg[1..] its arguments, which the
// chunk also receives as `...`. Exit status: 0, 1 on an error, 128+n on signal n.
func runScript(ctx context.Context, a *app, file string, args []string) int {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	// SIGINT/SIGTERM cancel the script's context, which kills a running container and
	// stops the Lua VM at its next instruction; the script then unwinds normally.
	var caught atomic.Int32
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM)
	defer signal.Stop(sigs)
	go func() {
		select {
		case s := <-sigs:
			caught.Store(int32(s.(syscall.Signal)))
			cancel()
		case <-ctx.Done():
		}
	}()

	src, name, err := readChunk(a.stdin, file)
	if err != nil {
		fmt.Fprintf(a.stderr, "lab: %v\n", err)
		return 1
	}
	eng, err := a.engine()
	if err != nil {
		fmt.Fprintf(a.stderr, "lab: %v\n", err)
		return 1
	}
	dir, script := "", ""
	if file != "-" {
		dir, script = filepath.Dir(file), strings.TrimSuffix(filepath.Base(file), ".lua")
	}
	L := luabind.NewState(eng, luabind.Options{Stdout: a.stdout, Stderr: a.stderr, Echo: true, Unsafe: unsafeLua(), Dir: dir, Script: script, MemoryLimit: int64(a.luaMemory)})
	defer L.Close()
	defer luabind.SetContext(L, ctx)()

	fn, err := L.Load(bytes.NewReader(src), name)
	if err == nil {
		argt := L.NewTable()
		argt.RawSetInt(-1, lua.LString("lab"))
		argt.RawSetInt(0, lua.LString(file))
		for i, s := range args {
			argt.RawSetInt(i+1, lua.LString(s))
		}
		L.SetGlobal("arg", argt)
		L.Push(fn)
		for _, s := range args {
			L.Push(lua.LString(s))
		}
		err = luabind.PCall(L, len(args), lua.MultRet, nil)
	}
	if s := caught.Load(); s != 0 {
		return 128 + int(s)
	}
	if reason, ok := luabind.SkipReason(err); ok {
		fmt.Fprintf(a.stderr, "skipped: %s\n", reason)
		return 0
	}
	if code, ok := luabind.ExitCode(err); ok {
		return code
	}
	if err != nil {
		writeFailure(a.stderr, "", err)
		return 1
	}
	return 0
}

// readChunk returns a script's source and its chunk name (the path as given, or
// "stdin"). A first line starting with '#' (a shebang) is blanked, as lua does, keeping
// the line numbers of the rest.
func readChunk(stdin io.Reader, file string) ([]byte, string, error) {
	var src []byte
	var err error
	name := file
	if file == "-" {
		name = "stdin"
		if stdin == nil {
			return nil, name, errors.New("no script on stdin")
		}
		src, err = io.ReadAll(stdin)
	} else {
		src, err = os.ReadFile(file)
	}
	var pe *os.PathError
	if errors.As(err, &pe) {
		err = pe.Err
	}
	if err != nil {
		return nil, name, fmt.Errorf("cannot read %s: %w", name, err)
	}
	if bytes.HasPrefix(src, []byte("#")) {
		if i := bytes.IndexByte(src, '\n'); i >= 0 {
			src = src[i:]
		} else {
			src = nil
		}
	}
	return src, name, nil
}

// failure splits a Lua error into where it happened, its message and its detail lines
// (expected/actual, a diff, a container's output tail).
func failure(err error) (where, msg, detail string) {
	if f := luabind.AsFailure(err); f != nil && (f.Detail != "" || luabind.IsFailureValue(err)) {
		return f.Where, f.Msg, f.Detail
	}
	// A runtime error (a syntax error, a Go error): its message, and the Lua frames that
	// led to it when there is more than the one line the message names.
	f := luabind.AsFailure(err)
	if f == nil {
		return "", "", ""
	}
	msg = f.Msg
	if i := strings.Index(msg, "\nstack traceback:"); i >= 0 {
		msg = msg[:i]
	}
	var ae *lua.ApiError
	if errors.As(err, &ae) {
		var frames []string
		for _, l := range strings.Split(ae.StackTrace, "\n") {
			l = strings.TrimSpace(l)
			if l == "" || strings.HasPrefix(l, "[G]") || strings.HasPrefix(l, "stack traceback") || strings.HasPrefix(l, "<") {
				continue
			}
			frames = append(frames, l)
		}
		if len(frames) > 1 {
			detail = "stack traceback:\n  " + strings.Join(frames, "\n  ")
		}
	}
	return f.Where, strings.TrimSpace(msg), detail
}

// writeFailure prints "prefix where: message" and the detail indented under it.
func writeFailure(w io.Writer, prefix string, err error) {
	where, msg, detail := failure(err)
	if where != "" && !strings.HasPrefix(msg, where) {
		msg = where + ": " + msg
	}
	fmt.Fprintf(w, "%s%s\n", prefix, msg)
	writeDetail(w, detail)
}

// writeDetail indents every line of detail by four spaces.
func writeDetail(w io.Writer, detail string) {
	detail = strings.TrimRight(detail, "\n")
	if detail == "" {
		return
	}
	for _, l := range strings.Split(detail, "\n") {
		fmt.Fprintf(w, "    %s\n", l)
	}
}
