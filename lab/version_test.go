package lab_test

import (
	"encoding/json"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func TestVersionInfoDf(t *testing.T) {
	root := newRoot(t)
	if out := mustRun(t, root, "--version"); !regexp.MustCompile(`^lab version \d+\.\d+\.\d+\S*, build \S+\n$`).MatchString(out) {
		t.Errorf("--version: %q", out)
	}
	out := mustRun(t, root, "version")
	for _, want := range []string{"Client:\n Version:", " Go version:        " + runtime.Version() + "\n", " OS/Arch:           " + runtime.GOOS + "/" + runtime.GOARCH,
		" Root:              " + root + "\n", " Format:            OCI image layout 1.0.0\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("version lacks %q:\n%s", want, out)
		}
	}
	var v struct{ Client, Store map[string]string }
	if err := json.Unmarshal([]byte(mustRun(t, root, "version", "--format", "{{json .}}")), &v); err != nil || v.Client["GoVersion"] != runtime.Version() || v.Store["Root"] != root {
		t.Errorf("version json: %+v %v", v, err)
	}
	if got := mustRun(t, root, "version", "-f", "{{.Client.Os}}/{{.Client.Arch}}"); got != runtime.GOOS+"/"+runtime.GOARCH+"\n" {
		t.Errorf("version -f: %q", got)
	}

	mustRun(t, root, "run", "--name", "big", "busybox", "sh", "-c", "dd if=/dev/zero of=/f bs=1k count=300 2>/dev/null")
	mustRun(t, root, "commit", "big", "big:1")
	mustRun(t, root, "run", "--name", "small", "big:1", "true")
	info := mustRun(t, root, "info")
	for _, want := range []string{" Containers: 2\n  Running: 0\n  Paused: 0\n  Stopped: 2\n Images: 2\n", " Storage Driver: overlay\n", " Cgroup Version: ", " Kernel Version: ", " Lab Root Dir: " + root + "\n"} {
		if !strings.Contains(info, want) {
			t.Errorf("info lacks %q:\n%s", want, info)
		}
	}
	if got := mustRun(t, root, "info", "--format", "{{.Containers}} {{.ContainersStopped}} {{.Images}} {{.Driver}}"); got != "2 2 2 overlay\n" {
		t.Errorf("info --format: %q", got)
	}

	df := mustRun(t, root, "system", "df")
	want := regexp.MustCompile(`^TYPE +TOTAL +ACTIVE +SIZE +RECLAIMABLE\nImages +2 +2 +2\.\d+MB +0B \(0%\)\nContainers +2 +0 +30\d\.?\d*kB +30\d\.?\d*kB \(100%\)\nLocal Volumes +0 +0 +0B +0B\nBuild Cache +0 +0 +0B +0B\n$`)
	if !want.MatchString(df) {
		t.Errorf("system df:\n%s", df)
	}
	dfv := mustRun(t, root, "system", "df", "-v")
	if !regexp.MustCompile(`(?m)^big +1 +\w{12} .* +1\.98\d*MB +30\d\.?\d*kB +1$`).MatchString(dfv) || !regexp.MustCompile(`(?m)^\w{12} +busybox .* 0 +30\d\.?\d*kB .* big$`).MatchString(dfv) {
		t.Errorf("system df -v:\n%s", dfv)
	}
	// Docker's management aliases list the same.
	if a, b := mustRun(t, root, "container", "ls", "-a", "-q"), mustRun(t, root, "ps", "-a", "-q"); a != b || a == "" {
		t.Errorf("container ls -a -q %q, ps -a -q %q", a, b)
	}
	if a, b := mustRun(t, root, "image", "ls", "--format", "{{.ID}}"), mustRun(t, root, "images", "--format", "{{.ID}}"); a != b || a == "" {
		t.Errorf("image ls %q, images %q", a, b)
	}
}
