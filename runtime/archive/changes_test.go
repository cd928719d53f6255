package archive

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestChanges(t *testing.T) {
	requireRoot(t)
	root := t.TempDir()
	upper, l1, l2 := filepath.Join(root, "upper"), filepath.Join(root, "l1"), filepath.Join(root, "l2")
	for _, d := range []string{upper, l1, l2} {
		mustT(t, os.Mkdir(d, 0o755))
	}
	in := func(dir string) func(string) string {
		return func(rel string) string { return filepath.Join(dir, rel) }
	}
	b, m, u := in(l2), in(l1), in(upper)

	// Bottom layer.
	writeT(t, b("etc/passwd"), "p")
	writeT(t, b("etc/hosts"), "h")
	writeT(t, b("usr/bin/sh"), "sh")
	writeT(t, b("var/lib/x/y"), "y")
	writeT(t, b("srv/keep"), "k")
	writeT(t, b("srv/drop"), "d")
	writeT(t, b("srv/sub/deep"), "d")
	writeT(t, b("opt/a"), "a")
	writeT(t, b("home/user/.bashrc"), "rc")
	// Middle layer: hides /opt and /srv/sub.
	whiteoutT(t, m("opt"))
	writeT(t, m("etc/passwd"), "p2")
	whiteoutT(t, m("srv/sub"))
	writeT(t, m("srv/mid"), "m")

	// Upper, as overlay leaves it after a container run.
	writeT(t, u("etc/hosts"), "h2")             // copied-up parent, changed file
	whiteoutT(t, u("etc/passwd"))               // deleted file
	writeT(t, u("newdir/sub/file"), "n")        // nested new directory
	opaqueT(t, u("var/lib/x"))                  // rm -rf + mkdir of an existing dir
	writeT(t, u("var/lib/x/z"), "z")            //
	opaqueT(t, u("opt"))                        // recreated after the lower whiteout
	writeT(t, u("opt/b"), "b")                  //
	whiteoutT(t, u("usr/bin/sh"))               // deep delete
	mustT(t, os.Mkdir(u("home"), 0o755))        //
	mustT(t, os.Mkdir(u("home/user"), 0o755))   //
	opaqueT(t, u("home/user/.bashrc"))          // file replaced by a directory
	writeT(t, u("home/user/.bashrc/inner"), "") //
	opaqueT(t, u("srv"))                        // opaque dir re-adding one child
	writeT(t, u("srv/keep"), "k2")              //
	writeT(t, u("topfile"), "t")                // new file at the root

	got, err := Changes(upper, []string{l1, l2})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		"C /etc",
		"C /etc/hosts",
		"D /etc/passwd",
		"C /home",
		"C /home/user",
		"C /home/user/.bashrc",
		"A /home/user/.bashrc/inner",
		"A /newdir",
		"A /newdir/sub",
		"A /newdir/sub/file",
		"A /opt",
		"A /opt/b",
		"C /srv",
		"D /srv/drop",
		"C /srv/keep",
		"D /srv/mid",
		"A /topfile",
		"C /usr",
		"C /usr/bin",
		"D /usr/bin/sh",
		"C /var",
		"C /var/lib",
		"C /var/lib/x",
		"D /var/lib/x/y",
		"A /var/lib/x/z",
	}
	var lines []string
	for _, c := range got {
		lines = append(lines, c.String())
	}
	if !slices.Equal(lines, want) {
		t.Errorf("Changes:\n%s", diffLines(want, lines))
		t.Logf("got %q", lines)
	}
}

func TestChangesNoLowers(t *testing.T) {
	upper := t.TempDir()
	writeT(t, filepath.Join(upper, "a/b"), "b")
	got, err := Changes(upper, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []Change{{'A', "/a"}, {'A', "/a/b"}}
	if !slices.Equal(got, want) {
		t.Errorf("Changes = %v, want %v", got, want)
	}
}
