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
		digests := map[string]string{} // repository -> manifest digest
		var order []string
		for _, rd := range img.RepoDigests {
			if r, err := reference.Parse(rd); err == nil && r.Digest != "" {
				repo := r.Repository()
				if _, ok := digests[repo]; !ok {
					order = append(order, repo)
				}
				digests[repo] = r.Digest
			}
		}
		row := func(repo, tag string) Image {
			return Image{ID: img.ID.String(), Repository: repo, Tag: tag, Created: img.Created(), Size: img.Size(), Digest: digests[repo], Labels: img.Config.Config.Labels}
		}
		shown := map[string]bool{}
		for _, t := range img.Tags {
			r, err := reference.Parse(t)
			repo, tag := t, "<none>"
			if err == nil {
				repo, tag = r.Repository(), r.Tag
			}
			shown[repo] = true
			rows = append(rows, row(repo, tag))
		}
		// Pulled by digest only: Docker lists the repository with no tag.
		for _, repo := range order {
			if !shown[repo] {
				shown[repo] = true
				rows = append(rows, row(repo, "<none>"))
			}
		}
		if len(shown) == 0 {
			rows = append(rows, row("<none>", "<none>"))
		}
	}
	return rows
}
