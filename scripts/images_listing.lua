-- lab.images lists images like `docker images`; lab.image looks one up; tag adds a
-- name, rmi removes names and then the image.

local base = lab.images()
lab.expect(base):len(1)
lab.expect(base[1]):has_tag("busybox")

-- # A commit adds an image, listed first (newest first).
local c = lab.run("busybox", "echo x > /x")
local img = c:commit("images-listing")
local list = lab.images()
lab.expect(list):len(2)
lab.assert_eq(list[1].id, img.id)
lab.expect(tostring(list)):matches("^REPOSITORY%s+TAG%s+IMAGE ID%s+CREATED%s+SIZE\n")
lab.expect(tostring(list)):contains("images-listing")
lab.expect(tostring(list)):contains(img.id:sub(8, 19))
assert(img.size > 0, "size counts the layers")

-- # Tags: a second name for the same image is one more row of the table, same id.
lab.tag("images-listing", "images-listing:v2")
lab.expect(lab.images()):len(2)
local _, rows = tostring(lab.images()):gsub("\n", "")
lab.assert_eq(rows, 3, "header + 3 rows")
lab.assert_eq(lab.image("images-listing:v2").id, img.id)
lab.expect(lab.image("images-listing")):has_tag("images-listing:v2")

-- # rmi untags first; the last tag deletes (after its container is gone).
lab.expect(lab.rmi("images-listing:v2")[1]):eq("Untagged: images-listing:v2")
assert(lab.image("images-listing"), "still tagged once")
local user = lab.run("images-listing", "cat /x")
lab.expect(function() lab.rmi("images-listing") end):raises(1, "must force")
user:rm()
local out = lab.rmi("images-listing")
lab.expect(out[#out]):eq("Deleted: " .. img.id)
lab.assert_eq(lab.image("images-listing"), nil)
lab.expect(lab.images()):len(1)
