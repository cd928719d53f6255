-- The seed's first command typed by a person: `docker run -i -t ubuntu /bin/bash`,
-- `cat > foo`, a line, Ctrl-D, `exit`. Here a script types into a real terminal.
local text = "This is a really important file!!!!"

-- # A shell on a pseudo-terminal; wait for its prompt before typing, as a person would.
local s = lab.spawn("busybox", "/bin/sh", {tty = true, rows = 24, cols = 80})
s:expect("/ # ")
s:send("cat > foo\n")
lab.sleep(0.2) -- cat must own the terminal before the text arrives
s:send(text .. "\n")
s:send("\4") -- Ctrl-D ends cat's input
s:expect("/ # ")
s:send("echo $TERM; stty size\n")
s:expect("xterm")
s:expect("24 80")
s:send("exit\n")
local first = s:wait(10)
lab.expect(first, "typed shell"):status("exited"):exit_code(0):file("/foo", text .. "\n")

-- # A second shell from the same image does not see foo.
local s2 = lab.spawn("busybox", "/bin/sh", {tty = true})
s2:expect("/ # ")
s2:send("ls foo; exit 7\n")
s2:expect("No such file")
lab.expect(s2:wait(10)):exit_code(7)

-- # Both exited; commit the first and its file is in the image.
lab.expect(lab.ps{all = true}):len(2)
local img = first:commit("ubuntu-foo")
lab.expect(lab.run("ubuntu-foo", {"/bin/cat", "foo"})):exit_code(0):stdout(text .. "\n")
lab.expect(img):file("/foo", text .. "\n")
