package image

import (
	"bufio"
	"compress/gzip"
	"io"
)

func newGzipReader(r io.Reader) (io.ReadCloser, error) { return gzip.NewReader(r) }

// Decompress returns r as plain bytes whether it holds a plain or a gzip stream, by
// looking at the magic number as `docker import` does.
func Decompress(r io.Reader) (io.Reader, func(), error) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(2)
	if len(magic) == 2 && magic[0] == 0x1f && magic[1] == 0x8b {
		zr, err := gzip.NewReader(br)
		if err != nil {
			return nil, nil, err
		}
		return zr, func() { zr.Close() }, nil
	}
	return br, func() {}, nil
}

func peek(r io.Reader) (*bufio.Reader, []byte) {
	br := bufio.NewReaderSize(r, 64<<10)
	magic, _ := br.Peek(4)
	return br, magic
}
