package credhelper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/docker/docker-credential-helpers/credentials"
	"golang.org/x/sync/singleflight"

	"github.com/docker-credential-acr/docker-credential-acr/cache"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// TokenUsername is the username ACR expects with a refresh token as password.
const TokenUsername = "00000000-0000-0000-0000-000000000000"

// IdentityTokenUsername makes Docker treat the secret as an identity token.
const IdentityTokenUsername = "<token>"

// DefaultRefreshMargin is how much life a cached ACR refresh token must have
// left to be handed out again. A client trades the refresh token for access
// tokens throughout an operation, so what it is handed must outlive the
// longest push or pull we expect; an hour covers a multi-gigabyte push over
// a slow link, and with ACR's three-hour tokens it still lets one token serve
// two hours of calls. For tokens that live less than two margins, half the
// lifetime is used instead, so short-lived tokens are still reused.
const DefaultRefreshMargin = time.Hour

// DefaultTimeout bounds one helper call, so that a docker pull never hangs
// on an unreachable Azure AD or registry.
const DefaultTimeout = 30 * time.Second

// negativeTTL is how long "no identity available" is remembered: long enough
// that a docker build calling the helper for every credHelpers entry answers
// at once, short enough that an `az login` is noticed soon.
const negativeTTL = 30 * time.Second

// Cache file names in the cache directory.
const (
	tokensFile      = "tokens.json"
	credentialsFile = "credentials.json"
)

// Options configure a Helper. Zero values mean the process environment.
type Options struct {
	Getenv  func(string) string
	Stderr  io.Writer
	Now     func() time.Time
	Fetcher *token.Fetcher
	// ProbeIMDS replaces the managed identity endpoint probe.
	ProbeIMDS func(context.Context) bool
	// Logger receives warnings and debug records; nil builds one from
	// DOCKER_CREDENTIAL_ACR_LOG_LEVEL and DOCKER_CREDENTIAL_ACR_LOG_FILE
	// that writes to Stderr.
	Logger *slog.Logger

	// CacheDir replaces the cache directory of the environment.
	CacheDir string
	// NoCache keeps tokens in memory only: no file is read or written, and
	// credentials stored with `docker login` are not consulted.
	NoCache bool
	// TokenCredential, if set, is the only Azure AD identity used for every
	// registry (stored and configured credentials still come first).
	TokenCredential azcore.TokenCredential
	// TokenCredentialID names TokenCredential's identity in cache keys, so
	// that its tokens can be shared on disk; without it they are kept in
	// memory only.
	TokenCredentialID string
	// HTTPClient sends the Azure AD and registry requests.
	HTTPClient *http.Client
}

// Helper implements the Docker credential helper protocol
// (credentials.Helper) for Azure Container Registry.
type Helper struct {
	getenv    func(string) string
	stderr    io.Writer
	now       func() time.Time
	fetcher   *token.Fetcher
	lookPath  func(string) (string, error)
	probeIMDS func(context.Context) bool
	log       *slog.Logger
	cacheDir  string
	noCache   bool
	cred      azcore.TokenCredential
	credID    string

	mem           memCache
	group         singleflight.Group
	cacheWarned   atomic.Bool
	configWarned  sync.Once
	timeoutWarned sync.Once
	storedWarned  sync.Once

	cfgOnce sync.Once
	cfg     *Config
	cfgErr  error
}

var _ credentials.Helper = (*Helper)(nil)

// New returns a Helper.
func New(o Options) *Helper {
	h := &Helper{getenv: o.Getenv, stderr: o.Stderr, now: o.Now, fetcher: o.Fetcher, probeIMDS: o.ProbeIMDS,
		cacheDir: o.CacheDir, noCache: o.NoCache, cred: o.TokenCredential, credID: o.TokenCredentialID}
	if h.getenv == nil {
		h.getenv = os.Getenv
	}
	if h.stderr == nil {
		h.stderr = os.Stderr
	}
	if h.now == nil {
		h.now = time.Now
	}
	if h.fetcher == nil {
		h.fetcher = &token.Fetcher{}
	}
	h.fetcher = h.configureFetcher(*h.fetcher, o.HTTPClient)
	if h.probeIMDS == nil {
		h.probeIMDS = func(ctx context.Context) bool { return dialProbe(ctx, imdsAddr, imdsProbeTimeout) }
	}
	h.lookPath = lookPathEnv(h.getenv)
	h.log = o.Logger
	if h.log == nil {
		h.log = newLogger(h.getenv, h.stderr)
	}
	return h
}

// configureFetcher completes the fetcher with the helper's environment,
// HTTP client and supplied credential.
func (h *Helper) configureFetcher(f token.Fetcher, client *http.Client) *token.Fetcher {
	if f.CredentialOptions.Getenv == nil {
		f.CredentialOptions.Getenv = h.getenv
	}
	if client != nil {
		if f.Exchanger == nil {
			f.Exchanger = &token.HTTPExchanger{Client: client, MaxRetries: 3}
		}
		if f.CredentialOptions.Transport == nil {
			f.CredentialOptions.Transport = client
		}
	}
	if h.cred != nil && f.NewCredential == nil {
		opts := f.CredentialOptions
		f.NewCredential = func(id token.Identity) (azcore.TokenCredential, error) {
			if id.Kind == token.KindCredential {
				return h.cred, nil
			}
			return id.Credential(opts)
		}
	}
	return &f
}

// config loads the configuration file once.
func (h *Helper) config() (*Config, error) {
	h.cfgOnce.Do(func() {
		path := ConfigPath(h.getenv)
		h.cfg, h.cfgErr = LoadConfig(path, h.getenv(EnvConfig) != "")
		if h.cfgErr == nil {
			h.warnInlinePasswords()
		}
	})
	return h.cfg, h.cfgErr
}

// configPath is the configuration file's path, for messages.
func (h *Helper) configPath() string {
	if cfg, _ := h.config(); cfg != nil && cfg.path != "" {
		return cfg.path
	}
	return ConfigPath(h.getenv)
}

func (h *Helper) warnInlinePasswords() {
	for key, r := range h.cfg.Registries {
		if r.Password != "" {
			h.warnf("config %s: registry %q has an inline password; prefer passwordFile or passwordEnv", h.cfg.path, key)
		}
	}
}

func (h *Helper) warnf(format string, args ...any) {
	h.log.Warn(fmt.Sprintf(format, args...))
}

// cacheProblem reports, once per process, that the cache cannot be used;
// the helper then works without it. Later problems with the same cache
// would only repeat the cause.
func (h *Helper) cacheProblem(what string, err error) {
	if h.cacheWarned.CompareAndSwap(false, true) {
		h.warnf("working without the cache (%s): %v", what, err)
	}
}

// CacheDir is where tokens and stored credentials live:
// $DOCKER_CREDENTIAL_ACR_CACHE_DIR, else $XDG_CACHE_HOME/docker-credential-acr,
// else ~/.cache/docker-credential-acr.
func CacheDir(getenv func(string) string) string {
	if d := getenv(EnvCacheDir); d != "" {
		return d
	}
	if x := getenv("XDG_CACHE_HOME"); x != "" {
		return filepath.Join(x, "docker-credential-acr")
	}
	if home := homeDir(getenv); home != "" {
		return filepath.Join(home, ".cache", "docker-credential-acr")
	}
	// No HOME (a kubelet plugin, a systemd unit): a per-user directory that
	// the cache's ownership and mode checks refuse if someone else made it.
	if os.Getuid() == 0 {
		return "/var/cache/docker-credential-acr"
	}
	return filepath.Join(os.TempDir(), fmt.Sprintf("docker-credential-acr-%d", os.Getuid()))
}

// errNoCache is returned by store when the cache is switched off.
var errNoCache = errors.New("the cache is switched off")

func (h *Helper) store(name string) (*cache.Store, error) {
	if h.noCache {
		return nil, errNoCache
	}
	dir := h.cacheDir
	if dir == "" {
		dir = CacheDir(h.getenv)
	}
	opts := []cache.Option{cache.WithLockTimeout(h.timeout() / 2)}
	if name == tokensFile {
		opts = append(opts, cache.WithoutSync()) // tokens can be fetched again
	} else {
		opts = append(opts, cache.Strict()) // what a user stored is never replaced unread
	}
	return cache.Open(dir, name, opts...)
}

// Timeout is the overall deadline of one call: DOCKER_CREDENTIAL_ACR_TIMEOUT,
// the configuration's defaults.timeout, or DefaultTimeout.
func (h *Helper) Timeout() time.Duration { return h.timeout() }

func (h *Helper) timeout() time.Duration {
	if v := h.getenv(EnvTimeout); v != "" {
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return d
		}
		h.timeoutWarned.Do(func() {
			h.warnf("%s=%q is not a positive duration such as 30s; ignored", EnvTimeout, shorten(v, 40))
		})
	}
	if cfg, _ := h.config(); cfg != nil && cfg.Defaults.Timeout > 0 {
		return time.Duration(cfg.Defaults.Timeout)
	}
	return DefaultTimeout
}

// Get returns credentials for an ACR host: stored ones first, then the
// configured identity, then the default Azure identity chain. Anything that
// is not an ACR host gets credentials.NewErrCredentialsNotFound at once.
func (h *Helper) Get(serverURL string) (string, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout())
	defer cancel()
	c, err := h.Lookup(ctx, serverURL)
	return c.Username, c.Secret, err
}

// Credentials are what the helper answers for a registry.
type Credentials struct {
	Username string
	Secret   string
	// ExpiresAt is when Secret stops working; zero when unknown or never.
	ExpiresAt time.Time
	// RefreshMargin is how long before ExpiresAt the helper replaces it.
	RefreshMargin time.Duration
	// Source says where the credentials came from, for people.
	Source string
}

// Lookup is Get with a context and the whole answer. It returns an error
// satisfying IsNotFound for anything that is not an ACR registry.
func (h *Helper) Lookup(ctx context.Context, serverURL string) (Credentials, error) {
	t, err := h.Target(serverURL)
	if err != nil {
		return Credentials{}, err
	}
	return h.Resolve(ctx, t)
}

// Target parses a server URL and recognises it as an ACR registry; other
// hosts give an error satisfying IsNotFound.
func (h *Helper) Target(serverURL string) (Target, error) {
	host, err := NormalizeServerURL(serverURL)
	if err != nil {
		return Target{}, credentials.NewErrCredentialsNotFound()
	}
	t, ok, err := h.target(host)
	if err != nil {
		return Target{}, err
	}
	if !ok {
		return Target{}, credentials.NewErrCredentialsNotFound()
	}
	return t, nil
}

// IsNotFound reports whether err means "no credentials for this host".
func IsNotFound(err error) bool {
	var nf *notFoundError
	return credentials.IsErrCredentialsNotFound(err) || errors.As(err, &nf)
}

// Resolve returns credentials for a recognised target.
func (h *Helper) Resolve(ctx context.Context, t Target) (Credentials, error) {
	if t.Identity == nil {
		if c, ok := h.stored(t.Host); ok {
			return c, nil
		}
		if rc := t.Config; rc != nil && rc.Identity == token.KindBasic {
			secret, err := token.ReadSecret(rc.PasswordFile, rc.PasswordEnv, h.getenv)
			if rc.Password != "" {
				secret, err = rc.Password, nil
			}
			if err != nil {
				field := "passwordFile"
				if rc.PasswordFile == "" {
					field = "passwordEnv"
				}
				return Credentials{}, fmt.Errorf("%s: the password that %s of registry %q in %s names cannot be read: %w",
					t.Host, field, t.Host, h.configPath(), err)
			}
			return Credentials{Username: rc.Username, Secret: secret, Source: "configured username and password"}, nil
		}
	}
	return h.refreshToken(ctx, t)
}

// username is the username answered with an ACR refresh token.
func username(t Target) string {
	if t.Config != nil && t.Config.IdentityToken {
		return IdentityTokenUsername
	}
	return TokenUsername
}

// audience is the configured audience policy for t.
func (h *Helper) audience(t Target) string {
	if t.Config != nil && t.Config.Audience != "" {
		return t.Config.Audience
	}
	if cfg, _ := h.config(); cfg != nil && cfg.Defaults.Audience != "" {
		return cfg.Defaults.Audience
	}
	return token.AudienceAuto
}

// refreshMargin is the configured margin, reduced to half the token's
// lifetime for short-lived tokens.
func (h *Helper) refreshMargin(secret string) time.Duration {
	m := DefaultRefreshMargin
	if cfg, _ := h.config(); cfg != nil && cfg.Defaults.RefreshMargin > 0 {
		m = time.Duration(cfg.Defaults.RefreshMargin)
	}
	if c, err := token.ParseClaims(secret); err == nil && !c.IssuedAt.IsZero() && c.Expiry.After(c.IssuedAt) {
		m = min(m, c.Expiry.Sub(c.IssuedAt)/2)
	}
	return m
}

// tokenKey is the cache key of t's refresh token for the identities it would
// use: registry, cloud, audience policy and the identities' kinds, tenants and
// client IDs (never a secret; the key is a hash anyway).
func (h *Helper) tokenKey(ctx context.Context, t Target) string {
	ids, _ := h.identities(ctx, t, false)
	parts := []string{"token", t.Host, t.Cloud.AuthorityHost, h.audience(t)}
	for _, id := range ids {
		parts = append(parts, id.CacheID())
	}
	return cache.Key(parts...)
}

// joinTried formats the identities that were tried for messages.
func joinTried(tried []string) string {
	if len(tried) == 0 {
		return "nothing"
	}
	return strings.Join(tried, "; ")
}
