package credhelper

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/docker/docker-credential-helpers/credentials"
	"golang.org/x/sync/singleflight"

	"github.com/docker-credential-acr/docker-credential-acr/cache"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// refreshToken answers with an ACR refresh token for t: from the cache while
// it has more than the refresh margin left, else freshly fetched. Of many
// processes missing the same entry at once, one fetches while the others
// wait on the entry's lock and then read what it stored.
func (h *Helper) refreshToken(ctx context.Context, t Target) (Credentials, error) {
	if t.Identity != nil && t.Identity.Assertion != nil {
		// A supplied assertion (a pod's service-account token) must reach
		// Azure AD every time: a cached token keyed by client ID would be
		// handed to any caller claiming that client ID.
		e, err := h.freshToken(ctx, t)
		if err != nil {
			return Credentials{}, fmt.Errorf("%s: %w%s", t.Host, err, h.hint(err))
		}
		return h.tokenCredentials(t, e), nil
	}
	key := h.tokenKey(ctx, t)
	mc := h.classify(h.mem.get(key))
	if mc.answer {
		return h.result(t, mc)
	}
	st := h.tokenStore()
	c := h.lookup(st, key)
	if st == nil && mc.have {
		c = mc // memory only (no cache file): its still-valid token is the fallback
	}
	if c.answer {
		h.log.Debug("token cache hit", "registry", t.Host, "expires", c.entry.ExpiresAt)
		h.mem.put(key, c.entry)
		return h.result(t, c)
	}
	h.log.Debug("token cache miss", "registry", t.Host, "stale", c.have)
	// Goroutines of one process share one fetch; processes share one
	// through the entry's file lock. The shared fetch must not die with the
	// first caller's context: it runs detached, with a budget a little
	// shorter than the helper's timeout so that its fallback (a still-valid
	// cached token) and its precise error come before any caller gives up.
	budget := h.fetchBudget(c.have)
	fetchEnd := time.Now().Add(budget)
	ch := h.group.DoChan(key, func() (any, error) {
		fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), budget)
		defer cancel()
		return h.coldFetch(fctx, t, key, st, c)
	})
	answer := func(r singleflight.Result) (Credentials, error) {
		if r.Err != nil {
			return Credentials{}, r.Err
		}
		return r.Val.(Credentials), nil
	}
	select {
	case r := <-ch:
		return answer(r)
	case <-ctx.Done():
		// When ctx ran out at the helper's own deadline, after the fetch's
		// budget, the fetch's precise error (what Azure AD last answered) is
		// normally here already; on a starved machine give it a moment
		// rather than answer only "deadline". A caller that cancels, or
		// set an earlier deadline, is answered at once.
		if dl, ok := ctx.Deadline(); !ok || dl.Before(fetchEnd) || !errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return Credentials{}, fmt.Errorf("%s: gave up waiting for a token: %w", t.Host, context.Cause(ctx))
		}
		grace := time.NewTimer(fetchGrace)
		defer grace.Stop()
		select {
		case r := <-ch:
			return answer(r)
		case <-grace.C:
		}
		return Credentials{}, fmt.Errorf("%s: gave up waiting for a token: %w", t.Host, context.Cause(ctx))
	}
}

// fetchGrace is how long a caller whose deadline has passed still waits for
// the shared fetch's own answer.
const fetchGrace = 250 * time.Millisecond

// staleRefreshBudget bounds a refresh while a still-valid token is cached:
// past it, the cached token is served rather than keeping a pull waiting.
const staleRefreshBudget = 10 * time.Second

// fetchBudget is how long a shared fetch may take.
func (h *Helper) fetchBudget(stale bool) time.Duration {
	d := h.timeout()
	d -= max(d/10, 50*time.Millisecond)
	if stale {
		d = min(d, staleRefreshBudget)
	}
	return max(d, 10*time.Millisecond)
}

// coldFetch is the cold path: take the entry's lock, look again (another
// process may have just fetched), fetch, store.
func (h *Helper) coldFetch(ctx context.Context, t Target, key string, st *cache.Store, c cached) (Credentials, error) {
	if st != nil {
		unlock, err := st.LockKey(ctx, key)
		if err != nil {
			h.cacheProblem("no cache lock", err)
		} else {
			defer unlock()
			if c2 := h.lookup(st, key); c2.answer {
				h.mem.put(key, c2.entry)
				return h.result(t, c2)
			} else if c2.have {
				c = c2
			}
		}
	}
	e, err := h.freshToken(ctx, t)
	if err != nil {
		return h.fetchFailed(ctx, st, key, t, c, err)
	}
	h.save(ctx, st, key, e)
	h.mem.put(key, e)
	return h.tokenCredentials(t, e), nil
}

// freshToken fetches a new refresh token for t, as the entry to keep, with
// its expiry by this machine's clock.
func (h *Helper) freshToken(ctx context.Context, t Target) (cache.Entry, error) {
	start := time.Now()
	fetchedAt := h.now()
	tok, err := h.fetch(ctx, t)
	h.log.Debug("token fetch", "registry", t.Host, "took", time.Since(start), "ok", err == nil)
	if err != nil {
		return cache.Entry{}, err
	}
	if !tok.ExpiresAt.After(h.now()) {
		return cache.Entry{}, fmt.Errorf("the registry issued a token that has already expired by this machine's clock (expiry %s): check the clock",
			tok.ExpiresAt.Format(time.RFC3339))
	}
	return cache.Entry{Registry: t.Host, Kind: string(tok.Identity.Kind),
		Username: TokenUsername, Secret: tok.RefreshToken, ExpiresAt: localExpiry(tok, fetchedAt)}, nil
}

// memCache keeps entries in memory for the life of the process, in front of
// the file (and instead of it with NoCache).
type memCache struct {
	mu sync.Mutex
	m  map[string]cache.Entry
}

func (m *memCache) put(key string, e cache.Entry) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.m == nil {
		m.m = map[string]cache.Entry{}
	}
	m.m[key] = e
}

func (m *memCache) get(key string) (cache.Entry, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e, ok := m.m[key]
	return e, ok
}

// localExpiry is when a fresh token expires by this machine's clock. The
// token's exp is on the issuer's clock; if the issuer runs ahead of us, exp
// is later than the token's real end as we count time. The token's lifetime
// (exp - iat) counted from just before the request is right whatever the
// skew, so the earlier of the two is used.
func localExpiry(tok token.Token, fetchedAt time.Time) time.Time {
	if tok.IssuedAt.IsZero() || !tok.ExpiresAt.After(tok.IssuedAt) {
		return tok.ExpiresAt
	}
	if byLifetime := fetchedAt.Add(tok.ExpiresAt.Sub(tok.IssuedAt)); byLifetime.Before(tok.ExpiresAt) {
		return byLifetime
	}
	return tok.ExpiresAt
}

// cached is what the cache says about a key.
type cached struct {
	entry  cache.Entry
	have   bool // an entry exists
	answer bool // it answers the call by itself (fresh token or remembered failure)
}

func (h *Helper) result(t Target, c cached) (Credentials, error) {
	if c.entry.Negative != "" {
		return Credentials{}, &notFoundError{msg: c.entry.Negative + " (remembered)"}
	}
	return h.tokenCredentials(t, c.entry), nil
}

// tokenCredentials is the answer for a cached or fresh refresh token.
func (h *Helper) tokenCredentials(t Target, e cache.Entry) Credentials {
	return Credentials{Username: username(t), Secret: e.Secret, ExpiresAt: e.ExpiresAt,
		RefreshMargin: h.refreshMargin(e.Secret), Source: token.Kind(e.Kind).Describe()}
}

func (h *Helper) tokenStore() *cache.Store {
	if h.noCache || (h.cred != nil && h.credID == "") {
		return nil // memory only
	}
	st, err := h.store(tokensFile)
	if err != nil {
		h.cacheProblem("token cache unusable", err)
		return nil
	}
	return st
}

func (h *Helper) lookup(st *cache.Store, key string) cached {
	if st == nil {
		return cached{}
	}
	e, ok, err := st.Get(key)
	if err != nil {
		h.cacheProblem("token cache not read", err)
		return cached{}
	}
	return h.classify(e, ok)
}

// classify says what a cache entry (from the file or memory) is worth now.
func (h *Helper) classify(e cache.Entry, ok bool) cached {
	now := h.now()
	switch {
	case !ok:
		return cached{}
	case e.Negative != "":
		return cached{entry: e, answer: !e.Expired(now)}
	case e.Secret == "" || e.Expired(now):
		return cached{}
	}
	return cached{entry: e, have: true, answer: e.FreshFor(now, h.refreshMargin(e.Secret))}
}

// fetch gets a new refresh token through the identities for t.
func (h *Helper) fetch(ctx context.Context, t Target) (token.Token, error) {
	ids, skipped := h.identities(ctx, t, true)
	if len(ids) == 0 {
		return token.Token{}, &token.UnavailableError{Tried: skipped}
	}
	f := *h.fetcher
	f.Audience = h.audience(t)
	tok, err := f.Fetch(ctx, t.Host, ids)
	var ue *token.UnavailableError
	if errors.As(err, &ue) {
		if h.configuredIdentity(t) {
			// An identity the user named is not "absent": say why it failed.
			return tok, fmt.Errorf("the configured %s cannot be used: %s", ids[0], strings.Join(ue.Tried, "; "))
		}
		ue.Tried = append(skipped, ue.Tried...)
	}
	return tok, err
}

// configuredIdentity reports whether t names one identity (in the config
// file or by the caller) rather than using the default chain.
func (h *Helper) configuredIdentity(t Target) bool {
	return t.Identity != nil || (t.Config != nil && t.Config.Identity != token.KindDefault)
}

// fetchFailed turns a failed fetch into the answer: "not found" when no
// identity exists (remembered briefly), the still-valid cached token when a
// refresh failed, and otherwise the error.
func (h *Helper) fetchFailed(ctx context.Context, st *cache.Store, key string, t Target, c cached, err error) (Credentials, error) {
	if c.have && !c.entry.Expired(h.now()) {
		h.warnf("%s: refreshing the token failed (%v); using the cached one, valid until %s",
			t.Host, err, c.entry.ExpiresAt.Format(time.RFC3339))
		return h.tokenCredentials(t, c.entry), nil
	}
	var ue *token.UnavailableError
	if errors.As(err, &ue) {
		msg := fmt.Sprintf("no Azure identity for %s: tried %s", t.Host, joinTried(ue.Tried))
		neg := cache.Entry{Registry: t.Host, Negative: msg, ExpiresAt: h.now().Add(negativeTTL)}
		h.save(ctx, st, key, neg)
		h.mem.put(key, neg)
		return Credentials{}, &notFoundError{msg: msg}
	}
	return Credentials{}, fmt.Errorf("%s: %w%s", t.Host, err, h.hint(err))
}

func (h *Helper) save(ctx context.Context, st *cache.Store, key string, e cache.Entry) {
	if st == nil {
		return
	}
	// Saving is worth a moment even when the call's deadline has passed.
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err := st.Update(ctx, func(m map[string]cache.Entry) error {
		m[key] = e
		now := h.now()
		for k, old := range m {
			if old.Expired(now) {
				delete(m, k)
			}
		}
		return nil
	})
	if err != nil {
		h.cacheProblem("token not cached", err)
	}
}

// notFoundError is "credentials not found" for the protocol, with the reason
// kept for stderr.
type notFoundError struct{ msg string }

func (e *notFoundError) Error() string { return credentials.NewErrCredentialsNotFound().Error() }

// NotFound marks the error as the protocol's not-found error.
func (e *notFoundError) NotFound() {}

// Reason is the explanation for people.
func (e *notFoundError) Reason() string { return e.msg }
