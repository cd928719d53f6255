package engine_test

import (
	"os"
	"testing"

	"lab/runtime/proc"
)

// The test binary doubles as the container init, which the runtime re-executes. This
// must stay in a file of its own: without it every container of these tests would run
// the whole test suite again instead of its command.
func TestMain(m *testing.M) {
	if proc.IsInit() {
		proc.Init()
	}
	os.Exit(m.Run())
}
