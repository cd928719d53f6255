package luabind

import (
	"os"
	"path/filepath"

	lua "github.com/yuin/gopher-lua"

	"lab/runtime/engine"
	"lab/runtime/registry"
)

// lab.pull, lab.push, lab.save and lab.load are added from here so that the registry
// and archive code stays out of the core binding's files.
func init() {
	Extend(func(L *lua.LState, mod *lua.LTable, eng *engine.Engine) {
		mod.RawSetString("pull", L.NewFunction(named("lab.pull", pullFn(eng))))
		mod.RawSetString("push", L.NewFunction(named("lab.push", pushFn(eng))))
		mod.RawSetString("save", L.NewFunction(named("lab.save", saveFn(eng))))
		mod.RawSetString("load", L.NewFunction(named("lab.load", loadFn(eng))))
	})
}

// registryOpts reads {platform = "os/arch[/variant]", insecure = {"host:port", ...}}.
// Credentials come from Docker's config.json, as for the CLI; LAB_CERTS_D and
// LAB_INSECURE_REGISTRIES apply too.
func registryOpts(L *lua.LState, n int, withPlatform bool) registry.Options {
	allowed := []string{"insecure"}
	if withPlatform {
		allowed = append(allowed, "platform")
	}
	t := checkOpts(L, n, allowed...)
	o := registry.Options{CertsDir: os.Getenv("LAB_CERTS_D"), Insecure: optStringList(L, n, t, "insecure")}
	o.Insecure = append(o.Insecure, splitList(os.Getenv("LAB_INSECURE_REGISTRIES"))...)
	if p, ok := optString(L, n, t, "platform"); ok && p != "" {
		pl, err := registry.ParsePlatform(p)
		if err != nil {
			argError(L, n, err.Error())
		}
		o.Platform = pl
	}
	return o
}

func splitList(s string) []string {
	var out []string
	start := 0
	for i := 0; i <= len(s); i++ {
		if i == len(s) || s[i] == ',' {
			if i > start {
				out = append(out, s[start:i])
			}
			start = i + 1
		}
	}
	return out
}

// pullFn is lab.pull(ref [, opts]): the pulled Image; a failure raises an error with
// code 1, as `lab pull` exits.
func pullFn(eng *engine.Engine) lua.LGFunction {
	return func(L *lua.LState) int {
		b := bindingOf(L, eng)
		ref := checkRef(L, 1)
		o := registryOpts(L, 2, true)
		res, err := eng.Pull(ctx(L), ref, o)
		if err != nil {
			b.raise(L, "lab.pull", err, 1, nil)
		}
		L.Push(b.newImage(L, res.Image))
		return 1
	}
}

// pushFn is lab.push(ref [, opts]): the pushed Image (its digest is the manifest's,
// the same the registry now serves).
func pushFn(eng *engine.Engine) lua.LGFunction {
	return func(L *lua.LState) int {
		b := bindingOf(L, eng)
		ref := checkRef(L, 1)
		o := registryOpts(L, 2, false)
		if _, err := eng.Push(ctx(L), ref, o); err != nil {
			b.raise(L, "lab.push", err, 1, nil)
		}
		img, err := eng.Images.Get(ref)
		if err != nil {
			b.raise(L, "lab.push", err, 1, nil)
		}
		L.Push(b.newImage(L, img))
		return 1
	}
}

// saveFn is lab.save(path, ref [, ref...]) or lab.save(path, {refs}): writes one
// archive in Docker's format; the file appears only once whole.
func saveFn(eng *engine.Engine) lua.LGFunction {
	return func(L *lua.LState) int {
		b := bindingOf(L, eng)
		path := b.resolve(checkPath(L, 1))
		var refs []string
		if t, ok := L.Get(2).(*lua.LTable); ok {
			t.ForEach(func(_, v lua.LValue) {
				if s, ok := v.(lua.LString); ok {
					refs = append(refs, string(s))
				}
			})
		} else {
			for i := 2; i <= L.GetTop(); i++ {
				refs = append(refs, checkRef(L, i))
			}
		}
		if len(refs) == 0 {
			argError(L, 2, "image reference expected, got no value")
		}
		tmp, err := os.CreateTemp(filepath.Dir(path), ".lab-save-")
		if err != nil {
			b.raise(L, "lab.save", err, 1, nil)
		}
		defer os.Remove(tmp.Name())
		err = eng.Save(ctx(L), refs, tmp)
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			os.Chmod(tmp.Name(), 0o644)
			err = os.Rename(tmp.Name(), path)
		}
		if err != nil {
			b.raise(L, "lab.save", err, 1, nil)
		}
		return 0
	}
}

// loadFn is lab.load(path): the list of Images the archive held, one per name.
func loadFn(eng *engine.Engine) lua.LGFunction {
	return func(L *lua.LState) int {
		b := bindingOf(L, eng)
		path := b.resolve(checkPath(L, 1))
		f, err := os.Open(path)
		if err != nil {
			b.raise(L, "lab.load", err, 1, nil)
		}
		defer f.Close()
		loaded, err := eng.Load(ctx(L), f)
		if err != nil {
			b.raise(L, "lab.load", err, 1, nil)
		}
		t := L.NewTable()
		seen := map[string]bool{}
		for _, l := range loaded {
			if seen[l.Image.Manifest.Digest.String()] {
				continue
			}
			seen[l.Image.Manifest.Digest.String()] = true
			img, err := eng.Images.GetByManifest(l.Image.Manifest.Digest)
			if err != nil {
				b.raise(L, "lab.load", err, 1, nil)
			}
			t.Append(b.newImage(L, img))
		}
		L.Push(t)
		return 1
	}
}

// pullIfAsked is run's and create's pull = "missing" | "always" | "never" option.
// Scripts do not pull unless they ask: a scenario should not depend on a registry
// by accident (the CLI pulls missing images, as Docker does).
func (b *binding) pullIfAsked(L *lua.LState, op, ref string, t *lua.LTable) {
	policy, ok := optString(L, 3, t, "pull")
	if !ok || policy == "" {
		return
	}
	o := registry.Options{CertsDir: os.Getenv("LAB_CERTS_D"), Insecure: splitList(os.Getenv("LAB_INSECURE_REGISTRIES"))}
	if _, err := b.eng.EnsureImage(ctx(L), ref, policy, o, nil, nil); err != nil {
		b.raise(L, op, err, 125, nil)
	}
}
