package lab_test

import (
	"regexp"
	"testing"
)

func TestTreeShowsLineage(t *testing.T) {
	root := newRoot(t)
	mustRun(t, root, "run", "--name", "maker", "busybox", "sh", "-c", "echo x > /foo")
	mustRun(t, root, "commit", "maker", "ubuntu-foo")
	mustRun(t, root, "run", "--name", "user", "ubuntu-foo", "true")
	want := regexp.MustCompile(`^busybox:latest  [0-9a-f]{12}
└── container maker  [0-9a-f]{12}  Exited \(0\) [^\n]+
    └── ubuntu-foo:latest  [0-9a-f]{12}
        └── container user  [0-9a-f]{12}  Exited \(0\) [^\n]+
$`)
	if out := mustRun(t, root, "tree"); !want.MatchString(out) {
		t.Errorf("lab tree:\n%s", out)
	}
	mustRun(t, root, "rm", "maker")
	mustRun(t, root, "rm", "user")
	mustRun(t, root, "rmi", "ubuntu-foo")
	if out := mustRun(t, root, "tree"); !regexp.MustCompile(`^busybox:latest  [0-9a-f]{12}\n$`).MatchString(out) {
		t.Errorf("after rmi:\n%s", out)
	}
	if r := labIn(t, root, "", "tree", "extra"); r.code == 0 {
		t.Errorf("lab tree extra: exit %d", r.code)
	}
}
