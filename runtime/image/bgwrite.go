package image

import (
	"io"
	"sync"
)

// bgWriter hands what is written to it to w on a goroutine of its own, in batches, so
// that hashing and writing a layer's blob (w: the content writer, sha256 plus a file
// write) runs on a second CPU while the caller unpacks the same bytes on the first:
// an import or a commit then goes at the speed of the slower of the two instead of
// their sum. Close waits for w to have everything and returns its first error.
type bgWriter struct {
	w    io.Writer
	buf  []byte
	ch   chan []byte
	free chan []byte
	done chan struct{}
	mu   sync.Mutex
	err  error
}

const bgBatch = 256 << 10

func newBGWriter(w io.Writer) *bgWriter {
	b := &bgWriter{w: w, ch: make(chan []byte, 4), free: make(chan []byte, 5), done: make(chan struct{})}
	for i := 0; i < 5; i++ {
		b.free <- make([]byte, 0, bgBatch)
	}
	b.buf = <-b.free
	go func() {
		defer close(b.done)
		for p := range b.ch {
			if b.failed() == nil {
				if _, err := w.Write(p); err != nil {
					b.mu.Lock()
					b.err = err
					b.mu.Unlock()
				}
			}
			b.free <- p[:0]
		}
	}()
	return b
}

func (b *bgWriter) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

func (b *bgWriter) Write(p []byte) (int, error) {
	if err := b.failed(); err != nil {
		return 0, err
	}
	n := len(p)
	for len(p) > 0 {
		k := copy(b.buf[len(b.buf):cap(b.buf)], p)
		b.buf = b.buf[:len(b.buf)+k]
		p = p[k:]
		if len(b.buf) == cap(b.buf) {
			b.ch <- b.buf
			b.buf = <-b.free
		}
	}
	return n, nil
}

// Close flushes what is buffered and waits for the goroutine. It must be called
// exactly once, also on failure paths (or the goroutine is left waiting).
func (b *bgWriter) Close() error {
	if len(b.buf) > 0 {
		b.ch <- b.buf
	}
	b.buf = nil
	close(b.ch)
	<-b.done
	return b.failed()
}
