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
package image
