package token

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// staticCredential is an azcore.TokenCredential (the Azure SDK's interface)
// that hands out a fixed token per scope and records the scopes asked for.
type staticCredential struct {
	mu     sync.Mutex
	scopes []string
	token  func(scope string) (string, error)
}

func (c *staticCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.mu.Lock()
	c.scopes = append(c.scopes, o.Scopes...)
	c.mu.Unlock()
	tok, err := c.token(o.Scopes[0])
	return azcore.AccessToken{Token: tok, ExpiresOn: time.Now().Add(time.Hour)}, err
}

// registry is an httptest exchange endpoint that accepts AAD tokens whose
// audience is in accept.
func registry(t *testing.T, accept ...string) (*httptest.Server, *[]string) {
	var mu sync.Mutex
	var tenants []string
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		require.NoError(t, r.ParseForm())
		mu.Lock()
		tenants = append(tenants, r.PostForm.Get("tenant"))
		mu.Unlock()
		for _, a := range accept {
			if r.PostForm.Get("access_token") == "aad-for-"+a {
				fmt.Fprintf(w, `{"refresh_token":%q}`, fakeJWT(t, map[string]any{
					"exp": time.Now().Add(3 * time.Hour).Unix(), "iat": time.Now().Unix()}))
				return
			}
		}
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprint(w, `{"errors":[{"code":"UNAUTHORIZED","message":"audience not accepted"}]}`)
	}))
	t.Cleanup(srv.Close)
	return srv, &tenants
}

func TestFetchAudiences(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name       string
		audience   string
		accept     []string
		wantScopes []string
		wantErr    bool
	}{
		{"acr accepted", AudienceAuto, []string{ACRScope}, []string{ACRScope}, false},
		{"arm fallback", AudienceAuto, []string{AzurePublic.ARMScope}, []string{ACRScope, AzurePublic.ARMScope}, false},
		{"acr only refuses arm", AudienceACR, []string{AzurePublic.ARMScope}, []string{ACRScope}, true},
		{"arm only", AudienceARM, []string{AzurePublic.ARMScope}, []string{AzurePublic.ARMScope}, false},
		{"neither", AudienceAuto, nil, []string{ACRScope, AzurePublic.ARMScope}, true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv, _ := registry(t, tc.accept...)
			cred := &staticCredential{token: func(s string) (string, error) { return "aad-for-" + s, nil }}
			f := &Fetcher{Audience: tc.audience, Exchanger: tlsExchanger(srv),
				NewCredential: func(Identity) (azcore.TokenCredential, error) { return cred, nil }}
			id := Identity{Kind: KindEnvironment, Cloud: AzurePublic, TenantID: "tenant"}
			tok, err := f.Fetch(context.Background(), strings.TrimPrefix(srv.URL, "https://"), []Identity{id})
			assert.Equal(t, tc.wantScopes, cred.scopes)
			if tc.wantErr {
				require.Error(t, err)
				assert.NotContains(t, err.Error(), "aad-for-")
				return
			}
			require.NoError(t, err)
			assert.WithinDuration(t, time.Now().Add(3*time.Hour), tok.ExpiresAt, time.Minute)
			assert.Equal(t, KindEnvironment, tok.Identity.Kind)
		})
	}
}

func TestFetchTenantFromClaims(t *testing.T) {
	t.Parallel()
	srv, tenants := registry(t, "tid")
	cred := &staticCredential{token: func(string) (string, error) {
		return fakeJWT(t, map[string]any{"tid": "tenant-from-token"}), nil
	}}
	x := tlsExchanger(srv)
	f := &Fetcher{Audience: AudienceACR, Exchanger: exchangerFunc(func(ctx context.Context, r ExchangeRequest) (string, error) {
		r.AccessToken = "aad-for-tid"
		return x.Exchange(ctx, r)
	}), NewCredential: func(Identity) (azcore.TokenCredential, error) { return cred, nil }}
	_, err := f.Fetch(context.Background(), strings.TrimPrefix(srv.URL, "https://"), []Identity{{Kind: KindAzureCLI, Cloud: AzurePublic}})
	require.NoError(t, err)
	assert.Equal(t, []string{"tenant-from-token"}, *tenants)
}

type exchangerFunc func(context.Context, ExchangeRequest) (string, error)

func (f exchangerFunc) Exchange(ctx context.Context, r ExchangeRequest) (string, error) {
	return f(ctx, r)
}

func TestFetchChain(t *testing.T) {
	t.Parallel()
	srv, _ := registry(t, ACRScope)
	host := strings.TrimPrefix(srv.URL, "https://")
	creds := map[Kind]*staticCredential{
		KindAzureCLI: {token: func(string) (string, error) { return "", errors.New("Please run 'az login' to setup account.") }},
		KindAzd:      {token: func(s string) (string, error) { return "aad-for-" + s, nil }},
		KindEnvironment: {token: func(string) (string, error) {
			return "", errors.New("refused")
		}},
	}
	f := &Fetcher{Exchanger: tlsExchanger(srv), NewCredential: func(id Identity) (azcore.TokenCredential, error) {
		if c, ok := creds[id.Kind]; ok {
			return c, nil
		}
		return nil, errors.New("not configured")
	}}
	// An unavailable CLI is skipped; azd answers.
	tok, err := f.Fetch(context.Background(), host, []Identity{{Kind: KindWorkloadIdentity}, {Kind: KindAzureCLI}, {Kind: KindAzd}})
	require.NoError(t, err)
	assert.Equal(t, KindAzd, tok.Identity.Kind)

	// Nothing available: an UnavailableError listing each.
	_, err = f.Fetch(context.Background(), host, []Identity{{Kind: KindWorkloadIdentity}, {Kind: KindAzureCLI}})
	var ue *UnavailableError
	require.ErrorAs(t, err, &ue)
	assert.Len(t, ue.Tried, 2)
	assert.Contains(t, err.Error(), "az login")
}

// TestFetchCLINotLoggedInIsUnavailable: azidentity reports a failing az as
// an AuthenticationFailedError without a response; the chain goes on.
func TestFetchCLINotLoggedInIsUnavailable(t *testing.T) {
	t.Parallel()
	srv, _ := registry(t, ACRScope)
	az := &staticCredential{token: func(string) (string, error) { return "", &azidentity.AuthenticationFailedError{} }}
	azd := &staticCredential{token: func(s string) (string, error) { return "aad-for-" + s, nil }}
	f := &Fetcher{Exchanger: tlsExchanger(srv), Audience: AudienceACR, NewCredential: func(id Identity) (azcore.TokenCredential, error) {
		if id.Kind == KindAzureCLI {
			return az, nil
		}
		return azd, nil
	}}
	tok, err := f.Fetch(context.Background(), strings.TrimPrefix(srv.URL, "https://"), []Identity{{Kind: KindAzureCLI}, {Kind: KindAzd}})
	require.NoError(t, err)
	assert.Equal(t, KindAzd, tok.Identity.Kind)
}

// killedCLI is a CLI credential that runs until the deadline kills it and
// then reports only that, as azidentity does for az and azd.
type killedCLI struct{}

func (killedCLI) GetToken(ctx context.Context, _ policy.TokenRequestOptions) (azcore.AccessToken, error) {
	<-ctx.Done()
	return azcore.AccessToken{}, errors.New("AzureCLICredential: signal: killed")
}

// TestFetchCLIKilledByDeadlineIsNotUnavailable: a CLI that is slow (killed
// when time runs out) is a failure to report, not "no identity here", which
// the helper would remember and answer as not found.
func TestFetchCLIKilledByDeadlineIsNotUnavailable(t *testing.T) {
	t.Parallel()
	f := &Fetcher{NewCredential: func(Identity) (azcore.TokenCredential, error) { return killedCLI{}, nil }}
	for _, k := range []Kind{KindAzureCLI, KindAzd} {
		ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
		_, err := f.Fetch(ctx, "myreg.azurecr.io", []Identity{{Kind: k}})
		cancel()
		require.Error(t, err)
		var ue *UnavailableError
		assert.False(t, errors.As(err, &ue), "%s: %v", k, err)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
	}
}
