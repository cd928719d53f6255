package lab

import (
	"fmt"
	"math/big"
	"strings"

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

// luaMemoryValue is --lua-memory: a Lua state's memory cap as Docker spells sizes
// ("512m", "2g"); 0 means no cap. Unset, it is luabind's default (1 GiB).
type luaMemoryValue int64

func (m *luaMemoryValue) String() string {
	switch {
	case *m == 0:
		return formatSize(defaultLuaMemory)
	case *m < 0:
		return "0"
	}
	return formatSize(int64(*m))
}

func (m *luaMemoryValue) Set(s string) error {
	n, err := units.RAMInBytes(s)
	if err != nil {
		return err
	}
	if n < 0 {
		return fmt.Errorf("invalid size %q: negative", s)
	}
	if n == 0 {
		n = -1
	}
	*m = luaMemoryValue(n)
	return nil
}

func (m *luaMemoryValue) Type() string { return "bytes" }

// luaMemoryFlag consumes a leading --lua-memory SIZE (or --lua-memory=SIZE) from the
// command line of a script or the REPL, which have no flag set of their own.
func luaMemoryFlag(a *app, args []string) ([]string, error) {
	for len(args) > 0 && strings.HasPrefix(args[0], "--lua-memory") {
		val, ok := strings.CutPrefix(args[0], "--lua-memory=")
		rest := args[1:]
		if !ok {
			if args[0] != "--lua-memory" {
				return args, nil
			}
			if len(rest) == 0 {
				return nil, fmt.Errorf("flag needs an argument: --lua-memory")
			}
			val, rest = rest[0], rest[1:]
		}
		if err := a.luaMemory.Set(val); err != nil {
			return nil, fmt.Errorf("invalid argument %q for \"--lua-memory\" flag: %v", val, err)
		}
		args = rest
	}
	return args, nil
}

// defaultLuaMemory is luabind.DefaultMemoryLimit, spelled here because the lean build
// links no Lua (luabind_test checks the two agree).
const defaultLuaMemory = 1 << 30

// formatSize prints a size as the memory cap's messages do ("1 GiB").
func formatSize(n int64) string {
	switch {
	case n > 0 && n%(1<<30) == 0:
		return fmt.Sprintf("%d GiB", n>>30)
	case n > 0 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n > 0 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}
