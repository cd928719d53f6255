-- The seed tutorial: an image is read-only, every run is a fresh container, a
-- container keeps its state until it is removed, and commit turns it into an image.
local text = "This is a really important file!!!!"

-- # A container writes a file, then exits.
local c1 = lab.run("busybox", {"/bin/sh", "-c", "echo '" .. text .. "' > foo"})
lab.expect(c1, "writer"):status("exited"):exit_code(0)

-- # A fresh container of the same image does not see it.
local c2 = lab.run("busybox", {"/bin/cat", "foo"})
lab.expect(c2, "reader"):exit_code(1):stderr_contains("No such file")

-- # Both still exist, exited; nothing runs.
lab.expect(lab.ps{all = true}):len(2)
lab.expect(lab.ps()):len(0)
lab.assert_eq(lab.ps{latest = true}[1].id, c2.id, "ps latest is the reader")

-- # The writer's change, relative to its image.
lab.expect(c1):diff_contains("A /foo")

-- # Commit makes it an image; its containers have the file.
local img = c1:commit("ubuntu-foo")
lab.expect(img.id):matches("^sha256:" .. string.rep("%x", 64) .. "$")
lab.expect(img):has_tag("ubuntu-foo"):file("/foo", text .. "\n")
lab.expect(lab.run("ubuntu-foo", {"/bin/cat", "foo"})):exit_code(0):stdout(text .. "\n")
lab.assert_eq(lab.image("ubuntu-foo").id, img.id)

-- # busybox itself is unchanged.
lab.expect(lab.run("busybox", {"/bin/cat", "foo"})):exit_code(1)
