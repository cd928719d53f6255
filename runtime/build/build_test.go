package build

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"
)

// Every supported instruction once, checked in the config, the history, the files and
// a run of the result.
func TestInstructions(t *testing.T) {
	e := newEngine(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile": `# escape=\
# A comment, then the instructions.
FROM busybox
MAINTAINER someone@example.com
LABEL org.opencontainers.image.title="demo" version=1 \
      "spaced key"="a value"
ENV GREETING="hello world" \
    TARGET=lab
ENV COMBINED=${GREETING}-$TARGET
ARG FLAVOUR=plain
WORKDIR /app
WORKDIR sub
COPY hello.txt ./
COPY --chown=10:20 hello.txt /owned.txt
RUN ["/bin/sh", "-c", "echo exec form > /exec.txt"]
RUN echo "$GREETING $FLAVOUR" > shell.txt && pwd > pwd.txt
SHELL ["/bin/sh", "-ec"]
RUN id -u > /uid-root.txt
USER 1000:1000
RUN id -u > /tmp/uid.txt
EXPOSE 80 8080/tcp 53/udp
VOLUME /data /logs
STOPSIGNAL SIGQUIT
ENTRYPOINT ["/bin/echo"]
CMD ["default", "args"]
`,
		"hello.txt": "hi there\n",
	})
	res, out := mustBuild(t, e, dir, Options{Tags: []string{"demo:1"}})
	img := res.Image
	if !reflect.DeepEqual(img.Tags, []string{"demo:1"}) {
		t.Errorf("tags = %v", img.Tags)
	}
	c := img.Config.Config
	want := []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "GREETING=hello world", "TARGET=lab", "COMBINED=hello world-lab"}
	if !reflect.DeepEqual(c.Env, want) {
		t.Errorf("Env = %q, want %q", c.Env, want)
	}
	if !reflect.DeepEqual(c.Labels, map[string]string{"org.opencontainers.image.title": "demo", "version": "1", "spaced key": "a value"}) {
		t.Errorf("Labels = %q", c.Labels)
	}
	if c.WorkingDir != "/app/sub" || c.User != "1000:1000" || c.StopSignal != "SIGQUIT" || img.Config.Author != "someone@example.com" {
		t.Errorf("WorkingDir %q User %q StopSignal %q Author %q", c.WorkingDir, c.User, c.StopSignal, img.Config.Author)
	}
	if !reflect.DeepEqual(c.Entrypoint, []string{"/bin/echo"}) || !reflect.DeepEqual(c.Cmd, []string{"default", "args"}) {
		t.Errorf("Entrypoint %q Cmd %q", c.Entrypoint, c.Cmd)
	}
	ports := map[string]struct{}{"80/tcp": {}, "8080/tcp": {}, "53/udp": {}}
	if !reflect.DeepEqual(c.ExposedPorts, ports) {
		t.Errorf("ExposedPorts = %v", c.ExposedPorts)
	}
	if !reflect.DeepEqual(c.Volumes, map[string]struct{}{"/data": {}, "/logs": {}}) {
		t.Errorf("Volumes = %v", c.Volumes)
	}
	// History: one entry per instruction after FROM, on top of busybox's one; only the
	// filesystem-changing ones have a layer.
	h := img.Config.History[1:]
	if len(h) != 20 {
		t.Fatalf("%d history entries after the base, want 20:\n%+v", len(h), h)
	}
	var layered []string
	for _, x := range h {
		if !x.EmptyLayer {
			layered = append(layered, x.CreatedBy)
		}
	}
	// Two WORKDIRs that create their directory, two COPYs, four RUNs.
	if len(layered) != len(img.Layers)-1 || len(layered) != 8 {
		t.Errorf("%d layers for %d non-empty history entries, want 8:\n%s", len(img.Layers)-1, len(layered), strings.Join(layered, "\n"))
	}
	if got := h[len(h)-1].CreatedBy; got != `/bin/sh -c #(nop)  CMD ["default" "args"]` {
		t.Errorf("last history entry %q", got)
	}
	if got := h[10].CreatedBy; got != `|1 FLAVOUR=plain /bin/sh -c echo "$GREETING $FLAVOUR" > shell.txt && pwd > pwd.txt` {
		t.Errorf("RUN history entry %q", got)
	}
	files := sh(t, e, "demo:1", "cd /app/sub && cat hello.txt shell.txt pwd.txt /exec.txt /uid-root.txt /tmp/uid.txt && stat -c '%u:%g %a' /owned.txt hello.txt")
	wantFiles := "hi there\nhello world plain\n/app/sub\nexec form\n0\n1000\n10:20 644\n0:0 644\n"
	if files != wantFiles {
		t.Errorf("files:\n%s\nwant:\n%s", files, wantFiles)
	}
	if got, _ := runIn(t, e, "demo:1"); got != "default args\n" {
		t.Errorf("running the image printed %q", got)
	}
	if got, _ := runIn(t, e, "demo:1", "override"); got != "override\n" {
		t.Errorf("running with a command printed %q", got)
	}
	for _, s := range []string{"Step 1/21 : FROM busybox\n", "Step 21/21 : CMD [\"default\", \"args\"]\n", " ---> Running in ", "Removing intermediate container ",
		"Successfully built " + img.ID.Encoded()[:12] + "\n", "Successfully tagged demo:1\n"} {
		if !strings.Contains(out, s) {
			t.Errorf("output lacks %q:\n%s", s, out)
		}
	}
	if indexCount(t, e) != 2 {
		t.Errorf("the index should hold busybox and the result only, not intermediate images")
	}
}

// The cache: an unchanged rebuild does no work and gives the same image; touching a
// file does not invalidate it; changing a copied file invalidates that step and the
// ones after it only; --no-cache rebuilds everything.
func TestCache(t *testing.T) {
	e := newEngine(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile": "FROM busybox\nENV A=1\nCOPY one.txt /one.txt\nRUN echo ran >> /ran.txt\nCOPY two.txt /two.txt\nRUN cat /one.txt /two.txt > /both.txt\nCMD [\"cat\", \"/both.txt\"]\n",
		"one.txt":    "one\n",
		"two.txt":    "two\n",
	})
	first, _ := mustBuild(t, e, dir, Options{Tags: []string{"c"}})
	if got := strings.Join(cached(first), " "); got != "- miss miss miss miss miss miss" {
		t.Fatalf("first build: %s", got)
	}
	containersBefore := countContainerDirs(t, e.Root)
	second, out := mustBuild(t, e, dir, Options{Tags: []string{"c"}})
	if got := strings.Join(cached(second), " "); got != "- hit hit hit hit hit hit" {
		t.Fatalf("unchanged rebuild: %s\n%s", got, out)
	}
	if second.Image.ID != first.Image.ID {
		t.Fatalf("unchanged rebuild gave %s, first build %s", second.Image.ID, first.Image.ID)
	}
	if strings.Contains(out, "Running in") || strings.Count(out, " ---> Using cache\n") != 6 {
		t.Errorf("a cached rebuild must run nothing:\n%s", out)
	}
	if n := countContainerDirs(t, e.Root); n != containersBefore {
		t.Errorf("a cached rebuild created containers")
	}

	// Only the mtime changes: still the cache.
	later := time.Now().Add(time.Hour)
	os.Chtimes(filepath.Join(dir, "two.txt"), later, later)
	r, _ := mustBuild(t, e, dir, Options{})
	if got := strings.Join(cached(r), " "); got != "- hit hit hit hit hit hit" {
		t.Errorf("after touching two.txt: %s", got)
	}

	// Changing two.txt invalidates its COPY and what follows, not what precedes.
	os.WriteFile(filepath.Join(dir, "two.txt"), []byte("TWO\n"), 0o644)
	r, _ = mustBuild(t, e, dir, Options{Tags: []string{"c"}})
	if got := strings.Join(cached(r), " "); got != "- hit hit hit miss miss miss" {
		t.Errorf("after editing two.txt: %s", got)
	}
	if got, _ := runIn(t, e, "c"); got != "one\nTWO\n" {
		t.Errorf("the rebuilt image prints %q", got)
	}
	if got := sh(t, e, "c", "cat /ran.txt"); got != "ran\n" {
		t.Errorf("the cached RUN must not have run again: %q", got)
	}
	// Changing it back finds the first build's steps again.
	os.WriteFile(filepath.Join(dir, "two.txt"), []byte("two\n"), 0o644)
	r, _ = mustBuild(t, e, dir, Options{})
	if r.Image.ID != first.Image.ID || r.Hits() != 6 {
		t.Errorf("restoring two.txt should reuse the first build: %s (hits %d)", r.Image.ID, r.Hits())
	}
	// A mode change is a content change for the cache.
	os.Chmod(filepath.Join(dir, "one.txt"), 0o600)
	r, _ = mustBuild(t, e, dir, Options{})
	if got := strings.Join(cached(r), " "); got != "- hit miss miss miss miss miss" {
		t.Errorf("after chmod one.txt: %s", got)
	}

	// --no-cache runs every step, and the RUN again.
	r, out = mustBuild(t, e, dir, Options{NoCache: true, Tags: []string{"c"}})
	if r.Hits() != 0 || strings.Count(out, "Running in") != 2 {
		t.Errorf("--no-cache used the cache:\n%s", out)
	}
	if got := sh(t, e, "c", "cat /ran.txt"); got != "ran\n" {
		t.Errorf("ran.txt = %q", got)
	}

	// A cached result whose blobs are gone is not used: once every image but busybox
	// is removed, their layers are freed, and the next build redoes the steps that
	// made layers (the ENV step's result has none, so it is still whole).
	imgs, _ := e.Images.List()
	for _, img := range imgs {
		if len(img.Tags) == 0 || img.Tags[0] != "busybox:latest" {
			if _, err := e.RemoveImage(img.ID.String(), true); err != nil {
				t.Fatal(err)
			}
		}
	}
	r, out = mustBuild(t, e, dir, Options{})
	if strings.Join(cached(r), " ") != "- hit miss miss miss miss miss" {
		t.Errorf("after rmi: %s\n%s", strings.Join(cached(r), " "), out)
	}
	if got, _ := runIn(t, e, r.Image.ID.String()); got != "one\ntwo\n" {
		t.Errorf("the image rebuilt after rmi prints %q", got)
	}
}

func countContainerDirs(t *testing.T, root string) int {
	ents, _ := os.ReadDir(filepath.Join(root, "containers"))
	return len(ents)
}

// Build arguments: defaults, --build-arg, global ARGs in FROM and inherited by a stage,
// ENV winning over ARG, arguments in RUN's environment but not in the image.
func TestBuildArgs(t *testing.T) {
	e := newEngine(t)
	df := `ARG BASE=busybox
ARG GLOBAL=global-default
FROM ${BASE}
ARG GLOBAL
ARG WHO=world
ARG SHADOWED=from-arg
ENV SHADOWED=from-env
RUN echo "$WHO $GLOBAL $SHADOWED" > /args.txt && env | grep -c '^WHO=' > /inenv.txt
LABEL who=$WHO
`
	dir := writeTree(t, map[string]string{"Dockerfile": df})
	r, out := mustBuild(t, e, dir, Options{Tags: []string{"a"}})
	if got := sh(t, e, "a", "cat /args.txt /inenv.txt; env | grep -c WHO || true"); got != "world global-default from-env\n1\n0\n" {
		t.Errorf("defaults: %q", got)
	}
	if r.Image.Config.Config.Labels["who"] != "world" {
		t.Errorf("label = %q", r.Image.Config.Config.Labels["who"])
	}
	r, out = mustBuild(t, e, dir, Options{Tags: []string{"a"}, BuildArgs: map[string]string{"WHO": "lab", "GLOBAL": "g", "NOBODY": "x"}})
	if got := sh(t, e, "a", "cat /args.txt"); got != "lab g from-env\n" {
		t.Errorf("with --build-arg: %q", got)
	}
	if !reflect.DeepEqual(r.Unused, []string{"NOBODY"}) || !strings.Contains(out, "[Warning] One or more build-args [NOBODY] were not consumed") {
		t.Errorf("unused = %v\n%s", r.Unused, out)
	}
	// A different argument value is a different RUN for the cache.
	// ARG steps only declare: their results do not depend on the values, the steps
	// that use them do.
	if got := strings.Join(cached(r), " "); got != "- - - hit hit hit hit miss miss" {
		t.Errorf("cache with new args: %s", got)
	}
	r, _ = mustBuild(t, e, dir, Options{BuildArgs: map[string]string{"WHO": "lab", "GLOBAL": "g"}})
	if r.Hits() != 6 {
		t.Errorf("same args again should hit: %v", cached(r))
	}
}

// .dockerignore: excluded files are not in the context, exceptions bring files back,
// and naming an excluded file is "not found".
func TestDockerignore(t *testing.T) {
	e := newEngine(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile":      "FROM busybox\nCOPY . /ctx/\n",
		".dockerignore":   "# comment\n*.log\nsecrets/\nbuild\n!build/keep.txt\nDockerfile\n",
		"app.txt":         "app\n",
		"debug.log":       "log\n",
		"sub/deep.log":    "deep log: only top-level *.log is ignored\n",
		"secrets/key":     "key\n",
		"build/out.o":     "obj\n",
		"build/keep.txt":  "keep\n",
		"empty/":          "",
		".hidden":         "hidden\n",
		"sub/nested/a.md": "a\n",
	})
	mustBuild(t, e, dir, Options{Tags: []string{"ign"}})
	got := sh(t, e, "ign", "cd /ctx && find . | sort")
	want := ".\n./.dockerignore\n./.hidden\n./app.txt\n./build\n./build/keep.txt\n./empty\n./sub\n./sub/deep.log\n./sub/nested\n./sub/nested/a.md\n"
	if got != want {
		t.Errorf("copied context:\n%s\nwant:\n%s", got, want)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nCOPY debug.log /\n"), 0o644)
	_, out, err := doBuild(t, e, dir, Options{})
	var be *Error
	if !errors.As(err, &be) || be.Line != 2 || !strings.Contains(err.Error(), "file not found in build context or excluded by .dockerignore") {
		t.Errorf("copying an ignored file: %v\n%s", err, out)
	}
}

// Multi-stage builds: COPY --from by name and by index, FROM an earlier stage,
// --target, and stages the target does not need are not built.
func TestMultiStage(t *testing.T) {
	e := newEngine(t)
	dir := writeTree(t, map[string]string{
		"Dockerfile": `FROM busybox AS build
RUN mkdir /out && echo built > /out/artifact
FROM busybox AS unused
RUN echo this stage is not needed > /never
FROM build AS extended
RUN echo more >> /out/artifact
FROM busybox
COPY --from=build /out/artifact /from-name
COPY --from=0 /out /from-index/
COPY --from=extended /out/artifact /from-extended
CMD ["cat", "/from-name", "/from-index/artifact", "/from-extended"]
`})
	r, out := mustBuild(t, e, dir, Options{Tags: []string{"ms"}})
	if got, _ := runIn(t, e, "ms"); got != "built\nbuilt\nbuilt\nmore\n" {
		t.Errorf("result prints %q", got)
	}
	if strings.Contains(out, "not needed") || len(r.Steps) != 9 || !strings.Contains(out, "Step 9/9") {
		t.Errorf("the unused stage must be skipped (%d steps):\n%s", len(r.Steps), out)
	}
	if len(r.Image.Layers) != 4 {
		t.Errorf("final image has %d layers, want busybox + 3 COPY", len(r.Image.Layers))
	}
	if indexCount(t, e) != 2 {
		t.Errorf("intermediate stages must not stay in the index")
	}
	r, out = mustBuild(t, e, dir, Options{Target: "unused", Tags: []string{"u"}})
	if got := sh(t, e, "u", "cat /never"); got != "this stage is not needed\n" || len(r.Steps) != 2 {
		t.Errorf("--target unused: %q, %d steps\n%s", got, len(r.Steps), out)
	}
	_, _, err := doBuild(t, e, dir, Options{Target: "nope"})
	if err == nil || !strings.Contains(err.Error(), `target stage "nope" could not be found`) {
		t.Errorf("unknown target: %v", err)
	}
}

// A failing RUN stops the build with Docker's message and the command's code, leaves
// no container, no tag and no intermediate image in the index; the steps before it are
// cached for the next try.
func TestFailure(t *testing.T) {
	e := newEngine(t)
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM busybox\nRUN echo before > /b\nRUN echo out; echo err >&2; exit 3\nRUN echo after\n"})
	before := indexCount(t, e)
	r, out, err := doBuild(t, e, dir, Options{Tags: []string{"broken"}})
	var re *RunError
	if !errors.As(err, &re) || re.Code != 3 || err.Error() != "The command '/bin/sh -c echo out; echo err >&2; exit 3' returned a non-zero code: 3" {
		t.Fatalf("err = %v", err)
	}
	if re.Output != "out\nerr\n" && re.Output != "err\nout\n" {
		t.Errorf("failure output %q", re.Output)
	}
	if !strings.Contains(out, "out\n") || strings.Contains(out, "Successfully") || strings.Contains(out, "Step 4/4") {
		t.Errorf("output:\n%s", out)
	}
	if _, err := e.Images.Get("broken"); err == nil {
		t.Errorf("a failed build must not tag")
	}
	if n := indexCount(t, e); n != before {
		t.Errorf("index holds %d images after a failed build, had %d", n, before)
	}
	if countContainerDirs(t, e.Root) != 0 {
		t.Errorf("container directories left behind")
	}
	if len(r.Steps) != 3 || r.Steps[2].Container == "" {
		t.Errorf("steps %+v", r.Steps)
	}
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN echo before > /b\nRUN true\n"), 0o644)
	r, _ = mustBuild(t, e, dir, Options{})
	if got := strings.Join(cached(r), " "); got != "- hit miss" {
		t.Errorf("retry: %s", got)
	}
	// A command that cannot be found fails like Docker's: 127.
	os.WriteFile(filepath.Join(dir, "Dockerfile"), []byte("FROM busybox\nRUN [\"/no/such/thing\"]\n"), 0o644)
	_, _, err = doBuild(t, e, dir, Options{})
	if !errors.As(err, &re) || re.Code != 127 {
		t.Errorf("missing command: %v", err)
	}
}

// Bad input is one error naming the Dockerfile line, found before anything runs.
func TestErrors(t *testing.T) {
	e := newEngine(t)
	cases := []struct {
		name, df string
		line     int
		msg      string
	}{
		{"unknown instruction", "FROM busybox\nRUN true\nFOO bar\n", 3, "unknown instruction: FOO"},
		{"onbuild", "FROM busybox\nRUN true\nONBUILD RUN true\n", 3, "ONBUILD is not supported"},
		{"healthcheck", "FROM busybox\nHEALTHCHECK CMD true\n", 2, "HEALTHCHECK is not supported"},
		{"run mount", "FROM busybox\nRUN --mount=type=cache,target=/c true\n", 2, "RUN --mount is not supported"},
		{"heredoc", "FROM busybox\nRUN <<EOF\necho hi\nEOF\n", 2, "heredoc"},
		{"add url", "FROM busybox\nRUN true\nADD https://example.com/x /x\n", 3, "ADD from a URL is not supported"},
		{"missing image", "FROM busybox\nRUN true\nFROM nosuchimage:1\n", 3, "FROM nosuchimage:1: no such image"},
		{"missing from", "FROM busybox\nRUN true\nCOPY --from=nowhere /a /b\n", 3, "COPY --from=nowhere: no stage or image"},
		{"later stage index", "FROM busybox\nCOPY --from=1 /a /b\nFROM busybox\n", 2, "no earlier stage 1"},
		{"no from", "RUN true\n", 1, "no build stage in current context"},
		{"bad flag", "FROM busybox\nRUN true\nCOPY --nope=1 a b\n", 3, "unknown flag: --nope"},
		{"empty", "# nothing\n", 0, "file with no instructions"},
		{"directive twice", "# escape=`\n# escape=\\\nFROM busybox\n", 2, "only one escape parser directive"},
		{"bad platform", "FROM --platform=linux/s390x busybox\n", 1, "lab builds for this host only"},
		{"bad escape", "# escape=x\nFROM busybox\n", 1, "invalid escape token"},
		// These fail when their step runs: the steps before them do run.
		{"missing source", "FROM busybox\nCOPY nope.txt /x\n", 2, "COPY failed: file not found in build context or excluded by .dockerignore: stat nope.txt: file does not exist"},
		{"many to file", "FROM busybox\nCOPY a.txt b.txt /dest\n", 2, "the destination must be a directory and end with a /"},
		{"bad chown", "FROM busybox\nCOPY --chown=nosuchuser a.txt /x\n", 2, "unable to find user nosuchuser: no matching entries in passwd file"},
		{"bad expose", "FROM busybox\nEXPOSE 80/xyz\n", 2, "invalid proto: xyz"},
		{"bad signal", "FROM busybox\nSTOPSIGNAL SIGNOPE\n", 2, "invalid signal: SIGNOPE"},
		{"dir onto file", "FROM busybox\nCOPY . /etc/passwd\n", 2, "cannot copy to non-directory: /etc/passwd"},
		{"outside context", "FROM busybox\nCOPY ../x /x\n", 2, "forbidden path outside the build context"},
		{"bad substitution", "FROM busybox\nENV A=${B:?unset}\n", 2, "B: unset"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dir := writeTree(t, map[string]string{"Dockerfile": tc.df, "a.txt": "a", "b.txt": "b"})
			_, out, err := doBuild(t, e, dir, Options{Tags: []string{"x"}})
			var be *Error
			if !errors.As(err, &be) {
				t.Fatalf("err = %v (%T), want a *build.Error\n%s", err, err, out)
			}
			if be.Line != tc.line || !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("err = %q (line %d), want line %d and %q", err, be.Line, tc.line, tc.msg)
			}
			want := "Dockerfile:" + strconv.Itoa(tc.line) + ": "
			if tc.line == 0 {
				want = "Dockerfile: "
			}
			if !strings.HasPrefix(err.Error(), want) || strings.Contains(err.Error(), "\n") {
				t.Errorf("err %q should be one line starting %q", err, want)
			}
			if strings.Contains(out, "Running in") {
				t.Errorf("something ran:\n%s", out)
			}
		})
	}
	if n := countContainerDirs(t, e.Root); n != 0 {
		t.Errorf("%d containers left", n)
	}
	if _, err := os.Stat(filepath.Join(e.Root, "buildcache")); err == nil {
		if ents, _ := os.ReadDir(filepath.Join(e.Root, "buildcache")); len(ents) > 0 {
			// Only the steps that precede a runtime failure may have been recorded.
			for _, ent := range ents {
				b, _ := os.ReadFile(filepath.Join(e.Root, "buildcache", ent.Name()))
				if bytes.Contains(b, []byte("RUN")) {
					t.Errorf("a RUN was recorded: %s", b)
				}
			}
		}
	}
	if _, err := Build(t.Context(), e, Options{Context: t.TempDir(), DockerfileText: []byte("FROM busybox\n"), Tags: []string{"Bad:Tag"}}); err == nil || !strings.Contains(err.Error(), "invalid tag") {
		t.Errorf("bad tag: %v", err)
	}
}

// COPY and ADD semantics, as Docker has them.
func TestCopySemantics(t *testing.T) {
	e := newEngine(t)
	var tgz bytes.Buffer
	zw := gzip.NewWriter(&tgz)
	tw := tar.NewWriter(zw)
	for _, f := range []struct {
		name string
		typ  byte
		body string
		uid  int
	}{{"pkg/", tar.TypeDir, "", 0}, {"pkg/bin/", tar.TypeDir, "", 0}, {"pkg/bin/tool", tar.TypeReg, "#!/bin/sh\necho tool\n", 7}, {"../../escape.txt", tar.TypeReg, "confined\n", 0}} {
		mode := int64(0o755)
		tw.WriteHeader(&tar.Header{Name: f.name, Typeflag: f.typ, Mode: mode, Size: int64(len(f.body)), Uid: f.uid, ModTime: time.Unix(1700000000, 0)})
		tw.Write([]byte(f.body))
	}
	tw.Close()
	zw.Close()
	dir := writeTree(t, map[string]string{
		"Dockerfile": `FROM busybox
RUN chmod 1777 /tmp && mkdir -p /opt/existing && echo keep > /opt/existing/old.txt && echo grp:x:500: >> /etc/group && echo usr:x:501:500::/:/bin/sh >> /etc/passwd
WORKDIR /work
COPY file.txt .
COPY file.txt renamed.txt
COPY file.txt /tmp/
COPY dir /copied
COPY dir/ /opt/existing/
COPY --chown=usr:grp file.txt /owned/by/name.txt
COPY --chmod=0600 file.txt /private.txt
COPY g*.txt /globbed/
COPY link-to-file /via-link
ADD pkg.tgz /unpacked/
ADD plain.txt /added.txt
`,
		"file.txt":       "file\n",
		"dir/a.txt":      "a\n",
		"dir/sub/b.txt":  "b\n",
		"glob1.txt":      "g1\n",
		"glob2.txt":      "g2\n",
		"gx.dat":         "not matched\n",
		"plain.txt":      "not an archive\n",
		"pkg.tgz":        tgz.String(),
		"dir/sub/empty/": "",
	})
	os.Symlink("file.txt", filepath.Join(dir, "link-to-file"))
	os.Symlink("../file.txt", filepath.Join(dir, "dir", "link"))
	os.Chmod(filepath.Join(dir, "dir", "sub"), 0o700)
	mustBuild(t, e, dir, Options{Tags: []string{"cp"}})
	got := sh(t, e, "cp", `cd / && for f in work/file.txt work/renamed.txt tmp/file.txt copied/a.txt copied/sub/b.txt opt/existing/old.txt opt/existing/a.txt \
		owned/by/name.txt private.txt globbed/glob1.txt globbed/glob2.txt via-link unpacked/pkg/bin/tool unpacked/escape.txt added.txt; do
		printf '%s %s %s ' $f "$(stat -c '%u:%g %a %F' $f)" "$(head -c 20 $f | tr '\n' '|')"; echo; done
		stat -c '%n %a %u:%g %F' tmp copied copied/sub copied/sub/empty owned owned/by copied/link
		readlink copied/link; ls globbed; /unpacked/pkg/bin/tool`)
	want := `work/file.txt 0:0 644 regular file file| 
work/renamed.txt 0:0 644 regular file file| 
tmp/file.txt 0:0 644 regular file file| 
copied/a.txt 0:0 644 regular file a| 
copied/sub/b.txt 0:0 644 regular file b| 
opt/existing/old.txt 0:0 644 regular file keep| 
opt/existing/a.txt 0:0 644 regular file a| 
owned/by/name.txt 501:500 644 regular file file| 
private.txt 0:0 600 regular file file| 
globbed/glob1.txt 0:0 644 regular file g1| 
globbed/glob2.txt 0:0 644 regular file g2| 
via-link 0:0 644 regular file file| 
unpacked/pkg/bin/tool 7:0 755 regular file #!/bin/sh|echo tool| 
unpacked/escape.txt 0:0 755 regular file confined| 
added.txt 0:0 644 regular file not an archive| 
tmp 1777 0:0 directory
copied 755 0:0 directory
copied/sub 700 0:0 directory
copied/sub/empty 755 0:0 directory
owned 755 501:500 directory
owned/by 755 501:500 directory
copied/link 777 0:0 symbolic link
../file.txt
glob1.txt
glob2.txt
tool
`
	if got != want {
		t.Errorf("copied files:\n%s\nwant:\n%s", got, want)
	}
}

// Prune empties the cache and frees what only intermediate images used (here a build
// stage's layer), never what an image in the index uses.
func TestPrune(t *testing.T) {
	e := newEngine(t)
	dir := writeTree(t, map[string]string{"Dockerfile": "FROM busybox AS build\nRUN echo built > /artifact && dd if=/dev/zero of=/big bs=1k count=256 2>/dev/null\nFROM busybox\nCOPY --from=build /artifact /\nCMD [\"cat\", \"/artifact\"]\n"})
	r, _ := mustBuild(t, e, dir, Options{Tags: []string{"pruned"}})
	stageLayer := r.Steps[1]
	if !stageLayer.Layer {
		t.Fatal("the build stage's RUN should have made a layer")
	}
	blobsBefore, _ := os.ReadDir(filepath.Join(e.Root, "blobs", "sha256"))
	rep, err := Prune(e, 0)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Records != 3 || rep.Layers != 1 || rep.Reclaimed < 256<<10 {
		t.Errorf("prune report %+v", rep)
	}
	blobsAfter, _ := os.ReadDir(filepath.Join(e.Root, "blobs", "sha256"))
	if len(blobsBefore)-len(blobsAfter) != rep.Blobs || rep.Blobs < 3 {
		t.Errorf("%d blobs before, %d after, report says %d", len(blobsBefore), len(blobsAfter), rep.Blobs)
	}
	if got, _ := runIn(t, e, "pruned"); got != "built\n" {
		t.Errorf("the image must survive a prune: %q", got)
	}
	r, _ = mustBuild(t, e, dir, Options{Tags: []string{"pruned"}})
	if r.Hits() != 0 {
		t.Errorf("after a prune nothing is cached: %v", cached(r))
	}
	// A grace period spares what was just written.
	rep, err = Prune(e, time.Hour)
	if err != nil || rep.Blobs != 0 || rep.Layers != 0 || rep.Records != 3 {
		t.Errorf("prune with grace: %+v %v", rep, err)
	}
}

// ENTRYPOINT drops a CMD inherited from the base image but keeps one set earlier in the
// stage; WORKDIR makes a layer only when it has to create the directory.
func TestEntrypointAndWorkdir(t *testing.T) {
	e := newEngine(t)
	dir := writeTree(t, map[string]string{"Dockerfile": `FROM busybox AS base
CMD ["inherited"]
FROM base AS reset
ENTRYPOINT ["/bin/echo"]
FROM base AS kept
CMD ["mine"]
ENTRYPOINT ["/bin/echo"]
WORKDIR /tmp
WORKDIR /made/here
`})
	r, _ := mustBuild(t, e, dir, Options{Target: "reset"})
	if c := r.Image.Config.Config; c.Cmd != nil || !reflect.DeepEqual(c.Entrypoint, []string{"/bin/echo"}) {
		t.Errorf("reset: Cmd %q Entrypoint %q", c.Cmd, c.Entrypoint)
	}
	r, _ = mustBuild(t, e, dir, Options{Tags: []string{"kept"}})
	if c := r.Image.Config.Config; !reflect.DeepEqual(c.Cmd, []string{"mine"}) || c.WorkingDir != "/made/here" {
		t.Errorf("kept: Cmd %q WorkingDir %q", c.Cmd, c.WorkingDir)
	}
	n := len(r.Steps)
	if r.Steps[n-2].Layer || !r.Steps[n-1].Layer {
		t.Errorf("WORKDIR /tmp (exists) made a layer: %v; WORKDIR /made/here (new): %v", r.Steps[n-2].Layer, r.Steps[n-1].Layer)
	}
	if got, _ := runIn(t, e, "kept"); got != "mine\n" {
		t.Errorf("kept prints %q", got)
	}
	if got := sh(t, e, "kept", "pwd; stat -c '%a %u' /made/here"); got != "/made/here\n755 0\n" {
		t.Errorf("workdir: %q", got)
	}
}
