package registry

import (
	"crypto/tls"
	"crypto/x509"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"

	"lab/runtime/reference"
)

// Options configure a registry client. The zero value is Docker's defaults.
type Options struct {
	// CertsDir holds Docker's per-registry TLS files: <dir>/<host[:port]>/*.crt are
	// extra CAs, client.cert/client.key a client certificate. Default
	// /etc/docker/certs.d.
	CertsDir string
	// Insecure lists hosts (host or host:port) that may be reached over plain HTTP
	// when HTTPS fails, as dockerd's --insecure-registry. Loopback hosts always may.
	Insecure []string
	// ConfigDir is where config.json lives; default $DOCKER_CONFIG, else ~/.docker.
	ConfigDir string
	// Platform chooses from an index; default the host's.
	Platform *v1.Platform
	// Progress receives what a pull or push is doing, from one goroutine at a time.
	Progress func(Event)
}

// Event is one step of a pull or push, as Docker's progress lines show them.
type Event struct {
	ID      string // short digest of the layer ("" for the whole image)
	Status  string // "Pulling fs layer", "Downloading", "Pull complete", ...
	Current int64
	Total   int64
}

func (o *Options) emit(ev Event) {
	if o.Progress != nil {
		o.Progress(ev)
	}
}

// DefaultCertsDir is where Docker looks for per-registry CAs.
const DefaultCertsDir = "/etc/docker/certs.d"

// nameOptions says how go-containerregistry may reach the host of r.
func (o *Options) nameOptions(host string) []name.Option {
	opts := []name.Option{name.StrictValidation}
	if slices.Contains(o.Insecure, host) || slices.Contains(o.Insecure, hostOnly(host)) {
		opts = append(opts, name.Insecure)
	}
	return opts
}

func hostOnly(h string) string {
	if hh, _, err := net.SplitHostPort(h); err == nil {
		return hh
	}
	return h
}

// transport is an HTTP transport for host with the system CA pool plus Docker's
// certs.d for that host.
func (o *Options) transport(host string) (http.RoundTripper, error) {
	dir := o.CertsDir
	if dir == "" {
		dir = DefaultCertsDir
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	hostDir := filepath.Join(dir, host)
	if ents, err := os.ReadDir(hostDir); err == nil {
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		for _, e := range ents {
			n := e.Name()
			switch {
			case strings.HasSuffix(n, ".crt"):
				b, err := os.ReadFile(filepath.Join(hostDir, n))
				if err != nil {
					return nil, err
				}
				pool.AppendCertsFromPEM(b)
			case strings.HasSuffix(n, ".cert"):
				key := filepath.Join(hostDir, strings.TrimSuffix(n, ".cert")+".key")
				cert, err := tls.LoadX509KeyPair(filepath.Join(hostDir, n), key)
				if err != nil {
					return nil, err
				}
				tc.Certificates = append(tc.Certificates, cert)
			}
		}
		tc.RootCAs = pool
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tc,
		TLSHandshakeTimeout:   10 * time.Second,
		ResponseHeaderTimeout: 60 * time.Second,
		MaxIdleConnsPerHost:   8,
		ForceAttemptHTTP2:     true,
	}, nil
}

// remoteOptions are the options every call to one registry shares.
func (o *Options) remoteOptions(host string) ([]remote.Option, error) {
	t, err := o.transport(host)
	if err != nil {
		return nil, err
	}
	return []remote.Option{
		remote.WithTransport(t),
		remote.WithAuthFromKeychain(keychain{dir: o.ConfigDir}),
		remote.WithUserAgent("lab"),
		// Fail fast on a registry that answers 429/5xx: three tries over about a second.
		remote.WithRetryBackoff(remote.Backoff{Duration: 200 * time.Millisecond, Factor: 2, Jitter: 0.1, Steps: 3}),
		remote.WithJobs(3),
	}, nil
}

// repository is r's repository in go-containerregistry's terms.
func (o *Options) repository(r reference.Ref) (name.Repository, error) {
	return name.NewRepository(r.Domain+"/"+r.Path, o.nameOptions(r.Domain)...)
}
