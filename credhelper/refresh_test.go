package credhelper

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/cache"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// jwtFor builds an unsigned JWT; the helper reads only its times.
func jwtFor(t *testing.T, iat, exp time.Time) string {
	b, err := json.Marshal(map[string]int64{"iat": iat.Unix(), "exp": exp.Unix()})
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"none"}`)) + "." + enc(b) + ".x"
}

// fixedCredential is an azcore.TokenCredential handing out one token.
type fixedCredential struct{ tok string }

func (c fixedCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	return azcore.AccessToken{Token: c.tok, ExpiresOn: time.Now().Add(time.Hour)}, nil
}

type exchangeFunc func(context.Context, token.ExchangeRequest) (string, error)

func (f exchangeFunc) Exchange(ctx context.Context, r token.ExchangeRequest) (string, error) {
	return f(ctx, r)
}

func testEnv(t *testing.T, kv map[string]string) func(string) string {
	env := map[string]string{"HOME": t.TempDir(), "PATH": t.TempDir(), EnvCacheDir: t.TempDir(), EnvManagedIdentity: "never"}
	for k, v := range kv {
		env[k] = v
	}
	return func(k string) string { return env[k] }
}

// TestConfiguredEnvironmentKeyFollowsTheEnvironment: a registry configured
// with "identity": "environment" signs in as whatever AZURE_CLIENT_ID says,
// so two service principals must never share a cached token.
func TestConfiguredEnvironmentKeyFollowsTheEnvironment(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	cfg := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(`{"registries":{"r.azurecr.io":{"identity":"environment"}}}`), 0o600))
	key := func(client string) string {
		h := New(Options{Getenv: testEnv(t, map[string]string{EnvConfig: cfg, "AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": client})})
		tgt, err := h.Target("r.azurecr.io")
		require.NoError(t, err)
		return h.tokenKey(context.Background(), tgt)
	}
	assert.NotEqual(t, key("sp-a"), key("sp-b"))
	assert.Equal(t, key("sp-a"), key("sp-a"))
}

// TestCLIKeyFollowsTheLogin: az and azd rewrite their state file on login,
// logout and account changes, and with it the cache key changes, so another
// account's token is not served.
func TestCLIKeyFollowsTheLogin(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ cli, dirVar, file string }{
		{"az", "AZURE_CONFIG_DIR", "azureProfile.json"},
		{"azd", "AZD_CONFIG_DIR", "config.json"},
	} {
		t.Run(tc.cli, func(t *testing.T) {
			t.Parallel()
			bin, dir := t.TempDir(), t.TempDir()
			require.NoError(t, os.WriteFile(filepath.Join(bin, tc.cli), []byte("#!/bin/sh\nexit 1\n"), 0o755))
			env := testEnv(t, map[string]string{"PATH": bin, tc.dirVar: dir})
			key := func() string {
				h := New(Options{Getenv: env})
				tgt, err := h.Target("r.azurecr.io")
				require.NoError(t, err)
				return h.tokenKey(context.Background(), tgt)
			}
			state := filepath.Join(dir, tc.file)
			loggedOut := key()
			require.NoError(t, os.WriteFile(state, []byte(`{"user":"a@contoso.com"}`), 0o600))
			first := key()
			assert.NotEqual(t, loggedOut, first)
			assert.Equal(t, first, key())
			require.NoError(t, os.WriteFile(state, []byte(`{"user":"someone.else@contoso.com"}`), 0o600))
			assert.NotEqual(t, first, key())
			require.NoError(t, os.Remove(state))
			assert.Equal(t, loggedOut, key())
		})
	}
}

// TestUnavailableDuringRefreshServesValidToken: when the identity goes
// missing while a token inside its refresh margin is cached (a secret file
// being rotated, az mid-upgrade), the cached token is served and kept.
func TestUnavailableDuringRefreshServesValidToken(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var gone atomic.Bool
	var exchanges atomic.Int32
	f := &token.Fetcher{
		Exchanger: exchangeFunc(func(context.Context, token.ExchangeRequest) (string, error) {
			exchanges.Add(1)
			// 3 h token with 30 min left: inside the 1 h margin.
			return jwtFor(t, now.Add(-150*time.Minute), now.Add(30*time.Minute)), nil
		}),
		NewCredential: func(token.Identity) (azcore.TokenCredential, error) {
			if gone.Load() {
				return nil, errors.New("secret file missing")
			}
			return fixedCredential{"aad"}, nil
		},
	}
	var stderr strings.Builder
	env := testEnv(t, map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"})
	newHelper := func() *Helper { return New(Options{Getenv: env, Fetcher: f, Stderr: &stderr}) }

	first, err := newHelper().Lookup(context.Background(), "r.azurecr.io")
	require.NoError(t, err)
	gone.Store(true)
	for range 2 {
		again, err := newHelper().Lookup(context.Background(), "r.azurecr.io")
		require.NoError(t, err, "a still-valid token is served")
		assert.Equal(t, first.Secret, again.Secret)
	}
	assert.Contains(t, stderr.String(), "using the cached one")
	assert.Equal(t, int32(1), exchanges.Load())
}

// TestIssuerClockAheadShortensExpiry: a token whose issuer's clock runs
// 10 minutes ahead of ours (iat in our future) lives exp-iat from when we
// asked for it, not until exp by our clock.
func TestIssuerClockAheadShortensExpiry(t *testing.T) {
	t.Parallel()
	now := time.Now()
	cases := []struct {
		name     string
		iat, exp time.Time
		want     time.Time
	}{
		{"issuer 10 min ahead", now.Add(10 * time.Minute), now.Add(3*time.Hour + 10*time.Minute), now.Add(3 * time.Hour)},
		{"issuer 10 min behind", now.Add(-10 * time.Minute), now.Add(3*time.Hour - 10*time.Minute), now.Add(3*time.Hour - 10*time.Minute)},
		{"no iat", time.Time{}, now.Add(time.Hour), now.Add(time.Hour)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := localExpiry(token.Token{IssuedAt: tc.iat.Truncate(time.Second), ExpiresAt: tc.exp.Truncate(time.Second)}, now)
			assert.WithinDuration(t, tc.want, got, 2*time.Second)
		})
	}
}

// TestAssertionIdentityIsNeverCached: a caller-supplied assertion (a pod's
// service-account token) reaches Azure AD on every lookup; a token cached
// under the client ID would be handed to anyone claiming that client ID.
func TestAssertionIdentityIsNeverCached(t *testing.T) {
	t.Parallel()
	now := time.Now()
	var creds, exchanges atomic.Int32
	f := &token.Fetcher{
		Exchanger: exchangeFunc(func(context.Context, token.ExchangeRequest) (string, error) {
			exchanges.Add(1)
			return jwtFor(t, now, now.Add(3*time.Hour)), nil
		}),
		NewCredential: func(id token.Identity) (azcore.TokenCredential, error) {
			creds.Add(1)
			a, err := id.Assertion(context.Background())
			return fixedCredential{a}, err
		},
	}
	h := New(Options{Getenv: testEnv(t, nil), Fetcher: f})
	tgt, err := h.Target("r.azurecr.io")
	require.NoError(t, err)
	for _, sa := range []string{"pod-a-token", "pod-b-token", "pod-a-token"} {
		tgt.Identity = &token.Identity{Kind: token.KindWorkloadIdentity, Cloud: tgt.Cloud, TenantID: "t", ClientID: "same-client",
			Assertion: func(context.Context) (string, error) { return sa, nil }}
		_, err := h.Resolve(context.Background(), tgt)
		require.NoError(t, err)
	}
	assert.Equal(t, int32(3), creds.Load(), "every lookup presents its own assertion")
	assert.Equal(t, int32(3), exchanges.Load())
	b, err := os.ReadFile(filepath.Join(CacheDir(h.getenv), tokensFile))
	if err == nil {
		assert.NotContains(t, string(b), "same-client")
		assert.NotContains(t, string(b), "eyJ", "nothing of theirs is written to the cache")
	}
}

// TestSavePrunesExpiredEntries: writing a token drops entries that have
// expired, so tokens.json does not grow without bound.
func TestSavePrunesExpiredEntries(t *testing.T) {
	t.Parallel()
	now := time.Now()
	f := &token.Fetcher{
		Exchanger: exchangeFunc(func(context.Context, token.ExchangeRequest) (string, error) {
			return jwtFor(t, now, now.Add(3*time.Hour)), nil
		}),
		NewCredential: func(token.Identity) (azcore.TokenCredential, error) { return fixedCredential{"aad"}, nil },
	}
	env := testEnv(t, map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"})
	h := New(Options{Getenv: env, Fetcher: f})
	st, err := h.store(tokensFile)
	require.NoError(t, err)
	require.NoError(t, st.Update(context.Background(), func(m map[string]cache.Entry) error {
		m["old"] = cache.Entry{Registry: "x.azurecr.io", Secret: "s", ExpiresAt: now.Add(-time.Minute)}
		m["live"] = cache.Entry{Registry: "y.azurecr.io", Secret: "s", ExpiresAt: now.Add(time.Hour)}
		return nil
	}))
	_, err = h.Lookup(context.Background(), "r.azurecr.io")
	require.NoError(t, err)
	all, err := st.All()
	require.NoError(t, err)
	assert.NotContains(t, all, "old")
	assert.Contains(t, all, "live")
	assert.Len(t, all, 2, "the live entry and the new token")
}

// TestRefreshFailureServesValidTokenFromMemory: with no cache file (the
// library's WithoutCache, or an unusable cache directory) the token kept in
// memory is the fallback when its refresh fails, as a cached one is.
func TestRefreshFailureServesValidTokenFromMemory(t *testing.T) {
	t.Parallel()
	start := time.Now()
	var now atomic.Int64
	now.Store(start.UnixNano())
	clock := func() time.Time { return time.Unix(0, now.Load()) }
	var failing atomic.Bool
	var exchanges atomic.Int32
	f := &token.Fetcher{
		Exchanger: exchangeFunc(func(context.Context, token.ExchangeRequest) (string, error) {
			exchanges.Add(1)
			if failing.Load() {
				return "", errors.New("registry unavailable")
			}
			return jwtFor(t, start, start.Add(3*time.Hour)), nil
		}),
		NewCredential: func(token.Identity) (azcore.TokenCredential, error) { return fixedCredential{"aad"}, nil },
	}
	var stderr strings.Builder
	env := testEnv(t, map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"})
	h := New(Options{Getenv: env, Fetcher: f, Stderr: &stderr, NoCache: true, Now: clock})

	first, err := h.Lookup(context.Background(), "r.azurecr.io")
	require.NoError(t, err)
	failing.Store(true)
	now.Store(start.Add(150 * time.Minute).UnixNano()) // inside the 1 h margin, 30 min left
	again, err := h.Lookup(context.Background(), "r.azurecr.io")
	require.NoError(t, err, "a still-valid token is served")
	assert.Equal(t, first.Secret, again.Secret)
	assert.Contains(t, stderr.String(), "using the cached one")
	assert.Equal(t, int32(2), exchanges.Load(), "the refresh was tried")

	now.Store(start.Add(181 * time.Minute).UnixNano()) // expired
	_, err = h.Lookup(context.Background(), "r.azurecr.io")
	require.Error(t, err, "an expired token is never served")
}
