package engine

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"lab/runtime/capability"
	"lab/runtime/container"
	"lab/runtime/seccomp"
)

// security is a container's --security-opt list, understood.
type security struct {
	unconfined bool   // seccomp=unconfined
	profile    []byte // seccomp=<JSON>: a profile of the user's
	noNewPrivs bool
}

// parseSecurityOpts reads Docker's --security-opt values: seccomp=unconfined,
// seccomp=FILE.json (read here, as Docker's client does, and kept as its JSON content,
// so the container does not depend on the file later) and no-new-privileges[=BOOL].
// It returns the options as they are stored.
func parseSecurityOpts(opts []string) ([]string, security, error) {
	var out []string
	var s security
	for _, o := range opts {
		k, v, hasV := strings.Cut(o, "=")
		if !hasV {
			k, v, hasV = strings.Cut(o, ":") // the old "no-new-privileges:true" form
		}
		switch {
		case k == "no-new-privileges":
			nnp := true
			if hasV {
				b, err := strconv.ParseBool(v)
				if err != nil {
					return nil, s, fmt.Errorf("invalid --security-opt %q: no-new-privileges takes true or false", o)
				}
				nnp = b
			}
			s.noNewPrivs = nnp
			o = "no-new-privileges=" + strconv.FormatBool(nnp)
		case k == "seccomp" && v == "unconfined":
			s.unconfined, s.profile = true, nil
		case k == "seccomp" && v != "":
			body := []byte(v)
			if !bytes.HasPrefix(bytes.TrimSpace(body), []byte("{")) {
				b, err := os.ReadFile(v)
				if err != nil {
					return nil, s, fmt.Errorf("opening seccomp profile (%s) failed: %w", v, err)
				}
				body = b
			}
			s.unconfined, s.profile = false, body
			o = "seccomp=" + string(bytes.TrimSpace(body))
		default:
			return nil, s, fmt.Errorf("invalid --security-opt %q: lab knows seccomp=unconfined, seccomp=FILE.json and no-new-privileges", o)
		}
		out = append(out, o)
	}
	return out, s, nil
}

// checkSecurity validates, at create time as Docker does, the capability names and the
// security options, and compiles a user's seccomp profile once so that a bad one is
// refused before the container exists. It fills in the normalized values.
func checkSecurity(o *CreateOptions) error {
	var err error
	if o.CapAdd, err = capability.Normalize(o.CapAdd); err != nil {
		return err
	}
	if o.CapDrop, err = capability.Normalize(o.CapDrop); err != nil {
		return err
	}
	opts, s, err := parseSecurityOpts(o.SecurityOpt)
	if err != nil {
		return err
	}
	o.SecurityOpt = opts
	if s.profile != nil {
		caps, err := capability.Effective(o.CapAdd, o.CapDrop, o.Privileged)
		if err != nil {
			return err
		}
		if _, err := seccomp.Compile(s.profile, caps); err != nil {
			return fmt.Errorf("seccomp profile: %w", err)
		}
	}
	return nil
}

// confinement is what the init applies: the capabilities kept and the compiled filter.
// A privileged container gets every capability and no filter, as on Docker.
func (e *Engine) confinement(c *container.Container) (caps []int, prog []byte, nnp bool, err error) {
	names, err := capability.Effective(c.Config.CapAdd, c.Config.CapDrop, c.Config.Privileged)
	if err != nil {
		return nil, nil, false, err
	}
	_, s, err := parseSecurityOpts(c.Config.SecurityOpt)
	if err != nil {
		return nil, nil, false, err
	}
	switch {
	case c.Config.Privileged || s.unconfined:
	case s.profile != nil:
		prog, err = seccomp.Compile(s.profile, names)
	default:
		prog, err = seccomp.DefaultCached(filepath.Join(e.Root, "seccomp"), names)
	}
	if err != nil {
		return nil, nil, false, fmt.Errorf("seccomp profile: %w", err)
	}
	return capability.Numbers(names), prog, s.noNewPrivs, nil
}
