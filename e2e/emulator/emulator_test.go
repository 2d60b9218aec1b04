package emulator

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/require"
)

const (
	tenantA     = "aaaaaaaa-0000-4000-8000-00000000000a"
	tenantB     = "bbbbbbbb-0000-4000-8000-00000000000b"
	hostA       = "e2e.azurecr.io"
	hostB       = "second.azurecr.io"
	publicHost  = "public.example.test"
	acrScope    = "https://containerregistry.azure.net/.default"
	armScope    = "https://management.azure.com/.default"
	childEnvVar = "ACR_EMULATOR_TEST_CHILD"
)

// TestMain lets a test re-run this binary as a client process that only
// sees the emulator through its environment (HTTPS_PROXY, SSL_CERT_FILE).
func TestMain(m *testing.M) {
	if os.Getenv(childEnvVar) == "client-secret" {
		os.Exit(childClientSecret())
	}
	os.Exit(m.Run())
}

func childClientSecret() int {
	cred, err := azidentity.NewEnvironmentCredential(nil)
	if err == nil {
		var tok azcore.AccessToken
		tok, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{acrScope}})
		if err == nil {
			fmt.Println(tok.Token)
			return 0
		}
	}
	fmt.Fprintln(os.Stderr, err)
	return 1
}

// start runs an emulator with two ACR registries in two tenants and a
// public registry.
func start(t *testing.T) *Emulator {
	t.Helper()
	e, err := Start(Options{
		Dir: t.TempDir(),
		Registries: []Registry{
			{Host: hostA, Tenant: tenantA},
			{Host: hostB, Tenant: tenantB, RejectARMAudience: true},
		},
		PublicHosts: []string{publicHost},
	})
	require.NoError(t, err)
	t.Cleanup(func() { require.NoError(t, e.Close()) })
	return e
}

func clientOptions(e *Emulator) azcore.ClientOptions {
	return azcore.ClientOptions{Transport: e.HTTPClient()}
}

// getToken gets a token for scope and decodes its claims.
func getToken(t *testing.T, cred azcore.TokenCredential, scope string) (azcore.AccessToken, jwt.MapClaims) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tok, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	require.NoError(t, err)
	claims, _, err := peekClaims(tok.Token)
	require.NoError(t, err)
	require.WithinDuration(t, time.Now().Add(time.Hour), tok.ExpiresOn, 2*time.Minute)
	return tok, claims
}

// exchange posts to /oauth2/exchange on host and returns the status and
// decoded body.
func exchange(t *testing.T, e *Emulator, host, tenant, aadToken string) (int, map[string]any, http.Header) {
	t.Helper()
	form := url.Values{"grant_type": {"access_token"}, "service": {host}, "access_token": {aadToken}}
	if tenant != "" {
		form.Set("tenant", tenant)
	}
	resp, err := e.HTTPClient().PostForm("https://"+host+"/oauth2/exchange", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	var body map[string]any
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
	return resp.StatusCode, body, resp.Header
}

// refreshTokenFor runs the whole AAD + exchange flow for a service principal.
func refreshTokenFor(t *testing.T, e *Emulator, host, tenant, clientID, secret string) string {
	t.Helper()
	cred, err := azidentity.NewClientSecretCredential(tenant, clientID, secret,
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(e)})
	require.NoError(t, err)
	tok, _ := getToken(t, cred, acrScope)
	status, body, _ := exchange(t, e, host, tenant, tok.Token)
	require.Equal(t, http.StatusOK, status, "%v", body)
	rt, _ := body["refresh_token"].(string)
	require.NotEmpty(t, rt)
	return rt
}

func TestHTTPClientWithoutToken(t *testing.T) {
	t.Parallel()
	e := start(t)
	resp, err := e.HTTPClient().Get("https://" + hostA + "/v2/")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusUnauthorized, resp.StatusCode)
	require.Equal(t, `Bearer realm="https://e2e.azurecr.io/oauth2/token",service="e2e.azurecr.io"`, resp.Header.Get("WWW-Authenticate"))
	require.Equal(t, 1, e.Count("registry"))
	require.Equal(t, 1, e.Count("registry.401@"+hostA))
}

func TestProxyRefusesUnknownHosts(t *testing.T) {
	t.Parallel()
	e := start(t)
	for _, u := range []string{"https://example.com/", "https://e2e.azurecr.io.evil.test/", "http://e2e.azurecr.io/v2/", "https://e2e.azurecr.io:8443/v2/"} {
		resp, err := e.HTTPClient().Get(u)
		if err == nil {
			resp.Body.Close()
			require.Equal(t, http.StatusBadGateway, resp.StatusCode, u)
		}
	}
	require.Equal(t, 4, e.Count("proxy.refused"))
	require.Equal(t, []string{"example.com:443", "e2e.azurecr.io.evil.test:443", "http://e2e.azurecr.io", "e2e.azurecr.io:8443"}, e.RefusedHosts())
	e.ResetCounts()
	require.Empty(t, e.RefusedHosts())
}

func TestControlEndpoint(t *testing.T) {
	t.Parallel()
	e := start(t)
	_, err := e.HTTPClient().Get("https://" + hostA + "/v2/")
	require.NoError(t, err)
	resp, err := http.Get(e.ControlURL() + "/_emulator/counts")
	require.NoError(t, err)
	defer resp.Body.Close()
	var counts map[string]int
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&counts))
	require.Equal(t, 1, counts["registry@"+hostA])
}

func TestEnv(t *testing.T) {
	t.Parallel()
	e := start(t)
	env := strings.Join(e.Env(), "\n")
	require.Contains(t, env, "HTTPS_PROXY="+e.ProxyURL())
	require.Contains(t, env, "SSL_CERT_FILE="+e.CAFile())
	require.Contains(t, env, "NO_PROXY=127.0.0.1,localhost,::1\n")
	pem, err := os.ReadFile(e.CAFile())
	require.NoError(t, err)
	require.Equal(t, e.CAPEM(), pem)
}

func jsonDecode(resp *http.Response, v any) error { return json.NewDecoder(resp.Body).Decode(v) }

func tokenRequest(scope string) policy.TokenRequestOptions {
	return policy.TokenRequestOptions{Scopes: []string{scope}}
}
