// Package seccomp owns the container's system call filter: it turns a Docker seccomp
// profile (Docker's default, from github.com/moby/profiles/seccomp, or a user's JSON
// file) into the classic BPF program that the kernel runs on every system call of the
// container, for the capabilities the container holds (Docker's default profile allows
// mount, unshare, ptrace and friends only with the capability that guards them).
//
// It compiles on the engine's side and hands over plain bytes: the container's init
// (runtime/proc) only installs them, with seccomp(2), just before it executes the
// command. The compiler is github.com/elastic/go-seccomp-bpf, pure Go, so lab stays a
// static binary without cgo and libseccomp. The compiled default filter is kept per
// process, keyed by the capability set, so a Lua script that runs a thousand
// containers compiles it once.
//
// What the compiler does not do as libseccomp does, on purpose or for now: the filter
// is for the machine's own architecture only (a 32-bit binary in an amd64 container
// gets the default action for every call, where Docker lets i386 calls through);
// SCMP_CMP_MASKED_EQ is supported for "no bit of the mask set" (all Docker's default
// profile uses) and "a single bit set"; SCMP_ACT_NOTIFY and a defaultErrnoRet other
// than EPERM are refused with an error.
package seccomp
