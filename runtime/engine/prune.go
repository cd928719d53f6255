package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"lab/runtime/image"
)

// PruneReport is what a prune removed, in Docker's terms.
type PruneReport struct {
	Containers []string // IDs of removed containers
	Images     []string // "untagged: REF" and "deleted: sha256:..." lines, as Docker prints them
	Leftovers  []string // system prune: leftovers of interrupted commands that were removed
	Reclaimed  int64    // bytes freed
}

// PruneContainers removes every container that is not running, like `docker
// container prune`. A container that starts while the prune runs is kept.
func (e *Engine) PruneContainers() (*PruneReport, error) {
	cs, err := e.Containers.List()
	if err != nil {
		return nil, err
	}
	r := &PruneReport{}
	for _, c := range cs {
		if e.Containers.IsRunning(c.ID) {
			continue
		}
		size := du(e.Containers.Dir(c.ID))
		if _, err := e.Remove(c.ID, false); err != nil {
			continue // started or removed by someone else meanwhile
		}
		r.Containers = append(r.Containers, c.ID)
		r.Reclaimed += size
	}
	return r, nil
}

// PruneImages removes dangling images (no tag, no container), or with all every image
// no container uses, like `docker image prune [-a]`.
func (e *Engine) PruneImages(all bool) (*PruneReport, error) {
	imgs, err := e.Images.List()
	if err != nil {
		return nil, fmt.Errorf("%w (lab fsck --repair removes damaged images)", err)
	}
	cs, err := e.Containers.List()
	if err != nil {
		return nil, err
	}
	used := map[string]bool{}
	for _, c := range cs {
		used[c.Image] = true
	}
	var doomed []*image.Image
	for _, img := range imgs {
		if used[img.ID.String()] || (!all && len(img.Tags) > 0) {
			continue
		}
		doomed = append(doomed, img)
	}
	r := &PruneReport{}
	if len(doomed) == 0 {
		return r, nil
	}
	before := e.usage(doomed)
	for _, img := range doomed {
		lines, err := e.RemoveImage(img.ID.String(), true)
		for _, l := range lines {
			verb, rest, _ := strings.Cut(l, ": ")
			r.Images = append(r.Images, strings.ToLower(verb)+": "+rest)
		}
		if err != nil {
			// A container created from it meanwhile keeps it, as on Docker.
			continue
		}
	}
	r.Reclaimed = before.freed()
	return r, nil
}

// PruneSystem is `docker system prune [-a]`: stopped containers, then dangling (or
// unused) images, then what interrupted lab commands left in the store (as `lab fsck
// --repair` does, sparing anything changed within grace).
func (e *Engine) PruneSystem(ctx context.Context, all bool, grace time.Duration) (*PruneReport, error) {
	r, err := e.PruneContainers()
	if err != nil {
		return nil, err
	}
	ir, err := e.PruneImages(all)
	if err != nil {
		return r, err
	}
	r.Images, r.Reclaimed = ir.Images, r.Reclaimed+ir.Reclaimed
	fr, err := e.Fsck(ctx, FsckOptions{Repair: true, Grace: grace, NoVerify: true})
	if err != nil {
		return r, err
	}
	for _, l := range fr.Repaired {
		if strings.HasPrefix(l, "removed ") {
			r.Leftovers = append(r.Leftovers, strings.TrimPrefix(l, "removed "))
		}
	}
	r.Reclaimed += fr.Reclaimed
	return r, nil
}

// storeUsage remembers the size of blobs and unpacked layers before images are
// deleted, so that what disappeared can be counted afterwards.
type storeUsage struct {
	blobs  map[string]int64 // path -> size
	layers map[string]int64
}

func (e *Engine) usage(imgs []*image.Image) storeUsage {
	u := storeUsage{blobs: map[string]int64{}, layers: map[string]int64{}}
	add := func(d digest.Digest) {
		if p, err := e.Content.Path(d); err == nil {
			if fi, err := os.Stat(p); err == nil {
				u.blobs[p] = fi.Size()
			}
		}
	}
	for _, img := range imgs {
		add(img.Manifest.Digest)
		add(img.ID)
		for _, l := range img.Layers {
			add(l.Digest)
		}
		for _, d := range img.Config.RootFS.DiffIDs {
			p := filepath.Join(e.Root, "layers", d.Encoded())
			if _, seen := u.layers[p]; !seen {
				u.layers[p] = du(p)
			}
		}
	}
	return u
}

func (u storeUsage) freed() int64 {
	var n int64
	for _, m := range []map[string]int64{u.blobs, u.layers} {
		for p, size := range m {
			if _, err := os.Lstat(p); os.IsNotExist(err) {
				n += size
			}
		}
	}
	return n
}
