-- bench/runs.lua: N containers of /bin/true, one after the other, in one lab process.
--
--   lab bench/runs.lua [N]        (N defaults to 1000)
--
-- It prints "mark start" before the first timed run and "mark end" after the last,
-- pausing a moment at each so that bench/run.sh can read the process's RSS from
-- /proc, then one "result" line with the total and the per-run median and p90 in
-- milliseconds (os.clock is gopher-lua's wall clock since start, in seconds).
--
-- The start mark comes after a few untimed runs and both marks after a garbage
-- collection (gopher-lua's collectgarbage runs Go's), so that the difference between
-- them is memory the runs kept, not where the collector happened to be in its cycle.
local n = tonumber((...)) or 1000

local function run()
  local t0 = os.clock()
  local c = lab.run("busybox", {"/bin/true"}, {rm = true})
  local dt = os.clock() - t0
  if c.exit_code ~= 0 then
    error("run failed: exit code " .. c.exit_code)
  end
  return dt
end

-- Hold still (the script has no sleep) while the benchmark samples /proc/PID/status.
local function mark(name)
  collectgarbage()
  print("mark " .. name)
  local t = os.clock()
  while os.clock() - t < 1 do end
end

-- The first run makes the init layer; the others bring the process to its steady
-- state (buffers, goroutines, the collector's pacing). None is measured.
for _ = 1, 20 do
  run()
end
mark("start")
local times = {}
local t0 = os.clock()
for i = 1, n do
  times[i] = run()
end
local total = os.clock() - t0
mark("end")
table.sort(times)
local function pct(p)
  return times[math.max(1, math.ceil(#times * p))] * 1000
end
print(("result n=%d total_s=%.3f median_ms=%.2f p90_ms=%.2f"):format(n, total, pct(0.5), pct(0.9)))
