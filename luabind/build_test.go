package luabind

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"
)

// lab.build returns the Image and a report whose steps say which came from the cache.
func TestBuild(t *testing.T) {
	e := newEnv(t, Options{})
	ctxDir := filepath.Join(e.dir, "ctx")
	os.MkdirAll(ctxDir, 0o755)
	os.WriteFile(filepath.Join(ctxDir, "Dockerfile"), []byte("FROM busybox\nARG WHO=world\nCOPY hello.txt /\nRUN echo \"hi $WHO\" >> /hello.txt\nCMD [\"cat\", \"/hello.txt\"]\n"), 0o644)
	os.WriteFile(filepath.Join(ctxDir, "hello.txt"), []byte("hello\n"), 0o644)
	e.L.SetGlobal("ctx", lua.LString(ctxDir))
	before, _ := filepath.Glob(filepath.Join(os.TempDir(), "lab-build-context-*"))
	e.ok(`
		local img, r = lab.build{context = ctx, tag = {"greeter", "greeter:v1"}, args = {WHO = "lua"}}
		assert(img.id == r.id and img.id:match("^sha256:%x+$"), img.id)
		lab.expect(img):has_tag("greeter:latest"):has_tag("greeter:v1")
		lab.assert_eq(lab.run("greeter", nil, {rm = true}).stdout, "hello\nhi lua\n")
		lab.assert_eq(#r.steps, 5)
		lab.assert_eq(r.steps[1].instruction, "FROM busybox")
		lab.assert_eq(r.steps[4].line, 4)
		assert(r.steps[4].container and r.steps[4].output == "" and r.steps[4].layer)
		lab.assert_eq(r.hits, 0)
		lab.assert_eq(r.ran, 4)
		lab.expect(r.output):contains("Successfully tagged greeter:v1\n")

		-- Again: all from the cache, the same image.
		local again, r2 = lab.build{context = ctx, args = {"WHO=lua"}}
		lab.assert_eq(again.id, img.id)
		lab.assert_eq(r2.hits, 4)
		lab.assert_eq(r2.ran, 0)
		assert(r2.steps[4].cached and not r2.steps[4].container)

		-- A Dockerfile given as text, files as a throwaway context, no_cache, unused args.
		local _, r3 = lab.build{dockerfile = "FROM busybox\nCOPY a.txt /\n", files = {["a.txt"] = "a"}, no_cache = true, args = {X = "1"}}
		lab.assert_eq(r3.unused_args, {"X"})
		lab.expect(r3.output):contains("[Warning] One or more build-args [X] were not consumed")

		-- Failures raise lab errors carrying the CLI's exit status.
		lab.expect(function() lab.build{dockerfile = "FROM busybox\nRUN exit 4\n"} end):raises(4, "returned a non-zero code: 4")
		lab.expect(function() lab.build{dockerfile = "FROM busybox\nBOGUS\n"} end):raises(1, "Dockerfile:2: unknown instruction: BOGUS")
		lab.expect(function() lab.build{context = ctx, files = {}} end):raises("cannot be used together")
		lab.expect(function() lab.build{contxt = ctx} end):raises("unknown option 'contxt'")
		lab.expect(function() lab.build{files = {["../x"] = "x"}, dockerfile = "FROM busybox\n"} end):raises("not a path inside the context")
	`)
	if strings.Contains(e.out.String(), "Step 1/") {
		t.Errorf("without Echo the build output is only in the report:\n%s", e.out)
	}
	after, _ := filepath.Glob(filepath.Join(os.TempDir(), "lab-build-context-*"))
	if len(after) > len(before) {
		t.Errorf("temp contexts left behind: %v", after)
	}
}

// With Echo (CLI scripts), the build streams its output as it goes.
func TestBuildEcho(t *testing.T) {
	e := newEnv(t, Options{Echo: true})
	e.ok(`lab.build{dockerfile = "FROM busybox\nRUN echo streamed\n"}`)
	if !strings.Contains(e.out.String(), "Step 2/2 : RUN echo streamed\n") || !strings.Contains(e.out.String(), "\nstreamed\n") {
		t.Errorf("echoed output:\n%s", e.out)
	}
}
