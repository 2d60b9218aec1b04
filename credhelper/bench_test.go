package credhelper

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/cache"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// benchJWT is an unsigned token shaped like an ACR refresh token (the helper
// reads only its claims).
func benchJWT(b *testing.B, iat, exp time.Time) string {
	b.Helper()
	enc := func(v any) string {
		j, err := json.Marshal(v)
		if err != nil {
			b.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(j)
	}
	return enc(map[string]any{"alg": "RS256", "typ": "JWT"}) + "." +
		enc(map[string]any{"iat": iat.Unix(), "exp": exp.Unix(), "nbf": iat.Unix(), "tid": "tenant",
			"aud": "bench.azurecr.io", "grant_type": "refresh_token", "jti": fmt.Sprintf("%032d", 7),
			"permissions": map[string]any{"actions": []string{"read", "write"}}}) +
		"." + base64.RawURLEncoding.EncodeToString(make([]byte, 256))
}

// warmHelperOptions lays out a machine whose token cache holds a fresh token
// for bench.azurecr.io (environment credentials) among 19 other registries,
// and returns Options for it with a map-backed environment.
func warmHelperOptions(b *testing.B) (Options, string) {
	b.Helper()
	dir := b.TempDir()
	env := map[string]string{
		"HOME":                dir,
		"PATH":                "",
		EnvCacheDir:           filepath.Join(dir, "cache"),
		EnvManagedIdentity:    "never",
		"XDG_CONFIG_HOME":     filepath.Join(dir, "config"), // no config file there
		"AZURE_TENANT_ID":     "11111111-1111-1111-1111-111111111111",
		"AZURE_CLIENT_ID":     "bench-app",
		"AZURE_CLIENT_SECRET": "bench-secret",
	}
	o := Options{Getenv: func(k string) string { return env[k] }, Stderr: io.Discard}

	h := New(o)
	now := time.Now()
	secret := benchJWT(b, now, now.Add(3*time.Hour))
	ctx := context.Background()
	err := h.tokenStore().Update(ctx, func(m map[string]cache.Entry) error {
		for i := range 20 {
			host := fmt.Sprintf("bench%d.azurecr.io", i)
			if i == 7 {
				host = "bench.azurecr.io"
			}
			t, err := h.Target(host)
			if err != nil {
				return err
			}
			m[h.tokenKey(ctx, t)] = cache.Entry{Registry: host, Kind: string(token.KindEnvironment),
				Username: TokenUsername, Secret: secret, ExpiresAt: now.Add(3 * time.Hour)}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	return o, secret
}

// BenchmarkWarmLookup is the in-process part of a warm `get`: recognise the
// host, load the (absent) configuration, read credentials.json (absent),
// compute the token cache key and read tokens.json. "new-helper" builds a
// Helper per lookup as every process does; "same-helper" repeats lookups on
// one Helper (its in-memory cache answers after the first).
func BenchmarkWarmLookup(b *testing.B) {
	o, secret := warmHelperOptions(b)
	ctx := context.Background()
	check := func(b *testing.B, c Credentials, err error) {
		if err != nil || c.Secret != secret || c.Username != TokenUsername {
			b.Fatalf("warm lookup: %v (source %q)", err, c.Source)
		}
	}
	b.Run("new-helper", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			c, err := New(o).Lookup(ctx, "https://bench.azurecr.io/v2/")
			check(b, c, err)
		}
	})
	b.Run("same-helper", func(b *testing.B) {
		h := New(o)
		b.ReportAllocs()
		for b.Loop() {
			c, err := h.Lookup(ctx, "https://bench.azurecr.io/v2/")
			check(b, c, err)
		}
	})
}

const benchConfig = `{
  "registries": {
    "prod.azurecr.io":   { "identity": "serviceprincipal", "tenantId": "11111111-1111-1111-1111-111111111111",
                           "clientId": "22222222-2222-2222-2222-222222222222", "clientSecretFile": "/run/secrets/acr-sp" },
    "team.azurecr.cn":   { "identity": "azurecli", "tenantId": "33333333-3333-3333-3333-333333333333" },
    "legacy.azurecr.io": { "identity": "basic", "username": "legacy", "passwordEnv": "LEGACY_ACR_PASSWORD" },
    "gov.azurecr.us":    { "identity": "workloadidentity", "clientId": "44444444-4444-4444-4444-444444444444" },
    "registry.contoso.com": { "customHost": true, "identity": "managedidentity", "clientId": "55555555-5555-5555-5555-555555555555" }
  },
  "defaults": {
    "chain": ["environment", "workloadidentity", "managedidentity", "azurecli", "azd"],
    "managedIdentity": "auto",
    "audience": "auto",
    "timeout": "30s",
    "refreshMargin": "1h"
  }
}
`

// BenchmarkConfigLoad reads, decodes and validates a configuration file of
// five registries, as every `get` does when the file exists.
func BenchmarkConfigLoad(b *testing.B) {
	path := filepath.Join(b.TempDir(), "config.json")
	if err := os.WriteFile(path, []byte(benchConfig), 0o600); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		c, err := LoadConfig(path, true)
		if err != nil || len(c.Registries) != 5 {
			b.Fatal(err)
		}
	}
}
