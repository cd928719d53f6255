// Package capability owns Linux capability names as Docker spells them: the table of
// names and numbers, Docker's default set, and how --cap-add, --cap-drop and
// --privileged change it. It makes no syscalls: the container's init applies the
// numbers it is given (runtime/proc), and the seccomp profile reads the names
// (runtime/seccomp), since Docker's default profile allows some system calls only to a
// container that holds the capability they need.
package capability
