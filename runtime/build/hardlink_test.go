package build

import (
	"os"
	"path/filepath"
	"testing"
)

// COPY keeps hard links within the copied tree as hard links, as Docker does: one
// file with two names, not two copies. A file linked only from outside the copied
// tree is copied as a plain file.
func TestCopyKeepsHardLinks(t *testing.T) {
	e := newEngine(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nCOPY tree /t/\nCOPY tree/one tree/three /files/\n",
		"tree/one":   "same data\n",
		"tree/three": "other\n",
		"outside":    "linked from outside\n",
	})
	for _, l := range [][2]string{{"tree/one", "tree/sub/two"}, {"tree/one", "tree/sub/deeper/again"}, {"outside", "tree/lonely"}} {
		os.MkdirAll(filepath.Dir(filepath.Join(dir, l[1])), 0o755)
		if err := os.Link(filepath.Join(dir, l[0]), filepath.Join(dir, l[1])); err != nil {
			t.Fatal(err)
		}
	}
	mustBuild(t, e, dir, Options{Tags: []string{"links"}})
	got := sh(t, e, "links", `cd /t && i=$(stat -c %i one) && for f in one sub/two sub/deeper/again three lonely; do
		printf '%s %s %s %s\n' $f "$(stat -c %h $f)" "$([ $(stat -c %i $f) = $i ] && echo same || echo other)" "$(cat $f)"; done
		stat -c '%h' /files/one /files/three`)
	want := `one 3 same same data
sub/two 3 same same data
sub/deeper/again 3 same same data
three 1 other other
lonely 1 other linked from outside
1
1
`
	if got != want {
		t.Errorf("copied tree:\n%s\nwant:\n%s", got, want)
	}
}
