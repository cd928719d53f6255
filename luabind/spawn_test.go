package luabind

import (
	"strings"
	"testing"
)

// The seed's typed session, driven through a real pseudo-terminal.
func TestSpawnTypedSession(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		local s = lab.spawn("busybox", "/bin/sh", {tty = true, name = "typed", rows = 30, cols = 100})
		s:expect("/ # ")
		s:send("cat > foo\n")
		lab.sleep(0.2) -- let cat take the terminal, as a person's pause would
		s:send("This is a really important file!!!!\n")
		s:send("\4")
		s:expect("/ # ")
		s:send("stty size; exit 7\n")
		local _, rows, cols = s:expect("(%d+) (%d+)")
		lab.assert_eq(rows .. "x" .. cols, "30x100")
		local c = s:wait(5)
		lab.expect(c):exit_code(7):status("exited"):file("/foo", "This is a really important file!!!!\n")
		lab.expect(c.stdout):contains("cat > foo")
		lab.expect(lab.run("busybox", {"cat", "foo"})):exit_code(1)
		lab.expect(c:commit("ubuntu-foo")):file("/foo", "This is a really important file!!!!\n")
	`)
}

func TestSpawnPipes(t *testing.T) {
	e := newEnv(t, Options{})
	e.ok(`
		local p = lab.spawn("busybox", {"cat"})
		p:send("hello\n")
		lab.assert_eq(p:expect("hel+o"), "hello")
		p:close()
		local c = p:wait(5)
		lab.expect(c):exit_code(0)
		lab.assert_eq(c.stdout, "hello\n")
	`)
}

func TestSpawnExpectTimeout(t *testing.T) {
	e := newEnv(t, Options{})
	f := e.fails(`
		local s = lab.spawn("busybox", {"sh", "-c", "echo ready; sleep 30"})
		__s = s
		s:expect("ready")
		s:expect("never", 0.3)
	`)
	if !strings.Contains(f.Msg, `expect "never": timed out after 300ms`) {
		t.Fatalf("timeout message: %+v", f)
	}
	e.ok(`__s:kill(); lab.expect(__s:wait(5).exit_code):eq(137)`)
}

func TestSpawnDiesMidExpect(t *testing.T) {
	e := newEnv(t, Options{})
	f := e.fails(`
		local s = lab.spawn("busybox", {"sh", "-c", "echo partial output; exit 3"})
		s:expect("never appears")
	`)
	if !strings.Contains(f.Msg, "exited (code 3) before it appeared") || !strings.Contains(f.Detail, "partial output") {
		t.Fatalf("failure should say the container exited and show its output: %+v", f)
	}
}

func TestSpawnLargeOutput(t *testing.T) {
	e := newEnv(t, Options{})
	for _, tty := range []string{"false", "true"} {
		e.ok(`
			local s = lab.spawn("busybox", {"sh", "-c", "yes 0123456789 | head -n 200000; echo END"}, {tty = ` + tty + `})
			s:expect("END")
			local c = s:wait(20)
			lab.expect(c):exit_code(0)
			lab.expect(#c.stdout >= 2200000):truthy()
		`)
	}
}

func TestSpawnArgErrors(t *testing.T) {
	e := newEnv(t, Options{})
	f := e.fails(`lab.spawn("busybox", "sh", {bogus = 1})`)
	if !strings.Contains(f.Msg, "unknown option 'bogus'") {
		t.Fatalf("%+v", f)
	}
	f = e.fails(`lab.spawn("nosuchimage")`)
	if !strings.Contains(f.Msg, "no such image") {
		t.Fatalf("%+v", f)
	}
}
