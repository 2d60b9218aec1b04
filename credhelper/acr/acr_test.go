package acr_test

import (
	"bytes"
	"context"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/credhelper/acr"
)

const guid = "00000000-0000-0000-0000-000000000000"

// resource is an authn.Resource for any registry string, even ones that
// name.NewRegistry would refuse.
type resource string

func (r resource) String() string      { return string(r) }
func (r resource) RegistryStr() string { return string(r) }

func newFake(t *testing.T) *fakeACR {
	f := startFakeACR()
	t.Cleanup(f.Close)
	return f
}

// writeConfig writes a helper configuration file and returns its path.
func writeConfig(t *testing.T, json string) string {
	p := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(p, []byte(json), 0o600))
	return p
}

// opts are the options that point the package at the fake, with an empty
// configuration so that nothing of the machine's is read.
func opts(t *testing.T, f *fakeACR, extra ...acr.Option) []acr.Option {
	return append([]acr.Option{
		acr.WithTokenCredential(f.Credential(), ""),
		acr.WithHTTPClient(f.Client()),
		acr.WithConfigFile(writeConfig(t, `{}`)),
		acr.WithCacheDir(t.TempDir()),
	}, extra...)
}

func TestNonACRHostsAreAnonymousWithoutAzure(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	o := []acr.Option{acr.WithTokenCredential(failingCredential{&calls}, ""), acr.WithoutCache(),
		acr.WithConfigFile(writeConfig(t, `{}`))}
	kc := acr.Keychain(o...)
	creds := acr.Credentials(o...)
	for _, host := range []string{
		"ghcr.io", "index.docker.io", "registry-1.docker.io", "localhost:5000",
		"myregistry.azurecr.io.evil.com", "evil.com/myregistry.azurecr.io", "myregistry.azurecr.io@evil.com",
		"http://myregistry.azurecr.io", "myregistry.azurecr.io:5000", "myregistry.eastus.data.azurecr.io",
		"evilazurecr.io", "", "MYREGISTRY.AZURECR.IO.evil.com.",
	} {
		auth, err := kc.Resolve(resource(host))
		require.NoError(t, err, host)
		assert.Same(t, authn.Anonymous, auth, host)
		user, secret, err := creds(context.Background(), host)
		assert.NoError(t, err, host)
		assert.Empty(t, user+secret, host)
	}
	assert.Zero(t, calls.Load(), "no Azure AD request for a host that is not ACR")
}

func TestKeychainAnswersACRWithRefreshToken(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	kc := acr.Keychain(opts(t, f)...)
	for _, host := range []string{"myregistry.azurecr.io", "MyRegistry.azurecr.io.", "myregistry.azurecr.io:443"} {
		auth, err := kc.Resolve(resource(host))
		require.NoError(t, err)
		require.NotSame(t, authn.Anonymous, auth)
		cfg, err := auth.Authorization()
		require.NoError(t, err)
		assert.Equal(t, guid, cfg.Username)
		assert.Equal(t, 3, strings.Count(cfg.Password, ".")+1, "a JWT")
		assert.Empty(t, cfg.IdentityToken)
		assert.NotContains(t, auth.(interface{ String() string }).String(), cfg.Password)

		cfg2, err := authn.Authorization(context.Background(), auth)
		require.NoError(t, err)
		assert.Equal(t, cfg, cfg2)
	}
	assert.Equal(t, 1, f.Exchanges(), "one exchange, whatever the spelling of the host")
	assert.Equal(t, 1, f.AADCalls())

	// The context variant of the keychain.
	ck, ok := kc.(authn.ContextKeychain)
	require.True(t, ok)
	auth, err := ck.ResolveContext(context.Background(), resource("myregistry.azurecr.io"))
	require.NoError(t, err)
	assert.NotSame(t, authn.Anonymous, auth)
}

func TestConcurrentResolvesExchangeOnce(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		extra []acr.Option
	}{
		{"memory", []acr.Option{acr.WithoutCache()}},
		{"disk", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := newFake(t)
			f.delay = 200 * time.Millisecond // hold the first exchange open while the others pile up
			kc := acr.Keychain(opts(t, f, tc.extra...)...)
			const n = 100
			secrets := make([]string, n)
			var wg sync.WaitGroup
			start := make(chan struct{})
			for i := range n {
				wg.Go(func() {
					<-start
					auth, err := kc.Resolve(resource("myregistry.azurecr.io"))
					if !assert.NoError(t, err) {
						return
					}
					cfg, err := auth.Authorization()
					if assert.NoError(t, err) {
						secrets[i] = cfg.Password
					}
				})
			}
			close(start)
			wg.Wait()
			assert.Equal(t, 1, f.Exchanges(), "one exchange for %d goroutines", n)
			assert.Equal(t, 1, f.AADCalls(), "one Azure AD token for %d goroutines", n)
			for _, s := range secrets {
				assert.Equal(t, secrets[0], s)
			}
		})
	}
}

func TestConcurrentCredentialsExchangeOnce(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.delay = 200 * time.Millisecond
	creds := acr.Credentials(opts(t, f)...)
	var wg sync.WaitGroup
	for range 100 {
		wg.Go(func() {
			user, secret, err := creds(context.Background(), "https://myregistry.azurecr.io/v2/")
			assert.NoError(t, err)
			assert.Equal(t, guid, user)
			assert.NotEmpty(t, secret)
		})
	}
	wg.Wait()
	assert.Equal(t, 1, f.Exchanges())
}

func TestFailingIdentityIsAnError(t *testing.T) {
	t.Parallel()
	var calls atomic.Int32
	o := []acr.Option{acr.WithTokenCredential(failingCredential{&calls}, ""), acr.WithoutCache(),
		acr.WithConfigFile(writeConfig(t, `{}`))}
	kc := authn.NewMultiKeychain(authn.DefaultKeychain, acr.Keychain(o...))
	_, err := kc.Resolve(resource("myregistry.azurecr.io"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "myregistry.azurecr.io")
	assert.Contains(t, err.Error(), "AADSTS7000215")

	_, _, err = acr.Credentials(o...)(context.Background(), "myregistry.azurecr.io")
	require.Error(t, err)
	assert.Positive(t, calls.Load())
}

func TestNoIdentityIsAnonymousAndLogged(t *testing.T) {
	t.Parallel()
	// A chain with nothing in it: the only kind is switched off.
	cfg := writeConfig(t, `{"defaults":{"chain":["managedidentity"],"managedIdentity":"never"}}`)
	var logs bytes.Buffer
	var mu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))
	kc := acr.Keychain(acr.WithConfigFile(cfg), acr.WithoutCache(), acr.WithLogger(logger))
	auth, err := kc.Resolve(resource("myregistry.azurecr.io"))
	require.NoError(t, err)
	assert.Same(t, authn.Anonymous, auth)
	mu.Lock()
	assert.Contains(t, logs.String(), "no Azure identity for myregistry.azurecr.io")
	mu.Unlock()

	user, secret, err := acr.Credentials(acr.WithConfigFile(cfg), acr.WithoutCache())(context.Background(), "myregistry.azurecr.io")
	assert.NoError(t, err)
	assert.Empty(t, user+secret)
}

type lockedWriter struct {
	mu *sync.Mutex
	w  *bytes.Buffer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

func TestBrokenConfigIsAnErrorForACROnly(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	cfg := writeConfig(t, `{"registries": {"myregistry.azurecr.io": {"identity": "nonsense"}}}`)
	kc := acr.Keychain(acr.WithTokenCredential(f.Credential(), ""), acr.WithHTTPClient(f.Client()),
		acr.WithConfigFile(cfg), acr.WithoutCache())
	_, err := kc.Resolve(resource("myregistry.azurecr.io"))
	require.Error(t, err)
	assert.Contains(t, err.Error(), cfg)
	auth, err := kc.Resolve(resource("ghcr.io"))
	require.NoError(t, err)
	assert.Same(t, authn.Anonymous, auth)
	assert.Zero(t, f.Exchanges())

	_, err = acr.Keychain(acr.WithConfigFile(filepath.Join(t.TempDir(), "missing.json"))).Resolve(resource("myregistry.azurecr.io"))
	assert.ErrorContains(t, err, "missing.json", "a named configuration file must exist")
}

func TestAuthenticatorRefreshesLazily(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	// Tokens live 4 s; the refresh margin is then half of that, 2 s.
	f.Lifetime.Store(4)
	kc := acr.Keychain(opts(t, f)...)
	auth, err := kc.Resolve(resource("myregistry.azurecr.io"))
	require.NoError(t, err)
	first, err := auth.Authorization()
	require.NoError(t, err)
	again, err := auth.Authorization()
	require.NoError(t, err)
	assert.Equal(t, first.Password, again.Password, "a fresh token is reused")
	assert.Equal(t, 1, f.Exchanges())

	time.Sleep(3 * time.Second) // inside the margin: the same Authenticator must fetch anew
	later, err := auth.Authorization()
	require.NoError(t, err)
	assert.NotEqual(t, first.Password, later.Password)
	assert.Equal(t, 2, f.Exchanges())
}

func TestIdentityTokenForm(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	cfg := writeConfig(t, `{"registries": {"myregistry.azurecr.io": {"identityToken": true}}}`)
	kc := acr.Keychain(acr.WithTokenCredential(f.Credential(), ""), acr.WithHTTPClient(f.Client()),
		acr.WithConfigFile(cfg), acr.WithoutCache())
	auth, err := kc.Resolve(resource("myregistry.azurecr.io"))
	require.NoError(t, err)
	c, err := auth.Authorization()
	require.NoError(t, err)
	assert.Equal(t, "<token>", c.Username)
	assert.NotEmpty(t, c.IdentityToken)
	assert.Empty(t, c.Password)

	// go-containerregistry then uses the OAuth refresh_token grant.
	ref, err := name.ParseReference("myregistry.azurecr.io/idtoken:1")
	require.NoError(t, err)
	img, err := random.Image(256, 1)
	require.NoError(t, err)
	ro := []remote.Option{remote.WithAuthFromKeychain(kc), remote.WithTransport(f.Transport())}
	require.NoError(t, remote.Write(ref, img, ro...))
	_, err = remote.Head(ref, ro...)
	require.NoError(t, err)
}

func TestDiskCacheIsSharedByCredentialID(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	dir := t.TempDir()
	cfg := writeConfig(t, `{}`)
	o := func(id string) []acr.Option {
		return []acr.Option{acr.WithTokenCredential(f.Credential(), id), acr.WithHTTPClient(f.Client()),
			acr.WithConfigFile(cfg), acr.WithCacheDir(dir)}
	}
	ctx := context.Background()
	_, s1, err := acr.Credentials(o("sp:tenant:app")...)(ctx, "myregistry.azurecr.io")
	require.NoError(t, err)
	_, s2, err := acr.Credentials(o("sp:tenant:app")...)(ctx, "myregistry.azurecr.io")
	require.NoError(t, err)
	assert.Equal(t, s1, s2, "a second value (a second process) reads the token from disk")
	assert.Equal(t, 1, f.Exchanges())
	b, err := os.ReadFile(filepath.Join(dir, "tokens.json"))
	require.NoError(t, err)
	assert.Contains(t, string(b), s1)

	_, s3, err := acr.Credentials(o("sp:tenant:other-app")...)(ctx, "myregistry.azurecr.io")
	require.NoError(t, err)
	assert.NotEqual(t, s1, s3, "another identity has its own entry")
	_, s4, err := acr.Credentials(o("")...)(ctx, "myregistry.azurecr.io")
	require.NoError(t, err)
	assert.NotEqual(t, s1, s4, "an unnamed credential never reads the disk")
	assert.Equal(t, 3, f.Exchanges())
	b, err = os.ReadFile(filepath.Join(dir, "tokens.json"))
	require.NoError(t, err)
	assert.NotContains(t, string(b), s4, "nor writes it")
}

func TestStoredCredentialsComeFirst(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	dir := t.TempDir()
	// What `docker login myregistry.azurecr.io` stores through the binary.
	h := credhelper.New(credhelper.Options{CacheDir: dir, Getenv: func(string) string { return "" }, Stderr: &bytes.Buffer{}})
	require.NoError(t, h.Add(&credentials.Credentials{ServerURL: "myregistry.azurecr.io", Username: "myregistry", Secret: "admin-PLANTED"}))

	kc := acr.Keychain(acr.WithTokenCredential(f.Credential(), "sp"), acr.WithHTTPClient(f.Client()),
		acr.WithConfigFile(writeConfig(t, `{}`)), acr.WithCacheDir(dir))
	auth, err := kc.Resolve(resource("myregistry.azurecr.io"))
	require.NoError(t, err)
	c, err := auth.Authorization()
	require.NoError(t, err)
	assert.Equal(t, authn.AuthConfig{Username: "myregistry", Password: "admin-PLANTED"}, *c)
	assert.Zero(t, f.AADCalls())
	assert.Zero(t, f.Exchanges())
}

func TestContextCancelled(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.delay = 2 * time.Second
	creds := acr.Credentials(opts(t, f, acr.WithoutCache())...)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	_, _, err := creds(ctx, "myregistry.azurecr.io")
	require.Error(t, err, "the fake answers after 2 s: an error means the caller's deadline was honoured")
	assert.ErrorIs(t, err, context.DeadlineExceeded)
}

// The helper's single flight fetches with the first caller's context; a
// first caller that gives up must not fail the others.
func TestImpatientCallerDoesNotFailOthers(t *testing.T) {
	t.Parallel()
	f := newFake(t)
	f.delay = 500 * time.Millisecond
	creds := acr.Credentials(opts(t, f, acr.WithoutCache())...)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	first := make(chan error, 1)
	go func() {
		_, _, err := creds(ctx, "myregistry.azurecr.io")
		first <- err
	}()
	time.Sleep(20 * time.Millisecond)
	user, secret, err := creds(context.Background(), "myregistry.azurecr.io")
	require.NoError(t, err)
	assert.Equal(t, guid, user)
	assert.NotEmpty(t, secret)
	assert.ErrorIs(t, <-first, context.DeadlineExceeded)
	assert.Equal(t, 1, f.Exchanges())
}

// The binary must not link go-containerregistry: only this package does.
func TestBinaryDoesNotLinkGoContainerRegistry(t *testing.T) {
	t.Parallel()
	if testing.Short() {
		t.Skip("runs go list")
	}
	out, err := exec.Command("go", "list", "-deps", "../../cmd/docker-credential-acr").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "github.com/docker-credential-acr/docker-credential-acr/credhelper\n")
	assert.NotContains(t, string(out), "containerregistry")
	assert.NotContains(t, string(out), "credhelper/acr")
}
