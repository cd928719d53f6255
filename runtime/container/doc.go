// Package container owns container records and their directories under
// containers/<id>/: config.json (the record), upper/ and work/ (the overlay's writable
// layer, kept after exit until rm so the container can be restarted and committed),
// rootfs/ (the mount point, used only inside the container's own mount namespace),
// hostname and hosts (bind-mounted into the container), container.log and a lock file.
//
// Names are reserved as symlinks names/<name> -> <id>: creating a symlink is atomic, so
// two lab processes can never give one name to two containers. A container is running
// exactly while the lab process that started it holds the flock on its lock file; if that
// process dies, the kernel drops the lock and the record reads as exited. Whoever
// removes a container writes its last record into the lock file first, for the lab
// processes that have it open in a Watch (stop, wait, rm -f of a --rm container).
package container
