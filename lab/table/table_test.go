package table

import (
	"errors"
	"strings"
	"testing"
	"time"
)

var (
	now = time.Date(2024, 5, 1, 12, 0, 0, 0, time.UTC)

	id1 = "3f4e5d6c7b8a" + strings.Repeat("1", 52)
	id2 = "a1b2c3d4e5f6" + strings.Repeat("2", 52)
	id3 = "0123456789ab" + strings.Repeat("3", 52)

	digest = "sha256:" + strings.Repeat("0123456789abcdef", 4)
	img1   = "sha256:" + strings.Repeat("fedcba9876543210", 4)
	img2   = "sha256:" + strings.Repeat("00112233445566778899aabbccddeeff", 2)

	longCommand = "sh -c 'while true; do date; sleep 1; done'"
)

func lines(ls ...string) string { return strings.Join(ls, "\n") + "\n" }

func containers() []Container {
	return []Container{
		{ID: id1, Image: "busybox", Command: longCommand, Created: now.Add(-3 * time.Minute),
			State: "running", Started: now.Add(-3 * time.Minute), Name: "eager_curie"},
		{ID: id2, Image: "alpine:3.19", Command: "echo hi", Created: now.Add(-time.Hour),
			State: "exited", Started: now.Add(-time.Hour), Finished: now.Add(-45 * time.Minute), Name: "brave_hopper"},
		{ID: id3, Image: "ghcr.io/a/b@" + digest, Command: "true", Created: now.Add(-10 * time.Second),
			State: "created", Name: "/quirky_turing"},
	}
}

func TestPs(t *testing.T) {
	tests := []struct {
		name string
		cs   []Container
		o    PsOptions
		want string
	}{
		{"empty", nil, PsOptions{Now: now}, lines(
			"CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES")},
		{"rows", containers(), PsOptions{Now: now}, lines(
			`CONTAINER ID   IMAGE         COMMAND                  CREATED             STATUS                      PORTS     NAMES`,
			`3f4e5d6c7b8a   busybox       "sh -c 'while true; …"   3 minutes ago       Up 3 minutes                          eager_curie`,
			`a1b2c3d4e5f6   alpine:3.19   "echo hi"                About an hour ago   Exited (0) 45 minutes ago             brave_hopper`,
			`0123456789ab   ghcr.io/a/b   "true"                   10 seconds ago      Created                               quirky_turing`)},
		{"no-trunc", containers(), PsOptions{Now: now, NoTrunc: true}, lines(
			`CONTAINER ID                                                       IMAGE                                                                                 COMMAND                                        CREATED             STATUS                      PORTS     NAMES`,
			`3f4e5d6c7b8a1111111111111111111111111111111111111111111111111111   busybox                                                                               "sh -c 'while true; do date; sleep 1; done'"   3 minutes ago       Up 3 minutes                          eager_curie`,
			`a1b2c3d4e5f62222222222222222222222222222222222222222222222222222   alpine:3.19                                                                           "echo hi"                                      About an hour ago   Exited (0) 45 minutes ago             brave_hopper`,
			`0123456789ab3333333333333333333333333333333333333333333333333333   ghcr.io/a/b@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef   "true"                                         10 seconds ago      Created                               quirky_turing`)},
		{"quiet", containers(), PsOptions{Now: now, Quiet: true}, lines(
			"3f4e5d6c7b8a", "a1b2c3d4e5f6", "0123456789ab")},
		{"quiet no-trunc", containers(), PsOptions{Now: now, Quiet: true, NoTrunc: true}, lines(id1, id2, id3)},
		{"quiet empty", nil, PsOptions{Quiet: true}, ""},
		{"size", withSizes(containers()[:2], 1024), PsOptions{Now: now, Size: true}, lines(
			`CONTAINER ID   IMAGE         COMMAND                  CREATED             STATUS                      PORTS     NAMES          SIZE`,
			`3f4e5d6c7b8a   busybox       "sh -c 'while true; …"   3 minutes ago       Up 3 minutes                          eager_curie    1.02kB`,
			`a1b2c3d4e5f6   alpine:3.19   "echo hi"                About an hour ago   Exited (0) 45 minutes ago             brave_hopper   0B`)},
		{"size implied by a Size", withSizes(containers()[:2], 1024), PsOptions{Now: now}, lines(
			`CONTAINER ID   IMAGE         COMMAND                  CREATED             STATUS                      PORTS     NAMES          SIZE`,
			`3f4e5d6c7b8a   busybox       "sh -c 'while true; …"   3 minutes ago       Up 3 minutes                          eager_curie    1.02kB`,
			`a1b2c3d4e5f6   alpine:3.19   "echo hi"                About an hour ago   Exited (0) 45 minutes ago             brave_hopper   0B`)},
		{"size header only", nil, PsOptions{Now: now, Size: true}, lines(
			"CONTAINER ID   IMAGE     COMMAND   CREATED   STATUS    PORTS     NAMES     SIZE")},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := Ps(&b, tt.cs, tt.o); err != nil {
			t.Fatalf("%s: Ps: %v", tt.name, err)
		}
		if b.String() != tt.want {
			t.Errorf("%s: Ps output\n%s\nwant\n%s", tt.name, b.String(), tt.want)
		}
	}
}

// withSizes gives the first container a size and leaves the rest unset.
func withSizes(cs []Container, first int64) []Container {
	cs[0].Size = &first
	return cs
}

func TestPsRow(t *testing.T) {
	cs := containers()
	tests := []struct {
		c    Container
		o    PsOptions
		want string
	}{
		{cs[0], PsOptions{Now: now},
			`3f4e5d6c7b8a   busybox   "sh -c 'while true; …"   3 minutes ago   Up 3 minutes      eager_curie`},
		{cs[1], PsOptions{Now: now},
			`a1b2c3d4e5f6   alpine:3.19   "echo hi"   About an hour ago   Exited (0) 45 minutes ago      brave_hopper`},
		{cs[2], PsOptions{Now: now, NoTrunc: true},
			id3 + `   ghcr.io/a/b@` + digest + `   "true"   10 seconds ago   Created      quirky_turing`},
		{cs[0], PsOptions{Now: now, Quiet: true}, "3f4e5d6c7b8a"},
		{cs[0], PsOptions{Now: now, Quiet: true, NoTrunc: true}, id1},
		{withSizes(containers(), 1024)[0], PsOptions{Now: now},
			`3f4e5d6c7b8a   busybox   "sh -c 'while true; …"   3 minutes ago   Up 3 minutes      eager_curie   1.02kB`},
	}
	for i, tt := range tests {
		if got := PsRow(tt.c, tt.o); got != tt.want {
			t.Errorf("case %d: PsRow =\n%q\nwant\n%q", i, got, tt.want)
		}
	}
}

func TestCommandCell(t *testing.T) {
	tests := []struct {
		cmd     string
		noTrunc bool
		want    string
	}{
		{"", false, `""`},
		{"echo hi", false, `"echo hi"`},
		{"12345678901234567890", false, `"12345678901234567890"`},
		{"123456789012345678901", false, `"1234567890123456789…"`},
		{"123456789012345678901", true, `"123456789012345678901"`},
		{`echo "quoted"	tab`, false, `"echo \"quoted\"\ttab"`},
		{"überlange Befehlszeile mit Umlauten", false, `"überlange Befehlsze…"`},
		{"日本語日本語日本語日本語日本語日本語日本語", false, `"日本語日本語日本語日本語日本語日本語日…"`},
	}
	for _, tt := range tests {
		c := Container{ID: id1, Image: "x", Command: tt.cmd, State: "created"}
		cells := psCells(c, now, tt.noTrunc, false)
		if cells[2] != tt.want {
			t.Errorf("command %q (noTrunc %v) = %s, want %s", tt.cmd, tt.noTrunc, cells[2], tt.want)
		}
	}
}

func TestPsImage(t *testing.T) {
	tests := []struct {
		in      string
		noTrunc bool
		want    string
	}{
		{"", false, "<no image>"},
		{"", true, "<no image>"},
		{"busybox", false, "busybox"},
		{"busybox:latest", false, "busybox:latest"},
		{"docker.io/library/busybox", false, "busybox"},
		{"docker.io/library/busybox", true, "docker.io/library/busybox"},
		{"busybox@" + digest, false, "busybox"},
		{"busybox:1.36@" + digest, false, "busybox:1.36"},
		{"busybox@" + digest, true, "busybox@" + digest},
		{"localhost:5000/x", false, "localhost:5000/x"},
		{"localhost:5000/x:v1", false, "localhost:5000/x:v1"},
		{digest, false, "0123456789ab"},
		{strings.TrimPrefix(digest, "sha256:"), false, "0123456789ab"},
		{digest, true, digest},
		{"abc123", false, "abc123"},
		{"Not A Ref", false, "Not A Ref"},
	}
	for _, tt := range tests {
		if got := psImage(tt.in, tt.noTrunc); got != tt.want {
			t.Errorf("psImage(%q, %v) = %q, want %q", tt.in, tt.noTrunc, got, tt.want)
		}
	}
}

func TestStatus(t *testing.T) {
	started := now.Add(-90 * time.Minute)
	finished := now.Add(-5 * time.Second)
	tests := []struct {
		c    Container
		want string
	}{
		{Container{State: "created"}, "Created"},
		{Container{State: "running", Started: now.Add(-500 * time.Millisecond)}, "Up Less than a second"},
		{Container{State: "running", Started: started}, "Up 2 hours"},
		{Container{State: "running", Started: now.Add(-61 * time.Second)}, "Up About a minute"},
		{Container{State: "paused", Started: started}, "Up 2 hours (Paused)"},
		{Container{State: "restarting", ExitCode: 1, Started: started, Finished: finished}, "Restarting (1) 5 seconds ago"},
		{Container{State: "removing", Started: started}, "Removal In Progress"},
		{Container{State: "dead", Started: started}, "Dead"},
		{Container{State: "exited", ExitCode: 0, Started: started, Finished: finished}, "Exited (0) 5 seconds ago"},
		{Container{State: "exited", ExitCode: 137, Started: started, Finished: now.Add(-2 * 24 * time.Hour)}, "Exited (137) 2 days ago"},
		{Container{State: "exited", ExitCode: 127}, "Created"},
		{Container{State: "exited", Started: started}, ""},
	}
	for _, tt := range tests {
		if got := Status(tt.c, now); got != tt.want {
			t.Errorf("Status(%+v) = %q, want %q", tt.c, got, tt.want)
		}
	}
}

func TestAgo(t *testing.T) {
	const day = 24 * time.Hour
	tests := []struct {
		d    time.Duration
		want string
	}{
		{0, "Less than a second ago"},
		{-time.Hour, "Less than a second ago"},
		{999 * time.Millisecond, "Less than a second ago"},
		{time.Second, "1 second ago"},
		{2 * time.Second, "2 seconds ago"},
		{59 * time.Second, "59 seconds ago"},
		{60 * time.Second, "About a minute ago"},
		{119 * time.Second, "About a minute ago"},
		{120 * time.Second, "2 minutes ago"},
		{59*time.Minute + 59*time.Second, "59 minutes ago"},
		{time.Hour, "About an hour ago"},
		{89 * time.Minute, "About an hour ago"},
		{90 * time.Minute, "2 hours ago"},
		{47*time.Hour + 29*time.Minute, "47 hours ago"},
		{47*time.Hour + 30*time.Minute, "2 days ago"},
		{13 * day, "13 days ago"},
		{14 * day, "2 weeks ago"},
		{59 * day, "8 weeks ago"},
		{60 * day, "2 months ago"},
		{729 * day, "24 months ago"},
		{730 * day, "2 years ago"},
		{3*365*day + 10*day, "3 years ago"},
	}
	for _, tt := range tests {
		if got := Ago(now, now.Add(-tt.d)); got != tt.want {
			t.Errorf("Ago(%v) = %q, want %q", tt.d, got, tt.want)
		}
	}
	if got := Ago(now, time.Time{}); got != "N/A" {
		t.Errorf("Ago(zero) = %q, want N/A", got)
	}
}

func images() []Image {
	return []Image{
		{ID: img1, Repository: "busybox", Tag: "latest", Created: now.Add(-15 * 24 * time.Hour), Size: 4260000},
		{ID: img2, Repository: "localhost:5000/app", Tag: "v1.2", Created: now.Add(-61 * time.Second), Size: 1500000000},
		{ID: img2, Created: now.Add(-100 * time.Millisecond)},
	}
}

func TestImages(t *testing.T) {
	tests := []struct {
		name string
		imgs []Image
		o    ImagesOptions
		want string
	}{
		{"empty", nil, ImagesOptions{Now: now}, lines(
			"REPOSITORY   TAG       IMAGE ID   CREATED   SIZE")},
		{"rows", images(), ImagesOptions{Now: now}, lines(
			"REPOSITORY           TAG       IMAGE ID       CREATED                  SIZE",
			"busybox              latest    fedcba987654   2 weeks ago              4.26MB",
			"localhost:5000/app   v1.2      001122334455   About a minute ago       1.5GB",
			"<none>               <none>    001122334455   Less than a second ago   0B")},
		{"no-trunc", images(), ImagesOptions{Now: now, NoTrunc: true}, lines(
			"REPOSITORY           TAG       IMAGE ID                                                                  CREATED                  SIZE",
			"busybox              latest    sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210   2 weeks ago              4.26MB",
			"localhost:5000/app   v1.2      sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff   About a minute ago       1.5GB",
			"<none>               <none>    sha256:00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff   Less than a second ago   0B")},
		{"quiet", images(), ImagesOptions{Now: now, Quiet: true}, lines(
			"fedcba987654", "001122334455", "001122334455")},
		{"quiet no-trunc", images(), ImagesOptions{Now: now, Quiet: true, NoTrunc: true}, lines(img1, img2, img2)},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := Images(&b, tt.imgs, tt.o); err != nil {
			t.Fatalf("%s: Images: %v", tt.name, err)
		}
		if b.String() != tt.want {
			t.Errorf("%s: Images output\n%s\nwant\n%s", tt.name, b.String(), tt.want)
		}
	}
}

func TestSizes(t *testing.T) {
	tests := []struct {
		n    int64
		want string
	}{
		{0, "0B"},
		{999, "999B"},
		{1000, "1kB"},
		{1024, "1.02kB"},
		{12345, "12.3kB"},
		{4260000, "4.26MB"},
		{4264000, "4.26MB"},
		{77800000, "77.8MB"},
		{1500000000, "1.5GB"},
	}
	for _, tt := range tests {
		if got := humanSize(tt.n); got != tt.want {
			t.Errorf("humanSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func histories() []History {
	return []History{
		{ID: img1, Created: now.Add(-15 * 24 * time.Hour), CreatedBy: `/bin/sh -c #(nop)  CMD ["sh"]`},
		{ID: "<missing>", Created: now.Add(-15 * 24 * time.Hour),
			CreatedBy: "/bin/sh -c #(nop) ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fb6e0d1a81c1a0 in / ",
			Size:      4260000, Comment: "imported"},
		{ID: "<missing>", Created: now.Add(-(3*365 + 10) * 24 * time.Hour), CreatedBy: "apt-get install x\t y", Size: 12345},
	}
}

func TestHistoryTable(t *testing.T) {
	tests := []struct {
		name    string
		hs      []History
		noTrunc bool
		want    string
	}{
		{"empty", nil, false, lines(
			"IMAGE     CREATED   CREATED BY   SIZE      COMMENT")},
		{"rows", histories(), false, lines(
			"IMAGE          CREATED       CREATED BY                                      SIZE      COMMENT",
			`fedcba987654   2 weeks ago   /bin/sh -c #(nop)  CMD ["sh"]                   0B        `,
			"<missing>      2 weeks ago   /bin/sh -c #(nop) ADD file:7e9002edaafd4e457…   4.26MB    imported",
			"<missing>      3 years ago   apt-get install x  y                            12.3kB    ")},
		{"no-trunc", histories(), true, lines(
			"IMAGE                                                                     CREATED       CREATED BY                                                                                         SIZE      COMMENT",
			`sha256:fedcba9876543210fedcba9876543210fedcba9876543210fedcba9876543210   2 weeks ago   /bin/sh -c #(nop)  CMD ["sh"]                                                                      0B        `,
			"<missing>                                                                 2 weeks ago   /bin/sh -c #(nop) ADD file:7e9002edaafd4e4579b65c8f0aaabde1aeb7fd3f8d95579f7fb6e0d1a81c1a0 in /    4.26MB    imported",
			"<missing>                                                                 3 years ago   apt-get install x  y                                                                               12.3kB    ")},
	}
	for _, tt := range tests {
		var b strings.Builder
		if err := HistoryTable(&b, tt.hs, tt.noTrunc, now); err != nil {
			t.Fatalf("%s: HistoryTable: %v", tt.name, err)
		}
		if b.String() != tt.want {
			t.Errorf("%s: HistoryTable output\n%s\nwant\n%s", tt.name, b.String(), tt.want)
		}
	}
}

func TestHistoryAcceptsPreTruncatedIDs(t *testing.T) {
	hs := histories()[:1]
	hs[0].ID = "fedcba987654"
	var b strings.Builder
	if err := HistoryTable(&b, hs, false, now); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(b.String(), "\nfedcba987654   2 weeks ago") {
		t.Errorf("pre-truncated ID changed:\n%s", b.String())
	}
}

func TestShortID(t *testing.T) {
	tests := []struct{ in, want string }{
		{"", ""},
		{"<missing>", "<missing>"},
		{"abc", "abc"},
		{id1, "3f4e5d6c7b8a"},
		{img1, "fedcba987654"},
		{"sha256:abc", "abc"},
	}
	for _, tt := range tests {
		if got := shortID(tt.in, false); got != tt.want {
			t.Errorf("shortID(%q) = %q, want %q", tt.in, got, tt.want)
		}
		if got := shortID(tt.in, true); got != tt.in {
			t.Errorf("shortID(%q, noTrunc) = %q", tt.in, got)
		}
	}
}

func TestEllipsis(t *testing.T) {
	tests := []struct {
		s     string
		width int
		want  string
	}{
		{"abc", 3, "abc"},
		{"abcd", 3, "ab…"},
		{"abcd", 1, "…"},
		{"abcd", 0, ""},
		{"", 0, ""},
		{"äöüß", 3, "äö…"},
	}
	for _, tt := range tests {
		if got := ellipsis(tt.s, tt.width); got != tt.want {
			t.Errorf("ellipsis(%q, %d) = %q, want %q", tt.s, tt.width, got, tt.want)
		}
	}
}

type failWriter struct{}

var errDiskFull = errors.New("disk full")

func (failWriter) Write([]byte) (int, error) { return 0, errDiskFull }

func TestWriteErrorsSurface(t *testing.T) {
	checks := map[string]error{
		"ps":        Ps(failWriter{}, containers(), PsOptions{Now: now}),
		"ps -q":     Ps(failWriter{}, containers(), PsOptions{Quiet: true}),
		"images":    Images(failWriter{}, images(), ImagesOptions{Now: now}),
		"images -q": Images(failWriter{}, images(), ImagesOptions{Quiet: true}),
		"history":   HistoryTable(failWriter{}, histories(), false, now),
	}
	for name, err := range checks {
		if !errors.Is(err, errDiskFull) {
			t.Errorf("%s: error = %v, want it to wrap the writer's error", name, err)
		}
	}
}

func TestZeroNowUsesClock(t *testing.T) {
	c := Container{ID: id1, Image: "x", State: "running", Created: time.Now(), Started: time.Now()}
	if got := PsRow(c, PsOptions{}); !strings.Contains(got, "Less than a second ago   Up Less than a second") {
		t.Errorf("PsRow with zero Now = %q", got)
	}
}
