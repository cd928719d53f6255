// Package reference owns the grammar of image references: parsing what a
// user types ("busybox", "foo/bar:1", "localhost:5000/x@sha256:…") into a
// normalised Ref, and printing a Ref back in the familiar or fully qualified
// form Docker uses.
//
// The lab never talks to a registry, yet domains are parsed and kept so that
// names read the same as in Docker and two references to different
// registries never collide in the local store. Error messages copy Docker's
// wording so transcripts match.
package reference
