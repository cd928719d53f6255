-- bench/populate.lua: grow a store for the scaling table of bench/run.sh.
--
--   lab bench/populate.lua IMAGES CONTAINERS
--
-- makes IMAGES-1 more images (each a commit of one different file over busybox, so
-- each has its own manifest and config) and CONTAINERS created, never started,
-- containers. The store starts with busybox alone.
local images, containers = tonumber((...)), tonumber(select(2, ...))
for i = 2, images do
  local c = lab.run("busybox", {"/bin/sh", "-c", "echo " .. i .. " > /f"})
  c:commit("bench-img" .. i)
  c:rm()
end
for _ = 1, containers do
  lab.create("busybox", {"/bin/true"})
end
