// Package content owns the blob half of lab's OCI image layout: blobs/sha256/<hex>
// named by their verified digest, the ingest directory where blobs are written before
// they are committed, and the oci-layout marker.
//
// A blob becomes visible only through Writer.Commit: the data is written to an ingest
// temp file while it is hashed, fsynced, checked against the expected size and digest,
// renamed into blobs/ and the directory fsynced. A crash therefore leaves at worst an
// ingest file or an unreferenced blob, never a half-written blob under its name.
package content
