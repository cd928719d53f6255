package luabind

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
)

func TestRunOptions(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		-- exec form, shell form and the image's default command
		local c = lab.run("busybox", {"/bin/echo", "a b", "c"})
		assert(c.stdout == "a b c\n" and c.stderr == "" and c.exit_code == 0, c.stdout)
		c = lab.run("busybox", "echo $((6 * 7)); echo oops >&2; exit 3")
		assert(c.stdout == "42\n" and c.stderr == "oops\n" and c.exit_code == 3)
		assert(c.command:find("^/bin/sh %-c "), c.command)
		c = lab.run("busybox", nil, {stdin = "echo from-default-cmd\n"})
		assert(c.stdout == "from-default-cmd\n" and c.command == "sh", c.command)

		c = lab.run("busybox", {"cat"}, {stdin = "line1\nline2\n"})
		assert(c.stdout == "line1\nline2\n")

		c = lab.run("busybox", "echo $A-$B-$C", {env = {"A=1", B = "2", C = 3}})
		assert(c.stdout == "1-2-3\n", c.stdout)

		c = lab.run("busybox", "pwd; hostname; id -u", {workdir = "/tmp", hostname = "box", user = "1000", name = "opts"})
		assert(c.stdout == "/tmp\nbox\n1000\n", c.stdout)
		assert(c.name == "opts" and lab.container("opts") == c)

		c = lab.run("busybox", {"hello"}, {entrypoint = "/bin/echo"})
		assert(c.stdout == "hello\n", c.stdout)

		c = lab.run("busybox", "echo gone", {rm = true})
		assert(c.stdout == "gone\n" and c.status == "exited")
		assert(lab.container(c.id) == nil, "rm = true removes the container")
		assert(#lab.ps{all = true} == 7, tostring(#lab.ps{all = true}))
	`)
	// Fields of a finished container.
	e.ok(`c = lab.container("opts")`)
	if id := e.str("c.id"); !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(id) {
		t.Errorf("id = %q", id)
	}
	if e.str("c.short_id") != e.str("c.id")[:12] || e.str("c.image") != "busybox" || e.str("c.status") != "exited" {
		t.Errorf("short_id/image/status = %s %s %s", e.str("c.short_id"), e.str("c.image"), e.str("c.status"))
	}
	if e.str("type(c.created)") != "number" || e.str("c.started >= c.created and c.finished >= c.started") != "true" ||
		e.str("c.duration >= 0 and c.duration < 10") != "true" {
		t.Errorf("times: created %s started %s finished %s duration %s", e.str("c.created"), e.str("c.started"), e.str("c.finished"), e.str("c.duration"))
	}
	// A container looked up rather than run here shows what its log holds.
	if got := e.str("c.stdout"); got != "/tmp\nbox\n1000\n" {
		t.Errorf("looked-up stdout = %q", got)
	}
	if err := e.fails(`c.name = "x"`); !strings.Contains(err.Error(), "read-only") {
		t.Errorf("setting a field: %v", err)
	}
}

func TestTimeout(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		local t0 = os.time()
		local ok, err = pcall(lab.run, "busybox", "echo started; sleep 30", {timeout = 0.3, name = "slow"})
		assert(not ok and tostring(err):find("timed out"), tostring(err))
		assert(err.code == 125 and err.container.name == "slow", err.code)
		assert(err.container.stdout == "started\n", err.container.stdout)
		assert(err.container.exit_code == 137, err.container.exit_code)
		assert(os.time() - t0 < 10)
	`)
}

func TestCreateStartWait(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		local c = lab.create("busybox", "echo x >> /log; wc -l < /log", {name = "counter"})
		assert(c.status == "created" and c.exit_code == 0 and c.started == nil and c.stdout == "")
		assert(#lab.ps{all = true} == 1 and #lab.ps() == 0)
		assert(c:start() == c and c.status == "exited")
		assert(c.stdout:match("^%s*1\n$"), c.stdout)
		c:start()
		assert(c.stdout:match("^%s*2\n$"), "a restart sees the first start's file: " .. c.stdout)
		assert(c:wait() == c and c.status == "exited")
		local out, err = c:logs()
		assert(out:gsub("%s", "") == "12", out)
		assert(lab.logs("counter") == out)

		local i = lab.create("busybox", {"cat"}, {stdin = "fed at create\n"})
		assert(i:start().stdout == "fed at create\n")
		assert(i:start{stdin = "fed at start\n"}.stdout == "fed at start\n")
		local ok, e2 = pcall(c.start, c, {stdin = "x"})
		assert(not ok and tostring(e2):find("created without stdin"), tostring(e2))

		c:rm()
		assert(lab.container("counter") == nil and #lab.ps{all = true} == 1)
		local ok, e3 = pcall(c.rm, c)
		assert(not ok and e3.code == 1 and tostring(e3):find("no such container"), tostring(e3))

		local r = lab.create("busybox", "true", {rm = true})
		r:start()
		assert(lab.container(r.id) == nil, "start of an rm container removes it")
	`)
}

func TestListsAndLookups(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		a = lab.run("busybox", "true", {name = "first"})
		b = lab.run("busybox", "exit 2", {name = "second"})
		all = lab.ps{all = true}
	`)
	if e.str("#all") != "2" || e.str("all[1].name") != "second" || e.str("all[2].name") != "first" {
		t.Fatalf("ps{all=true} should list both, newest first")
	}
	if e.str("#lab.ps()") != "0" || e.str("lab.ps{latest = true}[1].name") != "second" || e.str("#lab.ps{last = 1}") != "1" {
		t.Fatal("ps without all lists running containers only; latest/last limit")
	}
	table := e.str("tostring(all)")
	lines := strings.Split(table, "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "CONTAINER ID   IMAGE     COMMAND") ||
		!strings.Contains(lines[1], "Exited (2)") || !strings.HasSuffix(lines[2], "first") {
		t.Errorf("tostring(ps) is not the ps table:\n%s", table)
	}
	row := e.str("tostring(a)")
	if !strings.HasPrefix(row, e.str("a.short_id")+"   busybox   \"/bin/sh -c true\"") || !strings.HasSuffix(row, "first") || strings.Contains(row, "CONTAINER ID") {
		t.Errorf("tostring(c) = %q", row)
	}

	images := e.str("tostring(lab.images())")
	if !regexp.MustCompile(`^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE\nbusybox\s+latest\s+[0-9a-f]{12}\s`).MatchString(images) {
		t.Errorf("tostring(images):\n%s", images)
	}
	if got := e.str(`tostring(lab.image("busybox"))`); !regexp.MustCompile(`^busybox\s+latest\s+[0-9a-f]{12}\s+.* ago\s+[0-9.]+MB$`).MatchString(got) {
		t.Errorf("tostring(image) = %q", got)
	}
	e.ok(`
		local img = lab.image("busybox")
		assert(#lab.images() == 1 and lab.images()[1] == img)
		assert(img.tags[1] == "busybox:latest" and img.size > 100000 and img.created > 0)
		assert(img.id:sub(8, 19) == img.short_id)
		assert(lab.image(img.short_id) == img and lab.image(img.id) == img)
		assert(lab.image("nope") == nil and lab.image("nope:1.0") == nil)
		assert(lab.container("nope") == nil and lab.container(a.short_id) == a)
		assert(a ~= b)
	`)
	if err := e.fails(`lab.image("UPPER")`); !strings.Contains(err.Error(), "lab.image: ") {
		t.Errorf("an invalid reference is an error, not a miss: %v", err)
	}
}

func TestCommitTagRmi(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		local c = lab.run("busybox", "echo hi > /greeting", {name = "maker"})
		local img = lab.commit("maker", "greeter:v1", {message = "add greeting", author = "me", changes = {"CMD cat /greeting", "ENV X=1"}})
		assert(img.tags[1] == "greeter:v1")
		local cfg = img:config()
		assert(cfg.cmd[1] == "/bin/sh" and cfg.cmd[3] == "cat /greeting" and cfg.env[#cfg.env] == "X=1", cfg.cmd[3])
		assert(cfg.author == "me")
		assert(lab.run("greeter:v1").stdout == "hi\n")
		local h = img:history()
		assert(#h == 2 and h[1].comment == "add greeting" and h[1].id == img.id and h[2].id == "<missing>")
		assert(tostring(h):find("^IMAGE%s+CREATED%s+CREATED BY%s+SIZE%s+COMMENT\n"), tostring(h))
		assert(#lab.history("greeter:v1") == 2)
		local layers = img:layers()
		assert(#layers == 2 and layers[2].digest:match("^sha256:") and layers[2].diff_id and layers[2].size > 0)

		local untagged = c:commit()
		assert(#untagged.tags == 0)
		local np = c:commit(nil, {pause = false})
		assert(#np.tags == 0)
		np:rm()
		assert(not pcall(c.commit, c, nil, {pause = "no"}))

		local t = lab.tag(img, "greeter:latest")
		assert(t == img and #t.tags == 2, #t.tags)
		assert(img:tag("other").tags[3] == "other:latest")
		local lines = lab.rmi("other", "greeter:latest")
		assert(lines[1] == "Untagged: other:latest" and lines[2] == "Untagged: greeter:latest", lines[1])
		assert(lab.image("greeter:v1") ~= nil)

		-- an image a container uses cannot go; rm the containers, then it can
		local ok, err = pcall(lab.rmi, "greeter:v1")
		assert(not ok and err.code == 1 and tostring(err):find("conflict"), tostring(err))
		lab.rm(c, lab.ps{all = true}[1], {force = true})
		assert(#lab.ps{all = true} == 0)
		lines = lab.rmi("greeter:v1")
		assert(lines[#lines]:match("^Deleted: sha256:"), lines[#lines])
		assert(lab.image("greeter:v1") == nil)
		untagged:rm()
		assert(#lab.images() == 1)
	`)
}

func TestExportImport(t *testing.T) {
	e := newEnv(t, Options{})
	tar := filepath.Join(e.dir, "fs.tar")
	e.L.SetGlobal("tarpath", lua.LString(tar))
	e.ok(`
		local c = lab.run("busybox", "echo exported > /marker")
		lab.export(c, tarpath)
		local img = lab.import(tarpath, "flat:1", {changes = {"CMD cat /marker"}})
		assert(img.tags[1] == "flat:1" and #img:layers() == 1)
		assert(img:history()[1].comment == "Imported from " .. tarpath, img:history()[1].comment)
		assert(lab.run("flat:1").stdout == "exported\n")
	`)
	if fi, err := os.Stat(tar); err != nil || fi.Size() < 100000 {
		t.Fatalf("export wrote %v %v", fi, err)
	}
	bad := filepath.Join(e.dir, "no", "such", "dir.tar")
	e.L.SetGlobal("bad", lua.LString(bad))
	if err := e.fails(`lab.export(lab.ps{all=true}[1], bad)`); !strings.Contains(err.Error(), "lab.export: ") {
		t.Errorf("export to a bad path: %v", err)
	}
	if err := e.fails(`lab.import(bad)`); !strings.Contains(err.Error(), "lab.import: ") || ErrorCode(e.lastErr) != 1 {
		t.Errorf("import of a missing file: %v", err)
	}
}

func TestDiffReadInspect(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		c = lab.run("busybox", "echo new > /foo; echo changed >> /etc/passwd; rm /bin/ls; mkdir /d")
		d = c:diff()
	`)
	if got := e.str("tostring(d)"); got != "C /bin\nD /bin/ls\nA /d\nC /etc\nC /etc/passwd\nA /foo" {
		t.Errorf("tostring(diff) =\n%s", got)
	}
	e.ok(`
		assert(#d == 6 and d[1].kind == "C" and d[1].path == "/bin" and tostring(d[6]) == "A /foo")
		assert(#lab.diff(c.name) == 6)
		assert(c:read("/foo") == "new\n")
		local v, msg = c:read("/nope")
		assert(v == nil and msg:find("does not exist"), msg)
		assert(c:exists("/foo") and c:exists("/d") and not c:exists("/bin/ls") and not c:exists("/nope"))
		local img = lab.image("busybox")
		assert(img:read("/etc/passwd"):find("^root:") and img:exists("/bin/ls") and not img:exists("/foo"))

		local i = c:inspect()
		assert(i.Id == c.id and i.State.Status == "exited" and i.State.ExitCode == 0 and i.Name == "/" .. c.name)
		assert(i.Config.Cmd[1] == "/bin/sh" and i.Config.Image == "busybox")
		assert(lab.inspect(c).Id == c.id and lab.inspect(c.name).Id == c.id)
		local ii = lab.inspect("busybox")
		assert(ii.Id == img.id, ii.Id)
		assert(lab.inspect(img).Id == img.id and img:inspect().Id == img.id)
		local ok, err = pcall(lab.inspect, "nothing-here")
		assert(not ok and tostring(err) == "lab.inspect: no such object: nothing-here", tostring(err))
	`)
}

func TestBootstrap(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		local img = lab.bootstrap("busybox")
		assert(img == lab.image("busybox"))
		local ok, err = pcall(lab.bootstrap, "windows")
		assert(not ok and err.code == 1 and tostring(err):find("^lab.bootstrap: "), tostring(err))
	`)
}

// Operations raise errors with the CLI's exit codes; not-found lookups do not.
func TestErrorCodes(t *testing.T) {
	e := newEnv(t, Options{})
	cases := []struct {
		src, msg string
		code     int
	}{
		{`lab.run("nope")`, "lab.run: no such image: nope:latest", 125},
		{`lab.create("nope", "true")`, "lab.create: no such image: nope:latest", 125},
		{`lab.run("busybox", {"/no/such/cmd"})`, "lab.run: exec: \"/no/such/cmd\"", 127},
		{`lab.run("busybox", {"no-such-cmd"})`, "executable file not found", 127},
		{`lab.run("busybox", {"/etc/passwd"})`, "permission denied", 126},
		{`lab.run("busybox", "true", {workdir = "rel"})`, "needs to be an absolute path", 125},
		{`lab.rm("ghost")`, "lab.rm: no such container: ghost", 1},
		{`lab.rmi("ghost")`, "lab.rmi: no such image: ghost:latest", 1},
		{`lab.tag("ghost", "x")`, "lab.tag: no such image", 1},
		{`lab.commit("ghost")`, "lab.commit: no such container: ghost", 1},
		{`lab.diff("ghost")`, "lab.diff: no such container", 1},
	}
	for _, c := range cases {
		f := e.fails(c.src)
		if !strings.Contains(f.Msg, c.msg) || ErrorCode(e.lastErr) != c.code || f.Where != "<string>:1" {
			t.Errorf("%s: got %q (code %d) at %q, want %q with code %d", c.src, f.Msg, ErrorCode(e.lastErr), f.Where, c.msg, c.code)
		}
	}
	e.ok(`
		local ok, err = pcall(lab.run, "nope")
		assert(type(err) == "userdata" and err.code == 125)
		assert(tostring(err) == err.message and err.message == "lab.run: no such image: nope:latest")
		assert(err.where == "<string>:2", err.where)
		assert("error: " .. err == "error: " .. err.message)
		-- a name in use
		lab.run("busybox", "true", {name = "taken"})
		ok, err = pcall(lab.run, "busybox", "true", {name = "taken"})
		assert(not ok and err.code == 125 and tostring(err):find("taken"), tostring(err))
		-- a non-zero exit is data
		assert(lab.run("busybox", "exit 42").exit_code == 42)
	`)
	// A name given is not left reserved by a failed run.
	if got := e.str(`#lab.ps{all = true}`); got != "5" {
		t.Errorf("containers left: %s", got)
	}
}

func TestArgErrors(t *testing.T) {
	e := newEnv(t, Options{})
	cases := []struct{ src, msg string }{
		{`lab.run()`, "bad argument #1 to lab.run (image or reference expected, got nil)"},
		{`lab.run(42)`, "bad argument #1 to lab.run (image or reference expected, got number)"},
		{`lab.run("busybox", 3)`, "bad argument #2 to lab.run (command expected (a string, a list of strings or nil), got number)"},
		{`lab.run("busybox", {})`, "bad argument #2 to lab.run (command is an empty list)"},
		{`lab.run("busybox", {"echo", {}})`, "bad argument #2 to lab.run (command item 2 must be a string, got table)"},
		{`lab.run("busybox", {a = 1})`, "bad argument #2 to lab.run (command must be a list (keys 1..n))"},
		{`lab.run("busybox", "true", "x")`, "bad argument #3 to lab.run (options table expected, got string)"},
		{`lab.run("busybox", "true", {workdri = "/"})`, "bad argument #3 to lab.run (unknown option 'workdri' (known: stdin, env, workdir"},
		{`lab.run("busybox", "true", {rm = "yes"})`, "bad argument #3 to lab.run (option 'rm' must be a boolean, got string)"},
		{`lab.run("busybox", "true", {timeout = -1})`, "bad argument #3 to lab.run (option 'timeout' must be a positive number of seconds)"},
		{`lab.run("busybox", "true", {env = {"NOEQUALS"}})`, "bad argument #3 to lab.run (option 'env': item 1 must read NAME=value"},
		{`lab.run("busybox", "true", {tty = true})`, "option 'tty' is not supported"},
		{`pcall(lab.ps, 5) error(select(2, pcall(lab.ps, 5)))`, "bad argument #1 to lab.ps (options table expected, got number)"},
		{`lab.image(lab)`, "bad argument #1 to lab.image (image reference expected, got table)"},
		{`lab.container()`, "bad argument #1 to lab.container (container name or ID expected, got nil)"},
		{`lab.rm()`, "bad argument #1 to lab.rm (container or name expected, got no value)"},
		{`lab.rm(lab.image("busybox"))`, "bad argument #1 to lab.rm (container or name expected, got image)"},
		{`lab.commit(1)`, "bad argument #1 to lab.commit (container or name expected, got number)"},
		{`lab.export("x")`, "bad argument #2 to lab.export (path expected, got nil)"},
		{`lab.tag("busybox")`, "bad argument #2 to lab.tag (image reference expected, got nil)"},
		{`lab.inspect(true)`, "bad argument #1 to lab.inspect (container, image or reference expected, got boolean)"},
		{`local c = lab.create("busybox", "true"); c:commit(5)`, "bad argument #1 to container:commit (image reference expected, got number)"},
		{`local c = lab.create("busybox", "true"); c.read(5)`, "calling container:read on bad self (container expected, got number)"},
		{`local c = lab.create("busybox", "true"); c:read()`, "bad argument #1 to container:read (path expected, got nil)"},
		{`local c = lab.create("busybox", "true"); c:rm{forse = true}`, "bad argument #1 to container:rm (unknown option 'forse' (known: force))"},
		{`lab.image("busybox"):read(false)`, "bad argument #1 to image:read (path expected, got boolean)"},
		{`lab.expect(1):len("x")`, "bad argument #1 to expect:len (integer expected, got string)"},
		{`string.rep({}, 2)`, "bad argument #1 to string.rep (string expected, got table)"},
	}
	for _, c := range cases {
		if f := e.fails(c.src); !strings.Contains(f.Msg, c.msg) || f.Where != "<string>:1" {
			t.Errorf("%s:\n got %q at %q\nwant %q", c.src, f.Msg, f.Where, c.msg)
		}
		if ErrorCode(e.lastErr) != 0 {
			t.Errorf("%s: an argument error is not a lab error with a code", c.src)
		}
	}
}

func TestPrintAndEcho(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`print("a", 1, nil, true) io.write("b", 2, "\n") io.stdout:write("c\n") io.stderr:write("d\n")
		lab.run("busybox", "echo quiet")`)
	if got := e.out.String(); got != "a\t1\tnil\ttrue\nb2\nc\nd\n" {
		t.Errorf("print/io.write output = %q", got)
	}

	var out, errb strings.Builder
	echo := newEnv(t, Options{Echo: true, Stdout: &out, Stderr: &errb})
	echo.ok(`local c = lab.run("busybox", "echo to-out; echo to-err >&2")
		assert(c.stdout == "to-out\n" and c.stderr == "to-err\n")`)
	if out.String() != "to-out\n" || errb.String() != "to-err\n" {
		t.Errorf("echo: stdout %q stderr %q", out.String(), errb.String())
	}
}

func TestRequireAndExtend(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`assert(require("lab") == lab and package.loaded.lab == lab and lab.extended_for_test() == "yes")`)
}

func init() {
	Extend(func(L *lua.LState, mod *lua.LTable, _ *engine.Engine) {
		mod.RawSetString("extended_for_test", L.NewFunction(func(L *lua.LState) int {
			L.Push(lua.LString("yes"))
			return 1
		}))
	})
}
