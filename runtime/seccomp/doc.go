// Package seccomp owns the container's system call filter: it turns a Docker seccomp
// profile (Docker's default, from github.com/moby/profiles/seccomp, or a user's JSON
// file) into the classic BPF program that the kernel runs on every system call of the
// container, for the capabilities the container holds (Docker's default profile allows
// mount, unshare, ptrace and friends only with the capability that guards them).
//
// It compiles on the engine's side and hands over plain bytes: the container's init
// (runtime/proc) only installs them, with seccomp(2), just before it executes the
// command. The compiler is lab's own, in pure Go, so lab stays a static binary without
// cgo and libseccomp: a binary search over runs of call numbers that end alike (about
// ten instructions run per call, where a list of Docker's 370 allowed calls would run
// hundreds), then each call's rules in the profile's order. System call numbers come
// from golang.org/x/sys (ztables.go, made by mktables.go). On amd64 the filter also covers i386 binaries, as
// Docker's does; x32 calls get ENOSYS; another architecture is killed. The test checks
// the program in golang.org/x/net/bpf's interpreter against the profile itself.
//
// Compiling Docker's profile takes about half a millisecond of CPU; the result is kept
// per process and on disk under the store, keyed by the lab executable, the kernel and
// the capability set, so a container start only reads it.
package seccomp
