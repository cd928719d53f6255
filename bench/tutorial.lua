-- bench/tutorial.lua: the seed tutorial (examples/tutorial.sh) as one Lua script, for
-- timing against the same steps through the Docker CLI (bench/tutorial.sh). Output is
-- printed as the CLI would print it, so both sides do the same work.
local text = "This is a really important file!!!!"
local c1 = lab.run("busybox", {"/bin/sh", "-c", "echo '" .. text .. "' > foo"}, {name = "bench-first"})
assert(c1.exit_code == 0)
local c2 = lab.run("busybox", {"/bin/cat", "foo"}, {name = "bench-second"})
assert(c2.exit_code == 1)
print(lab.ps{all = true})
print(lab.ps{latest = true})
print(c1:diff())
c1:commit("bench-foo")
local c3 = lab.run("bench-foo", {"/bin/cat", "foo"}, {rm = true})
assert(c3.stdout == text .. "\n")
print(lab.images())
print(lab.history("bench-foo"))
c1:start()
local c4 = lab.run("bench-foo", {"ls", "-l", "foo"}, {rm = true})
assert(c4.exit_code == 0)
lab.rm(c1, c2)
lab.rmi("bench-foo")
