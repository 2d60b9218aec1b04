package credhelper

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/docker-credential-acr/docker-credential-acr/cache"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// This file holds what `docker login` and `docker logout` reach: the
// credentials a user stored for a registry, kept in credentials.json.

// Add stores basic credentials for an ACR host (what `docker login` calls).
func (h *Helper) Add(c *credentials.Credentials) error {
	host, err := NormalizeServerURL(c.ServerURL)
	if err != nil {
		return errors.New("store: the server URL is not an https registry host")
	}
	t, ok, err := h.target(host)
	if err != nil {
		return err
	}
	if !ok {
		return fmt.Errorf("store: %s is not an Azure Container Registry; this helper keeps credentials only for ACR hosts", host)
	}
	if c.Secret == "" {
		return errors.New("store: no secret given")
	}
	st, err := h.store(credentialsFile)
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	e := cache.Entry{Registry: t.Host, Kind: string(token.KindBasic), Username: c.Username, Secret: c.Secret}
	if c.Username == TokenUsername || c.Username == IdentityTokenUsername {
		if h.ownToken(t.Host, c.Secret) {
			// `docker login REGISTRY` without credentials logs in with what
			// this helper answered and then stores it. Kept, it would hide
			// the identity behind it until it expires, never refreshed.
			h.log.Debug("store: the helper's own token handed back; not kept", "registry", t.Host)
			return nil
		}
		// A registry token someone logged in with (az acr login does this):
		// it is only good until it expires.
		if cl, err := token.ParseClaims(c.Secret); err == nil {
			e.ExpiresAt = cl.Expiry
		}
		if !e.ExpiresAt.IsZero() && !e.ExpiresAt.After(h.now()) {
			return fmt.Errorf("store: the token given for %s expired at %s; log in again for a new one",
				t.Host, e.ExpiresAt.UTC().Format(time.RFC3339))
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout())
	defer cancel()
	err = st.Update(ctx, func(m map[string]cache.Entry) error {
		m[cache.Key("credentials", t.Host)] = e
		return nil
	})
	if err != nil {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// storedProblem reports, once per process, that stored credentials cannot
// be read; the token cache may still work, so this is not cacheProblem.
func (h *Helper) storedProblem(err error) {
	h.storedWarned.Do(func() { h.warnf("stored credentials not used: %v", err) })
}

// ownToken reports whether secret is a refresh token this helper has cached
// for host (and so answers for it).
func (h *Helper) ownToken(host, secret string) bool {
	st := h.tokenStore()
	if st == nil {
		return false
	}
	all, err := st.All()
	if err != nil {
		return false
	}
	for _, e := range all {
		if e.Registry == host && e.Secret != "" && subtle.ConstantTimeCompare([]byte(e.Secret), []byte(secret)) == 1 {
			return true
		}
	}
	return false
}

// Delete removes what `store` kept for a host and forgets its cached tokens,
// so the host falls back to the next source (what `docker logout` calls).
func (h *Helper) Delete(serverURL string) error {
	host, err := NormalizeServerURL(serverURL)
	if err != nil {
		return credentials.NewErrCredentialsNotFound()
	}
	t, ok, err := h.target(host)
	if err != nil {
		return err
	}
	if !ok {
		return credentials.NewErrCredentialsNotFound()
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout())
	defer cancel()
	for _, name := range []string{credentialsFile, tokensFile} {
		st, err := h.store(name)
		if err != nil {
			return fmt.Errorf("erase: %w", err)
		}
		err = st.Update(ctx, func(m map[string]cache.Entry) error {
			for k, e := range m {
				if e.Registry == t.Host {
					delete(m, k)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("erase: %w", err)
		}
	}
	return nil
}

// List returns every stored or configured host with its username.
func (h *Helper) List() (map[string]string, error) {
	out := map[string]string{}
	if cfg, err := h.config(); err != nil {
		return nil, err
	} else {
		for _, host := range cfg.Hosts() {
			rc, _ := cfg.Registry(host)
			out[host] = TokenUsername
			if rc.Identity == token.KindBasic {
				out[host] = rc.Username
			} else if rc.IdentityToken {
				out[host] = IdentityTokenUsername
			}
		}
	}
	st, err := h.store(credentialsFile)
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	all, err := st.All()
	if err != nil {
		return nil, fmt.Errorf("list: %w", err)
	}
	for _, e := range all {
		if e.Registry != "" && !e.Expired(h.now()) {
			out[e.Registry] = e.Username
		}
	}
	return out, nil
}

// stored returns credentials kept by `store`, unless they have expired.
func (h *Helper) stored(host string) (Credentials, bool) {
	if h.noCache {
		return Credentials{}, false
	}
	st, err := h.store(credentialsFile)
	if err != nil {
		// The cache directory itself: the token cache has the same problem,
		// one warning says it.
		h.cacheProblem("stored credentials not read", err)
		return Credentials{}, false
	}
	e, ok, err := st.Get(cache.Key("credentials", host))
	if err != nil {
		h.storedProblem(err)
		return Credentials{}, false
	}
	if !ok || e.Expired(h.now()) || e.Secret == "" {
		return Credentials{}, false
	}
	c := Credentials{Username: e.Username, Secret: e.Secret, ExpiresAt: e.ExpiresAt, Source: "stored with docker login"}
	if !e.ExpiresAt.IsZero() {
		// A stored registry token cannot be refreshed, but whoever caches
		// the answer (the kubelet) should come back before it runs out.
		c.RefreshMargin = h.refreshMargin(e.Secret)
	}
	return c, true
}
