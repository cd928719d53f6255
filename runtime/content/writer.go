package content

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// Writer streams one blob into the ingest directory. Its lifecycle: Write any number of
// times, then exactly one of Commit (publish under the digest) or Abort (discard).
// Abort after Commit is a no-op, so `defer w.Abort()` is always safe.
type Writer struct {
	s    *Store
	f    *os.File
	dg   digest.Digester
	n    int64
	done bool
}

// Writer starts a new blob in the ingest directory.
func (s *Store) Writer() (*Writer, error) {
	f, err := os.CreateTemp(filepath.Join(s.Root, "ingest"), "blob-")
	if err != nil {
		return nil, fmt.Errorf("start blob: %w", err)
	}
	// Held until the file is closed: fsck and prune leave alone an ingest file whose
	// lock they cannot take (see InUse).
	if err := lockLive(f); err != nil {
		f.Close()
		os.Remove(f.Name())
		return nil, fmt.Errorf("start blob: lock: %w", err)
	}
	return &Writer{s: s, f: f, dg: digest.SHA256.Digester()}, nil
}

func (w *Writer) Write(p []byte) (int, error) {
	n, err := w.f.Write(p)
	w.dg.Hash().Write(p[:n])
	w.n += int64(n)
	return n, err
}

// Size is the number of bytes written so far.
func (w *Writer) Size() int64 { return w.n }

// Digest is the digest of the bytes written so far.
func (w *Writer) Digest() digest.Digest { return w.dg.Digest() }

// Commit verifies the written data against expected (skipped when empty) and size
// (skipped when negative), then publishes it as a read-only blob. Publishing a blob
// that already exists keeps the existing one.
//
// The blob's content is on disk before its name appears, so a name never leads to
// partial data; the name itself is made durable by Store.SyncBlobs, which whatever
// publishes a reference to the blob calls first (image.Store does before every
// index.json update). One directory sync then covers every blob of an image instead
// of one per blob.
func (w *Writer) Commit(expected digest.Digest, size int64) (digest.Digest, error) {
	if w.done {
		return "", fmt.Errorf("commit blob: writer already closed")
	}
	w.done = true
	name := w.f.Name()
	defer os.Remove(name) // gone after a successful rename; cleans up on every failure
	got := w.dg.Digest()
	if size >= 0 && w.n != size {
		w.f.Close()
		return "", fmt.Errorf("commit blob: size %d, expected %d: %w", w.n, size, ErrDigestMismatch)
	}
	if expected != "" && got != expected {
		w.f.Close()
		return "", fmt.Errorf("commit blob: got %s, expected %s: %w", got, expected, ErrDigestMismatch)
	}
	if err := w.f.Chmod(0o444); err != nil {
		w.f.Close()
		return "", fmt.Errorf("commit blob: %w", err)
	}
	if err := w.f.Sync(); err != nil {
		w.f.Close()
		return "", fmt.Errorf("commit blob: %w", err)
	}
	if err := w.f.Close(); err != nil {
		return "", fmt.Errorf("commit blob: %w", err)
	}
	dst, err := w.s.Path(got)
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(dst); err == nil {
		return got, nil
	}
	if err := os.Rename(name, dst); err != nil {
		return "", fmt.Errorf("commit blob: %w", err)
	}
	return got, nil
}

// Abort discards the blob.
func (w *Writer) Abort() {
	if w.done {
		return
	}
	w.done = true
	w.f.Close()
	os.Remove(w.f.Name())
}
