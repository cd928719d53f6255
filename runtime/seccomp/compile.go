package seccomp

import (
	"cmp"
	"encoding/binary"
	"fmt"
	"runtime"
	"slices"
	"sort"

	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"
)

//go:generate go run mktables.go

// sysnum is one row of a system call table (ztables.go).
type sysnum struct {
	name string
	nr   uint32
}

func lookup(table []sysnum, name string) (uint32, bool) {
	i := sort.Search(len(table), func(i int) bool { return table[i].name >= name })
	if i < len(table) && table[i].name == name {
		return table[i].nr, true
	}
	return 0, false
}

// An arch is one calling convention the filter accepts: AUDIT_ARCH_* as the kernel
// reports it in seccomp_data.arch, and its system call table.
type arch struct {
	audit uint32
	table []sysnum
	// x32 is set for x86-64, whose x32 ABI shares the audit value and marks its
	// system call numbers with a high bit: those calls get ENOSYS.
	x32 bool
}

// arches are the conventions of this machine: amd64 also runs i386 binaries, as
// Docker's profile allows.
func arches() ([]arch, error) {
	switch runtime.GOARCH {
	case "amd64":
		return []arch{
			{audit: unix.AUDIT_ARCH_X86_64, table: syscallsamd64, x32: true},
			{audit: unix.AUDIT_ARCH_I386, table: syscallsi386},
		}, nil
	case "arm64":
		return []arch{{audit: unix.AUDIT_ARCH_AARCH64, table: syscallsarm64}}, nil
	}
	return nil, fmt.Errorf("seccomp filters for %s: %w", runtime.GOARCH, ErrUnsupported)
}

// A call is one system call number and its rules, in the profile's order.
type call struct {
	nr    uint32
	rules []rule
}

// A rule is one way a system call can match: all of its checks hold (none: always).
type rule struct {
	checks []check
	action uint32
}

type check struct {
	arg             uint32
	op              specs.LinuxSeccompOperator
	value, valueTwo uint64
}

// compile builds the filter. Its shape, per architecture: load the call number, find
// its run of numbers that end alike by binary search (Docker's 370 allowed calls make
// about 120 runs on amd64: seven comparisons, where a list would walk hundreds, and a
// program of ~750 instructions for amd64 and i386 together, which the kernel checks
// and compiles at every container start), then try the call's rules in the profile's
// order; a call no rule matches gets the default action, an architecture the filter
// does not know is killed (libseccomp's default).
func compile(lp *specs.LinuxSeccomp) (Program, error) {
	archs, err := arches()
	if err != nil {
		return nil, err
	}
	def, err := action(lp.DefaultAction, lp.DefaultErrnoRet)
	if err != nil {
		return nil, fmt.Errorf("defaultAction: %w", err)
	}
	type named struct {
		name string
		rule rule
	}
	var rules []named
	for i, sc := range lp.Syscalls {
		act, err := action(sc.Action, sc.ErrnoRet)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		if act == def {
			continue // what happens anyway (libseccomp refuses such rules; runc skips them)
		}
		sets, err := conditions(sc.Args)
		if err != nil {
			return nil, fmt.Errorf("syscalls[%d]: %w", i, err)
		}
		for _, name := range sc.Names {
			for _, s := range sets {
				rules = append(rules, named{name, rule{checks: s, action: act}})
			}
		}
	}
	a := asm{rev: make([]unix.SockFilter, 0, 4*len(rules))}
	a.stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_KILL_PROCESS) // an unknown architecture
	unknown := a.here()
	starts := make([]int, len(archs))
	for i := len(archs) - 1; i >= 0; i-- {
		// The calls this architecture knows, each with its rules in profile order; a name
		// it lacks is skipped, as runc does.
		var calls []call
		for _, r := range rules {
			if nr, ok := lookup(archs[i].table, r.name); ok {
				calls = append(calls, call{nr: nr, rules: []rule{r.rule}})
			}
		}
		slices.SortStableFunc(calls, func(x, y call) int { return cmp.Compare(x.nr, y.nr) })
		merged := calls[:0]
		for _, c := range calls {
			if n := len(merged); n > 0 && merged[n-1].nr == c.nr {
				merged[n-1].rules = append(merged[n-1].rules, c.rules...)
			} else {
				merged = append(merged, c)
			}
		}
		root := a.tree(spans(merged, def), def)
		if archs[i].x32 {
			// x32 calls are the x86-64 numbers with bit 30 set.
			enosys := a.stmt(unix.BPF_RET|unix.BPF_K, unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS))
			a.jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, 0x40000000, enosys, root)
		}
		starts[i] = a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 0) // seccomp_data.nr
	}
	next := unknown
	for i := len(archs) - 1; i >= 0; i-- {
		next = a.jump(unix.BPF_JMP|unix.BPF_JEQ|unix.BPF_K, archs[i].audit, starts[i], next)
	}
	a.stmt(unix.BPF_LD|unix.BPF_W|unix.BPF_ABS, 4) // seccomp_data.arch
	if len(a.rev) > unix.BPF_MAXINSNS {
		return nil, fmt.Errorf("filter of %d instructions is longer than the kernel's %d", len(a.rev), unix.BPF_MAXINSNS)
	}
	out := make(Program, 0, 8*len(a.rev))
	for i := len(a.rev) - 1; i >= 0; i-- {
		f := a.rev[i]
		out = binary.NativeEndian.AppendUint16(out, f.Code)
		out = append(out, f.Jt, f.Jf)
		out = binary.NativeEndian.AppendUint32(out, f.K)
	}
	return out, nil
}

// asm assembles classic BPF backwards, from the last instruction to the first, so that
// every jump goes to an instruction already placed and its distance is known. A label
// is an instruction's index in rev; jumps too long for the 8-bit offsets of a
// conditional jump go through an unconditional one placed right after it.
type asm struct {
	rev []unix.SockFilter
}

// here is the label of the instruction placed last, the next one in program order.
func (a *asm) here() int { return len(a.rev) - 1 }

func (a *asm) stmt(code uint16, k uint32) int {
	a.rev = append(a.rev, unix.SockFilter{Code: code, K: k})
	return a.here()
}

// dist is the offset from an instruction placed now to label l.
func (a *asm) dist(l int) int { return len(a.rev) - 1 - l }

func (a *asm) jump(code uint16, k uint32, jt, jf int) int {
	if a.dist(jf) > 255 {
		jf = a.stmt(unix.BPF_JMP|unix.BPF_JA, uint32(a.dist(jf)))
	}
	if a.dist(jt) > 255 {
		jt = a.stmt(unix.BPF_JMP|unix.BPF_JA, uint32(a.dist(jt)))
		if a.dist(jf) > 255 { // moved out of reach by the line above
			jf = a.stmt(unix.BPF_JMP|unix.BPF_JA, uint32(a.dist(jf)))
		}
	}
	a.rev = append(a.rev, unix.SockFilter{Code: code, K: k, Jt: uint8(a.dist(jt)), Jf: uint8(a.dist(jf))})
	return a.here()
}

// A span is a run of call numbers, lo to hi, that all end alike: in one action, or
// (a single call with checks on its arguments) in that call's rules.
type span struct {
	lo, hi uint32
	ret    uint32 // when rules is nil
	rules  []rule
}

// spans covers every call number: the calls the profile names, each run of numbers
// with the same unconditional action merged (Docker's profile allows long runs), and
// the numbers in between given the default.
func spans(calls []call, def uint32) []span {
	var out []span
	add := func(s span) {
		if n := len(out); n > 0 && s.rules == nil && out[n-1].rules == nil && out[n-1].ret == s.ret {
			out[n-1].hi = s.hi
			return
		}
		out = append(out, s)
	}
	next := uint32(0)
	for _, c := range calls {
		if c.nr > next {
			add(span{lo: next, hi: c.nr - 1, ret: def})
		}
		s := span{lo: c.nr, hi: c.nr, rules: c.rules}
		if len(c.rules[0].checks) == 0 {
			s = span{lo: c.nr, hi: c.nr, ret: c.rules[0].action}
		}
		add(s)
		next = c.nr + 1
	}
	if next != 0 { // not wrapped around
		add(span{lo: next, hi: ^uint32(0), ret: def})
	}
	return out
}

// tree places a binary search over spans (in order, covering every number) and returns
// its first instruction. The accumulator holds the call number.
func (a *asm) tree(ss []span, def uint32) int {
	if len(ss) == 1 {
		if ss[0].rules == nil {
			return a.stmt(unix.BPF_RET|unix.BPF_K, ss[0].ret)
		}
		return a.rules(ss[0].rules, def)
	}
	mid := len(ss) / 2
	right := a.tree(ss[mid:], def)
	left := a.tree(ss[:mid], def)
	return a.jump(unix.BPF_JMP|unix.BPF_JGE|unix.BPF_K, ss[mid].lo, right, left)
}

// rules places a call's rules in order: the first whose checks all hold gives its
// action; none gives the default.
func (a *asm) rules(rs []rule, def uint32) int {
	for i, r := range rs {
		if len(r.checks) == 0 {
			rs = rs[:i+1] // the rest can never be reached
			break
		}
	}
	next := -1
	if len(rs[len(rs)-1].checks) > 0 {
		next = a.stmt(unix.BPF_RET|unix.BPF_K, def)
	}
	for i := len(rs) - 1; i >= 0; i-- {
		r := rs[i]
		ret := a.stmt(unix.BPF_RET|unix.BPF_K, r.action)
		if len(r.checks) == 0 {
			next = ret
			continue
		}
		fail := next
		ok := ret
		for j := len(r.checks) - 1; j >= 0; j-- {
			ok = a.check(r.checks[j], ok, fail)
		}
		next = ok
	}
	return next
}

// argOffsets are where the low and high 32 bits of argument i sit in seccomp_data.
func argOffsets(i uint32) (lo, hi uint32) {
	base := 16 + 8*i
	if binary.NativeEndian.Uint16([]byte{1, 0}) == 1 {
		return base, base + 4
	}
	return base + 4, base
}

// check places a 64-bit comparison of an argument, made of 32-bit ones: it jumps to
// yes when it holds, to no otherwise.
func (a *asm) check(c check, yes, no int) int {
	lo, hi := argOffsets(c.arg)
	vlo, vhi := uint32(c.value), uint32(c.value>>32)
	const (
		ld  = unix.BPF_LD | unix.BPF_W | unix.BPF_ABS
		jeq = unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K
		jgt = unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K
		jge = unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K
		and = unix.BPF_ALU | unix.BPF_AND | unix.BPF_K
	)
	// Placed backwards: the low half's test first, then the high half's.
	switch c.op {
	case specs.OpEqualTo:
		a.jump(jeq, vlo, yes, no)
		a.stmt(ld, lo)
		a.jump(jeq, vhi, a.here(), no)
	case specs.OpNotEqual:
		a.jump(jeq, vlo, no, yes)
		a.stmt(ld, lo)
		a.jump(jeq, vhi, a.here(), yes)
	case specs.OpGreaterThan, specs.OpGreaterEqual:
		op := uint16(jgt)
		if c.op == specs.OpGreaterEqual {
			op = jge
		}
		a.jump(op, vlo, yes, no)
		a.stmt(ld, lo)
		eq := a.jump(jeq, vhi, a.here(), no)
		a.jump(jgt, vhi, yes, eq)
	case specs.OpLessThan, specs.OpLessEqual:
		// arg < v is not (arg >= v); arg <= v is not (arg > v).
		op := uint16(jge)
		if c.op == specs.OpLessEqual {
			op = jgt
		}
		a.jump(op, vlo, no, yes)
		a.stmt(ld, lo)
		eq := a.jump(jeq, vhi, a.here(), yes)
		a.jump(jgt, vhi, no, eq)
	case specs.OpMaskedEqual:
		// (arg & value) == valueTwo
		a.jump(jeq, uint32(c.valueTwo), yes, no)
		a.stmt(and, vlo)
		a.stmt(ld, lo)
		a.jump(jeq, uint32(c.valueTwo>>32), a.here(), no)
		a.stmt(and, vhi)
	}
	return a.stmt(ld, hi)
}

// action is the SECCOMP_RET_* value of a profile action.
func action(act specs.LinuxSeccompAction, errnoRet *uint) (uint32, error) {
	data := uint32(unix.EPERM)
	if errnoRet != nil {
		if *errnoRet > 0xffff {
			return 0, fmt.Errorf("errnoRet %d out of range", *errnoRet)
		}
		data = uint32(*errnoRet)
	}
	switch act {
	case specs.ActAllow:
		return unix.SECCOMP_RET_ALLOW, nil
	case specs.ActErrno:
		return unix.SECCOMP_RET_ERRNO | data, nil
	case specs.ActTrace:
		return unix.SECCOMP_RET_TRACE | data, nil
	case specs.ActKill, specs.ActKillThread:
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case specs.ActKillProcess:
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case specs.ActTrap:
		return unix.SECCOMP_RET_TRAP, nil
	case specs.ActLog:
		return unix.SECCOMP_RET_LOG, nil
	case specs.ActNotify:
		return 0, fmt.Errorf("action %s: %w", act, ErrUnsupported)
	}
	return 0, fmt.Errorf("unknown action %q", act)
}

// conditions turns a rule's argument checks into sets that each must hold entirely;
// a rule without checks is one empty set. As runc does, checks of different arguments
// must all hold, while several checks of one argument are alternatives.
func conditions(args []specs.LinuxSeccompArg) ([][]check, error) {
	var cs []check
	seen := map[uint]bool{}
	repeated := false
	for _, a := range args {
		if a.Index > 5 {
			return nil, fmt.Errorf("argument index %d out of range", a.Index)
		}
		switch a.Op {
		case specs.OpNotEqual, specs.OpLessThan, specs.OpLessEqual, specs.OpEqualTo,
			specs.OpGreaterEqual, specs.OpGreaterThan, specs.OpMaskedEqual:
		default:
			return nil, fmt.Errorf("unknown operator %q", a.Op)
		}
		repeated = repeated || seen[a.Index]
		seen[a.Index] = true
		cs = append(cs, check{arg: uint32(a.Index), op: a.Op, value: a.Value, valueTwo: a.ValueTwo})
	}
	if !repeated {
		return [][]check{cs}, nil
	}
	out := make([][]check, len(cs))
	for i, c := range cs {
		out[i] = []check{c}
	}
	return out, nil
}
