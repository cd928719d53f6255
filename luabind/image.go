package luabind

import (
	"bytes"
	"sort"
	"strings"

	lua "github.com/yuin/gopher-lua"

	"lab/lab/table"
	"lab/runtime/engine"
	"lab/runtime/image"
)

const imageType = "lab.Image"

// img is what an Image userdata holds: a snapshot of the image when it was looked up.
type img struct {
	rec *image.Image
}

var imageFields = []string{"id", "short_id", "tags", "size", "created", "digest", "repo_digests"}

func (b *binding) imageMethods() map[string]lua.LGFunction {
	return map[string]lua.LGFunction{
		"layers":  b.iLayers,
		"config":  b.iConfig,
		"history": b.iHistory,
		"read":    b.iRead,
		"exists":  b.iExists,
		"tag":     b.iTag,
		"rm":      b.iRm,
		"inspect": b.iInspect,
	}
}

func (b *binding) registerImage(L *lua.LState) {
	mt := L.NewTypeMetatable(imageType)
	mt.RawSetString("__name", lua.LString(imageType))
	methods := L.SetFuncs(L.NewTable(), namedFuncs("image:", b.imageMethods()))
	mt.RawSetString("__index", L.NewFunction(func(L *lua.LState) int {
		i := checkImg(L, 1)
		key := L.CheckString(2)
		if m := methods.RawGetString(key); m != lua.LNil {
			L.Push(m)
			return 1
		}
		if !hasField(imageFields, key) {
			noField(L, "Image", key, imageFields, methods)
		}
		L.Push(imageField(L, i, key))
		return 1
	}))
	mt.RawSetString("__newindex", L.NewFunction(func(L *lua.LState) int {
		L.RaiseError("cannot set field %q of an image (it is read-only)", L.CheckString(2))
		return 0
	}))
	mt.RawSetString("__tostring", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LString(imageRow(checkImg(L, 1).rec)))
		return 1
	}))
	mt.RawSetString("__eq", L.NewFunction(func(L *lua.LState) int {
		L.Push(lua.LBool(checkImg(L, 1).rec.ID == checkImg(L, 2).rec.ID))
		return 1
	}))
}

func imageField(L *lua.LState, i *img, key string) lua.LValue {
	r := i.rec
	switch key {
	case "id":
		return lua.LString(r.ID.String())
	case "short_id":
		return lua.LString(r.ID.Encoded()[:12])
	case "tags":
		return stringList(L, r.Tags)
	case "size":
		return lua.LNumber(r.Size())
	case "created":
		return luaTime(r.Created())
	case "repo_digests":
		return stringList(L, r.RepoDigests)
	case "digest":
		return lua.LString(r.Manifest.Digest.String())
	}
	return lua.LNil
}

// imageRow is the image's `images` row(s): one per tag, as Docker lists it, laid out
// as in the table but without the header.
func imageRow(r *image.Image) string {
	var buf bytes.Buffer
	if err := table.Images(&buf, table.FromImages([]*image.Image{r}), table.ImagesOptions{}); err != nil {
		return r.ID.String()
	}
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	for i := range lines {
		lines[i] = strings.TrimRight(lines[i], " ")
	}
	return strings.Join(lines[1:], "\n")
}

func (b *binding) newImage(L *lua.LState, r *image.Image) *lua.LUserData {
	ud := L.NewUserData()
	ud.Value = &img{rec: r}
	L.SetMetatable(ud, L.GetTypeMetatable(imageType))
	return ud
}

// checkImg is the Image at n, or an argument error.
func checkImg(L *lua.LState, n int) *img {
	if ud, ok := L.Get(n).(*lua.LUserData); ok {
		if i, ok := ud.Value.(*img); ok {
			return i
		}
	}
	argError(L, n, "image expected, got "+typeName(L.Get(n)))
	return nil
}

// imageRef is the image at n given as an Image or a reference string. An Image is
// named by its first tag, so a container's `image` reads as the user would write it.
func imageRef(L *lua.LState, n int) string {
	switch v := L.Get(n).(type) {
	case lua.LString:
		if v == "" {
			argError(L, n, "image reference is empty")
		}
		return string(v)
	case *lua.LUserData:
		if i, ok := v.Value.(*img); ok {
			if len(i.rec.Tags) > 0 {
				return i.rec.Tags[0]
			}
			return i.rec.ID.String()
		}
	}
	argError(L, n, "image or reference expected, got "+typeName(L.Get(n)))
	return ""
}

func (b *binding) iLayers(L *lua.LState) int {
	r := checkImg(L, 1).rec
	out := L.CreateTable(len(r.Layers), 0)
	for i, l := range r.Layers {
		t := L.NewTable()
		t.RawSetString("digest", lua.LString(l.Digest.String()))
		t.RawSetString("size", lua.LNumber(l.Size))
		t.RawSetString("media_type", lua.LString(l.MediaType))
		if i < len(r.Config.RootFS.DiffIDs) {
			t.RawSetString("diff_id", lua.LString(r.Config.RootFS.DiffIDs[i].String()))
		}
		out.Append(t)
	}
	L.Push(out)
	return 1
}

// iConfig is the runtime config with Lua-style names; lists are empty tables rather
// than nil so scripts can index them without checks.
func (b *binding) iConfig(L *lua.LState) int {
	r := checkImg(L, 1).rec
	c := r.Config.Config
	t := L.NewTable()
	t.RawSetString("cmd", stringList(L, c.Cmd))
	t.RawSetString("entrypoint", stringList(L, c.Entrypoint))
	t.RawSetString("env", stringList(L, c.Env))
	t.RawSetString("workdir", lua.LString(c.WorkingDir))
	t.RawSetString("user", lua.LString(c.User))
	t.RawSetString("stop_signal", lua.LString(c.StopSignal))
	labels := L.NewTable()
	for k, v := range c.Labels {
		labels.RawSetString(k, lua.LString(v))
	}
	t.RawSetString("labels", labels)
	var ports []string
	for p := range c.ExposedPorts {
		ports = append(ports, p)
	}
	sort.Strings(ports)
	t.RawSetString("exposed_ports", stringList(L, ports))
	t.RawSetString("author", lua.LString(r.Config.Author))
	t.RawSetString("architecture", lua.LString(r.Config.Architecture))
	t.RawSetString("os", lua.LString(r.Config.OS))
	L.Push(t)
	return 1
}

func (b *binding) iHistory(L *lua.LState) int {
	return b.history(L, "history", checkImg(L, 1).rec.ID.String())
}

func (b *binding) history(L *lua.LState, op, ref string) int {
	hs, err := b.eng.History(ref)
	if err != nil {
		b.raise(L, op, err, 1, nil)
	}
	out := L.CreateTable(len(hs), 0)
	for _, h := range hs {
		out.Append(historyEntry(L, h))
	}
	L.SetMetatable(out, L.GetTypeMetatable(historyListType))
	L.Push(out)
	return 1
}

func historyEntry(L *lua.LState, h engine.HistoryEntry) *lua.LTable {
	t := L.NewTable()
	t.RawSetString("id", lua.LString(h.ID))
	t.RawSetString("created", luaTime(h.Created))
	t.RawSetString("created_by", lua.LString(h.CreatedBy))
	t.RawSetString("size", lua.LNumber(h.Size))
	t.RawSetString("comment", lua.LString(h.Comment))
	t.RawSetString("empty", lua.LBool(h.Empty))
	return t
}

func (b *binding) iRead(L *lua.LState) int {
	i := checkImg(L, 1)
	p := checkPath(L, 2)
	data, err := b.eng.ReadImageFile(i.rec.ID.String(), p)
	return b.fileResult(L, "read", data, err)
}

func (b *binding) iExists(L *lua.LState) int {
	i := checkImg(L, 1)
	p := checkPath(L, 2)
	_, err := b.eng.ReadImageFile(i.rec.ID.String(), p)
	return b.existsResult(L, "exists", err)
}

func (b *binding) iTag(L *lua.LState) int {
	i := checkImg(L, 1)
	return b.tag(L, "tag", i.rec.ID.String(), checkRef(L, 2))
}

func (b *binding) iRm(L *lua.LState) int {
	i := checkImg(L, 1)
	t := checkOpts(L, 2, "force")
	ref := i.rec.ID.String()
	if len(i.rec.Tags) == 1 {
		// By tag, so a single-tag image goes the way `rmi name` would take it.
		ref = i.rec.Tags[0]
	}
	lines, err := b.eng.RemoveImage(ref, optBool(L, 2, t, "force"))
	if err != nil {
		b.raise(L, "rmi", err, 1, nil)
	}
	L.Push(stringList(L, lines))
	return 1
}

func (b *binding) iInspect(L *lua.LState) int {
	L.Push(toLua(L, b.eng.InspectImage(checkImg(L, 1).rec)))
	return 1
}
