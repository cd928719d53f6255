package image

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	specs "github.com/opencontainers/image-spec/specs-go"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/archive"
	"lab/runtime/content"
	"lab/runtime/reference"
)

// ErrNotFound is returned when no image matches a reference or ID.
var ErrNotFound = errors.New("no such image")

// ErrIndexLost is returned when index.json is gone from a store that holds blobs:
// nothing can be looked up, and nothing may be written (a new index would hide every
// image) until `lab fsck --repair` rebuilds it.
var ErrIndexLost = errors.New("index.json is missing although the store holds blobs: run 'lab fsck --repair' to rebuild it")

// ErrAmbiguous is returned when an ID prefix matches more than one image.
var ErrAmbiguous = errors.New("ambiguous image id")

// Image is one image as read from the store. It is a snapshot: changing the store does
// not change an Image already returned.
type Image struct {
	ID       digest.Digest      // digest of the config blob
	Manifest ocispec.Descriptor // the manifest as listed in index.json
	Config   ocispec.Image
	Layers   []ocispec.Descriptor
	Tags     []string // familiar refs, e.g. "busybox:latest"
	// RepoDigests are "repo@sha256:…" names of the manifest (or index) a registry
	// served this image under, as Docker keeps them for pulled images.
	RepoDigests []string
	// layerSizes are the unpacked sizes of the layers when recorded at pull or load
	// time: a compressed blob's size is not what Docker shows.
	layerSizes []int64
}

// Size is the uncompressed size of the image's layers (Docker's SIZE column): the
// recorded unpacked sizes, else the layers' content sizes.
func (i *Image) Size() int64 {
	var n int64
	for k := range i.Layers {
		n += i.LayerSize(k)
	}
	return n
}

// LayerSize is the size Docker shows for layer k.
func (i *Image) LayerSize(k int) int64 {
	if len(i.layerSizes) == len(i.Layers) {
		return i.layerSizes[k]
	}
	return LayerSize(i.Layers[k])
}

// Created is the image's creation time (zero when the config has none).
func (i *Image) Created() time.Time {
	if i.Config.Created == nil {
		return time.Time{}
	}
	return *i.Config.Created
}

// Store manages images in the OCI layout at Root.
type Store struct {
	content *content.Store
	root    string
	layers  string
	lock    string

	mu       sync.Mutex
	blobs    map[digest.Digest][]byte // verified manifests and configs, see readBlob
	cached   int                      // bytes held in blobs
	dirSizes map[digest.Digest]int64  // unpacked layer sizes, see layerDirSize
}

// maxCachedBlobs bounds the memory readBlob keeps: thousands of images' metadata.
const maxCachedBlobs = 4 << 20

// NewStore opens the image store of the layout at root, sharing blobs with c.
func NewStore(c *content.Store, root string) (*Store, error) {
	s := &Store{content: c, root: root, layers: filepath.Join(root, "layers"), lock: filepath.Join(root, "lock"), blobs: map[digest.Digest][]byte{}, dirSizes: map[digest.Digest]int64{}}
	if err := os.MkdirAll(s.layers, 0o700); err != nil {
		return nil, fmt.Errorf("open image store: %w", err)
	}
	if _, err := os.Stat(s.indexPath()); errors.Is(err, fs.ErrNotExist) && !s.hasBlobs() {
		err := s.update(func(*ocispec.Index) error { return nil })
		if err != nil {
			return nil, err
		}
	}
	return s, nil
}

// hasBlobs reports whether the store holds any blob: an index.json missing from such
// a store was lost, not yet made.
func (s *Store) hasBlobs() bool {
	ds, err := s.content.Digests()
	return err != nil || len(ds) > 0
}

// maxManifestSize bounds what RebuildIndex reads as a possible manifest.
const maxManifestSize = 4 << 20

// RebuildIndex writes a new index.json when it is lost, naming untagged every
// manifest found among the blobs whose config is present too, and returns their
// digests. It does nothing when index.json exists.
func (s *Store) RebuildIndex() ([]digest.Digest, error) {
	unlock, err := content.LockFile(s.lock)
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := os.Stat(s.indexPath()); !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	ds, err := s.content.Digests()
	if err != nil {
		return nil, err
	}
	slices.Sort(ds)
	idx := ocispec.Index{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageIndex, Manifests: []ocispec.Descriptor{}}
	var found []digest.Digest
	for _, d := range ds {
		p, _ := s.content.Path(d)
		if fi, err := os.Stat(p); err != nil || fi.Size() > maxManifestSize {
			continue
		}
		b, err := s.content.ReadBlob(d)
		if err != nil {
			continue
		}
		var m ocispec.Manifest
		if json.Unmarshal(b, &m) != nil || m.SchemaVersion != 2 || m.Config.Digest.Validate() != nil || !s.content.Exists(m.Config.Digest) {
			continue
		}
		mt := m.MediaType
		if mt == "" {
			mt = ocispec.MediaTypeImageManifest
		}
		idx.Manifests = append(idx.Manifests, ocispec.Descriptor{MediaType: mt, Digest: d, Size: int64(len(b))})
		found = append(found, d)
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	return found, content.WriteFileAtomic(s.indexPath(), b, 0o644, true)
}

// Content is the blob store the images live in.
func (s *Store) Content() *content.Store { return s.content }

func (s *Store) indexPath() string { return filepath.Join(s.root, "index.json") }

func (s *Store) readIndex() (ocispec.Index, error) {
	var idx ocispec.Index
	b, err := os.ReadFile(s.indexPath())
	if errors.Is(err, fs.ErrNotExist) {
		if s.hasBlobs() {
			return idx, ErrIndexLost
		}
		idx.SchemaVersion = 2
		idx.MediaType = ocispec.MediaTypeImageIndex
		return idx, nil
	}
	if err != nil {
		return idx, fmt.Errorf("read index: %w", err)
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, fmt.Errorf("read index: %w", err)
	}
	return idx, nil
}

// update is the only writer of index.json: it runs fn on the current index under the
// store lock and replaces the file durably.
func (s *Store) update(fn func(*ocispec.Index) error) error { return s.updateThen(fn, nil) }

// updateThen is update followed by after, still under the lock: for work that must
// come after the new index is durable, such as deleting the blobs it no longer names
// (a crash in between then leaves unreferenced blobs, never a reference to a missing
// one).
func (s *Store) updateThen(fn func(*ocispec.Index) error, after func() error) error {
	unlock, err := content.LockFile(s.lock)
	if err != nil {
		return err
	}
	defer unlock()
	idx, err := s.readIndex()
	if err != nil {
		return err
	}
	if err := fn(&idx); err != nil {
		return err
	}
	idx.SchemaVersion = 2
	idx.MediaType = ocispec.MediaTypeImageIndex
	if idx.Manifests == nil {
		idx.Manifests = []ocispec.Descriptor{}
	}
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return err
	}
	// The blobs the new index names must keep their names through a crash: one sync of
	// the blob directory covers every blob committed since the last one.
	if err := s.content.SyncBlobs(); err != nil {
		return fmt.Errorf("sync blobs: %w", err)
	}
	if err := content.WriteFileAtomic(s.indexPath(), b, 0o644, true); err != nil {
		return err
	}
	if after != nil {
		return after()
	}
	return nil
}

func refName(d ocispec.Descriptor) string { return d.Annotations[ocispec.AnnotationRefName] }

// AnnotationID on an index entry is the image's ID (its config's digest), so that a
// lookup by ID or ID prefix reads index.json alone, however many images there are.
// Entries written before it existed are resolved by reading their manifests.
const AnnotationID = "lab.image.id"

// imageID is the ID an index entry names: from its annotation, else its manifest.
func (s *Store) imageID(d ocispec.Descriptor) (digest.Digest, error) {
	if id := d.Annotations[AnnotationID]; id != "" {
		return digest.Digest(id), nil
	}
	mb, err := s.readBlob(d.Digest)
	if err != nil {
		return "", fmt.Errorf("load manifest: %w", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return "", fmt.Errorf("load manifest %s: %w", d.Digest, err)
	}
	return m.Config.Digest, nil
}

// untaggedEntry is dg's entry without a tag, keeping what else the index knew of it.
func untaggedEntry(ds []ocispec.Descriptor, dg digest.Digest) ocispec.Descriptor {
	nd := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: dg}
	for _, d := range ds {
		if d.Digest == dg {
			nd.MediaType, nd.Size, nd.Annotations = d.MediaType, d.Size, keptAnnotations(d)
			break
		}
	}
	return nd
}

// Damaged is an index entry whose manifest or config cannot be loaded. It fails
// alone: the other images stay usable, and `lab fsck --repair` drops it.
type Damaged struct {
	Name string // its tag, or its manifest digest when untagged
	Err  error
}

func (d Damaged) String() string { return fmt.Sprintf("image %s is damaged: %v", d.Name, d.Err) }

// List returns every image that can be loaded, tags gathered, newest first; damaged
// entries are left out (ListDamaged reports them).
func (s *Store) List() ([]*Image, error) {
	imgs, _, err := s.ListDamaged()
	return imgs, err
}

// ListDamaged is List that also returns the entries that cannot be loaded, once each.
func (s *Store) ListDamaged() ([]*Image, []Damaged, error) {
	// Readers take no lock. Another process's rmi may delete an image's blobs between
	// our reading index.json and its blobs; it rewrote the index first, so reading
	// again no longer finds the image. A blob still missing then is real damage.
	for attempt := 0; ; attempt++ {
		imgs, bad, err := s.list()
		if err != nil || attempt == 4 || !slices.ContainsFunc(bad, func(d Damaged) bool { return errors.Is(d.Err, content.ErrNotFound) }) {
			return imgs, bad, err
		}
	}
}

func (s *Store) list() ([]*Image, []Damaged, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, nil, err
	}
	var uniq []ocispec.Descriptor
	seen := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		if !seen[d.Digest] {
			seen[d.Digest] = true
			uniq = append(uniq, d)
		}
	}
	// Each image is two blob reads and two JSON decodes: spread them over the CPUs.
	loaded := make([]*Image, len(uniq))
	errs := make([]error, len(uniq))
	workers := min(goruntime.GOMAXPROCS(0), (len(uniq)+15)/16)
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(uniq); i += workers {
				loaded[i], errs[i] = s.load(uniq[i])
			}
		}()
	}
	wg.Wait()
	// A damaged entry fails alone: the others are listed, it is reported.
	byDigest := map[digest.Digest]*Image{}
	var out []*Image
	var bad []Damaged
	for i, img := range loaded {
		if errs[i] != nil {
			name := refName(uniq[i])
			if name == "" {
				name = uniq[i].Digest.String()
			}
			bad = append(bad, Damaged{Name: familiar(name), Err: errs[i]})
			continue
		}
		byDigest[uniq[i].Digest] = img
		out = append(out, img)
	}
	for _, d := range idx.Manifests {
		img := byDigest[d.Digest]
		if img == nil {
			continue
		}
		if r := refName(d); r != "" {
			img.Tags = append(img.Tags, r)
		}
		img.RepoDigests = mergeRepoDigests(img.RepoDigests, d)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Created().After(out[j].Created()) })
	return out, bad, nil
}

// readBlob is content.ReadBlob for manifests and configs, which every Get reads (twice
// per container start) and which never change: a blob is named by its digest and
// read-only. So each is read and verified once per process, then served from memory
// after a check that it still exists (another process may have deleted its image).
func (s *Store) readBlob(d digest.Digest) ([]byte, error) {
	s.mu.Lock()
	b, ok := s.blobs[d]
	s.mu.Unlock()
	if ok && s.content.Exists(d) {
		return b, nil
	}
	b, err := s.content.ReadBlob(d)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.blobs[d]; ok {
		delete(s.blobs, d)
		s.cached -= len(old)
	}
	if err != nil {
		return nil, err
	}
	if s.cached+len(b) <= maxCachedBlobs {
		s.blobs[d] = b
		s.cached += len(b)
	}
	return b, nil
}

func (s *Store) load(d ocispec.Descriptor) (*Image, error) {
	mb, err := s.readBlob(d.Digest)
	if err != nil {
		return nil, fmt.Errorf("load manifest: %w", err)
	}
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return nil, fmt.Errorf("load manifest %s: %w", d.Digest, err)
	}
	cb, err := s.readBlob(m.Config.Digest)
	if err != nil {
		return nil, fmt.Errorf("load config: %w", err)
	}
	img := &Image{ID: m.Config.Digest, Manifest: ocispec.Descriptor{MediaType: d.MediaType, Digest: d.Digest, Size: d.Size, Annotations: keptAnnotations(d)}, Layers: m.Layers}
	img.RepoDigests, img.layerSizes = parseAnnotations(img.Manifest.Annotations)
	if err := json.Unmarshal(cb, &img.Config); err != nil {
		return nil, fmt.Errorf("load config %s: %w", m.Config.Digest, err)
	}
	if len(img.Config.RootFS.DiffIDs) != len(m.Layers) {
		return nil, fmt.Errorf("load image %s: %d layers but %d diff ids", img.ID, len(m.Layers), len(img.Config.RootFS.DiffIDs))
	}
	return img, nil
}

// Get finds an image by reference ("busybox", "busybox:1") or by ID or unique ID prefix
// ("sha256:3f5…", "3f5…"), as Docker resolves them. It reads only what it needs: the
// index (whose entries carry their image's ID) and the one image's manifest and config.
func (s *Store) Get(ref string) (*Image, error) {
	for attempt := 0; ; attempt++ {
		img, err := s.get(ref)
		if err == nil || !errors.Is(err, content.ErrNotFound) || attempt == 4 {
			return img, err
		}
	}
}

func (s *Store) get(ref string) (*Image, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	withTags := func(d ocispec.Descriptor) (*Image, error) {
		img, err := s.load(d)
		if err != nil {
			return nil, err
		}
		for _, e := range idx.Manifests {
			if e.Digest == d.Digest && refName(e) != "" {
				img.Tags = append(img.Tags, refName(e))
			}
			if e.Digest == d.Digest {
				img.RepoDigests = mergeRepoDigests(img.RepoDigests, e)
			}
		}
		return img, nil
	}
	r, perr := reference.Parse(ref)
	if perr == nil && r.Digest != "" {
		// NAME@sha256:… names the manifest a registry served, recorded at pull.
		want := reference.Ref{Domain: r.Domain, Path: r.Path, Digest: r.Digest}.String()
		for _, d := range idx.Manifests {
			for _, rd := range mergeRepoDigests(nil, d) {
				if rd == want {
					return withTags(d)
				}
			}
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, want)
	}
	if perr == nil {
		name := r.String()
		for _, d := range idx.Manifests {
			if refName(d) == name {
				return withTags(d)
			}
		}
	}
	hex := strings.TrimPrefix(ref, "sha256:")
	if !isHex(hex) || hex == "" || len(hex) > 64 {
		if perr != nil {
			return nil, perr
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, familiar(ref))
	}
	var found *ocispec.Descriptor
	var foundID digest.Digest
	var damage error
	seen := map[digest.Digest]bool{}
	for i, d := range idx.Manifests {
		if seen[d.Digest] {
			continue
		}
		seen[d.Digest] = true
		// A damaged entry fails alone: it cannot be the image asked for by ID, since
		// its ID (the config digest) is unknown, and must not hide the others.
		id, err := s.imageID(d)
		if err != nil {
			damage = err
			continue
		}
		if !strings.HasPrefix(id.Encoded(), hex) {
			continue
		}
		if found != nil && foundID != id {
			return nil, fmt.Errorf("%w: %s", ErrAmbiguous, ref)
		}
		found, foundID = &idx.Manifests[i], id
	}
	if found == nil {
		if damage != nil {
			return nil, fmt.Errorf("%w: %s (another image is damaged: %v)", ErrNotFound, familiar(ref), damage)
		}
		return nil, fmt.Errorf("%w: %s", ErrNotFound, familiar(ref))
	}
	img, err := withTags(*found)
	if err == nil && img.ID != foundID {
		return nil, fmt.Errorf("index entry %s says image %s, its manifest %s", found.Digest, foundID, img.ID)
	}
	return img, err
}

// familiar prints a ref the way Docker's errors do ("busybox:latest").
func familiar(ref string) string {
	if r, err := reference.Parse(ref); err == nil {
		return r.String()
	}
	return ref
}

func isHex(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// Layer is a layer ready to be named by a new image: its blob descriptor and the
// digest of its uncompressed content.
type Layer struct {
	Desc   ocispec.Descriptor
	DiffID digest.Digest
}

// Create publishes a new image from cfg and layers (already in the content store) and,
// when ref is not nil, tags it. Config, then manifest, then index.json, so a crash never
// leaves the index naming a missing blob.
func (s *Store) Create(cfg ocispec.Image, layers []Layer, ref *reference.Ref) (*Image, error) {
	img, err := s.Write(cfg, layers)
	if err != nil {
		return nil, err
	}
	s.recordSizes(img, layers)
	err = s.update(func(idx *ocispec.Index) error {
		// Another process may have deleted a shared layer since we looked; refuse
		// rather than publish a reference to a missing blob.
		for _, l := range layers {
			if !s.content.Exists(l.Desc.Digest) {
				return fmt.Errorf("create image: layer %s: %w", l.Desc.Digest, content.ErrNotFound)
			}
		}
		// The same goes for a config or manifest that already existed (and so was not
		// written again) and that a concurrent rmi has just deleted.
		for _, d := range []digest.Digest{img.ID, img.Manifest.Digest} {
			if !s.content.Exists(d) {
				return fmt.Errorf("create image: %s: %w", d, content.ErrNotFound)
			}
		}
		setTag(idx, img, ref)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if ref != nil {
		img.Tags = []string{ref.String()}
	}
	return img, nil
}

// Write stores the config and manifest blobs of an image made of cfg and layers without
// naming it in the index: the builder's intermediate images live only in its cache, so
// they get real IDs without cluttering `images`. Create publishes such an image later.
func (s *Store) Write(cfg ocispec.Image, layers []Layer) (*Image, error) {
	cfg.RootFS.Type = "layers"
	cfg.RootFS.DiffIDs = nil
	m := ocispec.Manifest{Versioned: specs.Versioned{SchemaVersion: 2}, MediaType: ocispec.MediaTypeImageManifest, Layers: []ocispec.Descriptor{}}
	for _, l := range layers {
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, l.DiffID)
		m.Layers = append(m.Layers, l.Desc)
	}
	if cfg.RootFS.DiffIDs == nil {
		cfg.RootFS.DiffIDs = []digest.Digest{}
	}
	cb, err := json.Marshal(cfg)
	if err != nil {
		return nil, err
	}
	cd := digest.FromBytes(cb)
	m.Config = ocispec.Descriptor{MediaType: ocispec.MediaTypeImageConfig, Digest: cd, Size: int64(len(cb))}
	mb, err := json.Marshal(m)
	if err != nil {
		return nil, err
	}
	// Neither blob names the other's file, only its digest, so both are written and
	// synced at once: the filesystem commits the two syncs together.
	var cerr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		if _, err := s.content.PutBytes(cb); err != nil {
			cerr = fmt.Errorf("write config: %w", err)
		}
	}()
	md, merr := s.content.PutBytes(mb)
	<-done
	if cerr != nil {
		return nil, cerr
	}
	if merr != nil {
		return nil, fmt.Errorf("write manifest: %w", merr)
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest, Digest: md, Size: int64(len(mb))}
	return &Image{ID: cd, Manifest: desc, Config: cfg, Layers: m.Layers}, nil
}

// Forget drops img's untagged entry from the index and keeps its blobs and unpacked
// layers, so that whatever else refers to them (the build cache) stays valid. A tagged
// image is left as it is. The builder uses it for the intermediate images it had to
// publish only so that a RUN step's container could be made from them.
func (s *Store) Forget(img *Image) error {
	return s.update(func(idx *ocispec.Index) error {
		kept := idx.Manifests[:0]
		for _, d := range idx.Manifests {
			if d.Digest != img.Manifest.Digest || refName(d) != "" {
				kept = append(kept, d)
			}
		}
		idx.Manifests = kept
		return nil
	})
}

// setTag points ref at desc (moving it off any other image) and keeps every image in
// the index: an image that loses its last tag stays as an untagged entry.
func setTag(idx *ocispec.Index, img *Image, ref *reference.Ref) {
	desc := img.Manifest
	name := ""
	if ref != nil {
		name = ref.String()
	}
	var kept []ocispec.Descriptor
	orphans := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		if name != "" && refName(d) == name {
			if d.Digest != desc.Digest {
				orphans[d.Digest] = true
			}
			continue
		}
		if d.Digest == desc.Digest && refName(d) == "" {
			continue // re-added below, tagged or not
		}
		kept = append(kept, d)
	}
	nd := ocispec.Descriptor{MediaType: desc.MediaType, Digest: desc.Digest, Size: desc.Size, Annotations: keptAnnotations(desc)}
	if nd.Annotations == nil {
		nd.Annotations = map[string]string{}
	}
	nd.Annotations[AnnotationID] = img.ID.String()
	if name != "" {
		nd.Annotations[ocispec.AnnotationRefName] = name
	} else {
		for _, d := range kept {
			if d.Digest == desc.Digest {
				nd.Digest = "" // already present with a tag
			}
		}
	}
	if nd.Digest != "" {
		kept = append(kept, nd)
	}
	for dg := range orphans {
		if !present(kept, dg) {
			kept = append(kept, untaggedEntry(idx.Manifests, dg))
		}
	}
	idx.Manifests = kept
}

func present(ds []ocispec.Descriptor, dg digest.Digest) bool {
	for _, d := range ds {
		if d.Digest == dg {
			return true
		}
	}
	return false
}

// Tag points ref at img.
func (s *Store) Tag(img *Image, ref reference.Ref) error {
	return s.update(func(idx *ocispec.Index) error {
		if !present(idx.Manifests, img.Manifest.Digest) {
			return fmt.Errorf("%w: %s", ErrNotFound, img.ID)
		}
		setTag(idx, img, &ref)
		return nil
	})
}

// Untag removes one tag. It reports whether the image it named has no tag left.
func (s *Store) Untag(ref reference.Ref) (last bool, err error) {
	name := ref.String()
	err = s.update(func(idx *ocispec.Index) error {
		var dg digest.Digest
		var kept []ocispec.Descriptor
		for _, d := range idx.Manifests {
			if refName(d) == name {
				dg = d.Digest
				continue
			}
			kept = append(kept, d)
		}
		if dg == "" {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		if !present(kept, dg) {
			last = true
			kept = append(kept, untaggedEntry(idx.Manifests, dg))
		}
		idx.Manifests = kept
		return nil
	})
	return last, err
}

// RemoveDamaged drops from the index every entry of the image tagged ref, provided its
// manifest or config still cannot be loaded; its blobs are left for fsck to collect.
// It is `rmi` of an image that cannot be loaded, which otherwise could never go.
func (s *Store) RemoveDamaged(ref reference.Ref) ([]string, error) {
	name := ref.String()
	var tags []string
	err := s.update(func(idx *ocispec.Index) error {
		var dg digest.Digest
		for _, d := range idx.Manifests {
			if refName(d) == name {
				dg = d.Digest
			}
		}
		if dg == "" {
			return fmt.Errorf("%w: %s", ErrNotFound, familiar(name))
		}
		for _, d := range idx.Manifests {
			if d.Digest == dg {
				if _, err := s.load(d); err == nil {
					return fmt.Errorf("image %s is not damaged", familiar(name))
				}
				break
			}
		}
		var kept []ocispec.Descriptor
		for _, d := range idx.Manifests {
			if d.Digest == dg {
				if r := refName(d); r != "" {
					tags = append(tags, familiar(r))
				}
				continue
			}
			kept = append(kept, d)
		}
		idx.Manifests = kept
		return nil
	})
	return tags, err
}

// Delete removes img from the index and then frees the blobs and unpacked layers that no
// remaining image uses. The caller has checked that no container uses img.
func (s *Store) Delete(img *Image) error {
	var garbage []digest.Digest
	var deadLayers []digest.Digest
	err := s.updateThen(func(idx *ocispec.Index) error {
		var kept []ocispec.Descriptor
		for _, d := range idx.Manifests {
			if d.Digest != img.Manifest.Digest {
				kept = append(kept, d)
			}
		}
		idx.Manifests = kept
		used := map[digest.Digest]bool{}
		for _, d := range kept {
			if used[d.Digest] {
				continue
			}
			used[d.Digest] = true
			other, err := s.load(d)
			if err != nil {
				continue // a broken image keeps nothing alive; fsck reports it
			}
			used[other.ID] = true
			for _, l := range other.Layers {
				used[l.Digest] = true
			}
			for _, dl := range other.Config.RootFS.DiffIDs {
				used[dl] = true
			}
		}
		for _, dg := range append([]digest.Digest{img.Manifest.Digest, img.ID}, layerDigests(img)...) {
			if !used[dg] {
				garbage = append(garbage, dg)
			}
		}
		for _, dl := range img.Config.RootFS.DiffIDs {
			if !used[dl] {
				deadLayers = append(deadLayers, dl)
			}
		}
		return nil
	}, func() error {
		// Blobs go once the index no longer names them, and while the lock is held, so
		// no concurrent Create can start to rely on them.
		for _, dg := range garbage {
			if err := s.content.Delete(dg); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	for _, dl := range deadLayers {
		s.removeLayerDir(dl)
	}
	return nil
}

func layerDigests(img *Image) []digest.Digest {
	var out []digest.Digest
	for _, l := range img.Layers {
		out = append(out, l.Digest)
	}
	return out
}

// removeLayerDir renames the directory out of the way first so that a half-removed layer
// is never mistaken for an unpacked one.
func (s *Store) removeLayerDir(diffID digest.Digest) {
	dir := filepath.Join(s.layers, diffID.Encoded())
	tmp, err := os.MkdirTemp(s.layers, ".rm-")
	if err != nil {
		return
	}
	if err := os.Rename(dir, filepath.Join(tmp, "d")); err != nil {
		os.Remove(tmp)
		return
	}
	os.RemoveAll(tmp)
}

// LayerDirs returns the unpacked layer directories of img, topmost first (overlay's
// lowerdir order), unpacking any that are missing.
func (s *Store) LayerDirs(ctx context.Context, img *Image) ([]string, error) {
	n := len(img.Layers)
	dirs := make([]string, n)
	for i, l := range img.Layers {
		diffID := img.Config.RootFS.DiffIDs[i]
		dir, err := s.unpacked(ctx, l, diffID)
		if err != nil {
			return nil, err
		}
		dirs[n-1-i] = dir
	}
	return dirs, nil
}

func (s *Store) unpacked(ctx context.Context, l ocispec.Descriptor, diffID digest.Digest) (string, error) {
	if err := diffID.Validate(); err != nil {
		return "", fmt.Errorf("layer %q: %w", diffID, err)
	}
	dir := filepath.Join(s.layers, diffID.Encoded())
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	f, err := s.content.Open(l.Digest)
	if err != nil {
		return "", fmt.Errorf("unpack layer: %w", err)
	}
	defer f.Close()
	r, done, err := decompressLayer(f)
	if err != nil {
		return "", fmt.Errorf("unpack layer %s: %w", l.Digest, err)
	}
	defer done()
	return dir, s.applyInto(ctx, dir, r, diffID)
}

// applyInto unpacks r into a temp dir, checks that it hashes to diffID (when given),
// and renames it to dir. Concurrent unpackers of one layer race harmlessly: the first
// rename wins, the loser discards its copy.
func (s *Store) applyInto(ctx context.Context, dir string, r io.Reader, diffID digest.Digest) error {
	tmp, release, err := content.TempDir(s.layers, ".unpack-")
	if err != nil {
		return fmt.Errorf("unpack layer: %w", err)
	}
	defer release()
	defer os.RemoveAll(tmp)
	dg := digest.SHA256.Digester()
	tr := io.TeeReader(r, dg.Hash())
	if _, err := archive.Apply(ctx, tmp, tr); err != nil {
		return fmt.Errorf("unpack layer: %w", err)
	}
	if _, err := io.Copy(io.Discard, tr); err != nil {
		return fmt.Errorf("unpack layer: %w", err)
	}
	if diffID != "" && dg.Digest() != diffID {
		return fmt.Errorf("unpack layer %s: %w", diffID, content.ErrDigestMismatch)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr == nil {
			return nil
		}
		return fmt.Errorf("unpack layer: %w", err)
	}
	return nil
}

// ImportLayer stores an uncompressed layer tar read from r as a blob and unpacks it in
// the same pass. A layer that fails to unpack (hostile or corrupt) leaves neither blob
// nor directory behind.
func (s *Store) ImportLayer(ctx context.Context, r io.Reader) (Layer, error) {
	w, err := s.content.Writer()
	if err != nil {
		return Layer{}, err
	}
	defer w.Abort()
	tmp, release, err := content.TempDir(s.layers, ".unpack-")
	if err != nil {
		return Layer{}, fmt.Errorf("import layer: %w", err)
	}
	defer release()
	defer os.RemoveAll(tmp)
	bg := newBGWriter(w)
	tr := io.TeeReader(r, bg)
	contentSize, err := archive.Apply(ctx, tmp, tr)
	if err == nil {
		_, err = io.Copy(io.Discard, tr)
	}
	if berr := bg.Close(); err == nil {
		err = berr
	}
	if err != nil {
		return Layer{}, fmt.Errorf("import layer: %w", err)
	}
	size := w.Size()
	dg, err := w.Commit("", -1)
	if err != nil {
		return Layer{}, err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return Layer{}, err
	}
	dir := filepath.Join(s.layers, dg.Encoded())
	if err := os.Rename(tmp, dir); err != nil {
		if _, serr := os.Stat(dir); serr != nil {
			return Layer{}, fmt.Errorf("import layer: %w", err)
		}
	}
	desc := ocispec.Descriptor{MediaType: ocispec.MediaTypeImageLayer, Digest: dg, Size: size,
		Annotations: map[string]string{ContentSizeAnnotation: strconv.FormatInt(contentSize, 10)}}
	return Layer{Desc: desc, DiffID: dg}, nil
}

// ContentSizeAnnotation records on a layer descriptor the bytes of file content in the
// layer: what Docker reports as a layer's size, without the tar headers.
const ContentSizeAnnotation = "org.lab.layer.content-size"

// LayerSize is the size Docker would show for a layer: its content size when recorded,
// else the size of its blob.
func LayerSize(d ocispec.Descriptor) int64 {
	if v, ok := d.Annotations[ContentSizeAnnotation]; ok {
		if n, err := strconv.ParseInt(v, 10, 64); err == nil {
			return n
		}
	}
	return d.Size
}

// Adopt lists in the index an image (from another store) whose blobs (manifest, config, layers) are already
// in the content store, under ref when given. It is how an image moves between stores
// that share blobs by hard link: the caller places the blobs first, data before the name
// that points to it.
func (s *Store) Adopt(img *Image, ref *reference.Ref) error {
	if !s.content.Exists(img.Manifest.Digest) {
		return fmt.Errorf("adopt %s: %w", img.Manifest.Digest, content.ErrNotFound)
	}
	return s.update(func(idx *ocispec.Index) error {
		setTag(idx, img, ref)
		return nil
	})
}

// TagIDs maps each tag in the index ("busybox:latest") to the ID of the image it names,
// from index.json alone where entries carry their ID (older entries are resolved by
// reading their manifest): what `ps` needs to tell a container whose image lost its tag.
func (s *Store) TagIDs() (map[string]digest.Digest, error) {
	idx, err := s.readIndex()
	if err != nil {
		return nil, err
	}
	out := map[string]digest.Digest{}
	for _, d := range idx.Manifests {
		name := refName(d)
		if name == "" {
			continue
		}
		if id, err := s.imageID(d); err == nil {
			out[name] = id
		}
	}
	return out, nil
}
