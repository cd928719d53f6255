// Package archive owns the conversion between OCI layer tar streams and
// on-disk overlayfs layer directories.
//
// Layers are stored unpacked, in the form overlayfs expects of a lower or
// upper directory: OCI whiteout files (".wh.NAME") become 0:0 character
// devices and opaque markers (".wh..wh..opq") become the
// trusted.overlay.opaque="y" xattr on their directory. Apply performs that
// conversion when unpacking a layer; WriteLayer reverses it when a
// container's upper directory is committed. WriteTree packs a plain root
// filesystem, and Changes, Lookup and WriteMerged interpret a stack of layer
// directories the way the kernel's overlay mount would, without needing the
// mount.
//
// A running container changes its upper directory while Changes, WriteLayer,
// WriteMerged and ReadFile read it, so they walk through directory file
// descriptors (see at.go): a directory swapped for a symlink mid-walk is seen as a
// symlink or fails the walk, never followed onto the host. Verify re-checks an
// unpacked layer against its tar (lab fsck --layers).
//
// Apply treats every stream as hostile: each entry is created relative to a
// directory file descriptor resolved with openat2(RESOLVE_BENEATH), so an
// entry that would land outside the layer directory fails in the kernel and is
// reported as ErrUnsafe.
//
// Reading or writing trusted.* xattrs (opaque directories), creating device
// nodes and restoring foreign ownership require root (CAP_SYS_ADMIN, CAP_MKNOD,
// CAP_CHOWN).
package archive
