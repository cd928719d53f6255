package build

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"

	"lab/runtime/archive"
	"lab/runtime/content"
	"lab/runtime/engine"
	"lab/runtime/image"
)

// cacheVersion is part of every key, so that a change in what a step means starts a
// fresh cache instead of reusing results built under other rules.
const cacheVersion = "lab-build-1"

// cache maps (parent image, step) to the image the step made, one small JSON file per
// key under $ROOT/buildcache. A record only names blobs; before reuse, every blob it
// names is checked to still be in the store (rmi may have freed it), so a stale or
// half-written record is a miss, never a broken image.
type cache struct {
	dir     string
	content *content.Store
}

// record is one cache entry.
type record struct {
	Parent   digest.Digest `json:"parent"`
	Step     string        `json:"step"` // what the key was made from, for people reading the file
	Config   digest.Digest `json:"config"`
	Manifest digest.Digest `json:"manifest"`
	Layers   []cachedLayer `json:"layers"`
	Created  time.Time     `json:"created"`
}

type cachedLayer struct {
	Desc   ocispec.Descriptor `json:"desc"`
	DiffID digest.Digest      `json:"diff_id"`
}

func cacheKey(parent digest.Digest, step string) string {
	h := sha256.Sum256([]byte(cacheVersion + "\n" + parent.String() + "\n" + step))
	return hex.EncodeToString(h[:])
}

func (c *cache) path(key string) string { return filepath.Join(c.dir, key+".json") }

// get returns the image a step made before, if it is still whole.
func (c *cache) get(key string) (*image.Image, []image.Layer, bool) {
	b, err := os.ReadFile(c.path(key))
	if err != nil {
		return nil, nil, false
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, nil, false
	}
	cb, err := c.content.ReadBlob(r.Config)
	if err != nil {
		return nil, nil, false
	}
	img := &image.Image{ID: r.Config}
	if err := json.Unmarshal(cb, &img.Config); err != nil || len(img.Config.RootFS.DiffIDs) != len(r.Layers) {
		return nil, nil, false
	}
	layers := make([]image.Layer, len(r.Layers))
	for i, l := range r.Layers {
		if l.DiffID != img.Config.RootFS.DiffIDs[i] || !c.content.Exists(l.Desc.Digest) {
			return nil, nil, false
		}
		layers[i] = image.Layer{Desc: l.Desc, DiffID: l.DiffID}
		img.Layers = append(img.Layers, l.Desc)
	}
	return img, layers, true
}

// put records that step on parent made img. The blobs it names are already durable
// (the content store syncs them), so the record itself need not be: lost, it is a
// miss; torn, it does not parse and is a miss.
func (c *cache) put(key string, parent digest.Digest, step string, img *image.Image, layers []image.Layer) error {
	r := record{Parent: parent, Step: step, Config: img.ID, Manifest: img.Manifest.Digest, Created: time.Now().UTC()}
	for _, l := range layers {
		r.Layers = append(r.Layers, cachedLayer{Desc: l.Desc, DiffID: l.DiffID})
	}
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(c.dir, 0o700); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	if err := content.WriteFileAtomic(c.path(key), b, 0o600, false); err != nil {
		return fmt.Errorf("build cache: %w", err)
	}
	return nil
}

// PruneReport is what Prune removed.
type PruneReport struct {
	Records   int   // cache records deleted
	Blobs     int   // blobs of intermediate images deleted
	Layers    int   // unpacked layers deleted
	Reclaimed int64 // bytes freed
}

// Prune empties the build cache, like `docker builder prune -a`: it deletes every
// record, then the blobs and unpacked layers of intermediate images that no image in
// the index uses. Blobs and layers written within grace are kept: they may belong to a
// build running now.
func Prune(eng *engine.Engine, grace time.Duration) (*PruneReport, error) {
	dir := filepath.Join(eng.Root, "buildcache")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return &PruneReport{}, nil
	}
	if err != nil {
		return nil, err
	}
	r := &PruneReport{}
	blobs := map[digest.Digest]bool{}
	layers := map[digest.Digest]bool{}
	for _, e := range ents {
		p := filepath.Join(dir, e.Name())
		if filepath.Ext(e.Name()) == ".json" {
			var rec record
			if b, err := os.ReadFile(p); err == nil && json.Unmarshal(b, &rec) == nil {
				for _, d := range []digest.Digest{rec.Config, rec.Manifest} {
					if d != "" {
						blobs[d] = true
					}
				}
				for _, l := range rec.Layers {
					blobs[l.Desc.Digest] = true
					layers[l.DiffID] = true
				}
			}
			r.Records++
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return r, err
		}
	}
	imgs, err := eng.Images.List()
	if err != nil {
		return r, err
	}
	for _, img := range imgs {
		delete(blobs, img.Manifest.Digest)
		delete(blobs, img.ID)
		for _, l := range img.Layers {
			delete(blobs, l.Digest)
		}
		for _, d := range img.Config.RootFS.DiffIDs {
			delete(layers, d)
		}
	}
	cutoff := time.Now().Add(-grace)
	for d := range blobs {
		p, err := eng.Content.Path(d)
		if err != nil {
			continue
		}
		if st, err := os.Stat(p); err == nil && st.ModTime().Before(cutoff) {
			if eng.Content.Delete(d) == nil {
				r.Blobs++
				r.Reclaimed += st.Size()
			}
		}
	}
	for d := range layers {
		if d.Validate() != nil {
			continue
		}
		p := filepath.Join(eng.Root, "layers", d.Encoded())
		st, err := os.Stat(p)
		if err != nil || !st.ModTime().Before(cutoff) {
			continue
		}
		// Out of the way first, so a half-removed layer is never taken for a whole one.
		tmp, err := os.MkdirTemp(filepath.Join(eng.Root, "layers"), ".rm-")
		if err != nil {
			continue
		}
		size := archive.DirSize(p)
		if os.Rename(p, filepath.Join(tmp, "d")) == nil {
			r.Layers++
			r.Reclaimed += size
		}
		os.RemoveAll(tmp)
	}
	return r, nil
}
