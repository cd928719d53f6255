-- diff lists what a container changed relative to its image, as `docker diff` does:
-- A added, C changed (including every parent directory of a change), D deleted.

local c = lab.run("busybox", "echo new > /added; echo more >> /etc/passwd; rm /bin/ls; mkdir -p /d/e; touch /d/e/f")
lab.expect(c):exit_code(0)

local kinds = {}
for _, ch in ipairs(c:diff()) do
  kinds[ch.path] = ch.kind
end
lab.assert_eq(kinds["/added"], "A")
lab.assert_eq(kinds["/etc/passwd"], "C")
lab.assert_eq(kinds["/etc"], "C")
lab.assert_eq(kinds["/bin/ls"], "D")
lab.assert_eq(kinds["/bin"], "C")
lab.assert_eq(kinds["/d"], "A")
lab.assert_eq(kinds["/d/e/f"], "A")

-- # Nothing else: the mount points lab makes (/proc, /etc/hostname, ...) do not count.
lab.assert_eq(kinds["/proc"], nil)
lab.assert_eq(kinds["/etc/hostname"], nil)
lab.expect(c:diff()):len(8)

-- # The same through lab.expect, and as docker diff prints it.
lab.expect(c):diff_contains("D /bin/ls"):diff_contains("A /added")
lab.expect(tostring(c:diff())):contains("C /etc\nC /etc/passwd")

-- # A container that changes nothing has an empty diff.
lab.expect(lab.run("busybox", "true"):diff()):len(0)
