package registry_test

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"lab/runtime/registry"
	"lab/runtime/registry/registrytest"
)

// A registry that answers every manifest request with one status and body, to see
// each failure turn into one clear error and an untouched store.
func TestPullBadAnswers(t *testing.T) {
	cases := []struct {
		status int
		body   string
		kind   error
		want   string
	}{
		{401, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, registry.ErrDenied, "pull access denied for"},
		{403, `{"errors":[{"code":"DENIED","message":"requested access to the resource is denied"}]}`, registry.ErrDenied, "denied"},
		{404, `{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}`, registry.ErrNotFound, "not found: manifest unknown"},
		{429, `{"errors":[{"code":"TOOMANYREQUESTS","message":"slow down"}]}`, registry.ErrUnavailable, "toomanyrequests"},
		{500, `oops`, registry.ErrUnavailable, "500 Internal Server Error"},
		{200, `{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"digest":"nonsense"}}`, registry.ErrMalformed, "malformed manifest"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprint(c.status), func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
				if req.URL.Path == "/v2/" {
					return
				}
				w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
				w.WriteHeader(c.status)
				fmt.Fprint(w, c.body)
			}))
			defer srv.Close()
			r := &registrytest.Registry{Host: strings.TrimPrefix(srv.URL, "http://")}
			e := newEngine(t)
			_, _, err := pull(t, e, r.Host+"/lab/x:1", options(t, r))
			if err == nil || !errors.Is(err, c.kind) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") {
				t.Fatalf("err = %v, want %v containing %q", err, c.kind, c.want)
			}
			if imgs, _ := e.Images.List(); len(imgs) != 0 {
				t.Fatal("an image was stored")
			}
			fsckClean(t, e)
		})
	}
}

func TestPullRegistryDown(t *testing.T) {
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	host := l.Addr().String()
	l.Close()
	e := newEngine(t)
	_, _, err := pull(t, e, host+"/lab/x:1", registry.Options{ConfigDir: t.TempDir()})
	if !errors.Is(err, registry.ErrUnavailable) || !strings.Contains(err.Error(), "connection refused") {
		t.Fatalf("err = %v", err)
	}
	_, _, err = pull(t, e, "no-such-host.invalid/lab/x:1", registry.Options{ConfigDir: t.TempDir()})
	if !errors.Is(err, registry.ErrUnavailable) || !strings.Contains(err.Error(), "no such host") {
		t.Fatalf("err = %v", err)
	}
}
