package engine_test

import (
	"archive/tar"
	"bytes"
	"context"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"lab/runtime/engine"
)

// OCI whiteouts both ways: deleting a file and replacing a directory in a container,
// then committing, must give a layer with ".wh.NAME" and "DIR/.wh..wh..opq" entries
// (overlay's own whiteout devices and opaque xattr turned into OCI form), and running
// the new image must unpack them back into overlay form: the file is gone and the
// directory holds only its new children. A further commit on top keeps that.
func TestWhiteoutRoundTrip(t *testing.T) {
	e := newStore(t)
	ctx := context.Background()
	base := buildTar(t, dir("keep/"), file("keep/a", "a\n"), file("gone", "bye"),
		dir("dir/"), file("dir/old1", "1"), file("dir/old2", "2"), dir("dir/sub/"), file("dir/sub/old3", "3"),
		dir("half/"), file("half/x", "x"), file("half/y", "y"))
	if _, err := layeredImage(t, e, "wh:base", base); err != nil {
		t.Fatal(err)
	}
	run := func(img, script string) string {
		t.Helper()
		var out bytes.Buffer
		c, err := e.Run(ctx, engine.CreateOptions{Image: img, Cmd: []string{"sh", "-c", script}},
			engine.StartOptions{IO: engine.IO{Stdout: &out, Stderr: &out}})
		if err != nil || c.State.ExitCode != 0 {
			t.Fatalf("%s in %s: %v, exit %d, output %q", script, img, err, c.State.ExitCode, out.String())
		}
		return c.ID
	}
	c1 := run("wh:base", "rm /gone && rm -rf /dir && mkdir /dir && echo new > /dir/new && rm /half/x")
	img1, err := e.Commit(ctx, c1, engine.CommitOptions{Ref: "wh:one"})
	if err != nil {
		t.Fatal(err)
	}
	names := layerNames(t, e, img1.Layers[len(img1.Layers)-1].Digest)
	for _, want := range []string{".wh.gone", "dir/.wh..wh..opq", "dir/new", "half/.wh.x"} {
		if !contains(names, want) {
			t.Errorf("committed layer lacks %s: %v", want, names)
		}
	}
	for _, bad := range []string{"dir/old1", "gone", "dir/sub/"} {
		if contains(names, bad) {
			t.Errorf("committed layer holds %s: %v", bad, names)
		}
	}
	check := func(img string) {
		t.Helper()
		out, code := runOut(t, e, img, "sh", "-c", "ls -A /dir; echo --; ls -A /half; echo --; cat /keep/a; test -e /gone || echo no-gone")
		if want := "new\n--\ny\n--\na\nno-gone\n"; code != 0 || out != want {
			t.Errorf("%s: exit %d\n%s\nwant\n%s", img, code, out, want)
		}
	}
	check("wh:one")

	c2 := run("wh:one", "echo more > /more")
	img2, err := e.Commit(ctx, c2, engine.CommitOptions{Ref: "wh:two"})
	if err != nil {
		t.Fatal(err)
	}
	if len(img2.Layers) != len(img1.Layers)+1 {
		t.Fatalf("wh:two has %d layers, wh:one %d", len(img2.Layers), len(img1.Layers))
	}
	check("wh:two")
	// The flattened export agrees with the mounted view.
	var exp bytes.Buffer
	if err := e.Export(ctx, c2, &exp); err != nil {
		t.Fatal(err)
	}
	flat := tarNames(t, &exp)
	for _, bad := range []string{"gone", "dir/old1", "dir/sub/", "half/x"} {
		if contains(flat, bad) {
			t.Errorf("export holds %s", bad)
		}
	}
	for _, c := range []string{c1, c2} {
		if _, err := e.Remove(c, false); err != nil {
			t.Fatal(err)
		}
	}
}

func layerNames(t *testing.T, e *engine.Engine, dg digest.Digest) []string {
	t.Helper()
	f, err := e.Content.Open(dg)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return tarNames(t, f)
}

func tarNames(t *testing.T, r io.Reader) []string {
	t.Helper()
	var out []string
	tr := tar.NewReader(r)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.TrimPrefix(h.Name, "./"))
	}
	sort.Strings(out)
	return out
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
