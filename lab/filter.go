package lab

import (
	"errors"
	"fmt"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"

	"lab/lab/table"
	"lab/runtime/container"
	"lab/runtime/engine"
	"lab/runtime/image"
	"lab/runtime/reference"
)

// --filter of ps and images, combined as Docker's daemon combines them: values of one
// key are alternatives (OR), different keys must all hold (AND). A key or value the
// verb does not know is an error worded as Docker's ("Invalid filter 'KEY'"), exit 1.

type filters map[string][]string

// parseFilters reads KEY=VALUE arguments; keys are checked against allowed.
func parseFilters(args []string, allowed ...string) (filters, error) {
	f := filters{}
	for _, arg := range args {
		k, v, _ := strings.Cut(arg, "=")
		k = strings.ToLower(strings.TrimSpace(k))
		if !slices.Contains(allowed, k) {
			return nil, fmt.Errorf("invalid filter '%s'", k)
		}
		f[k] = append(f[k], v)
	}
	return f, nil
}

// any is true when the key is absent or one of its values matches.
func (f filters) any(key string, match func(v string) bool) bool {
	vs, ok := f[key]
	if !ok {
		return true
	}
	return slices.ContainsFunc(vs, match)
}

// labelsMatch is Docker's label filter: "k" needs the label, "k=v" its value.
func labelsMatch(labels map[string]string, want string) bool {
	k, v, hasValue := strings.Cut(want, "=")
	got, ok := labels[k]
	return ok && (!hasValue || got == v)
}

var psStatuses = []string{"created", "restarting", "running", "removing", "paused", "exited", "dead"}

// filterContainers keeps the containers (newest first) that pass f. all is -a: a
// status filter lists stopped containers without it, as Docker's does.
func filterContainers(e *engine.Engine, cs []*container.Container, f filters, labels func(*container.Container) map[string]string) ([]*container.Container, error) {
	for _, s := range f["status"] {
		if !slices.Contains(psStatuses, s) {
			return nil, fmt.Errorf("invalid filter 'status=%s'", s)
		}
	}
	var codes []int
	for _, s := range f["exited"] {
		n, err := strconv.Atoi(s)
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'exited=%s': not a number", s)
		}
		codes = append(codes, n)
	}
	var names []*regexp.Regexp
	for _, s := range f["name"] {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("invalid filter 'name=%s': %v", s, err)
		}
		names = append(names, re)
	}
	// before/since name containers and bound the creation time.
	bound := func(key string) (*container.Container, error) {
		vs := f[key]
		if len(vs) == 0 {
			return nil, nil
		}
		c, err := e.Containers.Get(vs[len(vs)-1])
		if err != nil {
			return nil, err
		}
		return c, nil
	}
	before, err := bound("before")
	if err != nil {
		return nil, err
	}
	since, err := bound("since")
	if err != nil {
		return nil, err
	}
	var ancestors []*image.Image
	for _, ref := range f["ancestor"] {
		// An unknown image matches nothing, as in Docker.
		if img, err := e.Images.Get(ref); err == nil {
			ancestors = append(ancestors, img)
		}
	}
	var imgByID map[string]*image.Image
	if len(f["ancestor"]) > 0 {
		imgs, err := e.Images.List()
		if err != nil {
			return nil, err
		}
		imgByID = map[string]*image.Image{}
		for _, img := range imgs {
			imgByID[img.ID.String()] = img
		}
	}
	var out []*container.Container
	for _, c := range cs {
		ok := f.any("id", func(v string) bool { return strings.HasPrefix(c.ID, v) }) &&
			f.any("name", func(string) bool {
				return slices.ContainsFunc(names, func(re *regexp.Regexp) bool { return re.MatchString(c.Name) || re.MatchString("/"+c.Name) })
			}) &&
			f.any("label", func(v string) bool { return labelsMatch(labels(c), v) }) &&
			f.any("status", func(v string) bool { return v == c.State.Status }) &&
			(len(codes) == 0 || (c.State.Status == container.Exited && slices.Contains(codes, c.State.ExitCode))) &&
			(before == nil || c.Created.Before(before.Created)) &&
			(since == nil || c.Created.After(since.Created)) &&
			(len(f["ancestor"]) == 0 || slices.ContainsFunc(ancestors, func(anc *image.Image) bool { return descends(imgByID[c.Image], anc) }))
		if ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// descends is true when img is anc or was built on it: anc's layers and history are
// where img's begin.
func descends(img, anc *image.Image) bool {
	if img == nil {
		return false
	}
	if img.ID == anc.ID {
		return true
	}
	a, b := anc.Config.RootFS.DiffIDs, img.Config.RootFS.DiffIDs
	ha, hb := anc.Config.History, img.Config.History
	if len(a) > len(b) || len(ha) >= len(hb) || len(a) == 0 {
		return false
	}
	return slices.Equal(a, b[:len(a)])
}

// filterImages keeps the rows of images that pass f.
func filterImages(e *engine.Engine, rows []table.Image, f filters) ([]table.Image, error) {
	for _, v := range f["dangling"] {
		if _, err := strconv.ParseBool(v); err != nil {
			return nil, fmt.Errorf("invalid filter 'dangling=[%s]'", v)
		}
	}
	bound := func(key string) (*image.Image, error) {
		vs := f[key]
		if len(vs) == 0 {
			return nil, nil
		}
		return e.Images.Get(vs[len(vs)-1])
	}
	before, err := bound("before")
	if err != nil {
		return nil, err
	}
	since, err := bound("since")
	if err != nil {
		return nil, err
	}
	var out []table.Image
	for _, r := range rows {
		dangling := r.Repository == "<none>" || r.Repository == ""
		ok := f.any("dangling", func(v string) bool { b, _ := strconv.ParseBool(v); return b == dangling }) &&
			f.any("label", func(v string) bool { return labelsMatch(r.Labels, v) }) &&
			f.any("reference", func(v string) bool { return !dangling && refMatches(v, r.Repository, r.Tag) }) &&
			(before == nil || r.Created.Before(before.Created())) &&
			(since == nil || r.Created.After(since.Created()))
		if ok {
			out = append(out, r)
		}
	}
	return out, nil
}

// refMatches is Docker's reference filter: a path.Match pattern against the familiar
// name, or against name:tag when the pattern has a tag.
func refMatches(pattern, repo, tag string) bool {
	if ok, _ := path.Match(pattern, repo); ok {
		return true
	}
	ok, _ := path.Match(pattern, repo+":"+tag)
	return ok
}

// psRows lists what `ps` shows: running containers, or all with -a, -n, -l or a
// status/exited filter (as Docker's), filtered, newest first.
func psRows(e *engine.Engine, f *psFlags) ([]table.Container, error) {
	fl, err := parseFilters(f.filters, "id", "name", "label", "status", "ancestor", "exited", "before", "since")
	if err != nil {
		return nil, err
	}
	n := f.last
	if f.latest {
		n = 1
	}
	all := f.all || n > 0 || len(fl["status"]) > 0 || len(fl["exited"]) > 0
	// Without -a, only running containers are read: a ps costs the same however many
	// stopped ones the store keeps.
	list := e.Containers.List
	if !all && n < 0 {
		list = e.Containers.ListRunning
	}
	cs, err := list()
	if err != nil {
		return nil, err
	}
	labels := func(*container.Container) map[string]string { return nil }
	if len(fl["label"]) > 0 || f.format != "" {
		// A container carries its image's labels, as in Docker.
		imgs, err := e.Images.List()
		if err != nil {
			return nil, err
		}
		byID := map[string]map[string]string{}
		for _, img := range imgs {
			byID[img.ID.String()] = img.Config.Config.Labels
		}
		labels = func(c *container.Container) map[string]string { return byID[c.Image] }
	}
	cs, err = filterContainers(e, cs, fl, labels)
	if err != nil {
		return nil, err
	}
	var rows []table.Container
	var tags map[string]digest.Digest
	for _, c := range cs {
		if all || c.State.Status == container.Running {
			r := table.FromContainer(c)
			r.Labels = labels(c)
			if tags == nil {
				if tags, err = e.Images.TagIDs(); err != nil {
					tags = map[string]digest.Digest{}
				}
			}
			r.Image = imageColumn(c, tags)
			rows = append(rows, r)
		}
	}
	if n >= 0 && len(rows) > n {
		rows = rows[:n]
	}
	return rows, nil
}

// filterFlag collects --filter values, refusing one without "=" while flags are parsed
// (Docker's client does: exit 125 with the usage hint).
type filterFlag struct{ vs *[]string }

func (f filterFlag) String() string { return strings.Join(*f.vs, ",") }
func (f filterFlag) Type() string   { return "filter" }
func (f filterFlag) Set(s string) error {
	if !strings.Contains(s, "=") {
		return errors.New("bad format of filter (expected name=value)")
	}
	*f.vs = append(*f.vs, s)
	return nil
}

// imageColumn is what ps shows as a container's IMAGE, as Docker does: the reference it
// was created from while that still names its image, else the image's short ID (the
// tag was removed or moved to another image).
func imageColumn(c *container.Container, tags map[string]digest.Digest) string {
	ref := c.Config.Image
	r, err := reference.Parse(ref)
	if err != nil || reference.LooksLikeID(ref) || r.Digest != "" {
		return ref
	}
	if id, ok := tags[r.String()]; ok && id.String() == c.Image {
		return ref
	}
	return strings.TrimPrefix(c.Image, "sha256:")[:12]
}
