package archive

import (
	"archive/tar"
	"bytes"
	"context"
	"fmt"
	"strconv"
	"strings"
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
		inputs := [][]byte{data}
		// Most mutations break a header checksum and never get past the
		// tar reader; repaired copies reach the interesting code.
		if fixed := fixChecksums(data); !bytes.Equal(fixed, data) {
			inputs = append(inputs, fixed)
		}
		for _, in := range inputs {
			e := newHostileEnv(t)
			// Sparse entries can claim huge sizes; the deadline bounds them.
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			_, _ = Apply(ctx, e.layer, bytes.NewReader(in))
			cancel()
			e.check(t)
		}
	})
}

// fixChecksums walks data as a sequence of tar headers and bodies and
// rewrites every header checksum, stopping where a size cannot be parsed.
func fixChecksums(data []byte) []byte {
	out := bytes.Clone(data)
	for off := 0; off+512 <= len(out); {
		blk := out[off : off+512]
		if bytes.Count(blk, []byte{0}) == 512 {
			off += 512
			continue
		}
		copy(blk[148:156], "        ")
		var sum int64
		for _, b := range blk {
			sum += int64(b)
		}
		copy(blk[148:156], fmt.Sprintf("%06o\x00 ", sum))
		size, err := strconv.ParseInt(strings.Trim(string(blk[124:136]), " \x00"), 8, 64)
		if err != nil || size < 0 || size > int64(len(out)) {
			break
		}
		off += 512 + int((size+511)/512*512)
	}
	return out
}
