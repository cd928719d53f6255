package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"lab/runtime/content"
	"lab/runtime/image"
	"lab/runtime/reference"
)

// PushResult is what `docker push` reports at the end.
type PushResult struct {
	Tag    string
	Digest digest.Digest // the manifest's, unchanged from the store
	Size   int64         // the manifest's size
}

// Push sends img to ref's repository: layers as stored (so the manifest, and so its
// digest, is the one in the store), then the config, then the manifest under ref's
// tag. Blobs the registry already has are not sent again.
func Push(ctx context.Context, cs *content.Store, img *image.Image, ref reference.Ref, o Options) (*PushResult, error) {
	if ref.Tag == "" {
		return nil, fmt.Errorf("push %s: a tag is needed", ref)
	}
	repo, err := o.repository(ref)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", reference.ErrInvalidFormat, err)
	}
	h, err := v1.NewHash(img.Manifest.Digest.String())
	if err != nil {
		return nil, err
	}
	// lab's store is an OCI image layout: go-containerregistry reads the stored
	// manifest and blobs from it as they are.
	limg, err := layout.Path(cs.Root).Image(h)
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, err)
	}
	ropts, err := o.remoteOptions(ref.Domain)
	if err != nil {
		return nil, err
	}
	ropts = append(ropts, remote.WithContext(ctx))
	pusher, err := remote.NewPusher(ropts...)
	if err != nil {
		return nil, err
	}
	puller, err := remote.NewPuller(append(ropts, remote.Reuse(pusher))...)
	if err != nil {
		return nil, err
	}
	layers, err := limg.Layers()
	if err != nil {
		return nil, fmt.Errorf("push %s: %w", ref, err)
	}
	var mu sync.Mutex
	emit := func(ev Event) { mu.Lock(); o.emit(ev); mu.Unlock() }
	for i := len(layers) - 1; i >= 0; i-- {
		emit(Event{ID: ShortID(img.Layers[i].Digest), Status: "Preparing"})
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(3)
	for i := len(layers) - 1; i >= 0; i-- {
		l, desc := layers[i], img.Layers[i]
		id := ShortID(desc.Digest)
		g.Go(func() error {
			if has, err := hasBlob(gctx, puller, repo, desc.Digest); err != nil {
				return err
			} else if has {
				emit(Event{ID: id, Status: "Layer already exists"})
				return nil
			}
			emit(Event{ID: id, Status: "Waiting"})
			pl := &progressLayer{Layer: l, id: id, total: desc.Size, emit: emit}
			if err := pusher.Upload(gctx, repo, pl); err != nil {
				return classifyPush(err, ref)
			}
			emit(Event{ID: id, Status: "Pushed"})
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	if err := pusher.Push(ctx, repo.Tag(ref.Tag), limg); err != nil {
		return nil, classifyPush(err, ref)
	}
	return &PushResult{Tag: ref.Tag, Digest: img.Manifest.Digest, Size: img.Manifest.Size}, nil
}

func classifyPush(err error, ref reference.Ref) error {
	var te *transport.Error
	if errors.As(err, &te) && (te.StatusCode == 401 || te.StatusCode == 403) {
		return newError(ErrDenied, "denied: requested access to the resource is denied")
	}
	return classify(err, "")
}

func hasBlob(ctx context.Context, p *remote.Puller, repo name.Repository, d digest.Digest) (bool, error) {
	l, err := p.Layer(ctx, repo.Digest(d.String()))
	if err != nil {
		return false, classify(err, "")
	}
	if _, err := l.Size(); err != nil {
		var te *transport.Error
		if errors.As(err, &te) && te.StatusCode == 404 {
			return false, nil
		}
		if errors.As(err, &te) && (te.StatusCode == 401 || te.StatusCode == 403) {
			return false, newError(ErrDenied, "denied: requested access to the resource is denied")
		}
		return false, classify(err, "")
	}
	return true, nil
}

// progressLayer reports the bytes of a layer as the upload reads them.
type progressLayer struct {
	v1.Layer
	id    string
	total int64
	emit  func(Event)
}

func (l *progressLayer) Compressed() (io.ReadCloser, error) {
	rc, err := l.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	return &countingReader{ReadCloser: rc, l: l}, nil
}

type countingReader struct {
	io.ReadCloser
	l       *progressLayer
	n, last int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.ReadCloser.Read(p)
	c.n += int64(k)
	if c.n-c.last >= 512<<10 || (err == io.EOF && c.n != c.last) {
		c.l.emit(Event{ID: c.l.id, Status: "Pushing", Current: c.n, Total: c.l.total})
		c.last = c.n
	}
	return k, err
}
