package table

import (
	"fmt"
	"io"
	"strings"
	"time"

	"lab/runtime/engine"
)

// Tree prints the store's family tree (engine.Tree) as text art:
//
//	busybox:latest  d2f18e413aa5
//	├── container warm_wirth  84a0d869636b  Exited (0) 2 minutes ago
//	│   └── ubuntu-foo:latest  cad4aaf33c6c
//	└── my-apache2:latest  b1d541042bb6
func Tree(w io.Writer, roots []*engine.TreeNode, now time.Time) error {
	var b strings.Builder
	seen := map[*engine.TreeNode]bool{}
	var walk func(n *engine.TreeNode, prefix, branch string)
	walk = func(n *engine.TreeNode, prefix, branch string) {
		if seen[n] {
			return
		}
		seen[n] = true
		b.WriteString(prefix + branch + TreeLabel(n, now) + "\n")
		next := prefix
		switch branch {
		case "├── ":
			next += "│   "
		case "└── ":
			next += "    "
		}
		for i, c := range n.Children {
			br := "├── "
			if i == len(n.Children)-1 {
				br = "└── "
			}
			walk(c, next, br)
		}
	}
	for _, r := range roots {
		walk(r, "", "")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// TreeLabel is one node's line: an image's tags and short ID (and the container it was
// committed from, when that is gone), or a container's name, short ID and status.
func TreeLabel(n *engine.TreeNode, now time.Time) string {
	if n.Container != nil {
		c := FromContainer(n.Container)
		return fmt.Sprintf("container %s  %s  %s", c.Name, shortID(c.ID, false), Status(c, now))
	}
	name := "<none>"
	if len(n.Image.Tags) > 0 {
		name = strings.Join(n.Image.Tags, ", ")
	}
	s := fmt.Sprintf("%s  %s", name, n.Image.ID.Encoded()[:12])
	if n.GoneContainer != "" {
		s += "  (committed from container " + n.GoneContainer + ", since removed)"
	}
	return s
}
