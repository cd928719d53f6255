package lineage

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
)

// Record is where one image came from.
type Record struct {
	Image         digest.Digest `json:"image"`                    // the image this is about
	Parent        digest.Digest `json:"parent,omitempty"`         // the image it was made on
	Container     string        `json:"container,omitempty"`      // the container it was committed from
	ContainerName string        `json:"container_name,omitempty"` // that container's name then
	Created       time.Time     `json:"created"`
}

// Store is the lineage directory of a state directory.
type Store struct{ dir string }

// Open returns the lineage store under root.
func Open(root string) *Store { return &Store{dir: filepath.Join(root, "lineage")} }

func (s *Store) path(d digest.Digest) (string, error) {
	if err := d.Validate(); err != nil {
		return "", fmt.Errorf("lineage: %w", err)
	}
	return filepath.Join(s.dir, d.Encoded()+".json"), nil
}

// Put records r, replacing an earlier record of the same image (the same content made
// again, from another container, has a new history).
func (s *Store) Put(r Record) error {
	p, err := s.path(r.Image)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(s.dir, 0o700); err != nil {
		return fmt.Errorf("lineage: %w", err)
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(s.dir, ".rec-")
	if err != nil {
		return fmt.Errorf("lineage: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		return fmt.Errorf("lineage: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("lineage: %w", err)
	}
	return os.Rename(tmp.Name(), p)
}

// Get returns the record of image d, if there is one.
func (s *Store) Get(d digest.Digest) (Record, bool) {
	p, err := s.path(d)
	if err != nil {
		return Record{}, false
	}
	b, err := os.ReadFile(p)
	if err != nil {
		return Record{}, false
	}
	var r Record
	if json.Unmarshal(b, &r) != nil || r.Image != d {
		return Record{}, false
	}
	return r, true
}

// All returns every record (unreadable ones are skipped: lineage is informative).
func (s *Store) All() ([]Record, error) {
	ents, err := os.ReadDir(s.dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Record
	for _, e := range ents {
		name := e.Name()
		if !strings.HasSuffix(name, ".json") || strings.HasPrefix(name, ".") {
			continue
		}
		if r, ok := s.Get(digest.NewDigestFromEncoded(digest.SHA256, strings.TrimSuffix(name, ".json"))); ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// Remove forgets image d's record.
func (s *Store) Remove(d digest.Digest) error {
	p, err := s.path(d)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return nil
}
