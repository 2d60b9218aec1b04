package token

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeJWT builds an unsigned JWT with the given claims; the helper never
// verifies signatures, it only reads expiry and tenant.
func fakeJWT(t testing.TB, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	require.NoError(t, err)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + ".c2lnbmF0dXJl"
}

func tlsExchanger(srv *httptest.Server) *HTTPExchanger {
	return &HTTPExchanger{Client: srv.Client(), MaxRetries: 3, Backoff: time.Millisecond, MaxDelay: 5 * time.Millisecond}
}

func TestExchangeSendsTheForm(t *testing.T) {
	t.Parallel()
	refresh := fakeJWT(t, map[string]any{"exp": time.Now().Add(3 * time.Hour).Unix()})
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		assert.Equal(t, http.MethodPost, r.Method)
		assert.Equal(t, "/oauth2/exchange", r.URL.Path)
		assert.Equal(t, "application/x-www-form-urlencoded", r.Header.Get("Content-Type"))
		assert.Empty(t, r.URL.RawQuery, "nothing secret in the URL")
		require.NoError(t, r.ParseForm())
		assert.Equal(t, "access_token", r.PostForm.Get("grant_type"))
		assert.Equal(t, "127.0.0.1", r.PostForm.Get("service"))
		assert.Equal(t, "tenant-1", r.PostForm.Get("tenant"))
		assert.Equal(t, "aad-token", r.PostForm.Get("access_token"))
		assert.Len(t, r.PostForm, 4)
		fmt.Fprintf(w, `{"refresh_token":%q}`, refresh)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	got, err := tlsExchanger(srv).Exchange(context.Background(), ExchangeRequest{Host: host, Tenant: "tenant-1", AccessToken: "aad-token"})
	require.NoError(t, err)
	assert.Equal(t, refresh, got)
}

func TestExchangeErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		status    int
		body      string
		header    map[string]string
		failFirst int // answer 200 after this many failures
		wantCalls int32
		wantErr   []string
		notInErr  []string
	}{
		{
			name: "acr error with correlation id", status: 401,
			body:      `{"errors":[{"code":"UNAUTHORIZED","message":"tenant mismatch"}]}`,
			header:    map[string]string{"X-Ms-Correlation-Request-Id": "corr-123"},
			wantCalls: 1,
			wantErr:   []string{"HTTP 401", "UNAUTHORIZED", "tenant mismatch", "corr-123"},
		},
		{
			name: "body that echoes the token is not quoted", status: 400,
			body:      `invalid access_token aad-token-SECRET`,
			wantCalls: 1,
			wantErr:   []string{"HTTP 400"},
			notInErr:  []string{"aad-token-SECRET"},
		},
		{
			name: "acr message with a JWT is redacted", status: 401,
			body:      `{"errors":[{"code":"DENIED","message":"bad token eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlc2lnbmF0dXJl"}]}`,
			wantCalls: 1,
			wantErr:   []string{"DENIED", "[redacted]"},
			notInErr:  []string{"eyJzdWIiOiJ4In0"},
		},
		{
			name: "503 is retried then fails", status: 503, body: `{"errors":[{"code":"UNAVAILABLE","message":"busy"}]}`,
			failFirst: 100, wantCalls: 4, wantErr: []string{"HTTP 503"},
		},
		{
			name: "429 with Retry-After is retried and succeeds", status: 429,
			header:    map[string]string{"Retry-After": "0"},
			failFirst: 2, wantCalls: 3,
		},
		{
			name: "500 once then success", status: 500, failFirst: 1, wantCalls: 2,
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			var calls atomic.Int32
			ok := fakeJWT(t, map[string]any{"exp": time.Now().Add(time.Hour).Unix()})
			srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				n := calls.Add(1)
				if tc.failFirst > 0 && int(n) > tc.failFirst {
					fmt.Fprintf(w, `{"refresh_token":%q}`, ok)
					return
				}
				for k, v := range tc.header {
					w.Header().Set(k, v)
				}
				w.WriteHeader(tc.status)
				fmt.Fprint(w, tc.body)
			}))
			defer srv.Close()
			host := strings.TrimPrefix(srv.URL, "https://")
			_, err := tlsExchanger(srv).Exchange(context.Background(), ExchangeRequest{Host: host, Tenant: "t", AccessToken: "aad-token-SECRET"})
			assert.Equal(t, tc.wantCalls, calls.Load())
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.Error(t, err)
			for _, s := range tc.wantErr {
				assert.Contains(t, err.Error(), s)
			}
			for _, s := range append(tc.notInErr, "aad-token-SECRET") {
				assert.NotContains(t, err.Error(), s)
			}
			assert.NotContains(t, err.Error(), "\n")
		})
	}
}

func TestExchangeDoesNotFollowRedirects(t *testing.T) {
	t.Parallel()
	var stolen atomic.Int32
	thief := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { stolen.Add(1) }))
	defer thief.Close()
	var asked atomic.Int32
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		asked.Add(1)
		http.Redirect(w, r, thief.URL+"/steal", http.StatusTemporaryRedirect)
	}))
	defer srv.Close()
	host := strings.TrimPrefix(srv.URL, "https://")
	ours := NewHTTPClient()
	ours.Transport = srv.Client().Transport
	// Our client answers a redirect as it is, whoever uses it (Azure AD's
	// transport too); an embedder's plain client follows redirects, and the
	// exchanger must not let it.
	assert.ErrorIs(t, ours.CheckRedirect(nil, nil), http.ErrUseLastResponse)
	for name, c := range map[string]*http.Client{"ours": ours, "caller's": srv.Client()} {
		asked.Store(0)
		x := &HTTPExchanger{Client: c, MaxRetries: 2, Backoff: time.Millisecond}
		_, err := x.Exchange(context.Background(), ExchangeRequest{Host: host, Tenant: "t", AccessToken: "secret"})
		require.Error(t, err, name)
		assert.Contains(t, err.Error(), "HTTP 307", name)
		assert.Equal(t, int32(1), asked.Load(), "%s: a redirect is final, not retried", name)
	}
	assert.Zero(t, stolen.Load())
}

func TestExchangeHonoursDeadline(t *testing.T) {
	t.Parallel()
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Retry-After", "5")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	x := &HTTPExchanger{Client: srv.Client(), MaxRetries: 10}
	_, err := x.Exchange(ctx, ExchangeRequest{Host: strings.TrimPrefix(srv.URL, "https://"), AccessToken: "x"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "HTTP 429")
	assert.ErrorIs(t, ctx.Err(), context.DeadlineExceeded)
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]time.Duration{
		"": 0, "0": 0, "2": 2 * time.Second, "-1": 0, "soon": 0, "3600": 10 * time.Second,
	} {
		assert.Equal(t, want, retryAfter(in), in)
	}
}

func TestParseClaims(t *testing.T) {
	t.Parallel()
	exp := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	good := fakeJWT(t, map[string]any{"exp": exp.Unix(), "iat": exp.Add(-3 * time.Hour).Unix(), "tid": "T", "oid": "O"})
	c, err := ParseClaims(good)
	require.NoError(t, err)
	assert.Equal(t, Claims{Expiry: exp, IssuedAt: exp.Add(-3 * time.Hour), TenantID: "T", ObjectID: "O"}, c)

	float := fakeJWT(t, map[string]any{"exp": 1.7e9})
	c, err = ParseClaims(float)
	require.NoError(t, err)
	assert.Equal(t, int64(1.7e9), c.Expiry.Unix())

	for _, bad := range []string{"", "a.b", "a.b.c.d", "x.!!!.y", "x." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + ".y",
		fakeJWT(t, map[string]any{"exp": "tomorrow"}), fakeJWT(t, map[string]any{"exp": -5})} {
		_, err := ParseClaims(bad)
		assert.Error(t, err, bad)
	}
}

func BenchmarkParseClaims(b *testing.B) {
	tok := fakeJWT(b, map[string]any{"exp": time.Now().Unix(), "iat": time.Now().Unix(), "tid": "tenant", "oid": "object",
		"aud": "myreg.azurecr.io", "grant_type": "refresh_token", "permissions": map[string]any{"actions": []string{"read", "write"}}})
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseClaims(tok); err != nil {
			b.Fatal(err)
		}
	}
}
