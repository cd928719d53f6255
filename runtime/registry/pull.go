package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	goruntime "runtime"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"lab/runtime/content"
	"lab/runtime/image"
	"lab/runtime/reference"
)

// ErrMalformed is a manifest, index or config that does not parse or is inconsistent.
var ErrMalformed = errors.New("malformed")

// PullResult says what a pull did.
type PullResult struct {
	Image    *image.Image
	Digest   digest.Digest // what the reference resolved to at the registry (index or manifest)
	UpToDate bool          // the tag already named this image
	Ref      reference.Ref // what was pulled
}

// downloads is how many layers are fetched at once, as Docker's default.
const downloads = 3

// maxManifest bounds manifests and configs read into memory.
const maxManifest = 32 << 20

// HostPlatform is the platform images are pulled for by default.
func HostPlatform() v1.Platform {
	p := v1.Platform{OS: "linux", Architecture: goruntime.GOARCH}
	if p.Architecture == "arm64" {
		p.Variant = "v8"
	}
	return p
}

// ParsePlatform reads os/arch[/variant].
func ParsePlatform(s string) (*v1.Platform, error) {
	parts := strings.Split(s, "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" || parts[1] == "" {
		return nil, fmt.Errorf("invalid platform %q: expected os/arch[/variant]", s)
	}
	p := &v1.Platform{OS: parts[0], Architecture: parts[1]}
	if len(parts) == 3 {
		p.Variant = parts[2]
	}
	return p, nil
}

func platformString(p v1.Platform) string {
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// choose picks the manifest of an index for want, as Docker does: os and
// architecture must match; a variant, when asked for, too (arm64's v8 matches none).
func choose(idx *v1.IndexManifest, want v1.Platform) (v1.Descriptor, bool) {
	var fallback *v1.Descriptor
	for i, m := range idx.Manifests {
		p := m.Platform
		if p == nil || p.OS != want.OS || p.Architecture != want.Architecture {
			continue
		}
		if p.Variant == want.Variant {
			return m, true
		}
		if fallback == nil && (want.Variant == "" || p.Variant == "" || (want.Architecture == "arm64" && want.Variant == "v8")) {
			fallback = &idx.Manifests[i]
		}
	}
	if fallback != nil {
		return *fallback, true
	}
	return v1.Descriptor{}, false
}

func isIndex(mt string) bool {
	return mt == ocispec.MediaTypeImageIndex || mt == image.DockerManifestList
}

func isManifest(mt string) bool {
	return mt == ocispec.MediaTypeImageManifest || mt == image.DockerManifest
}

// ShortID is how Docker names a layer in progress lines.
func ShortID(d digest.Digest) string {
	e := d.Encoded()
	if len(e) > 12 {
		e = e[:12]
	}
	return e
}

// Pull fetches ref into the store and tags it (a digest-only reference leaves it
// untagged but findable as NAME@sha256:…).
func Pull(ctx context.Context, store *image.Store, ref reference.Ref, o Options) (*PullResult, error) {
	repo, err := o.repository(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", reference.ErrInvalidFormat, err)
	}
	var nref name.Reference
	if ref.Digest != "" {
		nref = repo.Digest(ref.Digest)
	} else {
		nref = repo.Tag(ref.Tag)
	}
	ropts, err := o.remoteOptions(ref.Domain)
	if err != nil {
		return nil, err
	}
	puller, err := remote.NewPuller(append(ropts, remote.WithContext(ctx))...)
	if err != nil {
		return nil, err
	}
	desc, err := puller.Get(ctx, nref)
	if err != nil {
		return nil, classify(err, ref.String())
	}
	top := digest.Digest(desc.Digest.String())
	raw, mt := desc.Manifest, string(desc.MediaType)
	if isIndex(mt) {
		idx, err := v1.ParseIndexManifest(bytes.NewReader(raw))
		if err != nil {
			return nil, fmt.Errorf("%w index for %s: %v", ErrMalformed, ref, err)
		}
		want := HostPlatform()
		if o.Platform != nil {
			want = *o.Platform
		}
		m, ok := choose(idx, want)
		if !ok {
			return nil, fmt.Errorf("no matching manifest for %s in the manifest list entries", platformString(want))
		}
		child, err := puller.Get(ctx, repo.Digest(m.Digest.String()))
		if err != nil {
			return nil, classify(err, ref.String())
		}
		raw, mt = child.Manifest, string(child.MediaType)
	}
	if !isManifest(mt) {
		if strings.Contains(mt, "manifest.v1") {
			return nil, fmt.Errorf("%s: Docker image manifest version 2, schema 1 is not supported", ref)
		}
		return nil, fmt.Errorf("%s: unsupported manifest media type %q", ref, mt)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, fmt.Errorf("%w manifest for %s: %v", ErrMalformed, ref, err)
	}
	if err := checkManifest(m); err != nil {
		return nil, fmt.Errorf("%w manifest for %s: %v", ErrMalformed, ref, err)
	}
	manifestDigest := digest.FromBytes(raw)
	tag := ref.Tag
	if tag == "" {
		tag = ref.Digest
	}
	o.emit(Event{ID: tag, Status: "Pulling from " + familiarPath(ref)})

	var target *reference.Ref
	if ref.Tag != "" {
		t := reference.Ref{Domain: ref.Domain, Path: ref.Path, Tag: ref.Tag}
		target = &t
	}
	upToDate := false
	if target != nil {
		if cur, err := store.Get(target.String()); err == nil && cur.Manifest.Digest == manifestDigest {
			upToDate = true
		}
	} else if _, err := store.GetByManifest(manifestDigest); err == nil {
		upToDate = true
	}

	p := &pull{ctx: ctx, store: store, puller: puller, repo: repo, o: &o}
	if upToDate {
		p.o = &Options{} // Docker prints no layer lines for an image it already has
	}
	cfgBytes, err := p.fetchSmall(m.Config)
	if err != nil {
		return nil, err
	}
	var cfg ocispec.Image
	if err := json.Unmarshal(cfgBytes, &cfg); err != nil {
		return nil, fmt.Errorf("%w image config for %s: %v", ErrMalformed, ref, err)
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("%w image config for %s: %d layers but %d diff ids", ErrMalformed, ref, len(m.Layers), len(cfg.RootFS.DiffIDs))
	}
	sizes, err := p.layers(m.Layers, cfg.RootFS.DiffIDs)
	if err != nil {
		return nil, err
	}
	// The config goes in after the layers and before the manifest that names both.
	if _, err := store.Content().PutBytes(cfgBytes); err != nil {
		return nil, err
	}
	rd := reference.Ref{Domain: ref.Domain, Path: ref.Path, Digest: top.String()}.String()
	img, err := store.Publish(raw, mt, image.PublishOptions{Ref: target, RepoDigest: rd, LayerSizes: sizes})
	if err != nil {
		return nil, err
	}
	return &PullResult{Image: img, Digest: top, UpToDate: upToDate, Ref: ref}, nil
}

// familiarPath is the repository as Docker's "Pulling from" line shows it.
func familiarPath(r reference.Ref) string {
	if r.Domain == reference.DefaultDomain {
		return r.Path
	}
	return r.Path
}

func checkManifest(m ocispec.Manifest) error {
	if m.SchemaVersion != 2 {
		return fmt.Errorf("schema version %d", m.SchemaVersion)
	}
	for _, d := range append([]ocispec.Descriptor{m.Config}, m.Layers...) {
		if err := d.Digest.Validate(); err != nil {
			return fmt.Errorf("descriptor digest %q: %v", d.Digest, err)
		}
		if d.Digest.Algorithm() != digest.SHA256 {
			return fmt.Errorf("digest %s: unsupported algorithm", d.Digest)
		}
		if d.Size < 0 {
			return fmt.Errorf("descriptor %s: negative size", d.Digest)
		}
	}
	for _, l := range m.Layers {
		if l.MediaType == image.DockerForeignLayer || strings.Contains(l.MediaType, "nondistributable") {
			return fmt.Errorf("layer %s: foreign layers are not supported", l.Digest)
		}
	}
	return nil
}

type pull struct {
	ctx    context.Context
	store  *image.Store
	puller *remote.Puller
	repo   name.Repository
	o      *Options
	mu     sync.Mutex // serialises Progress calls
}

func (p *pull) emit(ev Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.o.emit(ev)
}

// open starts downloading a blob.
func (p *pull) open(d ocispec.Descriptor) (io.ReadCloser, error) {
	l, err := p.puller.Layer(p.ctx, p.repo.Digest(d.Digest.String()))
	if err != nil {
		return nil, classify(err, "")
	}
	rc, err := l.Compressed()
	if err != nil {
		return nil, classify(err, "")
	}
	return rc, nil
}

// fetchSmall reads a config blob whole, verified against its descriptor.
func (p *pull) fetchSmall(d ocispec.Descriptor) ([]byte, error) {
	if d.Size > maxManifest {
		return nil, fmt.Errorf("%w: config of %d bytes", ErrMalformed, d.Size)
	}
	if b, err := p.store.Content().ReadBlob(d.Digest); err == nil {
		return b, nil
	}
	rc, err := p.open(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxManifest+1))
	if err != nil {
		return nil, verifyError(err, d.Digest)
	}
	if int64(len(b)) != d.Size || digest.FromBytes(b) != d.Digest {
		return nil, fmt.Errorf("filesystem layer verification failed for digest %s", d.Digest)
	}
	return b, nil
}

func verifyError(err error, d digest.Digest) error {
	if errors.Is(err, content.ErrDigestMismatch) || strings.Contains(err.Error(), "error verifying") {
		return fmt.Errorf("filesystem layer verification failed for digest %s", d)
	}
	return classify(err, "")
}

// layers downloads the missing layer blobs three at a time and unpacks them in order
// as they arrive. It returns each layer's unpacked size.
func (p *pull) layers(layers []ocispec.Descriptor, diffIDs []digest.Digest) ([]int64, error) {
	present := make([]bool, len(layers))
	for i, l := range layers {
		present[i] = p.store.Content().Exists(l.Digest)
		if !present[i] {
			p.emit(Event{ID: ShortID(l.Digest), Status: "Pulling fs layer"})
		}
	}
	queued := 0
	for i, l := range layers {
		if present[i] {
			p.emit(Event{ID: ShortID(l.Digest), Status: "Already exists"})
		} else if queued++; queued > downloads {
			// Docker says Waiting only for the layers beyond its concurrent downloads.
			p.emit(Event{ID: ShortID(l.Digest), Status: "Waiting"})
		}
	}
	g, ctx := errgroup.WithContext(p.ctx)
	done := make([]chan struct{}, len(layers))
	for i := range done {
		done[i] = make(chan struct{})
		if present[i] {
			close(done[i])
		}
	}
	sem := make(chan struct{}, downloads)
	for i, l := range layers {
		if present[i] {
			continue
		}
		g.Go(func() error {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return ctx.Err()
			}
			defer func() { <-sem }()
			if err := p.download(ctx, l); err != nil {
				return err
			}
			close(done[i])
			return nil
		})
	}
	sizes := make([]int64, len(layers))
	g.Go(func() error {
		for i, l := range layers {
			select {
			case <-done[i]:
			case <-ctx.Done():
				return ctx.Err()
			}
			id := ShortID(l.Digest)
			if !present[i] {
				p.emit(Event{ID: id, Status: "Extracting", Total: l.Size})
			}
			s, err := p.store.Unpack(ctx, []ocispec.Descriptor{l}, []digest.Digest{diffIDs[i]})
			if err != nil {
				if errors.Is(err, content.ErrDigestMismatch) {
					return fmt.Errorf("layer %s: its content does not match the config's diff id %s", l.Digest, diffIDs[i])
				}
				return err
			}
			sizes[i] = s[0]
			if !present[i] {
				p.emit(Event{ID: id, Status: "Pull complete"})
			}
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		if p.ctx.Err() != nil {
			return nil, p.ctx.Err()
		}
		return nil, err
	}
	return sizes, nil
}

// download streams one layer blob into the content store, hashing as it goes; only a
// blob of the right size and digest is published.
func (p *pull) download(ctx context.Context, l ocispec.Descriptor) error {
	id := ShortID(l.Digest)
	rc, err := p.open(l)
	if err != nil {
		return err
	}
	defer rc.Close()
	w, err := p.store.Content().Writer()
	if err != nil {
		return err
	}
	defer w.Abort()
	buf := make([]byte, 256<<10)
	var n, last int64
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		k, rerr := rc.Read(buf)
		if k > 0 {
			if _, err := w.Write(buf[:k]); err != nil {
				return fmt.Errorf("write layer %s: %w", id, err)
			}
			n += int64(k)
			if n-last >= 512<<10 || n == l.Size {
				p.emit(Event{ID: id, Status: "Downloading", Current: n, Total: l.Size})
				last = n
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			return verifyError(rerr, l.Digest)
		}
		if n > l.Size {
			break
		}
	}
	p.emit(Event{ID: id, Status: "Verifying Checksum"})
	if _, err := w.Commit(l.Digest, l.Size); err != nil {
		if errors.Is(err, content.ErrDigestMismatch) {
			return fmt.Errorf("filesystem layer verification failed for digest %s", l.Digest)
		}
		return err
	}
	p.emit(Event{ID: id, Status: "Download complete"})
	return nil
}
