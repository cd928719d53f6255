package imagearchive

import (
	"archive/tar"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/content"
	"lab/runtime/image"
	"lab/runtime/reference"
)

// manifestEntry is one image of Docker's manifest.json.
type manifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// Entry is one image to save and the names it goes under ("busybox:latest"); no
// names saves it by ID only.
type Entry struct {
	Image *image.Image
	Tags  []string
}

const containerdName = "io.containerd.image.name"

// Save writes entries as one archive to w.
func Save(ctx context.Context, cs *content.Store, entries []Entry, w io.Writer) error {
	tw := tar.NewWriter(w)
	written := map[digest.Digest]bool{}
	blob := func(d digest.Digest) error {
		if written[d] {
			return nil
		}
		written[d] = true
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := cs.Open(d)
		if err != nil {
			return err
		}
		defer f.Close()
		st, err := f.Stat()
		if err != nil {
			return err
		}
		if err := tw.WriteHeader(fileHeader("blobs/sha256/"+d.Encoded(), st.Size())); err != nil {
			return err
		}
		// Verify while copying: a damaged store must not produce an archive that
		// only fails when loaded somewhere else.
		dg := digest.SHA256.Digester()
		if _, err := io.Copy(tw, io.TeeReader(f, dg.Hash())); err != nil {
			return err
		}
		if dg.Digest() != d {
			return fmt.Errorf("save: blob %s: %w", d, content.ErrDigestMismatch)
		}
		return nil
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	if err := tw.WriteHeader(&tar.Header{Name: "blobs/sha256/", Typeflag: tar.TypeDir, Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
		return err
	}
	var manifest []manifestEntry
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	repos := map[string]map[string]string{}
	for _, e := range entries {
		img := e.Image
		me := manifestEntry{Config: "blobs/sha256/" + img.ID.Encoded(), RepoTags: []string{}, Layers: []string{}}
		for _, l := range img.Layers {
			if err := blob(l.Digest); err != nil {
				return err
			}
			me.Layers = append(me.Layers, "blobs/sha256/"+l.Digest.Encoded())
		}
		if err := blob(img.ID); err != nil {
			return err
		}
		if err := blob(img.Manifest.Digest); err != nil {
			return err
		}
		desc := ocispec.Descriptor{MediaType: img.Manifest.MediaType, Digest: img.Manifest.Digest, Size: img.Manifest.Size}
		if len(e.Tags) == 0 {
			idx.Manifests = append(idx.Manifests, desc)
		}
		for _, t := range e.Tags {
			r, err := reference.Parse(t)
			if err != nil {
				return err
			}
			me.RepoTags = append(me.RepoTags, r.String())
			d := desc
			d.Annotations = map[string]string{containerdName: r.Full(), ocispec.AnnotationRefName: r.Tag}
			idx.Manifests = append(idx.Manifests, d)
			if len(img.Layers) > 0 {
				if repos[r.Repository()] == nil {
					repos[r.Repository()] = map[string]string{}
				}
				repos[r.Repository()][r.Tag] = img.Layers[len(img.Layers)-1].Digest.Encoded()
			}
		}
		manifest = append(manifest, me)
	}
	files := map[string]any{"index.json": idx, "manifest.json": manifest}
	if len(repos) > 0 {
		files["repositories"] = repos
	}
	names := []string{}
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range append([]string{"oci-layout"}, names...) {
		var b []byte
		if n == "oci-layout" {
			b = []byte(`{"imageLayoutVersion":"1.0.0"}`)
		} else {
			var err error
			if b, err = json.Marshal(files[n]); err != nil {
				return err
			}
		}
		if err := tw.WriteHeader(fileHeader(n, int64(len(b)))); err != nil {
			return err
		}
		if _, err := tw.Write(b); err != nil {
			return err
		}
	}
	return tw.Close()
}

func fileHeader(name string, size int64) *tar.Header {
	return &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o444, Size: size, ModTime: time.Unix(0, 0), Format: tar.FormatPAX}
}
