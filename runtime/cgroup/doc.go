// Package cgroup owns the control groups that enforce a container's resource limits
// (docker run --memory, --pids-limit, --cpus) and reports whether the kernel's OOM
// killer struck inside one.
//
// The hierarchy is detected at runtime, per host: cgroup v2 (one unified tree, the
// common case today) when a cgroup2 mount offers the controllers, otherwise cgroup v1
// (one mount per controller, as on older or hybrid hosts). A container's group lives at
// <mount>/lab/<container id> in every hierarchy it needs, next to Docker's own
// <mount>/docker, so that a crashed run can always find and remove what it left.
//
// Lifecycle: Create before the container's init runs anything, Add the init's pid from
// proc.Hooks.Created (so every process of the container is born inside the group),
// read OOMKilled after the container has exited, then Remove. A container without
// limits gets no cgroup at all, which keeps plain runs as fast as before.
//
// On v2 a group can hand controllers to its children only while it holds no
// processes itself (the real root excepted). lab enables them in the root and in lab/;
// where the root it sees is a populated group (inside a container), Create says so in
// one line rather than moving processes it does not own.
//
// The v1 paths run in `make test` on the development machine (hybrid); the v2 paths run
// in a cgroup-v2-only qemu guest, `make test-cgroup2` (scripts/vm).
//
// Freeze (freezer.go) pauses a container for a commit with a freezer group that
// exists only for the pause: v1 freezer where mounted, cgroup.freeze in the v2 tree
// otherwise.
//
// Only this package writes under /sys/fs/cgroup.
package cgroup
