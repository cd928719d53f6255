package luabind

import (
	"path/filepath"
	"testing"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/registry/registrytest"
)

// lab.push, lab.pull, lab.save and lab.load against a real registry on loopback.
func TestRegistryAndArchives(t *testing.T) {
	e := newEnv(t, Options{})
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	r := registrytest.Start(t, registrytest.Config{})
	e.L.SetGlobal("host", lua.LString(r.Host))
	e.L.SetGlobal("archive", lua.LString(filepath.Join(e.dir, "bb.tar")))
	e.ok(`
		local name = host .. "/lua/busybox:1"
		lab.tag("busybox", name)
		local pushed = lab.push(name)
		assert(pushed.digest:match("^sha256:%x+$"), pushed.digest)
		lab.rmi(name)
		lab.rmi("busybox")
		assert(lab.image("busybox") == nil)

		local img = lab.pull(name)
		lab.assert_eq(img.digest, pushed.digest)
		lab.assert_eq(img.repo_digests, {host .. "/lua/busybox@" .. pushed.digest})
		lab.assert_eq(lab.run(name, {"echo", "pulled"}, {rm = true}).stdout, "pulled\n")

		lab.rmi(name)
		lab.expect(function() lab.run(name, "true") end):raises(125, "no such image")
		lab.assert_eq(lab.run(name, {"echo", "auto"}, {rm = true, pull = "missing"}).stdout, "auto\n")
		lab.expect(function() lab.create(host .. "/lua/missing:1", "true", {pull = "always"}) end):raises(125, "not found")

		lab.save(archive, name)
		lab.rmi(name)
		local loaded = lab.load(archive)
		lab.assert_eq(#loaded, 1)
		lab.assert_eq(loaded[1].id, img.id)
		lab.expect(loaded[1]):has_tag(name)

		lab.expect(function() lab.pull(host .. "/lua/missing:1") end):raises(1, "not found")
		lab.expect(function() lab.pull("Bad/Ref") end):raises(1, "invalid reference format")
		lab.expect(function() lab.pull(name, {platform = "linux"}) end):raises("invalid platform")
		lab.expect(function() lab.push(host .. "/lua/none:1") end):raises(1, "does not exist locally")
		lab.expect(function() lab.load(archive .. ".missing") end):raises(1, "no such file")
	`)
}
