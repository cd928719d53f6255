-- Failing to run is an error with Docker's exit code (pcall + err.code); a command
-- that runs and fails is not.

local function code_of(f, ...)
  local ok, err = pcall(f, ...)
  assert(not ok, "expected an error")
  return err.code, tostring(err)
end

-- # A missing image: 125.
local code, msg = code_of(lab.run, "nosuchimage", "true")
lab.assert_eq(code, 125)
lab.expect(msg):contains("no such image")

-- # A command not found: 127; not executable: 126.
code, msg = code_of(lab.run, "busybox", {"nonexist"})
lab.assert_eq(code, 127)
lab.expect(msg):contains("executable file not found")
code = code_of(lab.run, "busybox", {"/etc/passwd"})
lab.assert_eq(code, 126)

-- # The error carries the container it left behind, as Docker keeps it.
local ok, err = pcall(lab.run, "busybox", {"/nonexist"})
assert(not ok)
lab.assert_eq(err.code, 127)
assert(err.container, "the failed container is reported")
lab.assert_eq(err.container.exit_code, 127)

-- # The same checks through lab.expect(f):raises(code, text).
lab.expect(function() lab.run("busybox", {"nonexist"}) end):raises(127, "not found")

-- # Non-zero exits and signals are data.
lab.expect(lab.run("busybox", "exit 42")):exit_code(42)
lab.expect(lab.run("busybox", "sleep 9 & kill -9 $!; wait $!")):exit_code(137)

-- # Lookups return nil, removals of unknown things raise with code 1.
lab.assert_eq(lab.image("nosuchimage"), nil)
lab.assert_eq(lab.container("nosuchcontainer"), nil)
lab.assert_eq(code_of(lab.rm, "nosuchcontainer"), 1)
lab.assert_eq(code_of(lab.rmi, "nosuchimage"), 1)

-- # A bad reference is an error, not a lookup miss.
assert(not pcall(lab.image, "Bad:Ref"), "invalid reference format")
