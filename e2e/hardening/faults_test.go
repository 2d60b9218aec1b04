package hardening

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
)

// TestTransientFaultsRetried: 429 (with Retry-After), 500 and 503 from the
// Azure AD token endpoint and from the exchange are retried with bounded
// backoff, and the get succeeds once the fault clears.
func TestTransientFaultsRetried(t *testing.T) {
	t.Parallel()
	cases := []struct {
		counter string
		fault   emulator.Fault
	}{
		{"aad.token", emulator.Fault{Status: 429, RetryAfter: time.Second, Times: 2}},
		{"aad.token", emulator.Fault{Status: 500, Times: 2}},
		{"aad.token", emulator.Fault{Status: 503, Times: 2}},
		{"acr.exchange", emulator.Fault{Status: 429, RetryAfter: time.Second, Times: 2}},
		{"acr.exchange", emulator.Fault{Status: 500, Times: 2}},
		{"acr.exchange", emulator.Fault{Status: 503, Times: 3}},
	}
	for _, c := range cases {
		name := fmt.Sprintf("%s %d x%d", c.counter, c.fault.Status, c.fault.Times)
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.emu.InjectFault(c.counter, c.fault)
			r, took := run(t, w.env, registry, "get")
			require.Equal(t, 0, r.Code, "%s", r)
			assertTokenAnswer(t, r.Stdout)
			assert.Equal(t, c.fault.Times+1, w.emu.Count(c.counter), "each faulted request retried, then one that succeeds")
			assert.Equal(t, 1, w.emu.Count("acr.refresh.issued"))
			figures.add(t, "requests=%d (aad.token=%d acr.exchange=%d) -> success, took=%s",
				w.emu.Count(c.counter), w.emu.Count("aad.token"), w.emu.Count("acr.exchange"), took.Round(time.Millisecond))
		})
	}
}

var (
	uuidRE = regexp.MustCompile(`[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}`)
)

// TestPersistentFaults: a fault that does not clear ends, within the
// configured deadline, with a one-line error naming the registry, the HTTP
// status, Azure's error code and the correlation id. How long it took is a
// figure, not an assertion.
func TestPersistentFaults(t *testing.T) {
	t.Parallel()
	cases := []struct {
		counter string
		fault   emulator.Fault
		code    string // Azure's error code in the message
	}{
		{"aad.token", emulator.Fault{Status: 503}, "temporarily_unavailable"},
		{"aad.token", emulator.Fault{Status: 429}, ""},
		{"aad.token", emulator.Fault{Status: 401}, ""},
		{"acr.exchange", emulator.Fault{Status: 503}, "UNAVAILABLE"},
		{"acr.exchange", emulator.Fault{Status: 429, RetryAfter: time.Second}, "UNAVAILABLE"},
		{"acr.exchange", emulator.Fault{Status: 500}, "UNAVAILABLE"},
		{"acr.exchange", emulator.Fault{Status: 401}, "UNAVAILABLE"},
	}
	for _, c := range cases {
		t.Run(fmt.Sprintf("%s %d", c.counter, c.fault.Status), func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.env.Set("DOCKER_CREDENTIAL_ACR_TIMEOUT", "5s")
			w.emu.InjectFault(c.counter, c.fault)
			r, took := run(t, w.env, registry, "get")
			require.Equal(t, 1, r.Code, "%s", r)
			msg := strings.TrimSpace(r.Stdout)
			require.Len(t, lines(r.Stdout), 1, "one line: %q", r.Stdout)
			assert.Contains(t, msg, registry)
			assert.Contains(t, msg, fmt.Sprintf("HTTP %d", c.fault.Status))
			if c.code != "" {
				assert.Contains(t, msg, c.code)
			}
			assert.Regexp(t, uuidRE, msg, "the correlation id")
			assert.NotContains(t, msg+r.Stderr, "eyJ")
			figures.add(t, "requests=%d exit=%d took=%s (deadline 5s): %s", w.emu.Count(c.counter), r.Code,
				took.Round(time.Millisecond), msg)
		})
	}
}

// TestLatencyBeyondDeadline: an Azure AD or registry that does not answer
// within the deadline makes the helper exit with a timeout error rather than
// hang.
func TestLatencyBeyondDeadline(t *testing.T) {
	t.Parallel()
	for _, counter := range []string{"aad.token", "aad.metadata", "acr.exchange"} {
		t.Run(counter, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.env.Set("DOCKER_CREDENTIAL_ACR_TIMEOUT", "3s")
			w.emu.InjectFault(counter, emulator.Fault{Latency: 2 * time.Minute})
			r, took := run(t, w.env, registry, "get")
			require.Equal(t, 1, r.Code, "%s", r)
			msg := strings.TrimSpace(r.Stdout)
			assert.Len(t, lines(r.Stdout), 1)
			assert.Contains(t, msg, registry)
			assert.Regexp(t, `(?i)deadline|timed? ?out|timeout`, msg)
			figures.add(t, "latency 2m, deadline 3s: exit=%d took=%s: %s", r.Code, took.Round(time.Millisecond), msg)
		})
	}
}

// cacheFile is tokens.json as written.
type cacheFile struct {
	Version int                        `json:"version"`
	Entries map[string]json.RawMessage `json:"entries"`
}

// plantToken replaces the cached refresh token of host with one issued at
// iat and expiring at exp (both relative to now), as a token service whose
// clock is skewed against the machine's would have issued. It returns the
// planted token.
func plantToken(t *testing.T, w *world, host string, iat, exp time.Duration) string {
	t.Helper()
	now := time.Now()
	tok, err := w.emu.IssueRefreshTokenAt(host, w.oid, now.Add(iat), now.Add(exp))
	require.NoError(t, err)
	path := filepath.Join(w.env.Cache, "tokens.json")
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var f cacheFile
	require.NoError(t, json.Unmarshal(b, &f))
	planted := 0
	for k, raw := range f.Entries {
		var e map[string]any
		require.NoError(t, json.Unmarshal(raw, &e))
		if e["registry"] != host || e["secret"] == nil {
			continue
		}
		e["secret"] = tok
		e["expiresAt"] = time.Unix(now.Add(exp).Unix(), 0).UTC().Format(time.RFC3339)
		f.Entries[k], err = json.Marshal(e)
		require.NoError(t, err)
		planted++
	}
	require.Equal(t, 1, planted, "one cached token for %s in %s", host, b)
	b, err = json.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
	return tok
}

// TestStaleTokenOnRefreshFailure: a cached token inside the refresh margin
// but not expired is served (with a warning) when the refresh fails; an
// expired one never is.
func TestStaleTokenOnRefreshFailure(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name    string
		counter string
		fault   emulator.Fault
		exp     time.Duration // of the planted 3-hour token, from now
		served  bool
	}{
		{"exchange 503, token valid 10m", "acr.exchange", emulator.Fault{Status: 503}, 10 * time.Minute, true},
		{"exchange 401, token valid 10m", "acr.exchange", emulator.Fault{Status: 401}, 10 * time.Minute, true},
		{"AAD 400, token valid 10m", "aad.token", emulator.Fault{Status: 400}, 10 * time.Minute, true},
		{"AAD latency, token valid 10m", "aad.token", emulator.Fault{Latency: time.Minute}, 10 * time.Minute, true},
		{"exchange 503, token expired 1m ago", "acr.exchange", emulator.Fault{Status: 503}, -time.Minute, false},
		{"AAD 400, token expired 1s ago", "aad.token", emulator.Fault{Status: 400}, -time.Second, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.env.Set("DOCKER_CREDENTIAL_ACR_TIMEOUT", "4s")
			r, _ := run(t, w.env, registry, "get")
			require.Equal(t, 0, r.Code, "%s", r)
			planted := plantToken(t, w, registry, c.exp-3*time.Hour, c.exp)
			w.emu.InjectFault(c.counter, c.fault)
			r, took := run(t, w.env, registry, "get")
			if c.served {
				require.Equal(t, 0, r.Code, "%s", r)
				assert.Equal(t, planted, answerSecret(t, r.Stdout), "the still-valid cached token")
				ls := lines(r.Stderr)
				require.Len(t, ls, 1, "one warning line: %q", r.Stderr)
				assert.Contains(t, ls[0], "warning")
				assert.Contains(t, ls[0], registry)
				assert.NotContains(t, ls[0], "eyJ")
				figures.add(t, "stale token served, took=%s, stderr: %s", took.Round(time.Millisecond), ls[0])
			} else {
				require.Equal(t, 1, r.Code, "%s", r)
				assert.NotContains(t, r.Stdout+r.Stderr, planted)
				assert.NotContains(t, r.Stdout, "eyJ")
				figures.add(t, "expired token not served, took=%s: %s", took.Round(time.Millisecond), strings.TrimSpace(r.Stdout))
			}
		})
	}
}

// TestClockSkew: cached tokens issued by a token service whose clock is a
// few minutes ahead of or behind the machine's are reused while they have
// life left and replaced when not; no expired token is ever answered.
func TestClockSkew(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		iat, life time.Duration
		reuse     bool
	}{
		{"iat +5m, 3h", 5 * time.Minute, 3 * time.Hour, true},
		{"iat -5m, 3h", -5 * time.Minute, 3 * time.Hour, true},
		{"iat +10m, 20m", 10 * time.Minute, 20 * time.Minute, true},
		{"iat -5m, 20m", -5 * time.Minute, 20 * time.Minute, true},
		{"iat -5m, 8m (inside margin)", -5 * time.Minute, 8 * time.Minute, false},
		{"iat -10m, 8m (expired by the machine's clock)", -10 * time.Minute, 8 * time.Minute, false},
		{"iat -3h5m, 3h (expired)", -3*time.Hour - 5*time.Minute, 3 * time.Hour, false},
		{"iat +5m, 3h, exp before iat", 5 * time.Minute, -10 * time.Minute, false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			r, _ := run(t, w.env, registry, "get")
			require.Equal(t, 0, r.Code, "%s", r)
			planted := plantToken(t, w, registry, c.iat, c.iat+c.life)
			before := w.emu.Count("acr.exchange")
			r, _ = run(t, w.env, registry, "get")
			require.Equal(t, 0, r.Code, "%s", r)
			got := answerSecret(t, r.Stdout)
			exp := jwtTime(t, got, "exp")
			assert.True(t, exp.After(time.Now()), "an expired token was answered (exp %s)", exp)
			if c.reuse {
				assert.Equal(t, planted, got, "a token with life left is reused")
				assert.Equal(t, before, w.emu.Count("acr.exchange"))
			} else {
				assert.NotEqual(t, planted, got, "the token is replaced")
				assert.Equal(t, before+1, w.emu.Count("acr.exchange"))
			}
			figures.add(t, "reused=%v answered token has %s left", got == planted, time.Until(exp).Round(time.Minute))
		})
	}
}

// TestAADThrottlingShownAtDeadline: Azure AD answering 429 with a
// Retry-After until the deadline ends in "context deadline exceeded" with no
// HTTP status, no error code and no correlation id: the user cannot tell
// throttling from a network hang. (The exchange says "gave up retrying" and
// keeps the last answer.) FAILS today; see the report.
func TestAADThrottlingShownAtDeadline(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.env.Set("DOCKER_CREDENTIAL_ACR_TIMEOUT", "5s")
	w.emu.InjectFault("aad.token", emulator.Fault{Status: 429, RetryAfter: 2 * time.Second})
	r, took := run(t, w.env, registry, "get")
	require.Equal(t, 1, r.Code, "%s", r)
	msg := strings.TrimSpace(r.Stdout)
	t.Logf("after %s, %d AAD requests: %s", took.Round(time.Millisecond), w.emu.Count("aad.token"), msg)
	assert.Contains(t, msg, "HTTP 429", "the last answer Azure AD gave should be in the error")
	assert.Regexp(t, uuidRE, msg, "the correlation id of the last answer")
}

// TestFreshTokenAlreadyExpiredIsRefused: when the token service's clock is
// behind the machine's by more than the token's lifetime (here: it issues
// tokens that expire at the moment they are issued), the freshly exchanged
// token is handed out although it has already expired by the machine's
// clock. The cache path never serves an expired token, the fresh path does.
// FAILS today; see the report.
func TestFreshTokenAlreadyExpiredIsRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	w.emu.SetLifetimes(0, time.Nanosecond, 0) // exp == iat == now, to the second
	r, _ := run(t, w.env, registry, "get")
	if r.Code == 0 {
		exp := jwtTime(t, answerSecret(t, r.Stdout), "exp")
		assert.True(t, exp.After(time.Now()), "get answered a token that expired at %s (now %s)", exp, time.Now().UTC().Format(time.RFC3339))
	} else {
		t.Logf("refused: %s", strings.TrimSpace(r.Stdout))
		assert.Contains(t, r.Stdout, registry)
	}
}

func assertTokenAnswer(t *testing.T, stdout string) {
	t.Helper()
	var ans struct{ ServerURL, Username, Secret string }
	require.NoError(t, json.Unmarshal([]byte(stdout), &ans), "%q", stdout)
	assert.Equal(t, guidUser, ans.Username)
	assert.True(t, strings.HasPrefix(ans.Secret, "eyJ"))
}

func answerSecret(t *testing.T, stdout string) string {
	t.Helper()
	var ans struct{ ServerURL, Username, Secret string }
	require.NoError(t, json.Unmarshal([]byte(stdout), &ans), "%q", stdout)
	return ans.Secret
}

// jwtTime reads a NumericDate claim of a JWT (unverified).
func jwtTime(t *testing.T, jwt, claim string) time.Time {
	t.Helper()
	parts := strings.Split(jwt, ".")
	require.Len(t, parts, 3)
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var c map[string]any
	require.NoError(t, json.Unmarshal(b, &c))
	f, ok := c[claim].(float64)
	require.True(t, ok, "no %s claim", claim)
	return time.Unix(int64(f), 0)
}
