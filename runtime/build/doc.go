// Package build builds images from Dockerfiles the way Docker's classic builder does: a
// build is run + commit in a loop on the runtime's own primitives.
//
// The Dockerfile is parsed with BuildKit's parser and instruction decoder (the
// reference grammar), then checked as a whole, so that an unknown or unsupported
// instruction is reported with its line before anything runs. Each RUN runs in a
// container of the previous step's image (engine.Create/Start) whose upper directory
// is committed as the step's layer; COPY and ADD build their layer tar directly from
// the context (filtered by .dockerignore) or from another stage, with no container;
// every other instruction only edits the image config and adds a history entry with
// empty_layer set. Every step ends with an image ID, as in the classic builder.
//
// Intermediate images are written to the content store but kept out of the index, so
// `lab images` shows what Docker shows; one is put in the index only while a RUN's
// container is made from it, and forgotten again when the build ends.
//
// The build cache lives in $ROOT/buildcache: one JSON record per (parent image, step)
// key naming the image the step made. The key of a COPY or ADD includes a checksum of
// the copied files' contents, names, modes and owners but not their mtimes; a RUN's
// includes its command and build arguments. A record is only used when every blob it
// names is still in the store.
package build
