package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"testing"
	"time"
)

func FuzzApply(f *testing.F) {
	seeds := [][]entry{
		{reg("a", "a")},
		{dirEntry("d/"), reg("d/f", "f"), symlink("d/l", "f"), hardlink("d/h", "d/f")},
		{dirEntry("o/"), {hdr: tar.Header{Typeflag: tar.TypeReg, Name: "o/.wh..wh..opq"}}, {hdr: tar.Header{Typeflag: tar.TypeReg, Name: ".wh.gone"}}},
		{symlink("link", "../sentinel"), reg("link/x", "evil")},
		{symlink("link", "/"), reg("link/etc/x", "evil")},
		{hardlink("h", "../sentinel/keep")},
		{symlink("link", "../sentinel/keep"), reg("link", "replace")},
		{{hdr: tar.Header{Typeflag: tar.TypeFifo, Name: "p", Mode: 0o600}}, {hdr: tar.Header{Typeflag: tar.TypeDir, Name: "ro/", Mode: 0o500}}, reg("ro/f", "f")},
	}
	for _, s := range seeds {
		f.Add(buildTar(f, s...))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		e := newHostileEnv(t)
		// Sparse entries can claim huge sizes; the deadline bounds them.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_, _ = Apply(ctx, e.layer, bytes.NewReader(data))
		e.check(t)
	})
}
