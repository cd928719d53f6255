package seccomp

import (
	"encoding/binary"
	"fmt"
	"slices"
	"testing"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"

	"lab/runtime/capability"
)

// The compiled filter must do what the profile says for every system call number and
// argument values on both sides of every value the profile compares with. The program
// runs in golang.org/x/net/bpf's interpreter; what it should return comes from
// reading the profile directly (first matching rule in the profile's order, else the
// default), so a wrong jump, a long jump, a comparison of 64-bit halves or the search
// tree would show.
func TestFilterMatchesProfile(t *testing.T) {
	for _, caps := range [][]string{capability.Default, capability.All(), {}} {
		lp, err := profiles.GetDefaultProfile(runtimeSpec(caps))
		if err != nil {
			t.Fatal(err)
		}
		checkProgram(t, lp)
	}
	for _, js := range []string{
		`{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["uname"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13}]}`,
		`{"defaultAction": "SCMP_ACT_ERRNO", "defaultErrnoRet": 38, "syscalls": [
			{"names": ["read", "write"], "action": "SCMP_ACT_ALLOW"},
			{"names": ["personality"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 0, "value": 8, "op": "SCMP_CMP_LE"}]},
			{"names": ["personality"], "action": "SCMP_ACT_TRAP", "args": [{"index": 0, "value": 4294967296, "op": "SCMP_CMP_GE"}, {"index": 1, "value": 5, "op": "SCMP_CMP_NE"}]},
			{"names": ["ioctl"], "action": "SCMP_ACT_KILL_PROCESS", "args": [{"index": 1, "value": 4294967311, "valueTwo": 4294967297, "op": "SCMP_CMP_MASKED_EQ"}]},
			{"names": ["ioctl"], "action": "SCMP_ACT_LOG", "args": [{"index": 2, "value": 7, "op": "SCMP_CMP_LT"}, {"index": 2, "value": 9, "op": "SCMP_CMP_GT"}]},
			{"names": ["mmap"], "action": "SCMP_ACT_ALLOW", "args": [{"index": 5, "value": 3, "op": "SCMP_CMP_EQ"}]}]}`,
	} {
		lp, err := profiles.LoadProfile(js, runtimeSpec(nil))
		if err != nil {
			t.Fatal(err)
		}
		checkProgram(t, lp)
	}
}

func checkProgram(t *testing.T, lp *specs.LinuxSeccomp) {
	t.Helper()
	p, err := compile(lp)
	if err != nil {
		t.Fatal(err)
	}
	var insts []bpf.Instruction
	for i := 0; i < len(p); i += 8 {
		raw := bpf.RawInstruction{Op: binary.NativeEndian.Uint16(p[i:]), Jt: p[i+2], Jf: p[i+3], K: binary.NativeEndian.Uint32(p[i+4:])}
		insts = append(insts, raw.Disassemble())
	}
	vm, err := bpf.NewVM(insts)
	if err != nil {
		t.Fatalf("the kernel would refuse this program too: %v", err)
	}
	def, _ := action(lp.DefaultAction, lp.DefaultErrnoRet)
	var values []uint64
	for _, sc := range lp.Syscalls {
		for _, a := range sc.Args {
			for _, v := range []uint64{a.Value, a.ValueTwo} {
				values = append(values, v, v-1, v+1, v|1<<32, v&^(1<<32), v^0xffffffff, v<<1)
			}
		}
	}
	values = append(values, 0, 1, 1<<63)
	slices.Sort(values)
	values = slices.Compact(values)
	archs, _ := arches()
	run := func(audit, nr uint32, args [6]uint64) uint32 {
		// x/net/bpf loads words in network order; seccomp in the machine's. Each
		// 32-bit word is stored so that the interpreter reads what the kernel would.
		pkt := make([]byte, 64)
		binary.BigEndian.PutUint32(pkt[0:], nr)
		binary.BigEndian.PutUint32(pkt[4:], audit)
		for i, a := range args {
			lo, hi := argOffsets(uint32(i))
			binary.BigEndian.PutUint32(pkt[lo:], uint32(a))
			binary.BigEndian.PutUint32(pkt[hi:], uint32(a>>32))
		}
		got, err := vm.Run(pkt)
		if err != nil {
			t.Fatal(err)
		}
		return uint32(got)
	}
	n := 0
	for _, ar := range archs {
		maxNr := uint32(0)
		for _, s := range ar.table {
			maxNr = max(maxNr, s.nr)
		}
		for nr := uint32(0); nr <= maxNr+3; nr++ {
			name := ""
			for _, s := range ar.table {
				if s.nr == nr {
					name = s.name
				}
			}
			argSets := [][6]uint64{{}}
			if name != "" && conditional(lp, name) {
				for i := range 6 {
					for _, v := range values {
						var a [6]uint64
						a[i] = v
						argSets = append(argSets, a)
					}
				}
			}
			for _, args := range argSets {
				want := expected(lp, def, name, args)
				if got := run(ar.audit, nr, args); got != want {
					t.Fatalf("arch %#x call %d (%s) args %v: filter returns %#x, the profile says %#x", ar.audit, nr, name, args, got, want)
				}
				n++
			}
			if ar.x32 {
				if got := run(ar.audit, nr|0x40000000, [6]uint64{}); got != unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS) {
					t.Fatalf("x32 call %d: %#x, want ENOSYS", nr, got)
				}
			}
		}
	}
	if got := run(0x12345678, 0, [6]uint64{}); got != unix.SECCOMP_RET_KILL_PROCESS {
		t.Fatalf("unknown architecture: %#x, want kill", got)
	}
	t.Logf("%d instructions agree with the profile on %d calls", len(insts), n)
}

func conditional(lp *specs.LinuxSeccomp, name string) bool {
	for _, sc := range lp.Syscalls {
		if slices.Contains(sc.Names, name) && len(sc.Args) > 0 {
			return true
		}
	}
	return false
}

// expected reads the profile: the first rule naming the call whose checks hold (checks
// of one argument are alternatives, of different arguments all needed, as runc reads
// them), else the default.
func expected(lp *specs.LinuxSeccomp, def uint32, name string, args [6]uint64) uint32 {
	for _, sc := range lp.Syscalls {
		if !slices.Contains(sc.Names, name) {
			continue
		}
		act, _ := action(sc.Action, sc.ErrnoRet)
		idx := map[uint]int{}
		for _, a := range sc.Args {
			idx[a.Index]++
		}
		repeated := false
		for _, c := range idx {
			repeated = repeated || c > 1
		}
		holds := func(a specs.LinuxSeccompArg) bool {
			v := args[a.Index]
			switch a.Op {
			case specs.OpEqualTo:
				return v == a.Value
			case specs.OpNotEqual:
				return v != a.Value
			case specs.OpLessThan:
				return v < a.Value
			case specs.OpLessEqual:
				return v <= a.Value
			case specs.OpGreaterThan:
				return v > a.Value
			case specs.OpGreaterEqual:
				return v >= a.Value
			case specs.OpMaskedEqual:
				return v&a.Value == a.ValueTwo
			}
			panic(fmt.Sprint("operator ", a.Op))
		}
		match := !repeated || len(sc.Args) == 0
		for _, a := range sc.Args {
			if repeated {
				match = match || holds(a)
			} else {
				match = match && holds(a)
			}
		}
		if match {
			return act
		}
	}
	return def
}
