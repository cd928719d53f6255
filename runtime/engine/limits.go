package engine

import (
	"fmt"

	"lab/runtime/cgroup"
	"lab/runtime/container"
	"lab/runtime/proc"
)

// Limits returns the resource limits a container was created with.
func Limits(c *container.Container) cgroup.Limits {
	return cgroup.Limits{Memory: c.Config.Memory, PidsLimit: c.Config.PidsLimit, NanoCPUs: c.Config.NanoCPUs}
}

// checkLimits refuses, at create time as Docker does, limits that are out of range or
// that this host cannot enforce.
func checkLimits(o CreateOptions) error {
	l := cgroup.Limits{Memory: o.Memory, PidsLimit: o.PidsLimit, NanoCPUs: o.NanoCPUs}
	if err := l.Validate(); err != nil {
		return err
	}
	for _, need := range []struct {
		set        bool
		controller string
		what       string
	}{
		{l.Memory > 0, "memory", "memory limit"},
		{l.PidsLimit > 0, "pids", "PIDs limit"},
		{l.NanoCPUs > 0, "cpu", "CPU CFS quota"},
	} {
		if need.set && cgroup.Version(need.controller) == "" {
			return fmt.Errorf("your kernel does not support %s capabilities (no %s cgroup controller)", need.what, need.controller)
		}
	}
	return nil
}

// limitGroup is the cgroup of one start of a container with limits; nil (no limits)
// is valid and does nothing.
type limitGroup struct{ g *cgroup.Group }

// startLimits creates the container's cgroup, if it has limits. The init joins it from
// proc.Hooks.Created, before it has read its spec, so every process of the container
// is born inside.
func (e *Engine) startLimits(c *container.Container) (*limitGroup, error) {
	l := Limits(c)
	if l.IsZero() {
		return nil, nil
	}
	g, err := cgroup.Create(c.ID, l)
	if err != nil {
		return nil, fmt.Errorf("resource limits: %w", err)
	}
	return &limitGroup{g: g}, nil
}

func (lg *limitGroup) hooks() proc.Hooks {
	if lg == nil {
		return proc.Hooks{}
	}
	return proc.Hooks{Created: lg.g.Add}
}

// oomKilled reports, after the container exited, whether the OOM killer struck.
func (lg *limitGroup) oomKilled() bool { return lg != nil && lg.g.OOMKilled() }

// remove deletes the cgroup; a failure is left for `lab fsck --repair`.
func (lg *limitGroup) remove() {
	if lg != nil {
		lg.g.Remove()
	}
}

// removeCgroups deletes what a killed lab process left of a container's cgroups.
func removeCgroups(id string) error {
	if err := cgroup.Thaw(id); err != nil {
		return err
	}
	_, err := cgroup.RemoveLeftovers(id)
	return err
}
