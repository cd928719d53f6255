package seccomp

import (
	"testing"

	"lab/runtime/capability"
)

// What a container start pays for its filter: a compile of Docker's profile (the first
// start of a new lab binary or kernel), or a read of the cached program (every other
// `lab run`). make bench reports both.
func BenchmarkCompileDefault(b *testing.B) {
	for b.Loop() {
		defaults.Lock()
		defaults.byCaps = nil
		defaults.Unlock()
		if _, err := Default(capability.Default); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDefaultCached(b *testing.B) {
	dir := b.TempDir()
	if _, err := DefaultCached(dir, capability.Default); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		defaults.Lock()
		defaults.byCaps = nil // as in a new lab process
		defaults.Unlock()
		if _, err := DefaultCached(dir, capability.Default); err != nil {
			b.Fatal(err)
		}
	}
}
