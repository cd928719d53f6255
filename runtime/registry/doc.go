// Package registry moves images between lab's store and registries that speak the OCI
// distribution spec (Docker Hub included): pull, push, and the credentials of login and
// logout, kept in Docker's config.json so that `docker login` and `lab login` share
// them.
//
// The protocol (the /v2/ ping, the WWW-Authenticate bearer-token flow, basic auth,
// chunked uploads, retries on 429/5xx) is go-containerregistry's remote and authn
// packages; this package owns what lab adds around them: which scheme and CA pool a
// host gets (HTTPS with the system pool plus Docker's certs.d, plain HTTP only for
// loopback hosts, as Docker allows, or hosts named as insecure), choosing a platform
// from an index, streaming every blob through the content store's writer so that it
// is verified while it arrives and published only whole, and the order of publication
// (layers, config, manifest, then index.json) that leaves an interrupted pull as
// unreferenced blobs at worst.
//
// Blobs are stored as the registry served them (gzip, zstd or plain): the manifest's
// digest, which `images --digests` and NAME@sha256 references name, stays valid only
// if its bytes and the blobs it names are kept, and a later push sends them again
// without recompressing. Layers are unpacked once at pull time (as Docker's
// "Extracting" step), so running a pulled image never decompresses anything.
package registry
