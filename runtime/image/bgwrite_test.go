package image

import (
	"bytes"
	"errors"
	"math/rand"
	"testing"
)

func TestBGWriter(t *testing.T) {
	src := make([]byte, 3*bgBatch+12345)
	rand.New(rand.NewSource(1)).Read(src)
	var dst bytes.Buffer
	b := newBGWriter(&dst)
	for p, i := src, 1; len(p) > 0; i = i*7%100003 + 1 {
		k := min(i, len(p))
		if n, err := b.Write(p[:k]); n != k || err != nil {
			t.Fatalf("Write: %d, %v", n, err)
		}
		p = p[k:]
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dst.Bytes(), src) {
		t.Fatalf("got %d bytes, not what was written (%d)", dst.Len(), len(src))
	}

	boom := errors.New("disk full")
	b = newBGWriter(failWriter{boom})
	for i := 0; i < 10; i++ {
		b.Write(src[:bgBatch])
	}
	if err := b.Close(); !errors.Is(err, boom) {
		t.Fatalf("Close after a failed write: %v", err)
	}
}

type failWriter struct{ err error }

func (f failWriter) Write(p []byte) (int, error) { return 0, f.err }
