package capability

import (
	"fmt"
	"slices"
	"strings"
)

// names is every capability Linux 6.x knows, indexed by number.
var names = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID",
	"CAP_KILL", "CAP_SETGID", "CAP_SETUID", "CAP_SETPCAP", "CAP_LINUX_IMMUTABLE",
	"CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST", "CAP_NET_ADMIN", "CAP_NET_RAW",
	"CAP_IPC_LOCK", "CAP_IPC_OWNER", "CAP_SYS_MODULE", "CAP_SYS_RAWIO", "CAP_SYS_CHROOT",
	"CAP_SYS_PTRACE", "CAP_SYS_PACCT", "CAP_SYS_ADMIN", "CAP_SYS_BOOT", "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE", "CAP_SYS_TIME", "CAP_SYS_TTY_CONFIG", "CAP_MKNOD", "CAP_LEASE",
	"CAP_AUDIT_WRITE", "CAP_AUDIT_CONTROL", "CAP_SETFCAP", "CAP_MAC_OVERRIDE",
	"CAP_MAC_ADMIN", "CAP_SYSLOG", "CAP_WAKE_ALARM", "CAP_BLOCK_SUSPEND", "CAP_AUDIT_READ",
	"CAP_PERFMON", "CAP_BPF", "CAP_CHECKPOINT_RESTORE",
}

// Default is Docker's default set, in Docker's order.
var Default = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
	"CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
	"CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
}

// All is every capability, for --privileged and --cap-add ALL.
func All() []string { return slices.Clone(names) }

// Normalize spells names as Docker stores them: upper case with the CAP_ prefix
// ("sys_admin" is CAP_SYS_ADMIN), "ALL" kept as is. An unknown name is an error.
func Normalize(in []string) ([]string, error) {
	var out []string
	for _, n := range in {
		n = strings.ToUpper(strings.TrimSpace(n))
		if n != "ALL" && !strings.HasPrefix(n, "CAP_") {
			n = "CAP_" + n
		}
		if n != "ALL" && !slices.Contains(names, n) {
			return nil, fmt.Errorf("unknown capability: %q", n)
		}
		if !slices.Contains(out, n) {
			out = append(out, n)
		}
	}
	return out, nil
}

// Effective is the set a container gets, as Docker computes it: every capability when
// privileged; --cap-add ALL gives all but those dropped; --cap-drop ALL keeps only those
// added; otherwise the defaults minus the dropped plus the added.
func Effective(add, drop []string, privileged bool) ([]string, error) {
	add, err := Normalize(add)
	if err != nil {
		return nil, err
	}
	drop, err = Normalize(drop)
	if err != nil {
		return nil, err
	}
	var caps []string
	switch {
	case privileged:
		return All(), nil
	case slices.Contains(add, "ALL"):
		for _, c := range names {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
	case slices.Contains(drop, "ALL"):
		caps = slices.DeleteFunc(add, func(c string) bool { return c == "ALL" })
	default:
		for _, c := range Default {
			if !slices.Contains(drop, c) {
				caps = append(caps, c)
			}
		}
		for _, c := range add {
			if !slices.Contains(caps, c) {
				caps = append(caps, c)
			}
		}
	}
	if caps == nil {
		caps = []string{}
	}
	return caps, nil
}

// Numbers maps names to the kernel's capability numbers; names must be normalized.
func Numbers(caps []string) []int {
	out := make([]int, 0, len(caps))
	for _, c := range caps {
		if i := slices.Index(names, c); i >= 0 {
			out = append(out, i)
		}
	}
	return out
}
