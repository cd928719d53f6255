package lab

import (
	"context"
	"fmt"
	"text/tabwriter"
	"time"

	units "github.com/docker/go-units"
	"github.com/opencontainers/go-digest"
	"github.com/spf13/pflag"

	"lab/lab/table"
	"lab/runtime/archive"
	"lab/runtime/container"
	"lab/runtime/image"
)

// `lab system df [-v]`: Docker's disk usage summary. Image sizes count each layer
// blob once (layers are shared by content address); an image is active while a
// container uses it; a container's size is its writable layer; the build cache is
// the layer blobs only its records still name.

var systemDf = &command{usage: "[OPTIONS]", short: "Show lab disk usage",
	flags: func(fs *pflag.FlagSet) any {
		return fs.BoolP("verbose", "v", false, "Show detailed information on space usage")
	},
	run: cmdDf}

func cmdDf(ctx context.Context, a *app, args []string) error {
	if err := noArgs(a, args); err != nil {
		return err
	}
	e, err := a.engine()
	if err != nil {
		return err
	}
	imgs, err := e.Images.List()
	if err != nil {
		return err
	}
	cs, err := e.Containers.List()
	if err != nil {
		return err
	}
	used := map[string]int{} // image ID → containers
	for _, c := range cs {
		used[c.Image]++
	}
	layerUsers := map[digest.Digest]int{} // layer → images using it
	layerSize := map[digest.Digest]int64{}
	activeLayers := map[digest.Digest]bool{}
	var imgActive int
	for _, img := range imgs {
		if used[img.ID.String()] > 0 {
			imgActive++
		}
		for _, l := range img.Layers {
			layerUsers[l.Digest]++
			layerSize[l.Digest] = image.LayerSize(l)
			if used[img.ID.String()] > 0 {
				activeLayers[l.Digest] = true
			}
		}
	}
	var imgSize, imgReclaim int64
	for d, n := range layerSize {
		imgSize += n
		if !activeLayers[d] {
			imgReclaim += n
		}
	}
	sizes := map[string]int64{}
	var ctrSize, ctrReclaim int64
	ctrActive := 0
	for _, c := range cs {
		n := archive.DirSize(e.Containers.UpperDir(c.ID))
		sizes[c.ID] = n
		ctrSize += n
		if c.State.Status == container.Running {
			ctrActive++
		} else {
			ctrReclaim += n
		}
	}
	records, cacheBlobs := e.BuildCacheUsage()
	var cacheSize int64
	for d, n := range cacheBlobs {
		if layerUsers[d] == 0 {
			cacheSize += n
		}
	}
	if !*a.opts.(*bool) {
		tw := tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
		fmt.Fprintln(tw, "TYPE\tTOTAL\tACTIVE\tSIZE\tRECLAIMABLE")
		fmt.Fprintf(tw, "Images\t%d\t%d\t%s\t%s\n", len(imgs), imgActive, units.HumanSize(float64(imgSize)), withPercent(imgReclaim, imgSize))
		fmt.Fprintf(tw, "Containers\t%d\t%d\t%s\t%s\n", len(cs), ctrActive, units.HumanSize(float64(ctrSize)), withPercent(ctrReclaim, ctrSize))
		fmt.Fprintf(tw, "Local Volumes\t0\t0\t0B\t0B\n")
		fmt.Fprintf(tw, "Build Cache\t%d\t0\t%s\t%s\n", records, units.HumanSize(float64(cacheSize)), units.HumanSize(float64(cacheSize)))
		return tw.Flush()
	}
	now := time.Now()
	fmt.Fprint(a.stdout, "Images space usage:\n\n")
	tw := tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE\tSHARED SIZE\tUNIQUE SIZE\tCONTAINERS")
	byID := map[string]int64{}
	shared := map[string]int64{}
	for _, img := range imgs {
		for _, l := range img.Layers {
			if layerUsers[l.Digest] > 1 {
				shared[img.ID.String()] += image.LayerSize(l)
			}
		}
		byID[img.ID.String()] = img.Size()
	}
	for _, r := range table.FromImages(imgs) {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", r.Repository, r.Tag, r.ID[7:19], table.Ago(now, r.Created),
			units.HumanSizeWithPrecision(float64(r.Size), 3), units.HumanSize(float64(shared[r.ID])),
			units.HumanSize(float64(byID[r.ID]-shared[r.ID])), used[r.ID])
	}
	tw.Flush()
	fmt.Fprint(a.stdout, "\nContainers space usage:\n\n")
	tw = tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "CONTAINER ID\tIMAGE\tCOMMAND\tLOCAL VOLUMES\tSIZE\tCREATED\tSTATUS\tNAMES")
	for _, c := range table.FromContainers(cs) {
		p := table.NewPsContext(c, now, false)
		fmt.Fprintf(tw, "%s\t%s\t%s\t0\t%s\t%s\t%s\t%s\n", p.ID(), p.Image(), p.Command(), units.HumanSize(float64(sizes[c.ID])), p.RunningFor(), p.Status(), p.Names())
	}
	tw.Flush()
	fmt.Fprint(a.stdout, "\nLocal Volumes space usage:\n\n")
	tw = tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "VOLUME NAME\tLINKS\tSIZE")
	tw.Flush()
	fmt.Fprintf(a.stdout, "\nBuild cache usage: %s\n\n", units.HumanSize(float64(cacheSize)))
	tw = tabwriter.NewWriter(a.stdout, 10, 1, 3, ' ', 0)
	fmt.Fprintln(tw, "CACHE ID\tCACHE TYPE\tSIZE\tCREATED\tLAST USED\tUSAGE\tSHARED")
	return tw.Flush()
}

// withPercent is Docker's RECLAIMABLE cell: "1.2MB (50%)"; no percentage of nothing.
func withPercent(n, of int64) string {
	s := units.HumanSize(float64(n))
	if of > 0 {
		s += fmt.Sprintf(" (%d%%)", n*100/of)
	}
	return s
}
