package imagearchive_test

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"

	"lab/runtime/engine"
	"lab/runtime/imagearchive"
)

func newEngine(t *testing.T) *engine.Engine {
	t.Helper()
	e, err := engine.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func tarOf(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for p, c := range files {
		tw.WriteHeader(&tar.Header{Name: p, Mode: 0o644, Size: int64(len(c)), Typeflag: tar.TypeReg})
		tw.Write([]byte(c))
	}
	tw.Close()
	return buf.Bytes()
}

// archive writes entries (name -> content) as a tar.
func archive(t *testing.T, entries [][2]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		tw.WriteHeader(&tar.Header{Name: e[0], Mode: 0o644, Size: int64(len(e[1])), Typeflag: tar.TypeReg})
		tw.Write([]byte(e[1]))
	}
	tw.Close()
	return buf.Bytes()
}

func fsckClean(t *testing.T, e *engine.Engine) {
	t.Helper()
	rep, err := e.Fsck(context.Background(), engine.FsckOptions{})
	if err != nil || !rep.OK() {
		t.Fatalf("fsck: %v %v", err, rep.Problems)
	}
}

func read(t *testing.T, e *engine.Engine, ref, p string) string {
	t.Helper()
	b, err := e.ReadImageFile(ref, p)
	if err != nil {
		t.Fatalf("read %s: %v", p, err)
	}
	return string(b)
}

// docker2010 is what Docker 20.10's docker save writes: one directory per layer with
// layer.tar, the config as <id>.json, manifest.json and repositories.
func docker2010(t *testing.T, layers ...[]byte) []byte {
	t.Helper()
	var diffIDs []string
	var entries [][2]string
	var paths []string
	for i, l := range layers {
		d := digest.FromBytes(l)
		diffIDs = append(diffIDs, d.String())
		dir := strings.Repeat(string(rune('a'+i)), 64)
		entries = append(entries, [2]string{dir + "/VERSION", "1.0"}, [2]string{dir + "/json", "{}"}, [2]string{dir + "/layer.tar", string(l)})
		paths = append(paths, dir+"/layer.tar")
	}
	cfg, _ := json.Marshal(map[string]any{"architecture": goruntime.GOARCH, "os": "linux",
		"config": map[string]any{"Cmd": []string{"/bin/sh"}}, "rootfs": map[string]any{"type": "layers", "diff_ids": diffIDs}})
	cd := digest.FromBytes(cfg)
	man, _ := json.Marshal([]map[string]any{{"Config": cd.Encoded() + ".json", "RepoTags": []string{"old/format:20.10"}, "Layers": paths}})
	entries = append(entries, [2]string{cd.Encoded() + ".json", string(cfg)}, [2]string{"manifest.json", string(man)},
		[2]string{"repositories", `{"old/format":{"20.10":"` + strings.Repeat("a", 64) + `"}}`})
	return archive(t, entries)
}

func TestLoadDocker2010Format(t *testing.T) {
	e := newEngine(t)
	arc := docker2010(t, tarOf(t, map[string]string{"one": "1\n"}), tarOf(t, map[string]string{"two": "2\n"}))
	loaded, err := e.Load(context.Background(), bytes.NewReader(arc))
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].Tag != "old/format:20.10" {
		t.Fatalf("loaded %+v", loaded)
	}
	if read(t, e, "old/format:20.10", "/one") != "1\n" || read(t, e, "old/format:20.10", "/two") != "2\n" {
		t.Fatal("content")
	}
	fsckClean(t, e)
}

func TestSaveLoadRoundTripKeepsDigests(t *testing.T) {
	src := newEngine(t)
	// gzip-compressed input too
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(docker2010(t, tarOf(t, map[string]string{"f": "round trip\n"})))
	zw.Close()
	if _, err := src.Load(context.Background(), &gz); err != nil {
		t.Fatal(err)
	}
	img, _ := src.Images.Get("old/format:20.10")
	var arc bytes.Buffer
	if err := src.Save(context.Background(), []string{"old/format:20.10"}, &arc); err != nil {
		t.Fatal(err)
	}
	// Docker's files are all there.
	names := map[string]bool{}
	tr := tar.NewReader(bytes.NewReader(arc.Bytes()))
	for {
		h, err := tr.Next()
		if err != nil {
			break
		}
		names[h.Name] = true
	}
	for _, n := range []string{"manifest.json", "repositories", "index.json", "oci-layout", "blobs/sha256/" + img.Manifest.Digest.Encoded()} {
		if !names[n] {
			t.Fatalf("archive lacks %s: %v", n, names)
		}
	}
	dst := newEngine(t)
	loaded, err := dst.Load(context.Background(), bytes.NewReader(arc.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if len(loaded) != 1 || loaded[0].Image.ID != img.ID || loaded[0].Image.Manifest.Digest != img.Manifest.Digest {
		t.Fatalf("loaded %+v, saved %s %s", loaded, img.ID, img.Manifest.Digest)
	}
	if read(t, dst, "old/format:20.10", "/f") != "round trip\n" {
		t.Fatal("content")
	}
	fsckClean(t, dst)
}

func TestLoadOCIArchive(t *testing.T) {
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(tarOf(t, map[string]string{"oci": "layout\n"}))), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	img, _ := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), l)
	cf, _ := img.ConfigFile()
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", goruntime.GOARCH
	img, _ = mutate.ConfigFile(img, cf)
	dir := t.TempDir()
	p, err := layout.Write(dir, empty.Index)
	if err != nil {
		t.Fatal(err)
	}
	tag, _ := name.NewTag("example.com/oci/image:1")
	if err := p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": tag.String()})); err != nil {
		t.Fatal(err)
	}
	var arc bytes.Buffer
	zw := gzip.NewWriter(&arc)
	tw := tar.NewWriter(zw)
	filepath.Walk(dir, func(path string, fi os.FileInfo, err error) error {
		if err != nil || fi.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(dir, path)
		b, _ := os.ReadFile(path)
		tw.WriteHeader(&tar.Header{Name: rel, Mode: 0o644, Size: int64(len(b)), Typeflag: tar.TypeReg})
		tw.Write(b)
		return nil
	})
	tw.Close()
	zw.Close()
	e := newEngine(t)
	loaded, err := e.Load(context.Background(), &arc)
	if err != nil {
		t.Fatal(err)
	}
	want, _ := img.Digest()
	if len(loaded) != 1 || loaded[0].Tag != "example.com/oci/image:1" || loaded[0].Image.Manifest.Digest.String() != want.String() {
		t.Fatalf("loaded %+v", loaded)
	}
	if read(t, e, "example.com/oci/image:1", "/oci") != "layout\n" {
		t.Fatal("content")
	}
	fsckClean(t, e)
	_ = v1.Hash{}
}

func TestLoadRefusesBadArchives(t *testing.T) {
	good := tarOf(t, map[string]string{"x": "x"})
	bad := docker2010(t, good)
	// A layer that does not match the config's diff ID.
	tampered := bytes.Replace(bad, []byte("x\x00"), []byte("y\x00"), 1)
	cases := map[string][]byte{
		"escaping path":  archive(t, [][2]string{{"../evil", "x"}}),
		"not a tar":      []byte("hello"),
		"no manifest":    archive(t, [][2]string{{"foo", "bar"}}),
		"bad manifest":   archive(t, [][2]string{{"manifest.json", "{"}}),
		"diff id":        tampered,
		"config escapes": archive(t, [][2]string{{"manifest.json", `[{"Config":"../../etc/passwd","Layers":[]}]`}}),
	}
	for n, arc := range cases {
		t.Run(n, func(t *testing.T) {
			e := newEngine(t)
			_, err := e.Load(context.Background(), bytes.NewReader(arc))
			if !errors.Is(err, imagearchive.ErrInvalid) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v", err)
			}
			if imgs, _ := e.Images.List(); len(imgs) != 0 {
				t.Fatal("an image was loaded")
			}
			ents, _ := os.ReadDir(filepath.Join(e.Root, "ingest"))
			if len(ents) != 0 {
				t.Fatalf("ingest left: %v", ents)
			}
			fsckClean(t, e)
		})
	}
}
