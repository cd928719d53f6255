-- lab.run: exec form and shell form, output, exit codes, stdin, env, workdir and
-- names; a non-zero exit is data, not an error.

-- # Exec form: argv as given, no shell.
local c = lab.run("busybox", {"/bin/echo", "a  b", "$HOME"})
lab.expect(c):status("exited"):exit_code(0):stdout("a  b $HOME\n"):stderr("")
lab.assert_eq(#c.id, 64)
lab.assert_eq(c.short_id, c.id:sub(1, 12))
lab.assert_eq(c.image, "busybox")

-- # Shell form: a string runs under /bin/sh -c.
c = lab.run("busybox", "echo out; echo err >&2; exit 3")
lab.expect(c):exit_code(3):stdout("out\n"):stderr("err\n")
lab.assert_eq(c.command, "/bin/sh -c 'echo out; echo err >&2; exit 3'")

-- # The container is pid 1 with the 12-hex short id as hostname.
c = lab.run("busybox", "echo $$; hostname")
lab.expect(c):stdout("1\n" .. c.short_id .. "\n")

-- # stdin, env, workdir, name, hostname.
c = lab.run("busybox", "cat; echo \"$GREETING from $(pwd)\"; hostname", {
  stdin = "piped in\n", env = {GREETING = "hello"}, workdir = "/tmp",
  name = "run-basic-named", hostname = "labhost",
})
lab.expect(c):exit_code(0):stdout("piped in\nhello from /tmp\nlabhost\n")
lab.assert_eq(c.name, "run-basic-named")
lab.assert_eq(lab.container("run-basic-named").id, c.id)

-- # A generated name when none is given, Docker style (adjective_surname).
lab.expect(lab.run("busybox", "true").name):matches("^%l+_%l+%d*$")

-- # rm = true leaves nothing behind.
local before = #lab.ps{all = true}
lab.expect(lab.run("busybox", "echo gone", {rm = true})):stdout("gone\n")
lab.assert_eq(#lab.ps{all = true}, before, "an rm=true container is removed")

-- # Timestamps are in order.
c = lab.run("busybox", "true")
assert(c.created <= c.started and c.started <= c.finished, "created <= started <= finished")
