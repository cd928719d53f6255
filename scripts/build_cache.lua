-- The build cache: an unchanged rebuild reuses every step, a changed file invalidates
-- its COPY and the steps after it only, a build argument only the steps using it,
-- and no_cache runs everything again.

local dockerfile = [[
FROM busybox
ARG LEVEL=1
COPY base.txt /base.txt
RUN echo "ran at level $LEVEL" > /ran.txt
COPY app.txt /app.txt
RUN cat /base.txt /app.txt > /both.txt
CMD ["cat", "/both.txt", "/ran.txt"]
]]
local files = {Dockerfile = dockerfile, ["base.txt"] = "base\n", ["app.txt"] = "app v1\n"}

local function hits(report)
  local out = {}
  for _, s in ipairs(report.steps) do
    if s.instruction:match("^FROM") then out[#out + 1] = "-"
    elseif s.cached then out[#out + 1] = "hit"
    else out[#out + 1] = "miss" end
  end
  return table.concat(out, " ")
end

-- # A first build runs every step.
local img, r = lab.build{files = files, tag = "cached"}
lab.assert_eq(hits(r), "- miss miss miss miss miss miss")
lab.expect(lab.run("cached", nil, {rm = true})):stdout("base\napp v1\nran at level 1\n")

-- # The same context again: every step from the cache, the same image.
local again, r2 = lab.build{files = files, tag = "cached"}
lab.assert_eq(hits(r2), "- hit hit hit hit hit hit")
lab.assert_eq(again.id, img.id)
lab.expect(r2.output):not_contains("Running in")

-- # Changing app.txt: its COPY and what follows run again, the first RUN does not.
files["app.txt"] = "app v2\n"
local v2, r3 = lab.build{files = files, tag = "cached"}
lab.assert_eq(hits(r3), "- hit hit hit miss miss miss")
lab.expect(lab.run("cached", nil, {rm = true})):stdout("base\napp v2\nran at level 1\n")
assert(v2.id ~= img.id)

-- # A new value for LEVEL: the ARG step itself is reused, the RUN that reads it is not.
local _, r4 = lab.build{files = files, args = {LEVEL = "2"}}
lab.assert_eq(hits(r4), "- hit hit miss miss miss miss")

-- # no_cache: every step runs.
local _, r5 = lab.build{files = files, no_cache = true}
lab.assert_eq(r5.hits, 0)
lab.assert_eq(r5.ran, 6)

-- # Intermediate images stay out of `images` (a build without a tag leaves its result
-- # there untagged, as Docker does), intermediate containers out of `ps -a`.
for i, s in ipairs(r5.steps) do
  if i > 1 and i < #r5.steps then
    lab.expect(lab.image(s.image), "step " .. i .. "'s image"):is_nil()
  end
end
lab.assert_eq(lab.image(r5.id).id, r5.id)
lab.expect(lab.ps{all = true}):len(0)
