package luabind

import (
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	lua "github.com/yuin/gopher-lua"

	"lab/lab/table"
	"lab/runtime/engine"
)

// lab.lineage(ref) and lab.tree(): where images came from.
func init() {
	Extend(func(L *lua.LState, mod *lua.LTable, eng *engine.Engine) {
		b := bindingOf(L, eng)
		mod.RawSetString("lineage", L.NewFunction(named("lab.lineage", b.lineageFn)))
		mod.RawSetString("tree", L.NewFunction(named("lab.tree", func(L *lua.LState) int {
			roots, err := eng.Tree()
			if err != nil {
				b.raise(L, "lab.tree", err, 1, nil)
			}
			var sb strings.Builder
			table.Tree(&sb, roots, time.Now())
			L.Push(lua.LString(sb.String()))
			return 1
		})))
	})
}

// lineageFn is lab.lineage(image) -> {image =, parent =, container =,
// container_name =, ancestors = {...}}: the image, the image it was made on, the
// container it was committed from (nil when built, unknown or removed; its name stays
// in container_name), and every ancestor nearest first. Nil when the image is absent.
func (b *binding) lineageFn(L *lua.LState) int {
	ref := imageRef(L, 1)
	img, err := b.eng.Images.Get(ref)
	if err != nil {
		L.Push(lua.LNil)
		return 1
	}
	t := L.NewTable()
	t.RawSetString("image", b.newImage(L, img))
	ancestors := L.NewTable()
	seen := map[digest.Digest]bool{img.ID: true}
	cur := img.ID
	for first := true; ; first = false {
		r, ok := b.eng.Lineage.Get(cur)
		if !ok || r.Parent == "" || seen[r.Parent] {
			break
		}
		seen[r.Parent] = true
		parent, err := b.eng.Images.Get(r.Parent.String())
		if err != nil {
			break
		}
		if first {
			t.RawSetString("parent", b.newImage(L, parent))
			if r.ContainerName != "" {
				t.RawSetString("container_name", lua.LString(r.ContainerName))
			}
			if r.Container != "" {
				if c, err := b.eng.Containers.Get(r.Container); err == nil {
					t.RawSetString("container", b.newContainer(L, &ctr{rec: c}))
				}
			}
		}
		ancestors.Append(b.newImage(L, parent))
		cur = parent.ID
	}
	t.RawSetString("ancestors", ancestors)
	L.Push(t)
	return 1
}
