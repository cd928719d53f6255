package engine

import (
	"time"

	"lab/runtime/container"
	"lab/runtime/image"
)

// InspectContainer is `docker inspect` of a container, with Docker's field names.
func (e *Engine) InspectContainer(c *container.Container) map[string]any {
	st := c.State
	return map[string]any{
		"Id":      c.ID,
		"Created": c.Created.Format(time.RFC3339Nano),
		"Path":    c.Path,
		"Args":    nonNil(c.Args),
		"State": map[string]any{
			"Status": st.Status, "Running": st.Running, "Paused": false, "Restarting": false,
			"OOMKilled": st.OOMKilled, "Dead": false, "Pid": st.Pid, "ExitCode": st.ExitCode,
			"Error": st.Error, "StartedAt": zeroTime(st.StartedAt), "FinishedAt": zeroTime(st.FinishedAt),
		},
		"Image":        c.Image,
		"Name":         "/" + c.Name,
		"RestartCount": 0,
		"Driver":       "overlay",
		"Platform":     "linux",
		"HostConfig": map[string]any{"AutoRemove": c.Config.AutoRemove, "NetworkMode": "none",
			"Memory": c.Config.Memory, "PidsLimit": c.Config.PidsLimit, "NanoCpus": c.Config.NanoCPUs,
			"CapAdd": c.Config.CapAdd, "CapDrop": c.Config.CapDrop, "Privileged": c.Config.Privileged,
			"SecurityOpt": c.Config.SecurityOpt},
		"GraphDriver": map[string]any{"Name": "overlay", "Data": map[string]any{
			"UpperDir": e.Containers.UpperDir(c.ID), "WorkDir": e.Containers.WorkDir(c.ID),
		}},
		"Config": map[string]any{
			"Hostname": c.Config.Hostname, "User": c.Config.User, "Tty": c.Config.Tty,
			"OpenStdin": c.Config.OpenStdin, "Env": nonNil(c.Config.Env), "Cmd": c.Config.Cmd,
			"Image": c.Config.Image, "WorkingDir": c.Config.WorkingDir, "Entrypoint": c.Config.Entrypoint,
		},
	}
}

// zeroTime prints an unset time the way Docker does.
func zeroTime(t time.Time) string {
	if t.IsZero() {
		return "0001-01-01T00:00:00Z"
	}
	return t.Format(time.RFC3339Nano)
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// InspectImage is `docker inspect` of an image, with Docker's field names.
func (e *Engine) InspectImage(img *image.Image) map[string]any {
	cfg := img.Config
	var layers []string
	for _, d := range cfg.RootFS.DiffIDs {
		layers = append(layers, d.String())
	}
	return map[string]any{
		"Id":           img.ID.String(),
		"RepoTags":     nonNil(img.Tags),
		"RepoDigests":  nonNil(img.RepoDigests),
		"Comment":      lastComment(img),
		"Created":      zeroTime(img.Created()),
		"Author":       cfg.Author,
		"Architecture": cfg.Architecture,
		"Os":           cfg.OS,
		"Size":         img.Size(),
		"Config": map[string]any{
			"Env": cfg.Config.Env, "Cmd": cfg.Config.Cmd, "Entrypoint": cfg.Config.Entrypoint,
			"WorkingDir": cfg.Config.WorkingDir, "User": cfg.Config.User, "Labels": cfg.Config.Labels,
			"ExposedPorts": cfg.Config.ExposedPorts, "Volumes": cfg.Config.Volumes, "StopSignal": cfg.Config.StopSignal,
		},
		"RootFS":   map[string]any{"Type": "layers", "Layers": nonNil(layers)},
		"Manifest": img.Manifest.Digest.String(),
	}
}

func lastComment(img *image.Image) string {
	if h := img.Config.History; len(h) > 0 {
		return h[len(h)-1].Comment
	}
	return ""
}

// HistoryEntry is one row of `docker history`, newest first.
type HistoryEntry struct {
	ID        string // the image ID on the top row, "<missing>" below, as Docker prints
	Created   time.Time
	CreatedBy string
	Size      int64
	Comment   string
	Empty     bool
}

// History lists how the image was made.
func (e *Engine) History(ref string) ([]HistoryEntry, error) {
	img, err := e.Images.Get(ref)
	if err != nil {
		return nil, err
	}
	var out []HistoryEntry
	li := 0
	for _, h := range img.Config.History {
		he := HistoryEntry{ID: "<missing>", CreatedBy: h.CreatedBy, Comment: h.Comment, Empty: h.EmptyLayer}
		if h.Created != nil {
			he.Created = *h.Created
		}
		if !h.EmptyLayer && li < len(img.Layers) {
			he.Size = img.LayerSize(li)
			li++
		}
		out = append([]HistoryEntry{he}, out...)
	}
	if len(out) > 0 {
		out[0].ID = img.ID.String()
	}
	return out, nil
}
