package table

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"

	"lab/runtime/reference"
)

const (
	shortIDLen     = 12
	commandWidth   = 20 // COMMAND column of ps
	createdByWidth = 45 // CREATED BY column of history
	sizePrecision  = 3
	rowSeparator   = "   " // the tabwriter padding, used where there is no table
)

// Container is one row of `ps`.
type Container struct {
	ID                string // 64 hex
	Image             string // the reference the user gave
	Command           string // "path arg1 arg2" as Docker's API joins it
	Created           time.Time
	State             string // "created", "running", "exited" (also "paused", "restarting", "removing", "dead")
	ExitCode          int
	Started, Finished time.Time
	Name              string
	Size              *int64 // writable layer size, set only when sizes were computed
	Labels            map[string]string
}

// PsOptions are the flags of `ps` that change the table.
type PsOptions struct {
	NoTrunc, Quiet bool
	// Size adds the SIZE column, as `ps -s` does; it is also added when any
	// container carries a Size.
	Size bool
	Now  time.Time // zero means time.Now()
}

// Image is one row of `images`.
type Image struct {
	ID         string // "sha256:<64hex>"
	Repository string // "<none>" (or "") when untagged
	Tag        string // "<none>" (or "") when untagged
	Created    time.Time
	Size       int64
	Digest     string // the registry's manifest digest for Repository, "" if none
	Labels     map[string]string
}

// ImagesOptions are the flags of `images` that change the table.
type ImagesOptions struct {
	NoTrunc, Quiet bool
	Digests        bool      // a DIGEST column, as `images --digests`
	Now            time.Time // zero means time.Now()
}

// History is one row of `history`.
type History struct {
	ID        string // "<missing>" for layers that are not an image of their own
	Created   time.Time
	CreatedBy string
	Size      int64
	Comment   string
}

var (
	psHeader      = []string{"CONTAINER ID", "IMAGE", "COMMAND", "CREATED", "STATUS", "PORTS", "NAMES"}
	imagesHeader  = []string{"REPOSITORY", "TAG", "IMAGE ID", "CREATED", "SIZE"}
	historyHeader = []string{"IMAGE", "CREATED", "CREATED BY", "SIZE", "COMMENT"}
)

// Ps writes the `ps` table, or only the IDs when o.Quiet.
func Ps(w io.Writer, cs []Container, o PsOptions) error {
	if o.Quiet {
		ids := make([]string, len(cs))
		for i, c := range cs {
			ids[i] = shortID(c.ID, o.NoTrunc)
		}
		return writeLines(w, ids)
	}
	now := nowOr(o.Now)
	withSize := o.Size
	for _, c := range cs {
		withSize = withSize || c.Size != nil
	}
	header := psHeader
	if withSize {
		header = append(header[:len(header):len(header)], "SIZE")
	}
	rows := [][]string{header}
	for _, c := range cs {
		rows = append(rows, psCells(c, now, o.NoTrunc, withSize))
	}
	return writeTable(w, rows)
}

// PsRow renders one container the way its `ps` row reads, without header or
// column alignment, for places that show a single container (tostring in
// Lua).
func PsRow(c Container, o PsOptions) string {
	if o.Quiet {
		return shortID(c.ID, o.NoTrunc)
	}
	return strings.Join(psCells(c, nowOr(o.Now), o.NoTrunc, o.Size || c.Size != nil), rowSeparator)
}

func psCells(c Container, now time.Time, noTrunc, withSize bool) []string {
	command := c.Command
	if !noTrunc {
		command = ellipsis(command, commandWidth)
	}
	cells := []string{
		shortID(c.ID, noTrunc),
		psImage(c.Image, noTrunc),
		strconv.Quote(command),
		Ago(now, c.Created),
		Status(c, now),
		"",
		strings.TrimPrefix(c.Name, "/"),
	}
	if withSize {
		var size int64
		if c.Size != nil {
			size = *c.Size
		}
		cells = append(cells, humanSize(size))
	}
	return cells
}

// psImage shortens the IMAGE cell as Docker does unless --no-trunc: an image
// ID becomes its 12-hex form and a digest is dropped, while a tag is shown
// only if the user gave one.
func psImage(img string, noTrunc bool) string {
	if img == "" {
		return "<no image>"
	}
	if noTrunc {
		return img
	}
	if hex := strings.TrimPrefix(img, "sha256:"); len(hex) == 64 && reference.LooksLikeID(hex) {
		return shortID(hex, false)
	}
	r, err := reference.Parse(img)
	if err != nil {
		return img
	}
	last := img[strings.LastIndexByte(img, '/')+1:]
	last, _, _ = strings.Cut(last, "@")
	r.Digest = ""
	if !strings.Contains(last, ":") {
		return r.Repository()
	}
	return r.String()
}

// Status is the STATUS column of `ps`, worded as Docker's container state.
func Status(c Container, now time.Time) string {
	switch c.State {
	case "running":
		return "Up " + units.HumanDuration(now.Sub(c.Started))
	case "paused":
		return "Up " + units.HumanDuration(now.Sub(c.Started)) + " (Paused)"
	case "restarting":
		return fmt.Sprintf("Restarting (%d) %s ago", c.ExitCode, units.HumanDuration(now.Sub(c.Finished)))
	case "removing":
		return "Removal In Progress"
	case "dead":
		return "Dead"
	case "created":
		return "Created"
	}
	// Docker words a container that never started as "Created" whatever
	// its state, e.g. when its start failed.
	if c.Started.IsZero() {
		return "Created"
	}
	if c.Finished.IsZero() {
		return ""
	}
	return fmt.Sprintf("Exited (%d) %s ago", c.ExitCode, units.HumanDuration(now.Sub(c.Finished)))
}

// Images writes the `images` table, or only the IDs when o.Quiet (one per
// row, so an image with several tags repeats, as in Docker).
func Images(w io.Writer, imgs []Image, o ImagesOptions) error {
	if o.Quiet {
		ids := make([]string, len(imgs))
		for i, img := range imgs {
			ids[i] = shortID(img.ID, o.NoTrunc)
		}
		return writeLines(w, ids)
	}
	now := nowOr(o.Now)
	header := imagesHeader
	if o.Digests {
		header = []string{"REPOSITORY", "TAG", "DIGEST", "IMAGE ID", "CREATED", "SIZE"}
	}
	rows := [][]string{header}
	for _, img := range imgs {
		row := []string{orNone(img.Repository), orNone(img.Tag)}
		if o.Digests {
			row = append(row, orNone(img.Digest))
		}
		rows = append(rows, append(row,
			shortID(img.ID, o.NoTrunc),
			Ago(now, img.Created),
			humanSize(img.Size),
		))
	}
	return writeTable(w, rows)
}

// HistoryTable writes the `history` table.
func HistoryTable(w io.Writer, hs []History, noTrunc bool, now time.Time) error {
	now = nowOr(now)
	rows := [][]string{historyHeader}
	for _, h := range hs {
		// A tab would split the cell in two under tabwriter.
		createdBy := strings.ReplaceAll(h.CreatedBy, "\t", " ")
		if !noTrunc {
			createdBy = ellipsis(createdBy, createdByWidth)
		}
		rows = append(rows, []string{
			shortID(h.ID, noTrunc),
			Ago(now, h.Created),
			createdBy,
			humanSize(h.Size),
			h.Comment,
		})
	}
	return writeTable(w, rows)
}

// Ago words the time since t as Docker's CREATED column does ("2 minutes
// ago"). A zero t means the time is unknown and reads "N/A" rather than a
// meaningless "292 years ago".
func Ago(now, t time.Time) string {
	if t.IsZero() {
		return "N/A"
	}
	return units.HumanDuration(now.Sub(t)) + " ago"
}

// shortID is Docker's TruncateID: drop any "algorithm:" prefix and keep 12
// characters. Already short IDs and "<missing>" pass through, so callers
// may truncate first without harm.
func shortID(id string, noTrunc bool) string {
	if noTrunc {
		return id
	}
	if i := strings.IndexByte(id, ':'); i >= 0 {
		id = id[i+1:]
	}
	if len(id) > shortIDLen {
		id = id[:shortIDLen]
	}
	return id
}

// ellipsis is Docker's formatter.Ellipsis counted in runes: a longer string
// keeps width-1 runes and gains "…" so it still fits in width.
func ellipsis(s string, width int) string {
	r := []rune(s)
	if len(r) <= width {
		return s
	}
	if width < 1 {
		return ""
	}
	return string(r[:width-1]) + "…"
}

func humanSize(n int64) string {
	return units.HumanSizeWithPrecision(float64(n), sizePrecision)
}

func orNone(s string) string {
	if s == "" {
		return "<none>"
	}
	return s
}

func nowOr(t time.Time) time.Time {
	if t.IsZero() {
		return time.Now()
	}
	return t
}

// writeTable lays rows out with the tabwriter settings of Docker's
// formatter (min width 10, padding 3) so columns line up the same way.
func writeTable(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 10, 1, 3, ' ', 0)
	for _, row := range rows {
		if _, err := io.WriteString(tw, strings.Join(row, "\t")+"\n"); err != nil {
			return fmt.Errorf("write table: %w", err)
		}
	}
	if err := tw.Flush(); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}

func writeLines(w io.Writer, lines []string) error {
	var b strings.Builder
	for _, l := range lines {
		b.WriteString(l)
		b.WriteByte('\n')
	}
	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("write table: %w", err)
	}
	return nil
}
