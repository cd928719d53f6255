package registry_test

import (
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/compression"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"lab/runtime/image"
	"lab/runtime/reference"
	"lab/runtime/registry"
	"lab/runtime/registry/registrytest"
)

func TestPullPushRoundTrip(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{})
	img := imageOf(t, hostArch(), layerOf(t, map[string]string{"hello.txt": "hello from the registry\n"}))
	want := push(t, r, "lab/hello:1", img, nil)

	e := newEngine(t)
	o := options(t, r)
	res, evs, err := pull(t, e, r.Host+"/lab/hello:1", o)
	if err != nil {
		t.Fatal(err)
	}
	if res.Digest.String() != want.String() || res.Image.Manifest.Digest.String() != want.String() {
		t.Fatalf("digest %s / manifest %s, registry has %s", res.Digest, res.Image.Manifest.Digest, want)
	}
	if statuses(evs, "Pull complete") != 1 || statuses(evs, "Download complete") != 1 {
		t.Fatalf("events: %+v", evs)
	}
	if got := readImageFile(t, e, r.Host+"/lab/hello:1", "/hello.txt"); got != "hello from the registry\n" {
		t.Fatalf("hello.txt = %q", got)
	}
	// NAME@DIGEST finds the pulled image.
	if _, err := e.Images.Get(r.Host + "/lab/hello@" + want.String()); err != nil {
		t.Fatalf("by digest: %v", err)
	}
	fsckClean(t, e)

	// Push it back under another name: the same manifest, so the same digest.
	ref, _ := reference.Parse(r.Host + "/lab/hello:1")
	if err := e.Tag(ref.String(), r.Host+"/other/copy:2"); err != nil {
		t.Fatal(err)
	}
	var pevs []registry.Event
	o.Progress = func(ev registry.Event) { pevs = append(pevs, ev) }
	pres, err := e.Push(context.Background(), r.Host+"/other/copy:2", o)
	if err != nil {
		t.Fatal(err)
	}
	if pres.Digest.String() != want.String() || statuses(pevs, "Pushed") != 1 {
		t.Fatalf("push: %+v %+v", pres, pevs)
	}
	// A second store pulls what lab pushed, with identical digests.
	e2 := newEngine(t)
	res2, _, err := pull(t, e2, r.Host+"/other/copy:2", options(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if res2.Digest != res.Digest || res2.Image.ID != res.Image.ID {
		t.Fatalf("round trip: %s %s vs %s %s", res2.Digest, res2.Image.ID, res.Digest, res.Image.ID)
	}
	// Pushing again sends no layer.
	pevs = nil
	if _, err := e.Push(context.Background(), r.Host+"/other/copy:2", o); err != nil {
		t.Fatal(err)
	}
	if statuses(pevs, "Layer already exists") != 1 || statuses(pevs, "Pushed") != 0 {
		t.Fatalf("second push: %+v", pevs)
	}
	// And pulling again is up to date.
	res3, _, err := pull(t, e, r.Host+"/lab/hello:1", options(t, r))
	if err != nil || !res3.UpToDate {
		t.Fatalf("second pull: %+v %v", res3, err)
	}
}

func TestPullSkipsPresentLayers(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{})
	base := layerOf(t, map[string]string{"base.txt": "base\n"})
	push(t, r, "lab/a:1", imageOf(t, hostArch(), base), nil)
	push(t, r, "lab/b:1", imageOf(t, hostArch(), base, layerOf(t, map[string]string{"b.txt": "b\n"})), nil)
	e := newEngine(t)
	if _, _, err := pull(t, e, r.Host+"/lab/a:1", options(t, r)); err != nil {
		t.Fatal(err)
	}
	_, evs, err := pull(t, e, r.Host+"/lab/b:1", options(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if statuses(evs, "Already exists") != 1 || statuses(evs, "Pull complete") != 1 {
		t.Fatalf("events: %+v", evs)
	}
	if got := readImageFile(t, e, r.Host+"/lab/b:1", "/base.txt"); got != "base\n" {
		t.Fatalf("base.txt = %q", got)
	}
	fsckClean(t, e)
}

func TestPullIndexChoosesHostPlatform(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{})
	mine := imageOf(t, hostArch(), layerOf(t, map[string]string{"arch": hostArch()}))
	other := imageOf(t, otherArch(), layerOf(t, map[string]string{"arch": otherArch()}))
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	idx = mutate.AppendManifests(idx,
		mutate.IndexAddendum{Add: other, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: otherArch()}}},
		mutate.IndexAddendum{Add: mine, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: hostArch()}}})
	top := push(t, r, "lab/multi:1", idx, nil)
	e := newEngine(t)
	res, _, err := pull(t, e, r.Host+"/lab/multi:1", options(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.Config.Architecture != hostArch() || readImageFile(t, e, r.Host+"/lab/multi:1", "/arch") != hostArch() {
		t.Fatalf("pulled %s", res.Image.Config.Architecture)
	}
	if res.Digest.String() != top.String() {
		t.Fatalf("digest %s, index is %s", res.Digest, top)
	}
	// The other platform on request; and a platform the index lacks is refused.
	e2 := newEngine(t)
	o := options(t, r)
	o.Platform = &v1.Platform{OS: "linux", Architecture: otherArch()}
	if res, _, err = pull(t, e2, r.Host+"/lab/multi:1", o); err != nil || res.Image.Config.Architecture != otherArch() {
		t.Fatalf("--platform: %v", err)
	}
	o.Platform = &v1.Platform{OS: "linux", Architecture: "s390x"}
	if _, _, err = pull(t, newEngine(t), r.Host+"/lab/multi:1", o); err == nil || !strings.Contains(err.Error(), "no matching manifest for linux/s390x") {
		t.Fatalf("s390x: %v", err)
	}
}

func TestPullZstdLayers(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{})
	l := layerOf(t, map[string]string{"z.txt": strings.Repeat("zstd ", 1000)}, tarball.WithCompression(compression.ZStd), tarball.WithMediaType(types.OCILayerZStd))
	push(t, r, "lab/z:1", imageOf(t, hostArch(), l), nil)
	e := newEngine(t)
	res, _, err := pull(t, e, r.Host+"/lab/z:1", options(t, r))
	if err != nil {
		t.Fatal(err)
	}
	if res.Image.Layers[0].MediaType != string(types.OCILayerZStd) {
		t.Fatalf("media type %s", res.Image.Layers[0].MediaType)
	}
	if got := readImageFile(t, e, r.Host+"/lab/z:1", "/z.txt"); got != strings.Repeat("zstd ", 1000) {
		t.Fatalf("z.txt: %d bytes", len(got))
	}
	if res.Image.Size() != 5000 {
		t.Fatalf("size %d, want the unpacked 5000", res.Image.Size())
	}
	// An image made on top of it (as commit and build make them) keeps counting the
	// compressed layer at its unpacked size.
	derived, err := e.Images.Create(res.Image.Config, []image.Layer{{Desc: res.Image.Layers[0], DiffID: res.Image.Config.RootFS.DiffIDs[0]}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := e.Images.GetByManifest(derived.Manifest.Digest); err != nil || again.Size() != 5000 {
		t.Fatalf("derived image size: %v %v", again, err)
	}
}

func TestPullRefusesCorruptBlob(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{})
	l := layerOf(t, map[string]string{"f": "good content\n"})
	push(t, r, "lab/bad:1", imageOf(t, hostArch(), l), nil)
	d, _ := l.Digest()
	p := r.BlobPath(d.Hex)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	b[len(b)/2] ^= 0xff
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	e := newEngine(t)
	_, _, err = pull(t, e, r.Host+"/lab/bad:1", options(t, r))
	if err == nil || !strings.Contains(err.Error(), "verification failed for digest "+d.String()) {
		t.Fatalf("err = %v", err)
	}
	if e.Content.Exists(digest.Digest(d.String())) {
		t.Fatal("the corrupt blob was stored")
	}
	if imgs, _ := e.Images.List(); len(imgs) != 0 {
		t.Fatalf("images after a refused pull: %d", len(imgs))
	}
	fsckClean(t, e)
}

func TestPullRegistryKilledMidway(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{})
	big := layerOf(t, map[string]string{"big": randomFile(48 << 20)}, tarball.WithMediaType(types.OCIUncompressedLayer))
	small := layerOf(t, map[string]string{"small": "s\n"})
	push(t, r, "lab/big:1", imageOf(t, hostArch(), small, big), nil)
	e := newEngine(t)
	o := options(t, r)
	killed := false
	o.Progress = func(ev registry.Event) {
		if ev.Status == "Downloading" && ev.Current > 1<<20 && !killed {
			killed = true
			r.Stop()
		}
	}
	ref, _ := reference.Parse(r.Host + "/lab/big:1")
	_, err := registry.Pull(context.Background(), e.Images, ref, o)
	if err == nil || !killed {
		t.Fatalf("pull with the registry killed: killed=%v err=%v", killed, err)
	}
	if imgs, _ := e.Images.List(); len(imgs) != 0 {
		t.Fatalf("images after an interrupted pull: %d", len(imgs))
	}
	fsckClean(t, e)
	r.Restart(t)
	if _, _, err := pull(t, e, r.Host+"/lab/big:1", options(t, r)); err != nil {
		t.Fatalf("retry: %v", err)
	}
	fsckClean(t, e)
}

func TestPullConcurrentSameImage(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{})
	push(t, r, "lab/c:1", imageOf(t, hostArch(), layerOf(t, map[string]string{"a": randomFile(4 << 20)}), layerOf(t, map[string]string{"b": "b"})), nil)
	e := newEngine(t)
	errs := make(chan error, 2)
	for range 2 {
		go func() {
			ref, _ := reference.Parse(r.Host + "/lab/c:1")
			_, err := registry.Pull(context.Background(), e.Images, ref, options(t, r))
			errs <- err
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	fsckClean(t, e)
}

func TestPullBasicAuth(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{User: "alice", Password: "s3cret"})
	push(t, r, "lab/private:1", imageOf(t, hostArch(), layerOf(t, map[string]string{"p": "private\n"})), &authn.Basic{Username: "alice", Password: "s3cret"})
	e := newEngine(t)
	o := options(t, r)
	if _, _, err := pull(t, e, r.Host+"/lab/private:1", o); !errors.Is(err, registry.ErrDenied) {
		t.Fatalf("anonymous pull: %v", err)
	}
	if _, err := registry.Login(context.Background(), r.Host, "alice", "wrong", o); !errors.Is(err, registry.ErrUnauthorized) {
		t.Fatalf("login with a wrong password: %v", err)
	}
	if _, err := registry.Login(context.Background(), r.Host, "alice", "s3cret", o); err != nil {
		t.Fatalf("login: %v", err)
	}
	cfg, _ := os.ReadFile(o.ConfigDir + "/config.json")
	if !strings.Contains(string(cfg), r.Host) || !strings.Contains(string(cfg), `"auth"`) {
		t.Fatalf("config.json: %s", cfg)
	}
	if _, _, err := pull(t, e, r.Host+"/lab/private:1", o); err != nil {
		t.Fatalf("pull after login: %v", err)
	}
	if _, had, err := registry.Logout(r.Host, o); err != nil || !had {
		t.Fatalf("logout: %v %v", had, err)
	}
	if _, _, err := pull(t, newEngine(t), r.Host+"/lab/private:1", o); !errors.Is(err, registry.ErrDenied) {
		t.Fatalf("pull after logout: %v", err)
	}
}

func TestPullTLSWithTestCA(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{TLS: true})
	img := imageOf(t, hostArch(), layerOf(t, map[string]string{"t": "tls\n"}))
	// The test's own push trusts the CA through the same certs.d file.
	o := options(t, r)
	e := newEngine(t)
	src := newEngine(t)
	// Put the image in a store, then push it with lab over TLS.
	layer := img
	_ = layer
	pushWithLab(t, src, r, img, "lab/tls:1", o)
	if _, _, err := pull(t, e, r.Host+"/lab/tls:1", o); err != nil {
		t.Fatalf("pull over TLS with the test CA: %v", err)
	}
	noCA := o
	noCA.CertsDir = t.TempDir()
	if _, _, err := pull(t, newEngine(t), r.Host+"/lab/tls:1", noCA); err == nil {
		t.Fatal("pull without the CA succeeded")
	}
}

func TestPullBearerTokenFlow(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{Token: true, User: "bob", Password: "tok3n"})
	o := options(t, r)
	if _, err := registry.Login(context.Background(), r.Host, "bob", "nope", o); !errors.Is(err, registry.ErrUnauthorized) && (err == nil || !strings.Contains(err.Error(), "nauthorized")) {
		t.Fatalf("login with a wrong password: %v", err)
	}
	if _, err := registry.Login(context.Background(), r.Host, "bob", "tok3n", o); err != nil {
		t.Fatalf("login: %v\n%s", err, r.Log())
	}
	src := newEngine(t)
	pushWithLab(t, src, r, imageOf(t, hostArch(), layerOf(t, map[string]string{"tok": "token\n"})), "lab/tok:1", o)
	e := newEngine(t)
	if _, _, err := pull(t, e, r.Host+"/lab/tok:1", o); err != nil {
		t.Fatalf("pull with a token: %v\n%s", err, r.Log())
	}
	if got := readImageFile(t, e, r.Host+"/lab/tok:1", "/tok"); got != "token\n" {
		t.Fatalf("tok = %q", got)
	}
	// Without credentials the token server refuses, and so does the pull.
	if _, _, err := pull(t, newEngine(t), r.Host+"/lab/tok:1", options(t, r)); err == nil {
		t.Fatal("anonymous pull from a token registry succeeded")
	}
}

// A credential helper named by config.json's credsStore supplies the password, as
// docker's own CLI would use it.
func TestPullCredentialHelper(t *testing.T) {
	r := registrytest.Start(t, registrytest.Config{User: "carol", Password: "h3lper"})
	push(t, r, "lab/helped:1", imageOf(t, hostArch(), layerOf(t, map[string]string{"h": "helped\n"})), &authn.Basic{Username: "carol", Password: "h3lper"})
	bin := t.TempDir()
	script := "#!/bin/sh\n[ \"$1\" = get ] || exit 1\nread server\necho \"{\\\"ServerURL\\\":\\\"$server\\\",\\\"Username\\\":\\\"carol\\\",\\\"Secret\\\":\\\"h3lper\\\"}\"\n"
	writeFile(t, bin+"/docker-credential-labtest", script)
	if err := os.Chmod(bin+"/docker-credential-labtest", 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", bin+":"+os.Getenv("PATH"))
	o := options(t, r)
	writeFile(t, o.ConfigDir+"/config.json", `{"credsStore": "labtest"}`)
	e := newEngine(t)
	if _, _, err := pull(t, e, r.Host+"/lab/helped:1", o); err != nil {
		t.Fatalf("pull with a credential helper: %v", err)
	}
}
