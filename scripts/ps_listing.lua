-- lab.ps lists containers like `docker ps`: running only by default, all=true for
-- every one, latest=true for the newest; newest first; tostring is the Docker table.

lab.expect(lab.ps{all = true}):len(0)

local a = lab.run("busybox", "true", {name = "ps-first"})
local b = lab.run("busybox", "exit 2", {name = "ps-second"})

-- # Exited containers are not "running": ps lists none, ps{all} both, newest first.
lab.expect(lab.ps()):len(0)
local all = lab.ps{all = true}
lab.expect(all):len(2)
lab.assert_eq(all[1].name, "ps-second")
lab.assert_eq(all[2].name, "ps-first")
lab.assert_eq(lab.ps{latest = true}[1].id, b.id)
lab.expect(lab.ps{latest = true}):len(1)

-- # Rows read like docker ps -a, with the exit codes.
local text = tostring(all)
lab.expect(text):matches("^CONTAINER ID%s+IMAGE%s+COMMAND%s+CREATED%s+STATUS%s+PORTS%s+NAMES\n")
lab.expect(text):contains("Exited (2)")
lab.expect(text):contains("Exited (0)")
lab.expect(tostring(a)):contains(a.short_id)
lab.expect(tostring(a)):matches("ps%-first$")

-- # Removing one takes it off the list.
b:rm()
lab.expect(lab.ps{all = true}):len(1)
lab.assert_eq(lab.ps{all = true}[1].id, a.id)
