package table

import (
	"bytes"
	"strings"
	"testing"
	"time"
)

func TestFormatTemplates(t *testing.T) {
	now := time.Date(2024, 1, 1, 1, 0, 0, 0, time.UTC)
	cs := []Container{
		{ID: strings.Repeat("a", 64), Image: "busybox", Command: "sh -c 'exit 3'", Created: now.Add(-time.Hour), State: "exited", ExitCode: 3,
			Started: now.Add(-time.Hour), Finished: now.Add(-time.Minute), Name: "first", Labels: map[string]string{"b": "2", "a": "1"}},
		{ID: strings.Repeat("b", 64), Image: "busybox:latest", Command: "top", Created: now, State: "running", Started: now, Name: "second-long-name"},
	}
	rows := func(noTrunc bool) []any {
		var r []any
		for _, c := range cs {
			r = append(r, NewPsContext(c, now, noTrunc))
		}
		return r
	}
	cases := []struct {
		format  string
		noTrunc bool
		want    string
	}{
		{`{{.ID}}`, false, "aaaaaaaaaaaa\nbbbbbbbbbbbb\n"},
		{`{{.ID}}`, true, strings.Repeat("a", 64) + "\n" + strings.Repeat("b", 64) + "\n"},
		{`table {{.ID}}\t{{.Names}}`, false, "CONTAINER ID   NAMES\naaaaaaaaaaaa   first\nbbbbbbbbbbbb   second-long-name\n"},
		{`table {{upper .Names}}\t{{.State}}`, false, "NAMES              STATE\nFIRST              exited\nSECOND-LONG-NAME   running\n"},
		{`{{.Names}}: {{.Status}} {{.Command}}`, false, "first: Exited (3) About a minute ago \"sh -c 'exit 3'\"\nsecond-long-name: Up Less than a second \"top\"\n"},
		{`{{.Labels}}|{{.Label "b"}}|{{.Image}}`, false, "a=1,b=2|2|busybox\n||busybox:latest\n"},
		{`{{join (split .Names "-") "+"}} {{title .State}} {{lower "AB"}} [{{pad .State 1 2}}] {{truncate .Names 3}}`, false,
			"first Exited ab [ exited  ] fir\nsecond+long+name Running ab [ running  ] sec\n"},
		{`{{range split .Names "-"}}<{{.}}>{{end}}{{index (split .Names "-") 0}}`, false, "<first>first\n<second><long><name>second\n"},
		{"json", false, ""},
	}
	for _, tc := range cases {
		f, err := ParseFormat(tc.format)
		if err != nil {
			t.Fatalf("%q: %v", tc.format, err)
		}
		var b bytes.Buffer
		if err := f.Write(&b, rows(tc.noTrunc), PsHeaders); err != nil {
			t.Fatalf("%q: %v", tc.format, err)
		}
		if tc.format == "json" {
			if !strings.HasPrefix(b.String(), `{"Command":"\"sh -c 'exit 3'\"","CreatedAt":`) || strings.Count(b.String(), "\n") != 2 ||
				!strings.Contains(b.String(), `"Names":"first","Networks":"none","Platform":null`) {
				t.Errorf("json:\n%s", b.String())
			}
			continue
		}
		if b.String() != tc.want {
			t.Errorf("%q:\n got %q\nwant %q", tc.format, b.String(), tc.want)
		}
	}
	if _, err := ParseFormat("{{.ID"); err == nil || !strings.HasPrefix(err.Error(), "failed to parse template: ") {
		t.Errorf("unclosed action: %v", err)
	}
	f, _ := ParseFormat("{{.Nope}}")
	if err := f.Write(&bytes.Buffer{}, rows(false), PsHeaders); err == nil || !strings.Contains(err.Error(), "can't evaluate field Nope") {
		t.Errorf("unknown field: %v", err)
	}
	// A table with no rows still prints its header, as Docker's does.
	f, _ = ParseFormat(`table {{.Repository}}\t{{.Tag}}\t{{.CreatedSince}}`)
	var b bytes.Buffer
	if err := f.Write(&b, nil, ImagesHeaders); err != nil || b.String() != "REPOSITORY   TAG       CREATED\n" {
		t.Errorf("empty table: %q %v", b.String(), err)
	}
	f, _ = ParseFormat(`table {{.ID}}\t{{.CreatedBy}}\t{{.Size}}`)
	b.Reset()
	h := History{ID: "<missing>", CreatedBy: "/bin/sh -c #(nop) ADD file:0123456789abcdef0123456789 in /", Size: 2000000}
	if err := f.Write(&b, []any{NewHistoryContext(h, now, false)}, HistoryHeaders); err != nil ||
		b.String() != "IMAGE       CREATED BY                                      SIZE\n<missing>   /bin/sh -c #(nop) ADD file:0123456789abcdef0…   2MB\n" {
		t.Errorf("history table: %q %v", b.String(), err)
	}
}
