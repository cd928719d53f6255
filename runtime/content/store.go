package content

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/opencontainers/go-digest"
)

// ErrNotFound is returned for a digest that has no blob in the store.
var ErrNotFound = errors.New("blob not found")

// ErrDigestMismatch is returned when written or read data does not hash to its name.
var ErrDigestMismatch = errors.New("digest mismatch")

const layoutFile = `{"imageLayoutVersion":"1.0.0"}`

// Store is a content-addressed blob store inside an OCI image layout rooted at Root.
type Store struct {
	Root string
}

// Open prepares the layout skeleton under root (creating it if needed) and returns the store.
func Open(root string) (*Store, error) {
	for _, d := range []string{root, filepath.Join(root, "blobs", "sha256"), filepath.Join(root, "ingest")} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return nil, fmt.Errorf("open content store: %w", err)
		}
	}
	s := &Store{Root: root}
	marker := filepath.Join(root, "oci-layout")
	if _, err := os.Stat(marker); errors.Is(err, fs.ErrNotExist) {
		if err := WriteFileAtomic(marker, []byte(layoutFile), 0o644, true); err != nil {
			return nil, fmt.Errorf("open content store: %w", err)
		}
	}
	return s, nil
}

// Path returns where the blob named d lives. The digest is validated first so that a
// hostile name can never become a path outside blobs/.
func (s *Store) Path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("blob %q: %w", d, err)
	}
	if d.Algorithm() != digest.SHA256 {
		return "", fmt.Errorf("blob %s: unsupported digest algorithm", d)
	}
	return filepath.Join(s.Root, "blobs", "sha256", d.Encoded()), nil
}

// Exists reports whether the blob is present.
func (s *Store) Exists(d digest.Digest) bool {
	p, err := s.Path(d)
	if err != nil {
		return false
	}
	_, err = os.Stat(p)
	return err == nil
}

// Open opens a blob for reading. The caller verifies large blobs as it streams them.
func (s *Store) Open(d digest.Digest) (*os.File, error) {
	p, err := s.Path(d)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	return f, err
}

// ReadBlob reads a small blob (manifest, config) whole and verifies its digest.
func (s *Store) ReadBlob(d digest.Digest) ([]byte, error) {
	p, err := s.Path(d)
	if err != nil {
		return nil, err
	}
	b, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	if err != nil {
		return nil, fmt.Errorf("read blob: %w", err)
	}
	if digest.FromBytes(b) != d {
		return nil, fmt.Errorf("read blob %s: %w", d, ErrDigestMismatch)
	}
	return b, nil
}

// Size returns the size of a stored blob.
func (s *Store) Size(d digest.Digest) (int64, error) {
	p, err := s.Path(d)
	if err != nil {
		return 0, err
	}
	st, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, fmt.Errorf("%w: %s", ErrNotFound, d)
	}
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// SyncBlobs makes the names of the blobs committed so far durable (their contents
// already are). Call it before writing anything that refers to a new blob.
func (s *Store) SyncBlobs() error {
	return SyncDir(filepath.Join(s.Root, "blobs", "sha256"))
}

// PutBytes stores a small blob and returns its digest.
func (s *Store) PutBytes(b []byte) (digest.Digest, error) {
	d := digest.FromBytes(b)
	if s.Exists(d) {
		return d, nil
	}
	w, err := s.Writer()
	if err != nil {
		return "", err
	}
	defer w.Abort()
	if _, err := io.Copy(w, bytes.NewReader(b)); err != nil {
		return "", err
	}
	return w.Commit(d, int64(len(b)))
}

// Delete removes a blob; a missing blob is not an error.
func (s *Store) Delete(d digest.Digest) error {
	p, err := s.Path(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("delete blob %s: %w", d, err)
	}
	return nil
}

// Digests lists every blob in the store.
func (s *Store) Digests() ([]digest.Digest, error) {
	ents, err := os.ReadDir(filepath.Join(s.Root, "blobs", "sha256"))
	if err != nil {
		return nil, err
	}
	var out []digest.Digest
	for _, e := range ents {
		d := digest.NewDigestFromEncoded(digest.SHA256, e.Name())
		if d.Validate() == nil {
			out = append(out, d)
		}
	}
	return out, nil
}
