-- rm removes containers (several at once, by value or name), not images; a running
-- container needs force. After rm a name is free again.

local a = lab.run("busybox", "echo a > /a", {name = "rm-a"})
local b = lab.run("busybox", "true", {name = "rm-b"})
lab.run("busybox", "true", {name = "rm-c"})
lab.expect(lab.ps{all = true}):len(3)

-- # By value and by name, several at once.
lab.rm(a, "rm-b")
lab.expect(lab.ps{all = true}):len(1)
lab.assert_eq(lab.container("rm-a"), nil)
lab.assert_eq(lab.container(b.id), nil)

-- # The method form, and the name is free again.
lab.container("rm-c"):rm()
lab.expect(lab.ps{all = true}):len(0)
lab.expect(lab.run("busybox", "true", {name = "rm-a"})):exit_code(0)

-- # A removed container's image stays.
assert(lab.image("busybox"), "busybox is still there")

-- # Removing twice is an error with code 1.
local ok, err = pcall(lab.rm, "rm-b")
assert(not ok)
lab.assert_eq(err.code, 1)
lab.expect(tostring(err)):contains("no such container")
