package engine_test

import (
	"testing"

	"lab/runtime/proc"
	"lab/runtime/proc/inittest"
)

// Containers of these tests run through lab-init, built for the run, as `lab` runs
// them. The test binary can still be the container init (the fallback when no lab-init
// is found, and the CVE-2019-5736 probe's init): without the IsInit check every such
// container would run the whole test suite again instead of its command.
func TestMain(m *testing.M) {
	if proc.IsInit() {
		proc.Init()
	}
	inittest.Main(m.Run)
}
