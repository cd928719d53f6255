package engine

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sys/unix"

	"lab/runtime/archive"
	"lab/runtime/cgroup"
	"lab/runtime/container"
	"lab/runtime/content"
	"lab/runtime/image"
)

// FsckOptions configure Fsck.
type FsckOptions struct {
	// Repair removes leftovers and fixes what can be fixed without losing data.
	Repair bool
	// Grace spares leftovers changed more recently than this: they may belong to an
	// import, commit or create still running in another lab process. 0 spares
	// nothing, which is right when no other lab process uses the store.
	Grace time.Duration
	// NoVerify skips re-hashing every blob (prune only wants the leftovers).
	NoVerify bool
	// Layers also checks the files of every unpacked layer an image uses against
	// its layer blob (lab fsck --layers): a file deleted or altered inside
	// layers/<id>/ would otherwise show in every container of the image unnoticed.
	Layers bool
}

// FsckReport is what Fsck found and did. Lines are complete sentences for a user.
type FsckReport struct {
	Blobs, Images, Containers, Layers int // how many were checked

	Problems  []string // damage that is still there after the run
	Repaired  []string // what Repair removed or fixed
	Leftovers []string // leftovers found but not removed (no Repair, or too recent)
	Reclaimed int64    // bytes freed by Repair
}

// OK reports whether the store is consistent (leftovers do not count: they are
// harmless by construction).
func (r *FsckReport) OK() bool { return len(r.Problems) == 0 }

// Fsck verifies the state directory: every blob hashes to its name, index.json and
// every manifest and config it names parse, no image names a missing blob, every
// container record parses and names an image, and name links agree with records. It
// finds what interrupted commands leave (ingest files, .unpack-/.rm-/.new-/.init-
// directories, temp files of atomic writes, orphan blobs and unpacked layers, stale
// name links, cgroups of containers that no longer run) and, with Repair, removes
// them. Blobs and layers are only removed under the store lock, after index.json has
// been read again, so a concurrent commit either sees its blob kept or fails cleanly.
func (e *Engine) Fsck(ctx context.Context, o FsckOptions) (*FsckReport, error) {
	f := &fsck{e: e, o: o, r: &FsckReport{}, now: time.Now()}
	if err := f.layout(); err != nil {
		return f.r, err
	}
	refs, idxErr := f.images()
	if err := f.blobs(ctx, refs); err != nil {
		return f.r, err
	}
	f.dirLeftovers(filepath.Join(e.Root, "ingest"), func(string) bool { return true })
	f.dirLeftovers(e.Root, func(n string) bool { return strings.HasPrefix(n, ".index.json.tmp-") })
	if err := f.containers(refs); err != nil {
		return f.r, err
	}
	f.names()
	if o.Layers && idxErr == nil {
		if err := f.layers(ctx, refs); err != nil {
			return f.r, err
		}
	}
	if idxErr != nil {
		// Without a readable index nothing is known to be unreferenced.
		if errors.Is(idxErr, fs.ErrNotExist) {
			return f.r, nil // reported, with what repairs it
		}
		f.problem("index.json cannot be read (%v): unreferenced blobs and layers were not collected", idxErr)
	} else if err := f.collect(ctx); err != nil {
		return f.r, err
	}
	return f.r, nil
}

type fsck struct {
	e   *Engine
	o   FsckOptions
	r   *FsckReport
	now time.Time
}

func (f *fsck) problem(format string, args ...any) {
	f.r.Problems = append(f.r.Problems, fmt.Sprintf(format, args...))
}

// refs is what index.json names.
type refs struct {
	layerBlob map[digest.Digest]digest.Digest // diff ID -> layer blob
	blobs     map[digest.Digest]bool
	diffIDs   map[digest.Digest]bool
	configs   map[digest.Digest]bool // image IDs
}

func (f *fsck) layout() error {
	p := filepath.Join(f.e.Root, "oci-layout")
	b, err := os.ReadFile(p)
	var v struct {
		Version string `json:"imageLayoutVersion"`
	}
	if err == nil && json.Unmarshal(b, &v) == nil && v.Version != "" {
		return nil
	}
	if !f.o.Repair {
		f.problem("oci-layout is missing or damaged")
		return nil
	}
	if err := content.WriteFileAtomic(p, []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644, true); err != nil {
		return err
	}
	f.r.Repaired = append(f.r.Repaired, "rewrote oci-layout")
	return nil
}

func (f *fsck) readIndex() (ocispec.Index, error) {
	var idx ocispec.Index
	b, err := os.ReadFile(filepath.Join(f.e.Root, "index.json"))
	if err != nil {
		return idx, err
	}
	if err := json.Unmarshal(b, &idx); err != nil {
		return idx, err
	}
	return idx, nil
}

// imageRefs loads what one index entry names. A damaged manifest or config makes the
// whole entry unusable; a missing layer blob only stops the image from being
// unpacked again or exported.
func (f *fsck) imageRefs(d ocispec.Descriptor, r refs) (name string, fatal error, missing []digest.Digest) {
	name = d.Annotations[ocispec.AnnotationRefName]
	if name == "" {
		name = d.Digest.String()
	}
	mb, err := f.e.Content.ReadBlob(d.Digest)
	if err != nil {
		return name, fmt.Errorf("manifest: %w", err), nil
	}
	r.blobs[d.Digest] = true
	var m ocispec.Manifest
	if err := json.Unmarshal(mb, &m); err != nil {
		return name, fmt.Errorf("manifest %s: %w", d.Digest, err), nil
	}
	cb, err := f.e.Content.ReadBlob(m.Config.Digest)
	if err != nil {
		return name, fmt.Errorf("config: %w", err), nil
	}
	r.blobs[m.Config.Digest] = true
	r.configs[m.Config.Digest] = true
	var cfg ocispec.Image
	if err := json.Unmarshal(cb, &cfg); err != nil {
		return name, fmt.Errorf("config %s: %w", m.Config.Digest, err), nil
	}
	if len(cfg.RootFS.DiffIDs) != len(m.Layers) {
		return name, fmt.Errorf("%d layers but %d diff ids", len(m.Layers), len(cfg.RootFS.DiffIDs)), nil
	}
	for i, l := range m.Layers {
		r.blobs[l.Digest] = true
		r.diffIDs[cfg.RootFS.DiffIDs[i]] = true
		r.layerBlob[cfg.RootFS.DiffIDs[i]] = l.Digest
		if !f.e.Content.Exists(l.Digest) {
			missing = append(missing, l.Digest)
		}
	}
	return name, nil, missing
}

func newRefs() refs {
	return refs{layerBlob: map[digest.Digest]digest.Digest{}, blobs: map[digest.Digest]bool{}, diffIDs: map[digest.Digest]bool{}, configs: map[digest.Digest]bool{}}
}

// images checks every index entry. With Repair, an entry whose manifest or config is
// gone is dropped from the index: it can never run again, and while listed it makes
// every `lab images` fail.
func (f *fsck) images() (refs, error) {
	r := newRefs()
	idx, err := f.readIndex()
	if errors.Is(err, fs.ErrNotExist) {
		// Lost: every blob would look unreferenced. Never collect on that basis;
		// rebuild the index from the manifests found instead.
		if !f.o.Repair {
			f.problem("index.json is missing: no image can be found ('lab fsck --repair' rebuilds it from the manifests in blobs/, untagged)")
			return r, err
		}
		found, rerr := f.e.Images.RebuildIndex()
		if rerr != nil {
			f.problem("index.json is missing and could not be rebuilt: %v", rerr)
			return r, err
		}
		f.r.Repaired = append(f.r.Repaired, fmt.Sprintf("index.json was missing: rebuilt it from the %d image manifests found in blobs/ (untagged: tag them again with 'lab tag')", len(found)))
		idx, err = f.readIndex()
	}
	if err != nil {
		return r, err
	}
	var broken []digest.Digest
	seen := map[digest.Digest]bool{}
	for _, d := range idx.Manifests {
		name, fatal, missing := f.imageRefs(d, r)
		if !seen[d.Digest] {
			seen[d.Digest] = true
			f.r.Images++
		}
		if fatal != nil {
			broken = append(broken, d.Digest)
			if !f.o.Repair {
				f.problem("image %s is damaged: %v", name, fatal)
			}
			continue
		}
		for _, l := range missing {
			f.problem("image %s: layer blob %s is missing (the image runs only while its unpacked copy exists)", name, l)
		}
	}
	if f.o.Repair && len(broken) > 0 {
		dropped, err := f.dropEntries(broken)
		if err != nil {
			return r, err
		}
		for _, n := range dropped {
			f.r.Repaired = append(f.r.Repaired, "removed damaged image "+n+" from index.json (its manifest or config is gone)")
		}
	}
	return r, nil
}

// dropEntries removes the index entries of the given manifests, re-checking each
// under the store lock (a concurrent commit may have just completed it).
func (f *fsck) dropEntries(bad []digest.Digest) ([]string, error) {
	unlock, err := content.LockFile(filepath.Join(f.e.Root, "lock"))
	if err != nil {
		return nil, err
	}
	defer unlock()
	idx, err := f.readIndex()
	if err != nil {
		return nil, err
	}
	isBad := map[digest.Digest]bool{}
	for _, d := range bad {
		isBad[d] = true
	}
	var kept []ocispec.Descriptor
	var dropped []string
	for _, d := range idx.Manifests {
		if isBad[d.Digest] {
			if name, fatal, _ := f.imageRefs(d, newRefs()); fatal != nil {
				dropped = append(dropped, name)
				continue
			}
		}
		kept = append(kept, d)
	}
	if len(dropped) == 0 {
		return nil, nil
	}
	if kept == nil {
		kept = []ocispec.Descriptor{}
	}
	idx.Manifests = kept
	b, err := json.MarshalIndent(idx, "", "  ")
	if err != nil {
		return nil, err
	}
	return dropped, content.WriteFileAtomic(filepath.Join(f.e.Root, "index.json"), b, 0o644, true)
}

// blobs re-hashes every blob. A corrupt blob is reported, not removed: an image may
// still run from its unpacked layers, and the bytes may help whoever investigates.
func (f *fsck) blobs(ctx context.Context, r refs) error {
	dir := filepath.Join(f.e.Root, "blobs", "sha256")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("fsck: %w", err)
	}
	buf := make([]byte, 256<<10)
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := ent.Name()
		d := digest.NewDigestFromEncoded(digest.SHA256, name)
		if d.Validate() != nil {
			f.leftover(filepath.Join(dir, name), "stray file in blobs/sha256")
			continue
		}
		f.r.Blobs++
		if f.o.NoVerify {
			continue
		}
		got, err := hashFile(filepath.Join(dir, name), buf)
		if err != nil {
			f.problem("blob %s cannot be read: %v", d, err)
			continue
		}
		if got != name {
			f.problem("blob %s is corrupt: its content hashes to sha256:%s", d, got)
		}
	}
	return nil
}

func hashFile(p string, buf []byte) (string, error) {
	fl, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer fl.Close()
	h := sha256.New()
	if _, err := io.CopyBuffer(h, fl, buf); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// containers checks every record and removes half-made and half-removed containers.
func (f *fsck) containers(r refs) error {
	dir := filepath.Join(f.e.Root, "containers")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("fsck: %w", err)
	}
	for _, ent := range ents {
		name := ent.Name()
		p := filepath.Join(dir, name)
		switch {
		case strings.HasPrefix(name, ".new-"):
			f.leftover(p, "half-made container")
			continue
		case strings.HasPrefix(name, ".rm-"):
			f.leftover(p, "half-removed container")
			continue
		case len(name) != 64 || !isHexString(name):
			continue
		}
		f.r.Containers++
		running := f.e.Containers.IsRunning(name)
		f.dirLeftovers(p, func(n string) bool { return strings.HasPrefix(n, ".config.json.tmp-") })
		c, err := f.e.Containers.Get(name)
		if err != nil || c.ID != name {
			// Create renames only complete directories into place, so this is damage
			// from outside lab; a record that cannot be read cannot be repaired.
			if running {
				f.problem("container %s: record cannot be read (%v), but it is running", name[:12], err)
				continue
			}
			f.leftover(p, "container directory without a readable record")
			if f.o.Repair {
				f.cgroups(name)
			}
			continue
		}
		if !running {
			f.cgroups(c.ID)
			if c.Config.AutoRemove && !c.State.StartedAt.IsZero() {
				// A --rm container that ran and is not running: the lab process
				// that would have removed it was killed.
				f.leftover(p, fmt.Sprintf("record of --rm container %s (%s), whose lab process was killed", c.ShortID(), c.Name))
				continue
			}
		}
		if img := digest.Digest(c.Image); !r.configs[img] {
			f.problem("container %s (%s) uses image %s, which is no longer in the store: it can be removed, not started", c.ShortID(), c.Name, shortDigest(img))
		}
		f.nameLink(c)
	}
	return nil
}

func shortDigest(d digest.Digest) string {
	if e := d.Encoded(); len(e) >= 12 {
		return e[:12]
	}
	return string(d)
}

func isHexString(s string) bool {
	for _, c := range s {
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// cgroups removes the cgroups a killed lab left for a container that no longer runs.
func (f *fsck) cgroups(id string) {
	left := cgroup.Leftovers(id)
	if len(left) == 0 {
		return
	}
	if !f.o.Repair {
		for _, d := range left {
			f.r.Leftovers = append(f.r.Leftovers, "cgroup "+d+" of stopped container "+id[:12])
		}
		return
	}
	removed, err := cgroup.RemoveLeftovers(id)
	if err != nil {
		f.problem("cgroup of container %s: %v", id[:12], err)
	}
	for _, d := range removed {
		f.r.Repaired = append(f.r.Repaired, "removed cgroup "+d+" of stopped container "+id[:12])
	}
}

// nameLink makes sure names/<name> names the container that the record says has it.
func (f *fsck) nameLink(c *container.Container) {
	if c.Name == "" {
		return
	}
	p := filepath.Join(f.e.Root, "names", c.Name)
	target, err := os.Readlink(p)
	switch {
	case err == nil && target == c.ID:
		return
	case err == nil:
		if _, serr := os.Stat(filepath.Join(f.e.Root, "containers", target)); serr == nil {
			f.problem("containers %s and %s are both named %q", c.ShortID(), target[:min(12, len(target))], c.Name)
			return
		}
	case !errors.Is(err, fs.ErrNotExist):
		f.problem("name %q: %v", c.Name, err)
		return
	}
	if !f.o.Repair {
		f.r.Leftovers = append(f.r.Leftovers, fmt.Sprintf("name %q of container %s is not reserved", c.Name, c.ShortID()))
		return
	}
	// Rename over whatever stale link is there: atomic, like names are made.
	tmp := p + ".tmp-" + c.ID[:12]
	os.Remove(tmp)
	if err := os.Symlink(c.ID, tmp); err != nil {
		f.problem("name %q: %v", c.Name, err)
		return
	}
	if err := os.Rename(tmp, p); err != nil {
		os.Remove(tmp)
		f.problem("name %q: %v", c.Name, err)
		return
	}
	f.r.Repaired = append(f.r.Repaired, fmt.Sprintf("restored the name %q of container %s", c.Name, c.ShortID()))
}

// names finds links to containers that no longer exist (harmless: a new container may
// take the name over) and temp links of interrupted renames.
func (f *fsck) names() {
	dir := filepath.Join(f.e.Root, "names")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, ent := range ents {
		p := filepath.Join(dir, ent.Name())
		if strings.Contains(ent.Name(), ".tmp-") {
			f.leftover(p, "temp name link")
			continue
		}
		target, err := os.Readlink(p)
		if err != nil {
			f.leftover(p, "stray file in names/")
			continue
		}
		if len(target) != 64 || !isHexString(target) {
			f.leftover(p, "name link to an invalid container id")
			continue
		}
		if _, err := os.Stat(filepath.Join(f.e.Root, "containers", target)); errors.Is(err, fs.ErrNotExist) {
			f.leftover(p, "name link to a removed container")
		}
	}
}

// dirLeftovers treats the entries of dir that match as leftovers.
func (f *fsck) dirLeftovers(dir string, match func(name string) bool) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, ent := range ents {
		if match(ent.Name()) {
			f.leftover(filepath.Join(dir, ent.Name()), "temporary file of an interrupted command")
		}
	}
}

// recent reports whether p changed within the grace period (mtime or ctime: a rename
// or chmod into place updates the ctime).
func (f *fsck) recent(p string) bool {
	if f.o.Grace <= 0 {
		return false
	}
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		return false
	}
	newest := max(st.Mtim.Nano(), st.Ctim.Nano())
	return f.now.Sub(time.Unix(0, newest)) < f.o.Grace
}

// leftover records and, with Repair, removes one leftover. Directories are renamed
// away first, so that their owner, if it is still alive, either finishes first or
// fails cleanly instead of publishing a half-deleted tree.
func (f *fsck) leftover(p, what string) {
	rel, _ := filepath.Rel(f.e.Root, p)
	line := what + ": " + rel
	if !f.o.Repair {
		f.r.Leftovers = append(f.r.Leftovers, line)
		return
	}
	if content.InUse(p) {
		f.r.Leftovers = append(f.r.Leftovers, line+" (kept: a running lab process is using it)")
		return
	}
	if f.recent(p) {
		f.r.Leftovers = append(f.r.Leftovers, line+fmt.Sprintf(" (kept: changed less than %s ago)", f.o.Grace))
		return
	}
	size := du(p)
	if err := removeAside(p); err != nil {
		f.problem("remove %s: %v", rel, err)
		return
	}
	f.r.Reclaimed += size
	f.r.Repaired = append(f.r.Repaired, "removed "+line)
}

// removeAside removes p; a directory is first renamed to a .rm- name beside it.
func removeAside(p string) error {
	fi, err := os.Lstat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !fi.IsDir() {
		if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		return nil
	}
	if !strings.HasPrefix(filepath.Base(p), ".rm-") {
		aside, err := os.MkdirTemp(filepath.Dir(p), ".rm-")
		if err != nil {
			return err
		}
		if err := os.Rename(p, filepath.Join(aside, "d")); err != nil {
			os.Remove(aside)
			if errors.Is(err, fs.ErrNotExist) {
				return nil // its owner finished or removed it first
			}
			return err
		}
		p = aside
	}
	return os.RemoveAll(p)
}

// du is the apparent size of what p holds.
func du(p string) int64 {
	var n int64
	filepath.WalkDir(p, func(_ string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		if d.Type().IsRegular() {
			if fi, err := d.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// collect removes blobs and unpacked layers no image names, and the temp dirs of
// layers. Under the store lock with index.json read again, so an image published by
// another process in the meantime keeps what it uses; a commit whose layer is
// collected before its image is published fails with "blob not found" and can be
// retried.
func (f *fsck) collect(ctx context.Context) error {
	var unlock func()
	if f.o.Repair {
		var err error
		if unlock, err = content.LockFile(filepath.Join(f.e.Root, "lock")); err != nil {
			return err
		}
		defer unlock()
	}
	r := newRefs()
	idx, err := f.readIndex()
	if err != nil {
		f.problem("index.json cannot be read: %v", err)
		return nil
	}
	for _, d := range idx.Manifests {
		f.imageRefs(d, r)
	}
	f.buildCacheRefs(r)
	ds, err := f.e.Content.Digests()
	if err != nil {
		return err
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	for _, d := range ds {
		if !r.blobs[d] {
			p, _ := f.e.Content.Path(d)
			f.leftover(p, "blob no image uses")
		}
	}
	dir := filepath.Join(f.e.Root, "layers")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if err := ctx.Err(); err != nil {
			return err
		}
		name := ent.Name()
		p := filepath.Join(dir, name)
		switch {
		case name == "init":
		case strings.HasPrefix(name, ".unpack-") || strings.HasPrefix(name, ".rm-") || strings.HasPrefix(name, ".init-"):
			f.leftover(p, "temporary layer directory")
		case len(name) == 64 && isHexString(name):
			f.r.Layers++
			if !r.diffIDs[digest.NewDigestFromEncoded(digest.SHA256, name)] {
				f.leftover(p, "unpacked layer no image uses")
			}
		}
	}
	return nil
}

// layers re-verifies every unpacked layer an image uses against its blob. A damaged
// layer directory is reported, and with Repair removed: it is unpacked again from the
// blob the next time a container needs it.
func (f *fsck) layers(ctx context.Context, r refs) error {
	ids := make([]digest.Digest, 0, len(r.layerBlob))
	for id := range r.layerBlob {
		ids = append(ids, id)
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i] < ids[j] })
	for _, id := range ids {
		dir := filepath.Join(f.e.Root, "layers", id.Encoded())
		if _, err := os.Stat(dir); err != nil {
			continue // not unpacked (yet)
		}
		b := r.layerBlob[id]
		p, err := f.e.Content.Path(b)
		if err != nil {
			continue
		}
		fl, err := os.Open(p)
		if err != nil {
			f.problem("layer %s cannot be checked: its blob is missing", shortDigest(id))
			continue
		}
		plain, done, err := image.Decompress(fl)
		var diffs []string
		if err == nil {
			diffs, err = archive.Verify(ctx, dir, plain)
			done()
		}
		fl.Close()
		if err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			f.problem("layer %s cannot be checked: %v", shortDigest(id), err)
			continue
		}
		if len(diffs) == 0 {
			continue
		}
		if len(diffs) > 5 {
			diffs = append(diffs[:5], fmt.Sprintf("and %d more", len(diffs)-5))
		}
		what := fmt.Sprintf("unpacked layer %s differs from its blob: %s", shortDigest(id), strings.Join(diffs, "; "))
		if !f.o.Repair {
			f.problem("%s (lab fsck --repair --layers unpacks it again)", what)
			continue
		}
		if f.anyRunning() {
			// A running container may have it as a lower directory of its overlay.
			f.problem("%s (not removed while containers run: stop them and repair again)", what)
			continue
		}
		if err := removeAside(dir); err != nil {
			f.problem("%s; removing it failed: %v", what, err)
			continue
		}
		f.r.Repaired = append(f.r.Repaired, what+": removed it, to be unpacked again from the blob when next used")
	}
	return nil
}

func (f *fsck) anyRunning() bool {
	cs, _ := f.e.Containers.List()
	for _, c := range cs {
		if f.e.Containers.IsRunning(c.ID) {
			return true
		}
	}
	return false
}

// buildCacheRecord is what the engine reads of runtime/build's cache records: the
// digests they keep alive. (The builder keeps its intermediate images out of
// index.json; their blobs are not leftovers.)
type buildCacheRecord struct {
	Config   digest.Digest `json:"config"`
	Manifest digest.Digest `json:"manifest"`
	Layers   []struct {
		Desc   ocispec.Descriptor `json:"desc"`
		DiffID digest.Digest      `json:"diff_id"`
	} `json:"layers"`
}

// buildCacheRecords reads every readable record of the build cache.
func (e *Engine) buildCacheRecords() []buildCacheRecord {
	paths, _ := filepath.Glob(filepath.Join(e.Root, "buildcache", "*.json"))
	var out []buildCacheRecord
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		var rec buildCacheRecord
		if json.Unmarshal(b, &rec) == nil {
			out = append(out, rec)
		}
	}
	return out
}

// BuildCacheUsage counts the build cache's records and the layer blobs they name (with
// their sizes), for `system df`, without linking the builder.
func (e *Engine) BuildCacheUsage() (int, map[digest.Digest]int64) {
	recs := e.buildCacheRecords()
	blobs := map[digest.Digest]int64{}
	for _, rec := range recs {
		for _, l := range rec.Layers {
			blobs[l.Desc.Digest] = l.Desc.Size
		}
	}
	return len(recs), blobs
}

// buildCacheRefs counts what the build cache's records name as used. (A record whose
// blobs are gone is only a cache miss; the builder checks before reuse.)
func (f *fsck) buildCacheRefs(r refs) {
	for _, rec := range f.e.buildCacheRecords() {
		r.blobs[rec.Config], r.blobs[rec.Manifest] = true, true
		r.configs[rec.Config] = true
		for _, l := range rec.Layers {
			r.blobs[l.Desc.Digest] = true
			r.diffIDs[l.DiffID] = true
		}
	}
}
