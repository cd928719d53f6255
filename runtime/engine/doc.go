// Package engine is the facade the CLI and the Lua binding talk to: it wires the blob
// store, images, containers and the process runner together and implements Docker's
// verbs (create, start, run, commit, diff, export, rm, rmi, tag, import, ...).
//
// State directory ($LAB_ROOT, default /var/lib/lab for root, $XDG_DATA_HOME/lab otherwise):
//
//	oci-layout                 OCI image layout marker (skopeo/umoci can read the store)
//	index.json                 the image index: one entry per tag, plus untagged images;
//	                           pulled/loaded images' entries carry their repo digests
//	                           and unpacked layer sizes as org.lab.image.* annotations
//	blobs/sha256/<hex>         layers (uncompressed tars when made here, as the registry
//	                           served them when pulled: gzip, zstd), configs, manifests;
//	                           read-only
//	ingest/                    blobs being written, archives being loaded (temp files
//	                           and load-* dirs; safe to delete when idle)
//	layers/<diffid-hex>/       each layer unpacked once, overlay form, shared read-only
//	layers/init/               mount points every container needs (/proc, /etc/hosts, ...)
//	containers/<id>/           config.json, upper/, work/, rootfs/, hostname, hosts,
//	                           container.log, lock (flocked while it runs; holds the
//	                           last record while the container is being removed); an
//	                           --rm container has only config.json, container.log and
//	                           lock on disk: the rest is on a tmpfs inside the
//	                           container (proc.Spec.Scratch)
//	names/<name> -> <id>       container name reservations
//	lock                       serialises index.json updates between lab processes
//	buildcache/<key>.json      build cache (runtime/build): parent image + step -> the
//	                           image it made, whose blobs may be in no indexed image
//	seccomp/<hex>.bpf          compiled default seccomp filters (runtime/seccomp), one per
//	                           capability set; a cache, checked and rewritten when stale
//
// Writes follow one rule: data first, then the thing that names it, each replaced
// atomically (temp + fsync + rename), so a crash leaves at worst unreferenced data.
package engine
