package seccomp

import (
	"testing"
	"time"

	"lab/runtime/capability"
)

func TestDefaultCompiles(t *testing.T) {
	start := time.Now()
	p, err := Default(capability.Default)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("default profile: %d instructions, compiled in %v", p.Len(), time.Since(start))
	start = time.Now()
	all, err := Default(capability.All())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("with every capability: %d instructions, compiled in %v", all.Len(), time.Since(start))
	start = time.Now()
	if _, err := Default(capability.Default); err != nil {
		t.Fatal(err)
	}
	t.Logf("again (cached): %v", time.Since(start))
	if p.Len() == 0 || p.Len() == all.Len() {
		t.Fatalf("the filter does not depend on capabilities: %d vs %d instructions", p.Len(), all.Len())
	}
}
