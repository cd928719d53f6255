package seccomp

import (
	"errors"
	"fmt"
	"strings"
	"sync"

	profiles "github.com/moby/profiles/seccomp"
	specs "github.com/opencontainers/runtime-spec/specs-go"
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
