package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"lab/runtime/image"
	"lab/runtime/imagearchive"
	"lab/runtime/reference"
	"lab/runtime/registry"
)

// Pull policies for run, create and build (--pull).
const (
	PullMissing = "missing"
	PullAlways  = "always"
	PullNever   = "never"
)

// Pull fetches ref from its registry into the store.
func (e *Engine) Pull(ctx context.Context, ref string, o registry.Options) (*registry.PullResult, error) {
	r, err := reference.Parse(ref)
	if err != nil {
		return nil, err
	}
	return registry.Pull(ctx, e.Images, r, o)
}

// Push sends the image named ref to its registry.
func (e *Engine) Push(ctx context.Context, ref string, o registry.Options) (*registry.PushResult, error) {
	r, err := reference.Parse(ref)
	if err != nil {
		return nil, err
	}
	img, err := e.Images.Get(ref)
	if err != nil {
		return nil, fmt.Errorf("an image does not exist locally with the tag: %s", r.Repository())
	}
	return registry.Push(ctx, e.Content, img, r, o)
}

// EnsureImage finds ref under a pull policy as `docker run --pull` does: missing
// pulls only a name that is not in the store, always pulls first, never only looks.
// before is called just before a pull starts (Docker's "Unable to find image" line,
// and the place to set o.Progress), after when it has succeeded.
func (e *Engine) EnsureImage(ctx context.Context, ref, policy string, o registry.Options, before func(reference.Ref, *registry.Options), after func(*registry.PullResult)) (*image.Image, error) {
	switch policy {
	case "", PullMissing, PullAlways, PullNever:
	default:
		return nil, fmt.Errorf("invalid pull option: '%s': must be one of \"always\", \"missing\" or \"never\"", policy)
	}
	if policy != PullAlways {
		img, err := e.Images.Get(ref)
		if err == nil || policy == PullNever || !errors.Is(err, image.ErrNotFound) {
			return img, err
		}
		if reference.LooksLikeID(ref) {
			if _, perr := reference.Parse(ref); perr != nil {
				return nil, err
			}
		}
	}
	r, err := reference.Parse(ref)
	if err != nil {
		return nil, err
	}
	if before != nil {
		before(r, &o)
	}
	res, err := registry.Pull(ctx, e.Images, r, o)
	if err != nil {
		return nil, err
	}
	if after != nil {
		after(res)
	}
	return res.Image, nil
}

// Save writes the images named by refs as one archive in Docker's save format. A
// name saves the image under that tag; an ID saves it untagged, as Docker does.
func (e *Engine) Save(ctx context.Context, refs []string, w io.Writer) error {
	var entries []imagearchive.Entry
	for _, ref := range refs {
		img, err := e.Images.Get(ref)
		if err != nil {
			return err
		}
		var tags []string
		if r, err := reference.Parse(ref); err == nil && r.Digest == "" && slices.Contains(img.Tags, r.String()) {
			tags = []string{r.String()}
		}
		merged := false
		for i := range entries {
			if entries[i].Image.Manifest.Digest == img.Manifest.Digest {
				entries[i].Tags = append(entries[i].Tags, tags...)
				merged = true
			}
		}
		if !merged {
			entries = append(entries, imagearchive.Entry{Image: img, Tags: tags})
		}
	}
	return imagearchive.Save(ctx, e.Content, entries, w)
}

// Load reads an archive written by docker save, lab save or as an OCI layout.
func (e *Engine) Load(ctx context.Context, r io.Reader) ([]imagearchive.Loaded, error) {
	return imagearchive.Load(ctx, e.Images, r)
}
