package seccomp

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"strings"
	"sync"

	bpfc "github.com/elastic/go-seccomp-bpf"
	"github.com/elastic/go-seccomp-bpf/arch"
	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ErrUnsupported is returned (wrapped) for a profile feature this compiler lacks.
var ErrUnsupported = errors.New("not supported")

// Program is a compiled filter: struct sock_filter entries (u16 code, u8 jt, u8 jf,
// u32 k) in the machine's byte order, as seccomp(SECCOMP_SET_MODE_FILTER) takes them.
type Program []byte

// Len is the number of BPF instructions.
func (p Program) Len() int { return len(p) / 8 }

var defaults struct {
	sync.Mutex
	byCaps map[string]Program
}

// Default compiles Docker's default profile for a container holding caps (normalized
// names, see runtime/capability). The result is shared: callers must not modify it.
func Default(caps []string) (Program, error) {
	key := strings.Join(caps, ",")
	defaults.Lock()
	defer defaults.Unlock()
	if p, ok := defaults.byCaps[key]; ok {
		return p, nil
	}
	lp, err := profiles.GetDefaultProfile(runtimeSpec(caps))
	if err != nil {
		return nil, fmt.Errorf("default seccomp profile: %w", err)
	}
	p, err := compile(lp)
	if err != nil {
		return nil, fmt.Errorf("default seccomp profile: %w", err)
	}
	if defaults.byCaps == nil {
		defaults.byCaps = map[string]Program{}
	}
	defaults.byCaps[key] = p
	return p, nil
}

// Compile compiles a profile in Docker's JSON format (what `docker run --security-opt
// seccomp=FILE.json` reads) for a container holding caps. A profile with neither a
// default action nor rules means no filter: the Program is nil, as on Docker.
func Compile(profile []byte, caps []string) (Program, error) {
	lp, err := profiles.LoadProfile(string(profile), runtimeSpec(caps))
	if err != nil {
		return nil, err
	}
	if lp == nil {
		return nil, nil
	}
	return compile(lp)
}

// runtimeSpec is the little of an OCI spec the profile's conditions look at.
func runtimeSpec(caps []string) *specs.Spec {
	return &specs.Spec{Process: &specs.Process{Capabilities: &specs.LinuxCapabilities{
		Bounding: caps, Effective: caps, Permitted: caps,
	}}}
}

func compile(lp *specs.LinuxSeccomp) (Program, error) {
	info, err := arch.GetInfo("")
	if err != nil {
		return nil, err
	}
	def, err := action(lp.DefaultAction, lp.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	if def&unix.SECCOMP_RET_ACTION_FULL == bpfc.ActionErrno && def != bpfc.ActionErrno|bpfc.Action(unix.EPERM) {
		return nil, fmt.Errorf("defaultErrnoRet other than 1 (EPERM): %w", ErrUnsupported)
	}
	if def&unix.SECCOMP_RET_ACTION_FULL == bpfc.ActionErrno {
		def = bpfc.ActionErrno // the compiler adds EPERM itself
	}
	// One group per action, in the order the profile first uses them; within a group a
	// syscall matches unconditionally or when any of its rules' conditions all hold.
	type entry struct {
		always bool
		conds  []bpfc.ArgumentConditions
	}
	type group struct {
		act   bpfc.Action
		names []string
		by    map[string]*entry
	}
	var groups []*group
	for i, sc := range lp.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		if act == def || (def == bpfc.ActionErrno && act == bpfc.ActionErrno|bpfc.Action(unix.EPERM)) {
			continue // what happens anyway
		}
		ruleSets, err := conditions(sc.Args)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		var g *group
		for _, x := range groups {
			if x.act == act {
				g = x
			}
		}
		if g == nil {
			g = &group{act: act, by: map[string]*entry{}}
			groups = append(groups, g)
		}
		for _, name := range sc.Names {
			if _, ok := info.SyscallNames[name]; !ok {
				continue // unknown to this architecture: skipped, as runc does
			}
			e := g.by[name]
			if e == nil {
				e = &entry{}
				g.by[name] = e
				g.names = append(g.names, name)
			}
			if ruleSets == nil {
				e.always = true
			} else {
				e.conds = append(e.conds, ruleSets...)
			}
		}
	}
	policy := bpfc.Policy{DefaultAction: def}
	for _, g := range groups {
		sg := bpfc.SyscallGroup{Action: g.act}
		for _, name := range g.names {
			e := g.by[name]
			if e.always {
				sg.Names = append(sg.Names, name)
				continue
			}
			for _, c := range e.conds {
				sg.NamesWithCondtions = append(sg.NamesWithCondtions, bpfc.NameWithConditions{Name: name, Conditions: c})
			}
		}
		if len(sg.Names)+len(sg.NamesWithCondtions) > 0 {
			policy.Syscalls = append(policy.Syscalls, sg)
		}
	}
	if len(policy.Syscalls) == 0 {
		// The compiler wants at least one group; this one changes nothing.
		policy.Syscalls = []bpfc.SyscallGroup{{Names: []string{"exit_group"}, Action: def}}
	}
	insts, err := policy.Assemble()
	if err != nil {
		return nil, err
	}
	raw, err := bpf.Assemble(insts)
	if err != nil {
		return nil, err
	}
	if len(raw) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("filter of %d instructions is longer than the kernel's %d", len(raw), unix.BPF_MAXINSNS)
	}
	out := make(Program, 0, 8*len(raw))
	for _, r := range raw {
		out = binary.NativeEndian.AppendUint16(out, r.Op)
		out = append(out, r.Jt, r.Jf)
		out = binary.NativeEndian.AppendUint32(out, r.K)
	}
	return out, nil
}

// action is the SECCOMP_RET_* value of a profile action.
func action(a specs.LinuxSeccompAction, errnoRet *uint) (bpfc.Action, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		if *errnoRet > 0xffff {
			return 0, fmt.Errorf("errnoRet %d out of range", *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch a {
	case specs.ActAllow:
		return bpfc.ActionAllow, nil
	case specs.ActErrno:
		return bpfc.ActionErrno | bpfc.Action(data), nil
	case specs.ActTrace:
		return bpfc.ActionTrace | bpfc.Action(data), nil
	case specs.ActKill, specs.ActKillThread:
		return bpfc.ActionKillThread, nil
	case specs.ActKillProcess:
		return bpfc.ActionKillProcess, nil
	case specs.ActTrap:
		return bpfc.ActionTrap, nil
	case specs.ActLog:
		return bpfc.ActionLog, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s: %w", a, ErrUnsupported)
	}
	return 0, fmt.Errorf("unknown action %q", a)
}

// conditions turns a rule's argument checks into sets that each must hold entirely;
// nil means the rule has no checks. As runc does, checks of different arguments must
// all hold, while several checks of one argument are alternatives.
func conditions(args []specs.LinuxSeccompArg) ([]bpfc.ArgumentConditions, error) {
	if len(args) == 0 {
		return nil, nil
	}
	var conds bpfc.ArgumentConditions
	seen := map[uint]bool{}
	repeated := false
	for _, a := range args {
		if a.Index > 5 {
			return nil, fmt.Errorf("argument index %d out of range", a.Index)
		}
		repeated = repeated || seen[a.Index]
		seen[a.Index] = true
		c := bpfc.Condition{Argument: uint32(a.Index), Value: a.Value}
		switch a.Op {
		case specs.OpNotEqual:
			c.Operation = bpfc.NotEqual
		case specs.OpLessThan:
			c.Operation = bpfc.LessThan
		case specs.OpLessEqual:
			c.Operation = bpfc.LessOrEqual
		case specs.OpEqualTo:
			c.Operation = bpfc.Equal
		case specs.OpGreaterEqual:
			c.Operation = bpfc.GreaterOrEqual
		case specs.OpGreaterThan:
			c.Operation = bpfc.GreaterThan
		case specs.OpMaskedEqual:
			switch {
			case a.ValueTwo == 0:
				c.Operation = bpfc.BitsNotSet
			case a.ValueTwo == a.Value && bits.OnesCount64(a.Value) == 1:
				c.Operation = bpfc.BitsSet
			default:
				return nil, fmt.Errorf("%s with value %#x and valueTwo %#x: %w", a.Op, a.Value, a.ValueTwo, ErrUnsupported)
			}
		default:
			return nil, fmt.Errorf("unknown operator %q", a.Op)
		}
		conds = append(conds, c)
	}
	if !repeated {
		return []bpfc.ArgumentConditions{conds}, nil
	}
	out := make([]bpfc.ArgumentConditions, len(conds))
	for i, c := range conds {
		out[i] = bpfc.ArgumentConditions{c}
	}
	return out, nil
}
