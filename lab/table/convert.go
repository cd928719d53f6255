package table

import (
	"lab/runtime/container"
	"lab/runtime/image"
	"lab/runtime/reference"
)

// FromContainers converts records for the table printer (shared with the Lua binding).
func FromContainers(cs []*container.Container) []Container {
	out := make([]Container, 0, len(cs))
	for _, c := range cs {
		out = append(out, FromContainer(c))
	}
	return out
}

// FromContainer converts one record for the table printer.
func FromContainer(c *container.Container) Container {
	return Container{
		ID: c.ID, Image: c.Config.Image, Command: c.Command(), Created: c.Created,
		State: c.State.Status, ExitCode: c.State.ExitCode, Started: c.State.StartedAt,
		Finished: c.State.FinishedAt, Name: c.Name,
	}
}

// FromImages turns images into table rows: one per tag, one "<none>" row for an
// untagged image, as `docker images` lists them.
func FromImages(imgs []*image.Image) []Image {
	var rows []Image
	for _, img := range imgs {
		if len(img.Tags) == 0 {
			rows = append(rows, Image{ID: img.ID.String(), Repository: "<none>", Tag: "<none>", Created: img.Created(), Size: img.Size(), Labels: img.Config.Config.Labels})
		}
		for _, t := range img.Tags {
			r, err := reference.Parse(t)
			repo, tag := t, "<none>"
			if err == nil {
				repo, tag = r.Repository(), r.Tag
			}
			rows = append(rows, Image{ID: img.ID.String(), Repository: repo, Tag: tag, Created: img.Created(), Size: img.Size(), Labels: img.Config.Config.Labels})
		}
	}
	return rows
}
