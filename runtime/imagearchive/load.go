package imagearchive

import (
	"archive/tar"
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/image"
	"lab/runtime/reference"
)

// ErrInvalid is an archive lab cannot read.
var ErrInvalid = errors.New("invalid image archive")

// Loaded is one image a load named: Tag is "" for an image loaded by ID only.
type Loaded struct {
	Image *image.Image
	Tag   string
}

// Load reads an archive (plain, gzip or zstd) from r into the store.
func Load(ctx context.Context, store *image.Store, r io.Reader) ([]Loaded, error) {
	plain, done, err := decompress(r)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer done()
	tmp, err := os.MkdirTemp(filepath.Join(store.Content().Root, "ingest"), "load-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	if err := extract(ctx, plain, tmp); err != nil {
		return nil, err
	}
	l := &loader{ctx: ctx, store: store, dir: tmp}
	if _, err := os.Stat(filepath.Join(tmp, "manifest.json")); err == nil {
		return l.docker()
	}
	if _, err := os.Stat(filepath.Join(tmp, "index.json")); err == nil {
		return l.oci()
	}
	return nil, fmt.Errorf("%w: neither manifest.json nor index.json found", ErrInvalid)
}

func decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	if len(magic) == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd {
		zr, err := zstd.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, zr.Close, nil
	}
	return image.Decompress(br)
}

// extract unpacks the archive's regular files under dir; anything else (links,
// devices, paths leaving dir) is refused, since an archive may be hostile.
func extract(ctx context.Context, r io.Reader, dir string) error {
	tr := tar.NewReader(r)
	n := 0
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		n++
		name := filepath.Clean(strings.TrimPrefix(h.Name, "./"))
		if !filepath.IsLocal(name) {
			return fmt.Errorf("%w: entry %q leaves the archive", ErrInvalid, h.Name)
		}
		p := filepath.Join(dir, name)
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, 0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
			if err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			_, err = io.Copy(f, tr)
			f.Close()
			if err != nil {
				return fmt.Errorf("%w: %v", ErrInvalid, err)
			}
		case tar.TypeSymlink, tar.TypeLink:
			// Docker 20.10 links duplicate layers to the first copy; follow only links
			// that stay inside, by copying the target.
			target := h.Linkname
			if h.Typeflag == tar.TypeSymlink {
				target = filepath.Join(filepath.Dir(name), h.Linkname)
			}
			target = filepath.Clean(target)
			if !filepath.IsLocal(target) {
				return fmt.Errorf("%w: link %q leaves the archive", ErrInvalid, h.Name)
			}
			if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
				return err
			}
			if err := os.Link(filepath.Join(dir, target), p); err != nil {
				return fmt.Errorf("%w: link %q: %v", ErrInvalid, h.Name, err)
			}
		default:
			return fmt.Errorf("%w: entry %q of type %c", ErrInvalid, h.Name, h.Typeflag)
		}
	}
	if n == 0 {
		return fmt.Errorf("%w: empty archive", ErrInvalid)
	}
	return nil
}

type loader struct {
	ctx   context.Context
	store *image.Store
	dir   string
}

func (l *loader) path(rel string) (string, error) {
	rel = filepath.Clean(rel)
	if !filepath.IsLocal(rel) {
		return "", fmt.Errorf("%w: path %q leaves the archive", ErrInvalid, rel)
	}
	return filepath.Join(l.dir, rel), nil
}

func (l *loader) readJSON(rel string, v any) ([]byte, error) {
	p, err := l.path(rel)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if err := json.Unmarshal(b, v); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrInvalid, rel, err)
	}
	return b, nil
}

// storeFile commits a file of the archive to the content store, verified against
// want when given. It returns its digest and size.
func (l *loader) storeFile(rel string, want digest.Digest) (digest.Digest, int64, error) {
	p, err := l.path(rel)
	if err != nil {
		return "", 0, err
	}
	f, err := os.Open(p)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	defer f.Close()
	w, err := l.store.Content().Writer()
	if err != nil {
		return "", 0, err
	}
	defer w.Abort()
	if _, err := io.Copy(w, f); err != nil {
		return "", 0, err
	}
	n := w.Size()
	d, err := w.Commit(want, -1)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %s: %v", ErrInvalid, rel, err)
	}
	return d, n, nil
}

// layerMediaType names a layer blob by what its bytes are.
func (l *loader) layerMediaType(d digest.Digest) (string, error) {
	f, err := l.store.Content().Open(d)
	if err != nil {
		return "", err
	}
	defer f.Close()
	magic := make([]byte, 4)
	n, _ := io.ReadFull(f, magic)
	switch {
	case n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b:
		return ocispec.MediaTypeImageLayerGzip, nil
	case n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd:
		return ocispec.MediaTypeImageLayerZstd, nil
	}
	return ocispec.MediaTypeImageLayer, nil
}

// docker loads the manifest.json form (Docker 20.10 and 25+).
func (l *loader) docker() ([]Loaded, error) {
	var entries []manifestEntry
	if _, err := l.readJSON("manifest.json", &entries); err != nil {
		return nil, err
	}
	if len(entries) == 0 {
		return nil, fmt.Errorf("%w: manifest.json lists no image", ErrInvalid)
	}
	known := l.ociManifests()
	var out []Loaded
	for _, e := range entries {
		cfgDigest, cfgSize, err := l.storeFile(e.Config, "")
		if err != nil {
			return nil, err
		}
		cb, err := l.store.Content().ReadBlob(cfgDigest)
		if err != nil {
			return nil, err
		}
		var cfg ocispec.Image
		if err := json.Unmarshal(cb, &cfg); err != nil {
			return nil, fmt.Errorf("%w: image config %s: %v", ErrInvalid, e.Config, err)
		}
		if len(cfg.RootFS.DiffIDs) != len(e.Layers) {
			return nil, fmt.Errorf("%w: %d layers but the config lists %d", ErrInvalid, len(e.Layers), len(cfg.RootFS.DiffIDs))
		}
		m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest,
			Config: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cfgDigest, Size: cfgSize}, Layers: []ocispec.Descriptor{}}
		for _, lp := range e.Layers {
			d, n, err := l.storeFile(lp, "")
			if err != nil {
				return nil, err
			}
			mt, err := l.layerMediaType(d)
			if err != nil {
				return nil, err
			}
			m.Layers = append(m.Layers, ocispec.Descriptor{MediaType: mt, Digest: d, Size: n})
		}
		raw, mt := []byte(nil), ocispec.MediaTypeImageManifest
		// Docker 25+ ships the image's own manifest in blobs/: keep it (and its digest)
		// when it names exactly these blobs.
		if k, ok := known[cfgDigest]; ok && sameLayers(k.m, m) {
			raw, mt = k.raw, k.mediaType
		} else if raw, err = json.Marshal(m); err != nil {
			return nil, err
		}
		tags := []string{}
		for _, t := range e.RepoTags {
			if r, err := reference.ParseTagged(t); err == nil {
				tags = append(tags, r.String())
			}
		}
		loaded, err := l.publish(raw, mt, m, cfg, tags)
		if err != nil {
			return nil, err
		}
		out = append(out, loaded...)
	}
	return out, nil
}

func sameLayers(a, b ocispec.Manifest) bool {
	if a.Config.Digest != b.Config.Digest || len(a.Layers) != len(b.Layers) {
		return false
	}
	for i := range a.Layers {
		if a.Layers[i].Digest != b.Layers[i].Digest {
			return false
		}
	}
	return true
}

type known struct {
	raw       []byte
	mediaType string
	m         ocispec.Manifest
	name      string
}

// ociManifests reads the image manifests of an OCI layout in the archive (directly in
// index.json or one index down, choosing this host's platform), by config digest.
func (l *loader) ociManifests() map[digest.Digest]known {
	out := map[digest.Digest]known{}
	var idx ocispec.Index
	if _, err := l.readJSON("index.json", &idx); err != nil {
		return out
	}
	var visit func(d ocispec.Descriptor, name string, depth int)
	visit = func(d ocispec.Descriptor, name string, depth int) {
		if d.Digest.Validate() != nil || depth > 2 {
			return
		}
		b, err := os.ReadFile(filepath.Join(l.dir, "blobs", d.Digest.Algorithm().String(), d.Digest.Encoded()))
		if err != nil || digest.FromBytes(b) != d.Digest {
			return
		}
		switch d.MediaType {
		case ocispec.MediaTypeImageIndex, image.DockerManifestList:
			var sub ocispec.Index
			if json.Unmarshal(b, &sub) != nil {
				return
			}
			for _, c := range sub.Manifests {
				if c.Platform == nil || (c.Platform.OS == "linux" && c.Platform.Architecture == goruntime.GOARCH) {
					visit(c, name, depth+1)
				}
			}
		case ocispec.MediaTypeImageManifest, image.DockerManifest:
			var m ocispec.Manifest
			if json.Unmarshal(b, &m) != nil || m.Config.Digest == "" {
				return
			}
			if _, seen := out[m.Config.Digest]; !seen || name != "" {
				out[m.Config.Digest] = known{raw: b, mediaType: d.MediaType, m: m, name: name}
			}
		}
	}
	for _, d := range idx.Manifests {
		visit(d, refNameOf(d), 0)
	}
	return out
}

// refNameOf is the image name an OCI index entry carries, if it is a full one.
func refNameOf(d ocispec.Descriptor) string {
	if n := d.Annotations[containerdName]; n != "" {
		return n
	}
	n := d.Annotations[ocispec.AnnotationRefName]
	if strings.ContainsAny(n, ":/") {
		if r, err := reference.ParseTagged(n); err == nil {
			return r.String()
		}
	}
	return ""
}

// oci loads a plain OCI layout archive.
func (l *loader) oci() ([]Loaded, error) {
	ms := l.ociManifests()
	if len(ms) == 0 {
		return nil, fmt.Errorf("%w: index.json names no image for linux/%s", ErrInvalid, goruntime.GOARCH)
	}
	var out []Loaded
	for _, k := range ms {
		cfgPath := filepath.Join("blobs", "sha256", k.m.Config.Digest.Encoded())
		if err := k.m.Config.Digest.Validate(); err != nil {
			return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
		}
		if _, _, err := l.storeFile(cfgPath, k.m.Config.Digest); err != nil {
			return nil, err
		}
		cb, err := l.store.Content().ReadBlob(k.m.Config.Digest)
		if err != nil {
			return nil, err
		}
		var cfg ocispec.Image
		if err := json.Unmarshal(cb, &cfg); err != nil {
			return nil, fmt.Errorf("%w: image config: %v", ErrInvalid, err)
		}
		for _, ld := range k.m.Layers {
			if err := ld.Digest.Validate(); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
			}
			if _, _, err := l.storeFile(filepath.Join("blobs", "sha256", ld.Digest.Encoded()), ld.Digest); err != nil {
				return nil, err
			}
		}
		var tags []string
		if k.name != "" {
			tags = []string{k.name}
		}
		loaded, err := l.publish(k.raw, k.mediaType, k.m, cfg, tags)
		if err != nil {
			return nil, err
		}
		out = append(out, loaded...)
	}
	return out, nil
}

// publish unpacks the layers (checking them against the config's diff IDs) and names
// the image: first under its first tag, then the others.
func (l *loader) publish(raw []byte, mt string, m ocispec.Manifest, cfg ocispec.Image, tags []string) ([]Loaded, error) {
	sizes, err := l.store.Unpack(l.ctx, m.Layers, cfg.RootFS.DiffIDs)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	o := image.PublishOptions{LayerSizes: sizes}
	var refs []reference.Ref
	for _, t := range tags {
		r, err := reference.ParseTagged(t)
		if err != nil {
			continue
		}
		refs = append(refs, r)
	}
	if len(refs) > 0 {
		o.Ref = &refs[0]
	}
	img, err := l.store.Publish(raw, mt, o)
	if err != nil {
		return nil, err
	}
	if len(refs) == 0 {
		return []Loaded{{Image: img}}, nil
	}
	out := []Loaded{{Image: img, Tag: refs[0].String()}}
	for _, r := range refs[1:] {
		if err := l.store.Tag(img, r); err != nil {
			return nil, err
		}
		out = append(out, Loaded{Image: img, Tag: r.String()})
	}
	return out, nil
}
