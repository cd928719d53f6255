package lab

import (
	"time"

	"lab/lab/table"
	"lab/runtime/engine"
)

// --format of ps, images, history and inspect: Docker's Go templates (lab/table's
// Format), with "table" and "json" as Docker reads them.

const formatUsage = "Format output using a custom template:\n'table':            Print output in table format with column headers (default)\n'table TEMPLATE':   Print output in table format using the given Go template\n'json':             Print in JSON format\n'TEMPLATE':         Print output using the given Go template"

func writePs(a *app, f *psFlags, cs []table.Container) error {
	fm, err := table.ParseFormat(f.format)
	if err != nil {
		return err
	}
	now := time.Now()
	if fm.IsDefault() {
		return table.Ps(a.stdout, cs, table.PsOptions{NoTrunc: f.noTrunc, Quiet: f.quiet, Now: now})
	}
	rows := make([]any, len(cs))
	for i, c := range cs {
		rows[i] = table.NewPsContext(c, now, f.noTrunc)
	}
	return fm.Write(a.stdout, rows, table.PsHeaders)
}

func writeImages(a *app, f *imagesFlags, imgs []table.Image) error {
	fm, err := table.ParseFormat(f.format)
	if err != nil {
		return err
	}
	now := time.Now()
	if fm.IsDefault() {
		return table.Images(a.stdout, imgs, table.ImagesOptions{NoTrunc: f.noTrunc, Quiet: f.quiet, Digests: f.digests, Now: now})
	}
	rows := make([]any, len(imgs))
	for i, img := range imgs {
		rows[i] = table.NewImageContext(img, now, f.noTrunc)
	}
	return fm.Write(a.stdout, rows, table.ImagesHeaders)
}

func writeHistory(a *app, f *imagesFlags, hs []engine.HistoryEntry) error {
	fm, err := table.ParseFormat(f.format)
	if err != nil {
		return err
	}
	now := time.Now()
	rows := make([]any, len(hs))
	for i, h := range hs {
		rows[i] = table.NewHistoryContext(table.History{ID: h.ID, Created: h.Created, CreatedBy: h.CreatedBy, Size: h.Size, Comment: h.Comment}, now, f.noTrunc)
	}
	return fm.Write(a.stdout, rows, table.HistoryHeaders)
}

type inspectFlags struct{ typ, format string }

// writeInspect runs inspect's -f template on every object; done is false when the
// default JSON array applies ("" or "json", as in Docker).
func writeInspect(a *app, objs []any) (done bool, err error) {
	format := a.opts.(*inspectFlags).format
	if format == "" || format == "json" {
		return false, nil
	}
	fm, err := table.ParseTemplate(format)
	if err != nil {
		return true, err
	}
	for _, o := range objs {
		if err := fm.Execute(a.stdout, o); err != nil {
			return true, err
		}
	}
	return true, nil
}
