package reference

import (
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
)

var (
	hex64  = strings.Repeat("0123456789abcdef", 4)
	sha    = "sha256:" + hex64
	sha512 = "sha512:" + strings.Repeat("ab", 64)
)

func TestParseValid(t *testing.T) {
	tests := []struct {
		in              string
		want            Ref
		str, repo, full string
	}{
		{"busybox", Ref{"docker.io", "library/busybox", "latest", ""},
			"busybox:latest", "busybox", "docker.io/library/busybox:latest"},
		{"busybox:1.36", Ref{"docker.io", "library/busybox", "1.36", ""},
			"busybox:1.36", "busybox", "docker.io/library/busybox:1.36"},
		{"library/busybox", Ref{"docker.io", "library/busybox", "latest", ""},
			"busybox:latest", "busybox", "docker.io/library/busybox:latest"},
		{"docker.io/busybox", Ref{"docker.io", "library/busybox", "latest", ""},
			"busybox:latest", "busybox", "docker.io/library/busybox:latest"},
		{"docker.io/library/busybox:latest", Ref{"docker.io", "library/busybox", "latest", ""},
			"busybox:latest", "busybox", "docker.io/library/busybox:latest"},
		{"index.docker.io/foo/bar", Ref{"docker.io", "foo/bar", "latest", ""},
			"foo/bar:latest", "foo/bar", "docker.io/foo/bar:latest"},
		{"foo/bar:1", Ref{"docker.io", "foo/bar", "1", ""},
			"foo/bar:1", "foo/bar", "docker.io/foo/bar:1"},
		{"a/b/c/d", Ref{"docker.io", "a/b/c/d", "latest", ""},
			"a/b/c/d:latest", "a/b/c/d", "docker.io/a/b/c/d:latest"},
		{"docker.io/library/a/b", Ref{"docker.io", "library/a/b", "latest", ""},
			"library/a/b:latest", "library/a/b", "docker.io/library/a/b:latest"},
		{"localhost/x", Ref{"localhost", "x", "latest", ""},
			"localhost/x:latest", "localhost/x", "localhost/x:latest"},
		{"localhost:5000/x", Ref{"localhost:5000", "x", "latest", ""},
			"localhost:5000/x:latest", "localhost:5000/x", "localhost:5000/x:latest"},
		{"localhost:5000/x/y:v2", Ref{"localhost:5000", "x/y", "v2", ""},
			"localhost:5000/x/y:v2", "localhost:5000/x/y", "localhost:5000/x/y:v2"},
		{"ghcr.io/a/b:t", Ref{"ghcr.io", "a/b", "t", ""},
			"ghcr.io/a/b:t", "ghcr.io/a/b", "ghcr.io/a/b:t"},
		{"Example.COM/a", Ref{"Example.COM", "a", "latest", ""},
			"Example.COM/a:latest", "Example.COM/a", "Example.COM/a:latest"},
		{"Registry/a", Ref{"Registry", "a", "latest", ""},
			"Registry/a:latest", "Registry/a", "Registry/a:latest"},
		{"my-reg.example.com:443/team/app", Ref{"my-reg.example.com:443", "team/app", "latest", ""},
			"my-reg.example.com:443/team/app:latest", "my-reg.example.com:443/team/app", "my-reg.example.com:443/team/app:latest"},
		{"[::1]:5000/x:y", Ref{"[::1]:5000", "x", "y", ""},
			"[::1]:5000/x:y", "[::1]:5000/x", "[::1]:5000/x:y"},
		{"[fe80::1]/x", Ref{"[fe80::1]", "x", "latest", ""},
			"[fe80::1]/x:latest", "[fe80::1]/x", "[fe80::1]/x:latest"},
		{"x@" + sha, Ref{"docker.io", "library/x", "", sha},
			"x@" + sha, "x", "docker.io/library/x@" + sha},
		{"x:1@" + sha, Ref{"docker.io", "library/x", "1", sha},
			"x:1@" + sha, "x", "docker.io/library/x:1@" + sha},
		{"ghcr.io/a/b@" + sha512, Ref{"ghcr.io", "a/b", "", sha512},
			"ghcr.io/a/b@" + sha512, "ghcr.io/a/b", "ghcr.io/a/b@" + sha512},
		{"x/a.b-c__d_e--f/g---h", Ref{"docker.io", "x/a.b-c__d_e--f/g---h", "latest", ""},
			"x/a.b-c__d_e--f/g---h:latest", "x/a.b-c__d_e--f/g---h", "docker.io/x/a.b-c__d_e--f/g---h:latest"},
		{"x:A_b.C-d", Ref{"docker.io", "library/x", "A_b.C-d", ""},
			"x:A_b.C-d", "x", "docker.io/library/x:A_b.C-d"},
		{"x:_", Ref{"docker.io", "library/x", "_", ""},
			"x:_", "x", "docker.io/library/x:_"},
		{"x:" + strings.Repeat("t", 128), Ref{"docker.io", "library/x", strings.Repeat("t", 128), ""},
			"x:" + strings.Repeat("t", 128), "x", "docker.io/library/x:" + strings.Repeat("t", 128)},
		// Without this the familiar form would read back as registry foo.bar.
		{"docker.io/foo.bar/baz", Ref{"docker.io", "foo.bar/baz", "latest", ""},
			"docker.io/foo.bar/baz:latest", "docker.io/foo.bar/baz", "docker.io/foo.bar/baz:latest"},
		{"docker.io/localhost/x", Ref{"docker.io", "localhost/x", "latest", ""},
			"docker.io/localhost/x:latest", "docker.io/localhost/x", "docker.io/localhost/x:latest"},
		{"foo.bar", Ref{"docker.io", "library/foo.bar", "latest", ""},
			"foo.bar:latest", "foo.bar", "docker.io/library/foo.bar:latest"},
		{"localhost", Ref{"docker.io", "library/localhost", "latest", ""},
			"localhost:latest", "localhost", "docker.io/library/localhost:latest"},
		// Docker parses these as names too, which is why IDs are tried
		// separately (see LooksLikeID).
		{hex64 + ":latest", Ref{"docker.io", "library/" + hex64, "latest", ""},
			hex64 + ":latest", hex64, "docker.io/library/" + hex64 + ":latest"},
		{"sha256:" + hex64, Ref{"docker.io", "library/sha256", hex64, ""},
			"sha256:" + hex64, "sha256", "docker.io/library/sha256:" + hex64},
		{"abc123", Ref{"docker.io", "library/abc123", "latest", ""},
			"abc123:latest", "abc123", "docker.io/library/abc123:latest"},
		{"9", Ref{"docker.io", "library/9", "latest", ""},
			"9:latest", "9", "docker.io/library/9:latest"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err != nil {
			t.Errorf("Parse(%q): unexpected error %v", tt.in, err)
			continue
		}
		if got != tt.want {
			t.Errorf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
		}
		if s := got.String(); s != tt.str {
			t.Errorf("Parse(%q).String() = %q, want %q", tt.in, s, tt.str)
		}
		if s := got.Repository(); s != tt.repo {
			t.Errorf("Parse(%q).Repository() = %q, want %q", tt.in, s, tt.repo)
		}
		if s := got.Full(); s != tt.full {
			t.Errorf("Parse(%q).Full() = %q, want %q", tt.in, s, tt.full)
		}
	}
}

func TestParseInvalid(t *testing.T) {
	const invalid = "invalid reference format"
	long := strings.Repeat("a", 255-len("docker.io/library/")+1)
	tests := []struct {
		in, want string
	}{
		{"", invalid},
		{"Busybox", "invalid reference format: repository name (library/Busybox) must be lowercase"},
		{"foo/Bar:1", "invalid reference format: repository name (foo/Bar) must be lowercase"},
		{"ghcr.io/A/b", "invalid reference format: repository name (A/b) must be lowercase"},
		{"docker.io/Foo", "invalid reference format: repository name (library/Foo) must be lowercase"},
		{"X@" + sha, "invalid reference format: repository name (library/X@sha256) must be lowercase"},
		{hex64, "invalid repository name (" + hex64 + "), cannot specify 64-byte hexadecimal strings"},
		{"busybox:", invalid},
		{"busybox@", invalid},
		{":latest", invalid},
		{"@" + sha, invalid},
		{"/busybox", invalid},
		{"busybox/", invalid},
		{"a//b", invalid},
		{"a..b", invalid},
		{"a___b", invalid},
		{"a._b", invalid},
		{"-a", invalid},
		{"a-", invalid},
		{"_a", invalid},
		{"a.", invalid},
		{"a b", invalid},
		{"a\tb", invalid},
		{"bus\u00e9", invalid},
		{"busybox:-x", invalid},
		{"busybox:.x", invalid},
		{"busybox:a/b", invalid},
		{"busybox:tag!", invalid},
		{"x:1:2", invalid},
		{"x:" + strings.Repeat("t", 129), invalid},
		{"x@sha256:abc", invalid},
		{"x@sha256", invalid},
		{"x@:" + hex64, invalid},
		{"x@1sha:" + hex64, invalid},
		{"x@sha--256:" + hex64, invalid},
		{"x@sha256-:" + hex64, invalid},
		{"x@sha256:" + hex64 + "@" + sha, invalid},
		{"x@sha256:" + hex64[:63] + "g", invalid},
		{"x@sha256:" + hex64[:63], "invalid checksum digest length"},
		{"x@md5:" + hex64[:32], "unsupported digest algorithm"},
		{"x@sha256:" + strings.ToUpper(hex64), "invalid checksum digest format"},
		{"a_b.com/x", invalid},
		{"localhost:port/x", invalid},
		{"foo.com:/x", invalid},
		{"-foo.com/x", invalid},
		{"foo-.com/x", invalid},
		{"foo..com/x", invalid},
		{"[::1/x", invalid},
		{"[]/x", invalid},
		{"[::g]/x", invalid},
		{"[::1]x/y", invalid},
		{"docker.io/", invalid},
		{long, "repository name must not be more than 255 characters"},
		{"ghcr.io/" + strings.Repeat("a", 255-len("ghcr.io/")+1), "repository name must not be more than 255 characters"},
	}
	for _, tt := range tests {
		got, err := Parse(tt.in)
		if err == nil {
			t.Errorf("Parse(%q) = %+v, want error %q", tt.in, got, tt.want)
			continue
		}
		if err.Error() != tt.want {
			t.Errorf("Parse(%q) error = %q, want %q", tt.in, err, tt.want)
		}
	}
}

func TestParseNameLengthLimit(t *testing.T) {
	name := strings.Repeat("a", 255-len("docker.io/library/"))
	r, err := Parse(name)
	if err != nil {
		t.Fatalf("Parse(255-char name): %v", err)
	}
	if n := len(r.Domain + "/" + r.Path); n != 255 {
		t.Fatalf("qualified name length = %d, want 255", n)
	}
}

func TestErrorsAreMatchable(t *testing.T) {
	for _, in := range []string{"", "Busybox", "a..b"} {
		if _, err := Parse(in); !errors.Is(err, ErrInvalidFormat) {
			t.Errorf("Parse(%q) error %v does not wrap ErrInvalidFormat", in, err)
		}
	}
	if _, err := Parse("x@sha256:" + hex64[:40]); !errors.Is(err, digest.ErrDigestInvalidLength) {
		t.Errorf("short digest error %v is not digest.ErrDigestInvalidLength", err)
	}
	if _, err := Parse(strings.Repeat("a", 300)); !errors.Is(err, ErrNameTooLong) {
		t.Errorf("long name error %v is not ErrNameTooLong", err)
	}
}

func TestParseTagged(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{"myimg", "myimg:latest", ""},
		{"me/app:v1", "me/app:v1", ""},
		{"localhost:5000/app", "localhost:5000/app:latest", ""},
		{"app@" + sha, "", "refusing to create a tag with a digest reference"},
		{"app:v1@" + sha, "", "refusing to create a tag with a digest reference"},
		{"App", "", "invalid reference format: repository name (library/App) must be lowercase"},
		{hex64, "", "invalid repository name (" + hex64 + "), cannot specify 64-byte hexadecimal strings"},
		{"", "", "invalid reference format"},
	}
	for _, tt := range tests {
		r, err := ParseTagged(tt.in)
		if tt.wantErr != "" {
			if err == nil || err.Error() != tt.wantErr {
				t.Errorf("ParseTagged(%q) error = %v, want %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil {
			t.Errorf("ParseTagged(%q): %v", tt.in, err)
			continue
		}
		if r.String() != tt.want {
			t.Errorf("ParseTagged(%q) = %q, want %q", tt.in, r.String(), tt.want)
		}
	}
}

func TestLooksLikeID(t *testing.T) {
	tests := []struct {
		in   string
		want bool
	}{
		{"a", true},
		{"abc123", true},
		{hex64, true},
		{sha, true},
		{"sha256:abc", true},
		{"", false},
		{"sha256:", false},
		{hex64 + "0", false},
		{"ABC", false},
		{"xyz", false},
		{"busybox", false},
		{"abc:1", false},
		{"sha512:abc", false},
	}
	for _, tt := range tests {
		if got := LooksLikeID(tt.in); got != tt.want {
			t.Errorf("LooksLikeID(%q) = %v, want %v", tt.in, got, tt.want)
		}
	}
}

func TestZeroRefPrintsPath(t *testing.T) {
	r := Ref{Path: "x", Tag: "1"}
	if r.String() != "x:1" || r.Full() != "x:1" {
		t.Fatalf("zero-domain Ref printed as %q / %q", r.String(), r.Full())
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"busybox", "foo/bar:1", "localhost:5000/x", "ghcr.io/a/b:t", "x@" + sha,
		"x:1@" + sha, "docker.io/foo.bar/baz", "docker.io/library/a/b", "Registry/a",
		"[::1]:5000/x:y", "x/a.b-c__d_e--f/g", "sha256:" + hex64, hex64, "Busybox", "",
		"ghcr.io/a/b@" + sha512, "index.docker.io/x",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := Parse(s)
		if err != nil {
			return
		}
		if r.Domain == "" || r.Path == "" || (r.Tag == "" && r.Digest == "") {
			t.Fatalf("Parse(%q) = %+v: incomplete", s, r)
		}
		for _, form := range []string{r.String(), r.Full()} {
			back, err := Parse(form)
			if err != nil {
				t.Fatalf("Parse(%q) = %+v, printed %q which fails: %v", s, r, form, err)
			}
			if back != r {
				t.Fatalf("Parse(%q) = %+v, printed %q which parses to %+v", s, r, form, back)
			}
		}
		// A 64-hex repository name is legal only with a tag, so alone it is
		// refused, as in Docker.
		if isLowerHex(r.Repository(), 64, 64) {
			return
		}
		repo, err := Parse(r.Repository())
		if err != nil || repo.Domain != r.Domain || repo.Path != r.Path {
			t.Fatalf("Repository() %q of %+v parses to %+v, %v", r.Repository(), r, repo, err)
		}
	})
}
