// Package image owns images: the OCI index (index.json) that names them, their
// manifests and configs in the content store, and the unpacked layer directories under
// layers/<diffid> that every container of an image shares as overlay lower dirs.
//
// An image's ID is the digest of its config, as in Docker. index.json holds one entry
// per tag (annotation org.opencontainers.image.ref.name = "busybox:latest") and one
// entry without the annotation for an image that has no tag left, so that untagged
// ("<none>") images survive like Docker's dangling ones. The index is rewritten whole
// (temp + fsync + rename) under the store lock, and only after every blob it names has
// been committed.
//
// Pulled and loaded images keep their manifest byte for byte (so its digest stays the
// registry's) and lab's own facts about them go on their index.json entries instead:
// the repo digests they were pulled under (NAME@sha256 lookups, `images --digests`) and
// the unpacked size of each layer (SIZE, where the blob may be compressed).
package image
