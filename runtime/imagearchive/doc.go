// Package imagearchive reads and writes image archives: what `docker save` writes and
// `docker load` reads, and OCI image layout archives.
//
// Save writes the format current Docker writes, which both old and new Docker load: an
// OCI image layout (oci-layout, index.json, blobs/sha256/…) with Docker's manifest.json
// and repositories beside it, pointing into blobs/. Blobs go out as stored, so the
// manifests keep their digests.
//
// Load accepts Docker 20.10's layout (<id>/layer.tar, <config>.json), Docker 25+'s, and
// plain OCI archives, gzip-compressed or not. The archive is unpacked into a temp dir
// under the store's ingest/ (safe to delete when idle), every blob is verified (blob
// names against their content, layers against the config's diff IDs) as it goes into
// the content store, and the image is named last, so a failed or interrupted load
// leaves at most unreferenced blobs.
package imagearchive
