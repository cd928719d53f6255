-- Where images come from: the commit tutorial's images, the containers made from them,
-- and an image built on busybox, as lab tree shows them.
local maker = lab.run("busybox", "echo hello > /foo", {name = "maker"})
local foo = maker:commit("ubuntu-foo")
local user = lab.run("ubuntu-foo", "cat /foo", {name = "user"})
lab.build{files = {Dockerfile = "FROM busybox\nRUN echo built > /built\n"}, tag = "built"}

-- # ubuntu-foo was committed from container maker, which ran busybox.
local l = lab.lineage("ubuntu-foo")
lab.expect(l.image):eq(foo)
lab.expect(l.container):eq(maker)
lab.expect(l.parent):has_tag("busybox")
lab.expect(#l.ancestors):eq(1)
-- # built was built FROM busybox; busybox came from nowhere lab knows.
lab.expect(lab.lineage("built").parent):has_tag("busybox")
lab.expect(lab.lineage("built").container):is_nil()
lab.expect(lab.lineage("busybox").parent):is_nil()

-- # The tree: busybox at the root, maker under it, ubuntu-foo under maker, user under that.
local tree = lab.tree()
print(tree)
lab.expect(tree):matches("busybox:latest  %x+\n")
lab.expect(tree):matches("├── container maker  %x+  Exited %(0%)[^\n]*\n│   └── ubuntu%-foo:latest  %x+\n│       └── container user ")
lab.expect(tree):matches("└── built:latest  %x+\n")

-- # With maker removed, ubuntu-foo hangs under busybox and says where it came from.
lab.rm(maker)
lab.expect(lab.tree()):contains("├── ubuntu-foo:latest")
lab.expect(lab.tree()):contains("(committed from container maker, since removed)")
lab.expect(lab.lineage("ubuntu-foo").container_name):eq("maker")
