// Package lineage keeps where images came from: for an image committed from a
// container, that container and the image it ran; for a built image, the image its
// last stage started FROM. One small JSON record per image under $LAB_ROOT/lineage,
// named by the image ID's hex, written atomically; Docker keeps the same facts as an
// image's "parent" and "container" fields.
//
// Records are facts about history, not references: removing an image or a container
// does not change the records of others, and readers show a parent or a container
// that no longer exists as gone. A record whose own image is gone is garbage that
// fsck may remove; nothing depends on it.
package lineage
