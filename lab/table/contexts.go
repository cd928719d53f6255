package table

import (
	"encoding/json"
	"sort"
	"strconv"
	"strings"
	"time"

	units "github.com/docker/go-units"
)

// The template contexts of --format: one value per row whose methods are Docker's
// placeholder names, worded as Docker's formatter words them (truncated unless
// --no-trunc), and whose JSON (`{{json .}}`, `--format json`) is Docker's object.

// createdAtLayout is how Docker's CreatedAt reads in ps and images.
const createdAtLayout = "2006-01-02 15:04:05 -0700 MST"

// PsHeaders are the column titles of ps placeholders.
var PsHeaders = map[string]string{
	"ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
	"RunningFor": "CREATED", "Ports": "PORTS", "State": "STATE", "Status": "STATUS", "Size": "SIZE",
	"Names": "NAMES", "Labels": "LABELS", "Mounts": "MOUNTS", "LocalVolumes": "LOCAL VOLUMES",
	"Networks": "NETWORKS",
}

// ImagesHeaders are the column titles of images placeholders.
var ImagesHeaders = map[string]string{
	"ID": "IMAGE ID", "Repository": "REPOSITORY", "Tag": "TAG", "Digest": "DIGEST",
	"CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "Size": "SIZE", "Containers": "CONTAINERS",
	"VirtualSize": "VIRTUAL SIZE", "SharedSize": "SHARED SIZE", "UniqueSize": "UNIQUE SIZE",
}

// HistoryHeaders are the column titles of history placeholders.
var HistoryHeaders = map[string]string{
	"ID": "IMAGE", "CreatedSince": "CREATED", "CreatedAt": "CREATED AT", "CreatedBy": "CREATED BY",
	"Size": "SIZE", "Comment": "COMMENT",
}

// PsContext is one container for a ps template.
type PsContext struct {
	c       Container
	now     time.Time
	noTrunc bool
}

// NewPsContext wraps a row for templates.
func NewPsContext(c Container, now time.Time, noTrunc bool) *PsContext {
	return &PsContext{c, nowOr(now), noTrunc}
}

func (p *PsContext) ID() string    { return shortID(p.c.ID, p.noTrunc) }
func (p *PsContext) Image() string { return psImage(p.c.Image, p.noTrunc) }
func (p *PsContext) Command() string {
	if p.noTrunc {
		return strconv.Quote(p.c.Command)
	}
	return strconv.Quote(ellipsis(p.c.Command, commandWidth))
}
func (p *PsContext) CreatedAt() string     { return p.c.Created.Local().Format(createdAtLayout) }
func (p *PsContext) RunningFor() string    { return Ago(p.now, p.c.Created) }
func (p *PsContext) Ports() string         { return "" }
func (p *PsContext) State() string         { return p.c.State }
func (p *PsContext) Status() string        { return Status(p.c, p.now) }
func (p *PsContext) Names() string         { return strings.TrimPrefix(p.c.Name, "/") }
func (p *PsContext) Labels() string        { return joinLabels(p.c.Labels) }
func (p *PsContext) Label(k string) string { return p.c.Labels[k] }
func (p *PsContext) Mounts() string        { return "" }
func (p *PsContext) LocalVolumes() string  { return "0" }
func (p *PsContext) Networks() string      { return "none" }
func (p *PsContext) Size() string {
	if p.c.Size == nil {
		return "0B"
	}
	return humanSize(*p.c.Size)
}

// MarshalJSON is Docker's `ps --format json` object.
func (p *PsContext) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]any{
		"Platform": nil, "ID": p.ID(), "Image": p.Image(), "Command": p.Command(), "CreatedAt": p.CreatedAt(),
		"RunningFor": p.RunningFor(), "Ports": p.Ports(), "State": p.State(), "Status": p.Status(),
		"Size": p.Size(), "Names": p.Names(), "Labels": p.Labels(), "Mounts": p.Mounts(),
		"LocalVolumes": p.LocalVolumes(), "Networks": p.Networks(),
	})
}

// ImageContext is one row of images for a template.
type ImageContext struct {
	i       Image
	now     time.Time
	noTrunc bool
}

// NewImageContext wraps a row for templates.
func NewImageContext(i Image, now time.Time, noTrunc bool) *ImageContext {
	return &ImageContext{i, nowOr(now), noTrunc}
}

func (c *ImageContext) ID() string           { return shortID(c.i.ID, c.noTrunc) }
func (c *ImageContext) Repository() string   { return orNone(c.i.Repository) }
func (c *ImageContext) Tag() string          { return orNone(c.i.Tag) }
func (c *ImageContext) Digest() string       { return "<none>" }
func (c *ImageContext) CreatedSince() string { return Ago(c.now, c.i.Created) }
func (c *ImageContext) CreatedAt() string    { return c.i.Created.Local().Format(createdAtLayout) }
func (c *ImageContext) Size() string         { return humanSize(c.i.Size) }
func (c *ImageContext) VirtualSize() string  { return units.HumanSize(float64(c.i.Size)) }
func (c *ImageContext) Containers() string   { return "N/A" }
func (c *ImageContext) SharedSize() string   { return "N/A" }
func (c *ImageContext) UniqueSize() string   { return "N/A" }
func (c *ImageContext) Labels() string       { return joinLabels(c.i.Labels) }

// MarshalJSON is Docker's `images --format json` object.
func (c *ImageContext) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": c.ID(), "Repository": c.Repository(), "Tag": c.Tag(), "Digest": c.Digest(),
		"CreatedSince": c.CreatedSince(), "CreatedAt": c.CreatedAt(), "Size": c.Size(),
		"VirtualSize": c.VirtualSize(), "Containers": c.Containers(), "SharedSize": c.SharedSize(),
		"UniqueSize": c.UniqueSize(),
	})
}

// HistoryContext is one row of history for a template.
type HistoryContext struct {
	h       History
	now     time.Time
	noTrunc bool
}

// NewHistoryContext wraps a row for templates.
func NewHistoryContext(h History, now time.Time, noTrunc bool) *HistoryContext {
	return &HistoryContext{h, nowOr(now), noTrunc}
}

func (c *HistoryContext) ID() string           { return shortID(c.h.ID, c.noTrunc) }
func (c *HistoryContext) CreatedSince() string { return Ago(c.now, c.h.Created) }
func (c *HistoryContext) CreatedAt() string {
	if c.h.Created.IsZero() {
		return "N/A"
	}
	return c.h.Created.Local().Format(time.RFC3339)
}
func (c *HistoryContext) CreatedBy() string {
	s := strings.ReplaceAll(c.h.CreatedBy, "\t", " ")
	if c.noTrunc {
		return s
	}
	return ellipsis(s, createdByWidth)
}
func (c *HistoryContext) Size() string    { return humanSize(c.h.Size) }
func (c *HistoryContext) Comment() string { return c.h.Comment }

// MarshalJSON is Docker's `history --format json` object.
func (c *HistoryContext) MarshalJSON() ([]byte, error) {
	return json.Marshal(map[string]string{
		"ID": c.ID(), "CreatedSince": c.CreatedSince(), "CreatedAt": c.CreatedAt(),
		"CreatedBy": c.CreatedBy(), "Size": c.Size(), "Comment": c.Comment(),
	})
}

func joinLabels(m map[string]string) string {
	var kv []string
	for k, v := range m {
		kv = append(kv, k+"="+v)
	}
	sort.Strings(kv)
	return strings.Join(kv, ",")
}
