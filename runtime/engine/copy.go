package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"

	"lab/runtime/reference"
)

// CopyImage makes the image that ref names in e present in dst under the same ref, with
// its layers unpacked there. Blobs are hard-linked when both stores share a filesystem
// (read-only, so neither side can change the other's; removing the image from e later
// does not reach dst) and copied and verified otherwise. With shareLayers, dst uses e's
// unpacked layer directories through symlinks instead of its own, so dst depends on e
// for as long as it lives (a scenario's fork of the runner's private base). Nothing in
// e is modified.
func (e *Engine) CopyImage(ctx context.Context, dst *Engine, ref string, shareLayers bool) error {
	img, err := e.Images.Get(ref)
	if err != nil {
		return err
	}
	blobs := []digest.Digest{img.ID}
	for _, l := range img.Layers {
		blobs = append(blobs, l.Digest)
	}
	// The manifest last: data before the name that points to it.
	blobs = append(blobs, img.Manifest.Digest)
	for _, d := range blobs {
		if err := linkBlob(e, dst, d); err != nil {
			return fmt.Errorf("copy image %s: %w", ref, err)
		}
	}
	if err := dst.Content.SyncBlobs(); err != nil {
		return fmt.Errorf("copy image %s: %w", ref, err)
	}
	var tag *reference.Ref
	if r, err := reference.Parse(ref); err == nil && !reference.LooksLikeID(ref) {
		tag = &r
	}
	if err := dst.Images.Adopt(img, tag); err != nil {
		return fmt.Errorf("copy image %s: %w", ref, err)
	}
	if shareLayers {
		dirs, err := e.Images.LayerDirs(ctx, img)
		if err != nil {
			return fmt.Errorf("copy image %s: %w", ref, err)
		}
		for _, dir := range dirs {
			link := filepath.Join(dst.Root, "layers", filepath.Base(dir))
			if err := os.Symlink(dir, link); err != nil && !errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("copy image %s: %w", ref, err)
			}
		}
		return nil
	}
	got, err := dst.Images.Get(img.ID.String())
	if err != nil {
		return fmt.Errorf("copy image %s: %w", ref, err)
	}
	if _, err := dst.Images.LayerDirs(ctx, got); err != nil {
		return fmt.Errorf("copy image %s: %w", ref, err)
	}
	return nil
}

// linkBlob puts blob d of src into dst.
func linkBlob(src, dst *Engine, d digest.Digest) error {
	if dst.Content.Exists(d) {
		return nil
	}
	from, err := src.Content.Path(d)
	if err != nil {
		return err
	}
	to, err := dst.Content.Path(d)
	if err != nil {
		return err
	}
	if err := os.Link(from, to); err == nil || errors.Is(err, fs.ErrExist) {
		return nil
	}
	// Another filesystem: copy through a temp file, checking the digest on the way.
	in, err := src.Content.Open(d)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp, err := os.CreateTemp(filepath.Dir(to), ".copy-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	vr := d.Verifier()
	if _, err := io.Copy(io.MultiWriter(tmp, vr), in); err != nil {
		tmp.Close()
		return err
	}
	if !vr.Verified() {
		tmp.Close()
		return fmt.Errorf("blob %s: content does not match its digest", d)
	}
	if err := tmp.Chmod(0o444); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), to)
}
