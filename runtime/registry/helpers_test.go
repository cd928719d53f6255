package registry_test

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/compression"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"lab/runtime/engine"
	"lab/runtime/image"
	"lab/runtime/reference"
	"lab/runtime/registry"
	"lab/runtime/registry/registrytest"
)

// layerOf makes a layer holding files (path -> content).
func layerOf(t *testing.T, files map[string]string, opts ...tarball.LayerOption) v1.Layer {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for p, c := range files {
		if err := tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(c))
	}
	tw.Close()
	b := buf.Bytes()
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// randomFile is incompressible content of n bytes.
func randomFile(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return string(b)
}

// imageOf makes an OCI image for arch from layers.
func imageOf(t *testing.T, arch string, layers ...v1.Layer) v1.Image {
	t.Helper()
	img := mutate.MediaType(empty.Image, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	img, err := mutate.AppendLayers(img, layers...)
	if err != nil {
		t.Fatal(err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", arch
	cf.Config.Cmd = []string{"/bin/sh"}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func hostArch() string { return goruntime.GOARCH }

func otherArch() string {
	if goruntime.GOARCH == "arm64" {
		return "amd64"
	}
	return "arm64"
}

// push puts img (or an index) in the registry at repo:tag with go-containerregistry,
// independently of lab.
func push(t *testing.T, r *registrytest.Registry, ref string, x remote.Taggable, auth authn.Authenticator) v1.Hash {
	t.Helper()
	tag, err := name.NewTag(r.Host+"/"+ref, name.Insecure)
	if err != nil {
		t.Fatal(err)
	}
	if auth == nil {
		auth = authn.Anonymous
	}
	opts := []remote.Option{remote.WithAuth(auth)}
	switch v := x.(type) {
	case v1.Image:
		err = remote.Write(tag, v, opts...)
	case v1.ImageIndex:
		err = remote.WriteIndex(tag, v, opts...)
	}
	if err != nil {
		t.Fatalf("push %s: %v\n%s", ref, err, r.Log())
	}
	d, err := remote.Head(tag, opts...)
	if err != nil {
		t.Fatal(err)
	}
	return d.Digest
}

// newEngine opens a fresh store.
func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// options for tests: no Docker config of the machine's, and the test's CAs.
func options(t *testing.T, r *registrytest.Registry) registry.Options {
	dir := t.TempDir()
	return registry.Options{ConfigDir: dir, CertsDir: r.CertsDir}
}

func pull(t *testing.T, e *engine.Engine, ref string, o registry.Options) (*registry.PullResult, []registry.Event, error) {
	t.Helper()
	var evs []registry.Event
	o.Progress = func(ev registry.Event) { evs = append(evs, ev) }
	r, err := reference.Parse(ref)
	if err != nil {
		t.Fatal(err)
	}
	res, err := registry.Pull(context.Background(), e.Images, r, o)
	return res, evs, err
}

// fsckClean fails the test unless the store is consistent.
func fsckClean(t *testing.T, e *engine.Engine) {
	t.Helper()
	rep, err := e.Fsck(context.Background(), engine.FsckOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() {
		t.Fatalf("fsck: %v", rep.Problems)
	}
}

func readImageFile(t *testing.T, e *engine.Engine, ref, path string) string {
	t.Helper()
	b, err := e.ReadImageFile(ref, path)
	if err != nil {
		t.Fatalf("read %s from %s: %v", path, ref, err)
	}
	return string(b)
}

func statuses(evs []registry.Event, status string) int {
	n := 0
	for _, ev := range evs {
		if ev.Status == status {
			n++
		}
	}
	return n
}

func writeFile(t *testing.T, p, s string) {
	t.Helper()
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte(s), 0o600); err != nil {
		t.Fatal(err)
	}
}

var _ = strings.Contains
var _ = compression.ZStd

// pushWithLab puts img into the store of e and pushes it with lab to repo.
func pushWithLab(t *testing.T, e *engine.Engine, r *registrytest.Registry, img v1.Image, repo string, o registry.Options) {
	t.Helper()
	if err := layout.Path(e.Root).WriteImage(img); err != nil {
		t.Fatal(err)
	}
	raw, _ := img.RawManifest()
	mt, _ := img.MediaType()
	ref, err := reference.Parse(r.Host + "/" + repo)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Images.Publish(raw, string(mt), image.PublishOptions{Ref: &ref}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.Push(context.Background(), ref.String(), o); err != nil {
		t.Fatalf("lab push: %v\n%s", err, r.Log())
	}
}
