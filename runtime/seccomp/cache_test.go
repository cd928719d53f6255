package seccomp

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"lab/runtime/capability"
)

func TestDiskCache(t *testing.T) {
	dir := t.TempDir()
	fresh := func() Program {
		t.Helper()
		defaults.Lock()
		defaults.byCaps = nil // as in a new lab process
		defaults.Unlock()
		p, err := DefaultCached(dir, capability.Default)
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	want := fresh()
	files, _ := filepath.Glob(filepath.Join(dir, "*.bpf"))
	if len(files) != 1 {
		t.Fatalf("cache files: %v", files)
	}
	if got := fresh(); !bytes.Equal(got, want) {
		t.Fatal("the cached program differs")
	}
	// A damaged file is compiled again and replaced, never used.
	b, _ := os.ReadFile(files[0])
	b[len(b)-3] ^= 0xff
	os.WriteFile(files[0], b, 0o600)
	if got := fresh(); !bytes.Equal(got, want) {
		t.Fatal("a damaged cache file was used")
	}
	if b2, _ := os.ReadFile(files[0]); bytes.Equal(b, b2) {
		t.Fatal("the damaged cache file was not replaced")
	}
}
