-- The classic Docker tutorial as a lab script: an image is read-only, every run makes a
-- fresh container, a container keeps its state until it is removed, and commit turns a
-- container's state into a new image.
--
--   lab examples/tutorial.lua        (`make demo` runs it on a throwaway store)
--
-- Each step prints the Lua it runs ("lab>") and what that shows; container output
-- appears as it happens. Everything it makes is named tutorial-* and removed at the
-- end, so it can run again (and a run that was interrupted is cleaned up first).

local function say(...)
  print()
  for _, line in ipairs{...} do print("# " .. line) end
end
local function show(code) print("lab> " .. code) end

local function cleanup()
  for _, name in ipairs{"tutorial-first", "tutorial-second"} do
    local c = lab.container(name)
    if c then c:rm{force = true} end
  end
  if lab.image("tutorial-foo") then lab.rmi("tutorial-foo", {force = true}) end
end
cleanup()

if not lab.image("busybox") then
  say("There is no busybox image yet: build one from the host's static busybox.")
  show('lab.bootstrap("busybox")')
  lab.bootstrap("busybox")
end

local text = "This is a really important file!!!!"

say("Run a container from the busybox image. It writes a file, then exits.",
  "(the CLI way: lab run --name tutorial-first busybox /bin/sh -c \"echo '...' > foo\")")
show([[c1 = lab.run("busybox", {"/bin/sh", "-c", "echo '...' > foo"}, {name = "tutorial-first"})]])
local c1 = lab.run("busybox", {"/bin/sh", "-c", "echo '" .. text .. "' > foo"}, {name = "tutorial-first"})
print(("status %s, exit code %d"):format(c1.status, c1.exit_code))
lab.expect(c1):exit_code(0)

say("Run the same image again: a fresh container, so foo is not there.")
show([[c2 = lab.run("busybox", {"/bin/cat", "foo"}, {name = "tutorial-second"})]])
local c2 = lab.run("busybox", {"/bin/cat", "foo"}, {name = "tutorial-second"})
print(("exit code %d, as on Docker: every run starts from the image, which never changes"):format(c2.exit_code))
lab.expect(c2):exit_code(1):stderr_contains("No such file")

say("Both containers still exist, exited, each with its own filesystem.")
show("lab.ps{all = true}")
print(lab.ps{all = true})
show("lab.ps{latest = true}")
print(lab.ps{latest = true})

say("What the first container changed, relative to its image (A added, C changed, D deleted):")
show("c1:diff()")
print(c1:diff())
lab.expect(c1):diff_contains("A /foo")

say("Commit the first container: its changes become a new image.")
show([[img = c1:commit("tutorial-foo")]])
local img = c1:commit("tutorial-foo")
print(img.id)

say("A container of the new image has the file.")
show([[lab.run("tutorial-foo", {"/bin/cat", "foo"}, {rm = true})]])
local c3 = lab.run("tutorial-foo", {"/bin/cat", "foo"}, {rm = true})
lab.expect(c3):exit_code(0):stdout(text .. "\n")

say("The images now: busybox and tutorial-foo, one layer more.")
show("lab.images()")
print(lab.images())
print(("tutorial-foo has %d layers, busybox %d"):format(#img:layers(), #lab.image("busybox"):layers()))

say("A stopped container can start again, on its own filesystem: foo is still there.")
show([[c1:start()  -- reruns its command, which rewrites foo]])
c1:start()
lab.expect(c1):exit_code(0):file("/foo", text .. "\n")
print(("c1 read back: %q"):format(c1:read("/foo")))

say("Clean up: remove both containers, then the image.")
show("lab.rm(c1, c2)")
lab.rm(c1, c2)
show([[lab.rmi("tutorial-foo")]])
for _, line in ipairs(lab.rmi("tutorial-foo")) do print(line) end
cleanup()
print("\nDone: everything this tutorial made is gone; busybox stays.")
