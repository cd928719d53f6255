package engine

import (
	"sort"
	"time"

	"github.com/opencontainers/go-digest"

	"lab/runtime/container"
	"lab/runtime/image"
	"lab/runtime/lineage"
)

// TreeNode is one image or container in the store's family tree: an image's children
// are the containers made from it and the images built on it; a container's children
// are the images committed from it.
type TreeNode struct {
	Image     *image.Image         // for an image
	Container *container.Container // for a container
	// GoneContainer names the container an image was committed from when that
	// container has since been removed (the image hangs under its parent image).
	GoneContainer string
	Children      []*TreeNode
}

// Tree returns the store's images and containers as a forest: roots are the images
// with no known parent in the store, oldest first; children oldest first.
func (e *Engine) Tree() ([]*TreeNode, error) {
	imgs, err := e.Images.List()
	if err != nil {
		return nil, err
	}
	cs, err := e.Containers.List()
	if err != nil {
		return nil, err
	}
	recs, err := e.Lineage.All()
	if err != nil {
		return nil, err
	}
	byImage := map[digest.Digest]*TreeNode{}
	for _, img := range imgs {
		byImage[img.ID] = &TreeNode{Image: img}
	}
	byCtr := map[string]*TreeNode{}
	for _, c := range cs {
		n := &TreeNode{Container: c}
		byCtr[c.ID] = n
		if p := byImage[digest.Digest(c.Image)]; p != nil {
			p.Children = append(p.Children, n)
		}
	}
	rec := map[digest.Digest]lineage.Record{}
	for _, r := range recs {
		rec[r.Image] = r
	}
	var roots []*TreeNode
	for _, img := range imgs {
		n := byImage[img.ID]
		r, ok := rec[img.ID]
		switch {
		case ok && r.Container != "" && byCtr[r.Container] != nil:
			byCtr[r.Container].Children = append(byCtr[r.Container].Children, n)
		case ok && byImage[r.Parent] != nil && r.Parent != img.ID:
			if r.Container != "" {
				n.GoneContainer = r.ContainerName
				if n.GoneContainer == "" {
					n.GoneContainer = r.Container[:min(12, len(r.Container))]
				}
			}
			byImage[r.Parent].Children = append(byImage[r.Parent].Children, n)
		default:
			roots = append(roots, n)
		}
	}
	var sortAll func([]*TreeNode)
	sortAll = func(ns []*TreeNode) {
		sort.SliceStable(ns, func(i, j int) bool { return ns[i].created().Before(ns[j].created()) })
		for _, n := range ns {
			sortAll(n.Children)
		}
	}
	sortAll(roots)
	return roots, nil
}

func (n *TreeNode) created() time.Time {
	if n.Image != nil {
		return n.Image.Created()
	}
	return n.Container.Created
}
