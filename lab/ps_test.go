package lab_test

import (
	"regexp"
	"strings"
	"testing"
)

// Once the tag a container was made from is gone (or names another image), ps shows
// the image's short ID, as Docker does.
func TestPsAfterUntag(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "tag", "busybox", "mybox")
	mustRun(t, root, "run", "--name", "fromtag", "mybox", "true")
	image := func() string {
		for _, l := range strings.Split(mustRun(t, root, "ps", "-a", "--format", "{{.Names}} {{.Image}}"), "\n") {
			if f := strings.Fields(l); len(f) == 2 && f[0] == "fromtag" {
				return f[1]
			}
		}
		return ""
	}
	if got := image(); got != "mybox" {
		t.Fatalf("while tagged: IMAGE %q", got)
	}
	mustRun(t, root, "rmi", "mybox")
	if got := image(); !regexp.MustCompile(`^[0-9a-f]{12}$`).MatchString(got) {
		t.Fatalf("after untag: IMAGE %q, want the short image ID", got)
	}
}
