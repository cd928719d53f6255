package luabind

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/build"
	"lab/runtime/engine"
)

// lab.build is added to the module from here so that the builder stays out of the
// core binding's files.
func init() {
	Extend(func(L *lua.LState, mod *lua.LTable, eng *engine.Engine) {
		mod.RawSetString("build", L.NewFunction(named("lab.build", buildFn(eng))))
	})
}

var buildOptions = []string{"context", "dockerfile", "files", "tag", "args", "target", "no_cache"}

// buildFn is lab.build{context=, dockerfile=, files=, tag=, args=, target=, no_cache=}:
// it builds like `lab build` and returns the Image and a report of the steps, so that
// a scenario can check which steps came from the cache.
//
// dockerfile is the Dockerfile's text when it holds a newline, else its path (default:
// the context's Dockerfile). files = {[path] = content} makes a throwaway context of
// those files instead of naming a directory. tag is a string or a list; args a map or
// a list of "K=V". A failed build raises a lab error whose code is the CLI's exit
// status: a RUN's own exit code, 1 otherwise.
func buildFn(eng *engine.Engine) lua.LGFunction {
	return func(L *lua.LState) int {
		b := bindingOf(L, eng)
		t := checkOpts(L, 1, buildOptions...)
		if t == nil {
			argError(L, 1, "options table expected, got no value")
		}
		o := build.Options{NoCache: optBool(L, 1, t, "no_cache"), Tags: optStringList(L, 1, t, "tag")}
		o.Target, _ = optString(L, 1, t, "target")
		o.Context, _ = optString(L, 1, t, "context")
		if o.Context != "" {
			o.Context = b.resolve(o.Context)
		}
		o.BuildArgs = buildArgs(L, t.RawGetString("args"))
		if files := t.RawGetString("files"); files != lua.LNil {
			ft, ok := files.(*lua.LTable)
			if !ok {
				argError(L, 1, "option 'files' must be a table of path = content, got "+typeName(files))
			}
			if o.Context != "" {
				argError(L, 1, "options 'context' and 'files' cannot be used together")
			}
			dir, err := writeContext(ft)
			if dir != "" {
				defer os.RemoveAll(dir)
			}
			if err != nil {
				b.raise(L, "lab.build", err, 1, nil)
			}
			o.Context = dir
		}
		if df, ok := optString(L, 1, t, "dockerfile"); ok {
			if strings.Contains(df, "\n") {
				o.DockerfileText = []byte(df)
			} else {
				o.Dockerfile = b.resolve(df)
				if _, err := os.Stat(o.Dockerfile); err != nil && !filepath.IsAbs(df) && o.Context != "" {
					o.Dockerfile = filepath.Join(o.Context, df)
				}
			}
		}
		if o.Context == "" && o.Dockerfile == "" && o.DockerfileText == nil {
			argError(L, 1, "a build needs a context, files or a dockerfile")
		}
		var out bytes.Buffer
		o.Output = &out
		if b.opts.Echo {
			o.Output = io.MultiWriter(&out, b.opts.Stdout)
		}
		res, err := build.Build(ctx(L), b.eng, o)
		if err != nil {
			code := 1
			var re *build.RunError
			if errors.As(err, &re) {
				code = re.Code
			}
			b.raise(L, "lab.build", err, code, nil)
		}
		L.Push(b.newImage(L, res.Image))
		L.Push(buildReport(L, res, out.String()))
		return 2
	}
}

// bindingOf is the binding of the state L runs on, for functions added by Extend,
// which only get the engine.
func bindingOf(L *lua.LState, eng *engine.Engine) *binding {
	if ud, ok := L.G.Registry.RawGetString(bindingKey).(*lua.LUserData); ok {
		if b, ok := ud.Value.(*binding); ok {
			return b
		}
	}
	return &binding{eng: eng, opts: Options{Stdout: io.Discard, Stderr: io.Discard}}
}

// buildArgs reads args: a map of NAME = value, a list of "NAME=value", or both.
func buildArgs(L *lua.LState, v lua.LValue) map[string]string {
	if v == lua.LNil {
		return nil
	}
	t, ok := v.(*lua.LTable)
	if !ok {
		argError(L, 1, "option 'args' must be a table, got "+typeName(v))
	}
	out := map[string]string{}
	t.ForEach(func(k, v lua.LValue) {
		var val string
		switch v := v.(type) {
		case lua.LString, lua.LNumber, lua.LBool:
			val = v.String()
		default:
			argError(L, 1, "option 'args': value of "+k.String()+" must be a string, got "+typeName(v))
		}
		if _, isIndex := k.(lua.LNumber); isIndex {
			name, value, ok := strings.Cut(val, "=")
			if !ok || name == "" {
				argError(L, 1, "option 'args': item "+k.String()+" must read NAME=value, got \""+val+"\"")
			}
			out[name] = value
			return
		}
		if ks, ok := k.(lua.LString); !ok || ks == "" {
			argError(L, 1, "option 'args': bad argument name "+k.String())
		}
		out[k.String()] = val
	})
	return out
}

// writeContext makes a temp directory holding files (path = content).
func writeContext(ft *lua.LTable) (string, error) {
	dir, err := os.MkdirTemp("", "lab-build-context-")
	if err != nil {
		return "", err
	}
	var ferr error
	ft.ForEach(func(k, v lua.LValue) {
		if ferr != nil {
			return
		}
		name, ok := k.(lua.LString)
		content, ok2 := v.(lua.LString)
		if !ok || !ok2 {
			ferr = errors.New("option 'files': each entry must be path = content (strings)")
			return
		}
		rel := filepath.Clean(string(name))
		if rel == "." || filepath.IsAbs(rel) || rel == ".." || strings.HasPrefix(rel, "../") {
			ferr = errors.New("option 'files': " + string(name) + " is not a path inside the context")
			return
		}
		p := filepath.Join(dir, rel)
		if ferr = os.MkdirAll(filepath.Dir(p), 0o755); ferr != nil {
			return
		}
		ferr = os.WriteFile(p, []byte(content), 0o644)
	})
	return dir, ferr
}

// buildReport is the second result of lab.build: {id, hits, ran, output, unused_args,
// steps = {{n, line, instruction, cached, image, layer, container, output}, ...}}.
func buildReport(L *lua.LState, res *build.Result, output string) *lua.LTable {
	r := L.NewTable()
	r.RawSetString("id", lua.LString(res.Image.ID.String()))
	r.RawSetString("output", lua.LString(output))
	steps := L.NewTable()
	ran := 0
	for _, s := range res.Steps {
		st := L.NewTable()
		st.RawSetString("n", lua.LNumber(s.Number))
		st.RawSetString("line", lua.LNumber(s.Line))
		st.RawSetString("instruction", lua.LString(s.Instruction))
		st.RawSetString("cached", lua.LBool(s.Cached))
		st.RawSetString("layer", lua.LBool(s.Layer))
		st.RawSetString("seconds", lua.LNumber(s.Duration.Seconds()))
		if s.Image != "" {
			st.RawSetString("image", lua.LString(s.Image))
		}
		if s.Container != "" {
			st.RawSetString("container", lua.LString(s.Container))
			st.RawSetString("output", lua.LString(s.Output))
		}
		if !s.Cached && s.Stage >= 0 && !strings.HasPrefix(strings.ToUpper(s.Instruction), "FROM") {
			ran++
		}
		steps.Append(st)
	}
	r.RawSetString("steps", steps)
	r.RawSetString("hits", lua.LNumber(res.Hits()))
	r.RawSetString("ran", lua.LNumber(ran))
	unused := append([]string{}, res.Unused...)
	sort.Strings(unused)
	r.RawSetString("unused_args", stringList(L, unused))
	return r
}
