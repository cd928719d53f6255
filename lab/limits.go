package lab

import (
	"fmt"
	"math/big"

	units "github.com/docker/go-units"
	"github.com/spf13/pflag"
)

// limitFlags are docker run's resource limit flags; the engine enforces them with
// cgroups.
type limitFlags struct {
	memory   memoryValue
	pids     int64
	nanoCPUs cpusValue
}

func addLimitFlags(fs *pflag.FlagSet, f *limitFlags) {
	fs.VarP(&f.memory, "memory", "m", "Memory limit")
	fs.Int64Var(&f.pids, "pids-limit", 0, "Tune container pids limit (set -1 for unlimited)")
	fs.Var(&f.nanoCPUs, "cpus", "Number of CPUs")
}

// memoryValue parses sizes as Docker does: "512k", "64m", "1g" or plain bytes.
type memoryValue int64

func (m *memoryValue) String() string {
	if *m == 0 {
		return ""
	}
	return units.BytesSize(float64(*m))
}

func (m *memoryValue) Set(s string) error {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return err
	}
	*m = memoryValue(n)
	return nil
}

func (m *memoryValue) Type() string { return "bytes" }

// cpusValue parses a decimal number of CPUs into billionths, exactly (1.5 is
// 1500000000), as Docker's NanoCPUs does.
type cpusValue int64

func (c *cpusValue) String() string {
	if *c == 0 {
		return ""
	}
	return big.NewRat(int64(*c), 1e9).FloatString(3)
}

func (c *cpusValue) Set(s string) error {
	r, ok := new(big.Rat).SetString(s)
	if !ok {
		return fmt.Errorf("failed to parse %v as a rational number", s)
	}
	nano := r.Mul(r, big.NewRat(1e9, 1))
	if !nano.IsInt() {
		return fmt.Errorf("value is too precise")
	}
	*c = cpusValue(nano.Num().Int64())
	return nil
}

func (c *cpusValue) Type() string { return "decimal" }
