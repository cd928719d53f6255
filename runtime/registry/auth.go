package registry

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/docker/cli/cli/config"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"

	"lab/runtime/reference"
)

// ErrUnauthorized is a registry refusing credentials.
var ErrUnauthorized = errors.New("unauthorized: incorrect username or password")

// DockerHubServer is the key Docker uses for Docker Hub in config.json.
const DockerHubServer = "https://index.docker.io/v1/"

// serverKey is the config.json key of a registry host, as `docker login` writes it.
func serverKey(host string) string {
	switch host {
	case "", reference.DefaultDomain, "index.docker.io", "registry-1.docker.io", DockerHubServer:
		return DockerHubServer
	}
	return host
}

// ServerHost turns what a user typed after `login` into a registry host: a URL's
// host, or Docker Hub for nothing at all.
func ServerHost(server string) string {
	s := strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	s, _, _ = strings.Cut(s, "/")
	if s == "" || serverKey(s) == DockerHubServer {
		return reference.DefaultDomain
	}
	return s
}

// keychain reads credentials the way the docker CLI does: config.json's auths, or the
// credential helper (credsStore / credHelpers) it names.
type keychain struct{ dir string }

func loadConfig(dir string) (*configfile.ConfigFile, error) {
	if dir == "" {
		dir = config.Dir()
	}
	cf, err := config.Load(dir)
	if err != nil {
		return nil, fmt.Errorf("read docker config: %w", err)
	}
	return cf, nil
}

func (k keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	cf, err := loadConfig(k.dir)
	if err != nil {
		return nil, err
	}
	ac, err := cf.GetAuthConfig(serverKey(r.RegistryStr()))
	if err != nil {
		return nil, fmt.Errorf("credentials for %s: %w", r.RegistryStr(), err)
	}
	if ac.Username == "" && ac.Password == "" && ac.Auth == "" && ac.IdentityToken == "" && ac.RegistryToken == "" {
		return authn.Anonymous, nil
	}
	return authn.FromConfig(authn.AuthConfig{Username: ac.Username, Password: ac.Password, Auth: ac.Auth,
		IdentityToken: ac.IdentityToken, RegistryToken: ac.RegistryToken}), nil
}

// Login checks user and password against the registry at host (the /v2/ handshake,
// with a token fetched when the registry asks for one) and, when they work, stores
// them where `docker login` would. It returns the config.json key used.
func Login(ctx context.Context, host, user, password string, o Options) (string, error) {
	host = ServerHost(host)
	reg, err := name.NewRegistry(host, o.nameOptions(host)...)
	if err != nil {
		return "", fmt.Errorf("invalid registry %q: %w", host, err)
	}
	base, err := o.transport(host)
	if err != nil {
		return "", err
	}
	auth := authn.FromConfig(authn.AuthConfig{Username: user, Password: password})
	t, err := transport.NewWithContext(ctx, reg, auth, base, []string{})
	if err != nil {
		return "", classify(err, "")
	}
	// A basic-auth registry has not seen the credentials yet: ask it once with them.
	for _, scheme := range []string{"https", "http"} {
		if scheme == "http" && reg.Scheme() != "http" {
			break
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, scheme+"://"+reg.RegistryStr()+"/v2/", nil)
		resp, rerr := t.RoundTrip(req)
		if rerr != nil {
			err = rerr
			continue
		}
		resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			err = nil
		case http.StatusUnauthorized, http.StatusForbidden:
			return "", ErrUnauthorized
		default:
			return "", fmt.Errorf("login to %s: unexpected status %s", host, resp.Status)
		}
		break
	}
	if err != nil {
		return "", classify(err, "")
	}
	cf, err := loadConfig(o.ConfigDir)
	if err != nil {
		return "", err
	}
	key := serverKey(host)
	if err := cf.GetCredentialsStore(key).Store(types.AuthConfig{Username: user, Password: password, ServerAddress: key}); err != nil {
		return "", fmt.Errorf("saving credentials: %w", err)
	}
	if err := cf.Save(); err != nil {
		return "", fmt.Errorf("saving credentials: %w", err)
	}
	return key, nil
}

// Logout forgets the credentials of host. It reports false when there were none.
func Logout(host string, o Options) (string, bool, error) {
	key := serverKey(ServerHost(host))
	cf, err := loadConfig(o.ConfigDir)
	if err != nil {
		return key, false, err
	}
	_, inFile := cf.AuthConfigs[key]
	ac, _ := cf.GetAuthConfig(key)
	if !inFile && ac.Username == "" && ac.Password == "" {
		return key, false, nil
	}
	if err := cf.GetCredentialsStore(key).Erase(key); err != nil {
		return key, true, fmt.Errorf("removing credentials for %s: %w", key, err)
	}
	delete(cf.AuthConfigs, key)
	return key, true, cf.Save()
}
