-- run, change, commit, run again: the bocker story. The committed image has the
-- change as one more layer on top of its parent's, and a container of it starts there.

-- # A container changes its filesystem.
local c = lab.run("busybox", "mkdir /data && echo v1 > /data/version && rm /bin/vi")
lab.expect(c):exit_code(0)

-- # Commit with a message; the id is a content digest.
local img = c:commit("commit-basic:v1", {message = "add data"})
lab.expect(img.id):matches("^sha256:%x+$")
lab.expect(img):has_tag("commit-basic:v1")
local base = lab.image("busybox")
lab.assert_eq(#img:layers(), #base:layers() + 1, "one more layer")
lab.assert_eq(img:history()[1].comment, "add data")

-- # A container of the new image starts with the change, busybox does not.
lab.expect(lab.run("commit-basic:v1", "cat /data/version")):stdout("v1\n")
lab.expect(lab.run("commit-basic:v1", "test -e /bin/vi")):exit_code(1)
lab.expect(lab.run("busybox", "cat /data/version")):exit_code(1)
lab.expect(img):file("/data/version", "v1\n"):no_file("/bin/vi")

-- # Committing again without changes gives a new image with an empty layer; the
-- # tag moves to it (the old image keeps its id).
local c2 = lab.run("commit-basic:v1", "true")
local img2 = c2:commit("commit-basic:v1")
assert(img2.id ~= img.id, "a new commit is a new image")
lab.assert_eq(lab.image("commit-basic:v1").id, img2.id)

-- # Config changes apply to the new image.
local img3 = c:commit("commit-basic:cmd", {changes = {"CMD [\"cat\", \"/data/version\"]", "ENV STAGE=test"}})
lab.assert_eq(img3:config().cmd, {"cat", "/data/version"})
lab.expect(lab.run("commit-basic:cmd")):stdout("v1\n")
lab.expect(lab.run("commit-basic:cmd", "echo $STAGE")):stdout("test\n")
