// Package registrytest starts a real registry (Debian's docker-registry, the CNCF
// distribution server) on 127.0.0.1 for tests, configured per test: anonymous, basic
// auth from an htpasswd file, bearer tokens from a small token server of the test's
// own, and TLS with a CA the test makes. Nothing in it is used outside tests.
package registrytest

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// Binary is where Debian's docker-registry package installs the server.
const Binary = "/usr/bin/docker-registry"

// Config chooses how the registry is set up.
type Config struct {
	User, Password string // basic auth (htpasswd) when User is set and Token is false
	Token          bool   // bearer tokens from a token server of the test (User/Password checked there)
	TLS            bool   // HTTPS with a certificate from a CA the test makes
}

// Registry is one running registry.
type Registry struct {
	Host     string // 127.0.0.1:PORT
	Dir      string // its storage root
	CertsDir string // Docker's certs.d layout holding the CA for Host (TLS only)
	CAFile   string
	cmd      *exec.Cmd
	cfg      string
	log      *bytes.Buffer
	tokens   *http.Server
}

// Start runs a registry for the test and stops it at the end. It skips the test when
// the server is not installed (make deps installs it).
func Start(t testing.TB, c Config) *Registry {
	t.Helper()
	if _, err := os.Stat(Binary); err != nil {
		t.Skip("docker-registry is not installed (make deps installs the docker-registry package)")
	}
	dir := t.TempDir()
	r := &Registry{Dir: filepath.Join(dir, "storage"), Host: "127.0.0.1:" + freePort(t), log: &bytes.Buffer{}}
	var auth, tlsCfg string
	switch {
	case c.Token:
		certPEM, key := selfSigned(t, "token-signer")
		bundle := filepath.Join(dir, "token.pem")
		must(t, os.WriteFile(bundle, certPEM, 0o600))
		realm := r.startTokenServer(t, c, certPEM, key)
		auth = fmt.Sprintf("auth:\n  token:\n    realm: %s\n    service: lab-test\n    issuer: lab-test-issuer\n    rootcertbundle: %s\n", realm, bundle)
	case c.User != "":
		h, err := bcrypt.GenerateFromPassword([]byte(c.Password), bcrypt.MinCost)
		must(t, err)
		p := filepath.Join(dir, "htpasswd")
		must(t, os.WriteFile(p, []byte(c.User+":"+string(h)+"\n"), 0o600))
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: lab-test\n    path: %s\n", p)
	}
	if c.TLS {
		certFile, keyFile := r.makeTLS(t, dir)
		tlsCfg = fmt.Sprintf("  tls:\n    certificate: %s\n    key: %s\n", certFile, keyFile)
	}
	r.cfg = filepath.Join(dir, "config.yml")
	cfg := fmt.Sprintf("version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\n  delete:\n    enabled: true\nhttp:\n  addr: %s\n%s%s", r.Dir, r.Host, tlsCfg, auth)
	must(t, os.WriteFile(r.cfg, []byte(cfg), 0o600))
	r.start(t)
	t.Cleanup(r.Stop)
	return r
}

func (r *Registry) start(t testing.TB) {
	t.Helper()
	r.cmd = exec.Command(Binary, "serve", r.cfg)
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	r.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	must(t, r.cmd.Start())
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", r.Host, 200*time.Millisecond); err == nil {
			c.Close()
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	r.Stop()
	t.Fatalf("docker-registry did not listen on %s:\n%s", r.Host, r.log)
}

// Stop kills the registry (as a crash would). Restart starts it again on the same
// port and storage.
func (r *Registry) Stop() {
	if r.cmd != nil && r.cmd.Process != nil {
		r.cmd.Process.Kill()
		r.cmd.Wait()
		r.cmd = nil
	}
}

// Restart starts a stopped registry again.
func (r *Registry) Restart(t testing.TB) { r.start(t) }

// Log is what the registry printed.
func (r *Registry) Log() string { return r.log.String() }

// BlobPath is where the registry keeps a blob: tests corrupt it there.
func (r *Registry) BlobPath(hex string) string {
	return filepath.Join(r.Dir, "docker", "registry", "v2", "blobs", "sha256", hex[:2], hex, "data")
}

func freePort(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	defer l.Close()
	_, p, _ := net.SplitHostPort(l.Addr().String())
	return p
}

func must(t testing.TB, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// makeTLS makes a CA, a server certificate for 127.0.0.1 signed by it, and Docker's
// certs.d/<host>/ca.crt for clients.
func (r *Registry) makeTLS(t testing.TB, dir string) (certFile, keyFile string) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "lab test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	must(t, err)
	ca, _ := x509.ParseCertificate(caDER)
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	must(t, err)
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	must(t, os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600))
	kb, _ := x509.MarshalECPrivateKey(key)
	must(t, os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kb}), 0o600))
	r.CertsDir = filepath.Join(dir, "certs.d")
	must(t, os.MkdirAll(filepath.Join(r.CertsDir, r.Host), 0o755))
	r.CAFile = filepath.Join(r.CertsDir, r.Host, "ca.crt")
	must(t, os.WriteFile(r.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644))
	return certFile, keyFile
}

func selfSigned(t testing.TB, cn string) ([]byte, *ecdsa.PrivateKey) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	must(t, err)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), key
}

// startTokenServer serves the bearer-token endpoint of the distribution token spec: it
// checks basic credentials (when the config has a user) and returns a signed JWT
// granting the scopes asked for. It returns the realm URL.
func (r *Registry) startTokenServer(t testing.TB, c Config, certPEM []byte, key *ecdsa.PrivateKey) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	must(t, err)
	blk, _ := pem.Decode(certPEM)
	x5c := base64.StdEncoding.EncodeToString(blk.Bytes)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if c.User != "" {
			u, p, ok := req.BasicAuth()
			if !ok || u != c.User || p != c.Password {
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad credentials"}]}`, http.StatusUnauthorized)
				return
			}
		}
		var access []map[string]any
		for _, s := range req.URL.Query()["scope"] {
			parts := strings.Split(s, ":")
			if len(parts) == 3 {
				access = append(access, map[string]any{"type": parts[0], "name": parts[1], "actions": strings.Split(parts[2], ",")})
			}
		}
		if access == nil {
			access = []map[string]any{}
		}
		now := time.Now()
		claims := map[string]any{"iss": "lab-test-issuer", "sub": c.User, "aud": req.URL.Query().Get("service"),
			"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
			"jti": fmt.Sprint(now.UnixNano()), "access": access}
		tok, err := signJWT(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{x5c}}, claims, key)
		if err != nil {
			http.Error(w, err.Error(), 500)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"token": tok, "access_token": tok, "expires_in": 300})
	})}
	go srv.Serve(l)
	r.tokens = srv
	t.Cleanup(func() { srv.Close() })
	// By name, not IP: go-containerregistry refuses token realms on loopback or
	// private IP literals (a guard against a registry steering clients at internal
	// services), unless the realm is the registry's own host:port.
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return "http://localhost:" + port + "/token"
}

func signJWT(header, claims map[string]any, key *ecdsa.PrivateKey) (string, error) {
	enc := func(v any) (string, error) {
		b, err := json.Marshal(v)
		return base64.RawURLEncoding.EncodeToString(b), err
	}
	h, err := enc(header)
	if err != nil {
		return "", err
	}
	c, err := enc(claims)
	if err != nil {
		return "", err
	}
	signing := h + "." + c
	sum := sha256.Sum256([]byte(signing))
	rr, ss, err := ecdsa.Sign(rand.Reader, key, sum[:])
	if err != nil {
		return "", err
	}
	sig := make([]byte, 64)
	rr.FillBytes(sig[:32])
	ss.FillBytes(sig[32:])
	_ = crypto.SHA256
	return signing + "." + base64.RawURLEncoding.EncodeToString(sig), nil
}
