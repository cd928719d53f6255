package image

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/content"
	"lab/runtime/reference"
)

// Annotations lab keeps on index.json entries (never in manifests, whose bytes and so
// digests must stay as the registry served them).
const (
	// RepoDigestsAnnotation lists "repo@sha256:…" names, comma separated.
	RepoDigestsAnnotation = "org.lab.image.repo-digests"
	// LayerSizesAnnotation lists the unpacked size of each layer, comma separated.
	LayerSizesAnnotation = "org.lab.image.layer-sizes"
)

// Docker's media types for the same things OCI names; registries serve both.
const (
	DockerManifest     = "application/vnd.docker.distribution.manifest.v2+json"
	DockerManifestList = "application/vnd.docker.distribution.manifest.list.v2+json"
	DockerConfig       = "application/vnd.docker.container.image.v1+json"
	DockerLayerGzip    = "application/vnd.docker.image.rootfs.diff.tar.gzip"
	DockerLayer        = "application/vnd.docker.image.rootfs.diff.tar"
	DockerForeignLayer = "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
)

func keptAnnotations(d ocispec.Descriptor) map[string]string {
	var out map[string]string
	for k, v := range d.Annotations {
		if k == RepoDigestsAnnotation || k == LayerSizesAnnotation || k == AnnotationID {
			if out == nil {
				out = map[string]string{}
			}
			out[k] = v
		}
	}
	return out
}

func parseAnnotations(a map[string]string) (repoDigests []string, sizes []int64) {
	if v := a[RepoDigestsAnnotation]; v != "" {
		repoDigests = strings.Split(v, ",")
	}
	if v := a[LayerSizesAnnotation]; v != "" {
		for _, f := range strings.Split(v, ",") {
			n, err := strconv.ParseInt(f, 10, 64)
			if err != nil {
				return repoDigests, nil
			}
			sizes = append(sizes, n)
		}
	}
	return repoDigests, sizes
}

func mergeRepoDigests(have []string, d ocispec.Descriptor) []string {
	rd, _ := parseAnnotations(d.Annotations)
	for _, r := range rd {
		if !slices.Contains(have, r) {
			have = append(have, r)
		}
	}
	return have
}

// PublishOptions say how Publish names an image.
type PublishOptions struct {
	Ref        *reference.Ref // the tag to point at it; nil leaves it untagged (or as tagged before)
	RepoDigest string         // "repo@sha256:…" to record, or ""
	LayerSizes []int64        // unpacked layer sizes, one per layer
}

// Publish names an image whose manifest bytes are mb and whose config and layers are
// already committed to the content store, as a pull or load leaves them. The manifest
// is stored byte for byte, so its digest stays the one the registry or archive gave.
// It is the last step of an import: the blobs it names are checked under the store
// lock, and index.json changes only after they are durable.
func (s *Store) Publish(mb []byte, mediaType string, o PublishOptions) (*Image, error) {
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("publish image: malformed manifest: %w", err)
	}
	if m.Config.Digest == "" {
		return nil, fmt.Errorf("publish image: manifest has no config")
	}
	md, err := s.content.PutBytes(mb)
	if err != nil {
		return nil, fmt.Errorf("publish image: %w", err)
	}
	desc := ocispec.Descriptor{MediaType: mediaType, Digest: md, Size: int64(len(mb))}
	if len(o.LayerSizes) == len(m.Layers) && len(m.Layers) > 0 {
		var f []string
		for _, n := range o.LayerSizes {
			f = append(f, strconv.FormatInt(n, 10))
		}
		desc.Annotations = map[string]string{LayerSizesAnnotation: strings.Join(f, ",")}
	}
	err = s.update(func(idx *ocispec.Index) error {
		for _, d := range append([]digest.Digest{md, m.Config.Digest}, layerDigestsOf(m)...) {
			if !s.content.Exists(d) {
				return fmt.Errorf("publish image: %s: %w", d, content.ErrNotFound)
			}
		}
		rds := []string{}
		for _, e := range idx.Manifests {
			if e.Digest == md {
				rds = mergeRepoDigests(rds, e)
			}
		}
		if o.RepoDigest != "" && !slices.Contains(rds, o.RepoDigest) {
			rds = append(rds, o.RepoDigest)
		}
		if len(rds) > 0 {
			if desc.Annotations == nil {
				desc.Annotations = map[string]string{}
			}
			desc.Annotations[RepoDigestsAnnotation] = strings.Join(rds, ",")
			// every entry of the image carries the same annotations
			for i, e := range idx.Manifests {
				if e.Digest == md {
					a := keptAnnotations(desc)
					if n := refName(e); n != "" {
						a[ocispec.AnnotationRefName] = n
					}
					idx.Manifests[i].Annotations = a
				}
			}
		}
		setTag(idx, &Image{ID: m.Config.Digest, Manifest: desc}, o.Ref)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.GetByManifest(md)
}

func layerDigestsOf(m ocispec.Manifest) []digest.Digest {
	var out []digest.Digest
	for _, l := range m.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// GetByManifest returns the image whose manifest digest is md.
func (s *Store) GetByManifest(md digest.Digest) (*Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	for _, d := range idx.Manifests {
		if d.Digest == md {
			img, err := s.load(d)
			if err != nil {
				return nil, err
			}
			for _, e := range idx.Manifests {
				if e.Digest == md {
					if n := refName(e); n != "" {
						img.Tags = append(img.Tags, n)
					}
					img.RepoDigests = mergeRepoDigests(img.RepoDigests, e)
				}
			}
			return img, nil
		}
	}
	return nil, fmt.Errorf("%w: %s", ErrNotFound, md)
}

// Unpack unpacks layers (blobs already in the store, gzip, zstd or plain) checking
// each against its diffID, and returns each layer's unpacked size.
func (s *Store) Unpack(ctx context.Context, layers []ocispec.Descriptor, diffIDs []digest.Digest) ([]int64, error) {
	if len(layers) != len(diffIDs) {
		return nil, fmt.Errorf("unpack: %d layers but %d diff ids", len(layers), len(diffIDs))
	}
	sizes := make([]int64, len(layers))
	for i, l := range layers {
		dir, err := s.unpacked(ctx, l, diffIDs[i])
		if err != nil {
			return nil, err
		}
		sizes[i] = dirSize(dir)
	}
	return sizes, nil
}

// dirSize is the bytes of file content under dir, as Docker counts a layer's size.
func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// decompressLayer returns a layer blob's tar stream, whatever its media type claims:
// the magic number decides, as Docker's DecompressStream does.
func decompressLayer(f io.Reader) (io.Reader, func(), error) {
	br, magic := peek(f)
	switch {
	case len(magic) >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		zr, err := newGzipReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	case len(magic) >= 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return br, func() {}, nil
}

// OpenLayer returns the uncompressed tar of a stored layer blob.
func (s *Store) OpenLayer(d digest.Digest) (io.Reader, func(), error) {
	f, err := s.content.Open(d)
	if err != nil {
		return nil, nil, err
	}
	r, done, err := decompressLayer(f)
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("layer %s: %w", d, err)
	}
	return r, func() { done(); f.Close() }, nil
}

// recordSizes notes the unpacked sizes of img's layers on its index entry when some
// layer (a pulled, compressed one that a commit or build reuses) has no content size
// of its own, so that SIZE stays the unpacked size on derived images too.
func (s *Store) recordSizes(img *Image, layers []Layer) {
	sizes := make([]int64, len(layers))
	need := false
	for i, l := range layers {
		if _, ok := l.Desc.Annotations[ContentSizeAnnotation]; ok {
			sizes[i] = LayerSize(l.Desc)
			continue
		}
		need = true
		sizes[i] = l.Desc.Size
		if n := s.layerDirSize(l.DiffID); n > 0 {
			sizes[i] = n
		}
	}
	if !need {
		return
	}
	f := make([]string, len(sizes))
	for i, n := range sizes {
		f[i] = strconv.FormatInt(n, 10)
	}
	img.Manifest.Annotations = map[string]string{LayerSizesAnnotation: strings.Join(f, ",")}
	img.layerSizes = sizes
}

// layerDirSize is dirSize of an unpacked layer, remembered per process: a build on a
// pulled base asks for the base's layers at every step, and they never change.
func (s *Store) layerDirSize(diffID digest.Digest) int64 {
	if diffID.Validate() != nil {
		return 0
	}
	s.mu.Lock()
	n, ok := s.dirSizes[diffID]
	s.mu.Unlock()
	if ok {
		return n
	}
	n = dirSize(filepath.Join(s.layers, diffID.Encoded()))
	if n > 0 {
		s.mu.Lock()
		s.dirSizes[diffID] = n
		s.mu.Unlock()
	}
	return n
}
