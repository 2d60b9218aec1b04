package acr

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/google/go-containerregistry/pkg/authn"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// An Option configures Keychain and Credentials.
type Option func(*settings)

type settings struct {
	opts       credhelper.Options
	configFile string
}

// WithTokenCredential makes cred the only Azure AD identity used, for every
// ACR registry, instead of the configured identity and the default chain
// (credentials stored with `docker login` and configured basic credentials
// still come first). Use it when the program already has an azidentity
// credential.
//
// id names the identity in the on-disk cache key (for example
// "serviceprincipal:<tenant>:<client id>"); tokens obtained with the same
// id are shared through the cache by every program using it. With an
// empty id the tokens are kept in memory only, since nothing would tell
// two different credentials apart on disk.
//
// A credential that fails, including one that reports itself unavailable
// (an AzureCLICredential with no az installed), makes the lookup fail for
// ACR registries: the program named it, so its failure is not taken for
// "no identity here" and anonymous access.
func WithTokenCredential(cred azcore.TokenCredential, id string) Option {
	return func(s *settings) {
		s.opts.TokenCredential = cred
		s.opts.TokenCredentialID = id
	}
}

// WithCacheDir puts the token cache (and looks for credentials stored with
// `docker login`) in dir instead of the binary's default,
// $DOCKER_CREDENTIAL_ACR_CACHE_DIR, else $XDG_CACHE_HOME/docker-credential-acr,
// else ~/.cache/docker-credential-acr. Keep the default to share tokens
// with the binary.
func WithCacheDir(dir string) Option {
	return func(s *settings) { s.opts.CacheDir = dir }
}

// WithoutCache keeps tokens in memory only, for the life of the Keychain or
// Credentials value: no file is read or written, and credentials stored
// with `docker login` are not consulted.
func WithoutCache() Option {
	return func(s *settings) { s.opts.NoCache = true }
}

// WithHTTPClient sends the Azure AD and token exchange requests through
// client (its transport: proxy, TLS roots, timeouts). Default: a client that
// honours HTTPS_PROXY and SSL_CERT_FILE. The registry requests themselves
// are sent by the calling library, not by this package.
func WithHTTPClient(client *http.Client) Option {
	return func(s *settings) { s.opts.HTTPClient = client }
}

// WithLogger sends warnings and debug records to l. Default: nothing is
// logged.
func WithLogger(l *slog.Logger) Option {
	return func(s *settings) { s.opts.Logger = l }
}

// WithConfigFile reads the helper configuration from path (which must
// exist) instead of $DOCKER_CREDENTIAL_ACR_CONFIG or the default location.
func WithConfigFile(path string) Option {
	return func(s *settings) { s.configFile = path }
}

// newHelper builds the one Helper that a Keychain or Credentials value
// uses for its whole life: sharing it is what makes concurrent lookups
// share a fetch and later ones hit the memory cache.
func newHelper(opts []Option) (*credhelper.Helper, *slog.Logger) {
	var s settings
	for _, o := range opts {
		o(&s)
	}
	if s.opts.Logger == nil {
		s.opts.Logger = slog.New(slog.DiscardHandler)
	}
	s.opts.Stderr = io.Discard
	if path := s.configFile; path != "" {
		s.opts.Getenv = func(k string) string {
			if k == credhelper.EnvConfig {
				return path
			}
			return os.Getenv(k)
		}
	}
	return credhelper.New(s.opts), s.opts.Logger
}

// lookup resolves host to credentials. An error satisfying
// credhelper.IsNotFound means anonymous: host is not an ACR registry, or no
// Azure identity is available for it (which is logged). Other errors are
// real failures.
func lookup(ctx context.Context, h *credhelper.Helper, log *slog.Logger, host string) (credhelper.Credentials, error) {
	t, err := h.Target(host)
	if credhelper.IsNotFound(err) {
		log.Debug("not an Azure Container Registry; anonymous", "registry", host)
		return credhelper.Credentials{}, err
	}
	if err != nil {
		return credhelper.Credentials{}, redacted{err}
	}
	c, err := resolve(ctx, h, t)
	if credhelper.IsNotFound(err) {
		log.Warn("no credentials for an Azure Container Registry; trying anonymous access",
			"registry", t.Host, "reason", reason(err))
		return credhelper.Credentials{}, err
	}
	if err != nil {
		return credhelper.Credentials{}, redacted{err}
	}
	return c, nil
}

// redacted is a lookup failure as the program sees it: "acr: " and the
// message without any secret the helper handled (an Azure AD error may echo
// the request), still wrapping the cause for errors.Is and errors.As.
type redacted struct{ err error }

func (e redacted) Error() string { return "acr: " + token.Redact(e.err.Error()) }
func (e redacted) Unwrap() error { return e.err }

// resolve is h.Resolve. The helper runs a shared fetch detached from any
// one caller's context and bounded by its timeout, so an impatient caller
// gives up alone and the others still get the result.
func resolve(ctx context.Context, h *credhelper.Helper, t credhelper.Target) (credhelper.Credentials, error) {
	return h.Resolve(ctx, t)
}

// reason explains a not-found error from the helper: which identities were
// tried.
func reason(err error) string {
	var r interface{ Reason() string }
	if errors.As(err, &r) {
		return r.Reason()
	}
	return err.Error()
}

// Keychain returns an authn.Keychain (also an authn.ContextKeychain) for
// Azure Container Registry. Resolve answers:
//
//   - authn.Anonymous for a registry that is not ACR, without any Azure AD
//     request or other work beyond reading the configuration file once;
//   - authn.Anonymous for an ACR registry when no Azure identity is
//     available at all (logged as a warning), as the binary does;
//   - an error when the registry's identity fails or its configuration is
//     broken;
//   - otherwise an Authenticator that looks the credentials up again at
//     every Authorization call, so it never hands out an expired token.
//
// Build one Keychain and reuse it: it is safe for concurrent use and its
// memory cache and single flight live as long as it does.
func Keychain(opts ...Option) authn.Keychain {
	h, log := newHelper(opts)
	return &keychain{h: h, log: log}
}

type keychain struct {
	h   *credhelper.Helper
	log *slog.Logger
}

var (
	_ authn.Keychain        = (*keychain)(nil)
	_ authn.ContextKeychain = (*keychain)(nil)
)

// Resolve implements authn.Keychain.
func (k *keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

// ResolveContext implements authn.ContextKeychain.
func (k *keychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	_, err := lookup(ctx, k.h, k.log, host)
	if credhelper.IsNotFound(err) {
		return authn.Anonymous, nil
	}
	if err != nil {
		return nil, err
	}
	return &authenticator{k: k, host: host}, nil
}

// authenticator looks the registry's credentials up at each Authorization;
// the helper's memory cache answers until the token nears its expiry.
type authenticator struct {
	k    *keychain
	host string
}

var (
	_ authn.Authenticator        = (*authenticator)(nil)
	_ authn.ContextAuthenticator = (*authenticator)(nil)
)

// Authorization implements authn.Authenticator.
func (a *authenticator) Authorization() (*authn.AuthConfig, error) {
	return a.AuthorizationContext(context.Background())
}

// AuthorizationContext implements authn.ContextAuthenticator.
func (a *authenticator) AuthorizationContext(ctx context.Context) (*authn.AuthConfig, error) {
	c, err := lookup(ctx, a.k.h, a.k.log, a.host)
	if credhelper.IsNotFound(err) {
		// The identity went away since Resolve (an az logout, say).
		return nil, fmt.Errorf("acr: %s: %s", a.host, reason(err))
	}
	if err != nil {
		return nil, err
	}
	if c.Username == credhelper.IdentityTokenUsername {
		return &authn.AuthConfig{Username: c.Username, IdentityToken: c.Secret}, nil
	}
	return &authn.AuthConfig{Username: c.Username, Password: c.Secret}, nil
}

// String describes the authenticator without its secret.
func (a *authenticator) String() string { return "acr credentials for " + a.host }

// Credentials returns a lookup of the username and secret for a registry
// host ("myregistry.azurecr.io", with or without ":443", "https://" or a
// "/v2/" path). A host that is not ACR, and an ACR host with no Azure
// identity available, give ("", "", nil): anonymous. A failing identity
// gives an error. Every call looks up again, so the answer is always fresh;
// see the package documentation for the containerd, oras-go and buildkit
// adapters.
//
// Build one and reuse it: it is safe for concurrent use and its memory
// cache and single flight live as long as it does.
func Credentials(opts ...Option) func(ctx context.Context, host string) (username, secret string, err error) {
	h, log := newHelper(opts)
	return func(ctx context.Context, host string) (string, string, error) {
		c, err := lookup(ctx, h, log, host)
		if credhelper.IsNotFound(err) {
			return "", "", nil
		}
		return c.Username, c.Secret, err
	}
}
