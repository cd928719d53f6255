-- Build failures: bad Dockerfiles are one error naming the line, found before
-- anything runs; a failing RUN stops the build with Docker's message and the
-- command's exit code, and leaves no tag, no container and no extra image.

-- # An unknown instruction, line 3: nothing ran.
local ok, err = pcall(lab.build, {dockerfile = "FROM busybox\nRUN echo never\nFOO bar\n"})
assert(not ok)
lab.assert_eq(err.code, 1)
lab.expect(tostring(err)):contains("Dockerfile:3: unknown instruction: FOO")
lab.expect(lab.ps{all = true}):len(0)

-- # What lab does not build is refused the same way.
lab.expect(function() lab.build{dockerfile = "FROM busybox\nHEALTHCHECK CMD true\n"} end)
  :raises("Dockerfile:2: HEALTHCHECK is not supported by lab build")
lab.expect(function() lab.build{dockerfile = "FROM nosuchimage\n"} end)
  :raises("Dockerfile:1: FROM nosuchimage: no such image")
lab.expect(function() lab.build{files = {Dockerfile = "FROM busybox\nCOPY missing.txt /\n"}} end)
  :raises("Dockerfile:2: COPY failed: file not found in build context")

-- # A failing RUN: the classic builder's message and the command's status.
ok, err = pcall(lab.build, {dockerfile = "FROM busybox\nRUN echo before > /b\nRUN echo oops; exit 3\n", tag = "broken"})
assert(not ok)
lab.assert_eq(err.code, 3)
lab.expect(tostring(err)):contains("The command '/bin/sh -c echo oops; exit 3' returned a non-zero code: 3")
lab.expect(lab.image("broken")):is_nil()
lab.expect(lab.ps{all = true}):len(0)
lab.expect(lab.images()):len(1)
