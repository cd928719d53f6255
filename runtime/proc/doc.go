// Package proc owns the container process: the parent side that starts the container's
// init inside new mount, pid, uts, ipc and network namespaces, and the init side that
// mounts the root filesystem, pivots into it and executes the command as pid 1.
//
// The init is lab-init (runtime/proc/labinit, which links only this package and
// x/sys/unix), found next to the lab executable, else lab itself re-executed
// (InitBinary); either runs from a detached read-only mount of itself (CVE-2019-5736).
//
// It is the only package that makes namespace and mount syscalls. Every mount happens in
// the container's own mount namespace, so nothing is mounted on the host's side and
// nothing is left behind when a container ends, however it ends.
//
// The spec travels from parent to init as JSON on a pipe (fd 3), never in argv. The init
// reports a failure before exec as JSON on a close-on-exec pipe (fd 4): end-of-file with
// nothing written means the command is running.
package proc
