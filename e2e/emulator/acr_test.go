package emulator

import (
	"context"
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stretchr/testify/require"
)

func TestExchange(t *testing.T) {
	t.Parallel()
	e := start(t)
	oidA := e.AddServicePrincipal(tenantA, "app-a", "secret-a")
	e.AddServicePrincipal(tenantB, "app-b", "secret-b")
	e.AssignRole(hostA, oidA, Reader)

	rt := refreshTokenFor(t, e, hostA, tenantA, "app-a", "secret-a")
	claims, _, err := peekClaims(rt)
	require.NoError(t, err)
	require.Equal(t, hostA, claims["aud"])
	require.Equal(t, oidA, claims["sub"])
	require.Equal(t, tenantA, claims["tenant"])
	require.Equal(t, 1, e.Count("acr.exchange@"+hostA))

	aadA, err := e.IssueAADToken(oidA, "https://containerregistry.azure.net", time.Hour)
	require.NoError(t, err)
	armA, err := e.IssueAADToken(oidA, "https://management.azure.com/", time.Hour)
	require.NoError(t, err)
	expired, err := e.IssueAADToken(oidA, "https://containerregistry.azure.net", -time.Minute)
	require.NoError(t, err)
	for name, tc := range map[string]struct {
		host, tenant, token string
		status              int
	}{
		"no tenant param":          {hostA, "", aadA, http.StatusOK},
		"arm audience":             {hostA, tenantA, armA, http.StatusOK},
		"tenant param mismatch":    {hostA, tenantB, aadA, http.StatusUnauthorized},
		"registry in other tenant": {hostB, tenantA, aadA, http.StatusUnauthorized},
		"expired":                  {hostA, tenantA, expired, http.StatusUnauthorized},
		"garbage":                  {hostA, tenantA, "not-a-jwt", http.StatusUnauthorized},
	} {
		status, body, header := exchange(t, e, tc.host, tc.tenant, tc.token)
		require.Equal(t, tc.status, status, "%s: %v", name, body)
		if status != http.StatusOK {
			require.NotEmpty(t, header.Get("X-Ms-Correlation-Request-Id"), name)
			require.Equal(t, "UNAUTHORIZED", body["errors"].([]any)[0].(map[string]any)["code"], name)
		}
	}

	// hostB rejects ARM-audience tokens; a registry may also reject ACR ones.
	oidB := e.ObjectID(tenantB, "app-b")
	armB, err := e.IssueAADToken(oidB, "https://management.azure.com/", time.Hour)
	require.NoError(t, err)
	status, _, _ := exchange(t, e, hostB, tenantB, armB)
	require.Equal(t, http.StatusUnauthorized, status)
	require.NoError(t, e.AddRegistry(Registry{Host: "armonly.azurecr.io", Tenant: tenantB, RejectACRAudience: true}))
	aadB, err := e.IssueAADToken(oidB, "https://containerregistry.azure.net", time.Hour)
	require.NoError(t, err)
	status, _, _ = exchange(t, e, "armonly.azurecr.io", tenantB, aadB)
	require.Equal(t, http.StatusUnauthorized, status)
	status, _, _ = exchange(t, e, "armonly.azurecr.io", tenantB, armB)
	require.Equal(t, http.StatusOK, status)
}

func TestFaultInjection(t *testing.T) {
	t.Parallel()
	e := start(t)
	oid := e.AddServicePrincipal(tenantA, "app-f", "s")
	aad, err := e.IssueAADToken(oid, "https://containerregistry.azure.net", time.Hour)
	require.NoError(t, err)
	e.InjectFault("acr.exchange@"+hostA, Fault{Status: http.StatusTooManyRequests, RetryAfter: 2 * time.Second, Times: 1})
	status, _, header := exchange(t, e, hostA, tenantA, aad)
	require.Equal(t, http.StatusTooManyRequests, status)
	require.Equal(t, "2", header.Get("Retry-After"))
	status, _, _ = exchange(t, e, hostA, tenantA, aad)
	require.Equal(t, http.StatusOK, status)

	e.InjectFault("acr.exchange", Fault{Latency: 200 * time.Millisecond})
	start := time.Now()
	status, _, _ = exchange(t, e, hostA, tenantA, aad)
	require.Equal(t, http.StatusOK, status)
	require.GreaterOrEqual(t, time.Since(start), 200*time.Millisecond)
	e.ClearFaults()
	require.Equal(t, 3, e.Count("acr.exchange"))
}

func ref(t *testing.T, s string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(s)
	require.NoError(t, err)
	return r
}

func push(e *Emulator, r name.Reference, a authn.Authenticator) (v1.Image, error) {
	img, err := random.Image(512, 2)
	if err != nil {
		return nil, err
	}
	return img, remote.Write(r, img, remote.WithAuth(a), remote.WithTransport(e.Transport()))
}

func pull(e *Emulator, r name.Reference, a authn.Authenticator) (v1.Hash, error) {
	img, err := remote.Image(r, remote.WithAuth(a), remote.WithTransport(e.Transport()))
	if err != nil {
		return v1.Hash{}, err
	}
	if _, err := img.RawConfigFile(); err != nil {
		return v1.Hash{}, err
	}
	return img.Digest()
}

func requireStatus(t *testing.T, err error, status int) {
	t.Helper()
	require.Error(t, err)
	var terr *transport.Error
	require.ErrorAs(t, err, &terr)
	require.Equal(t, status, terr.StatusCode, "%v", err)
}

func TestRegistryRoles(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.AssignRole(hostA, e.AddServicePrincipal(tenantA, "pusher", "push-secret"), Contributor)
	e.AssignRole(hostA, e.AddServicePrincipal(tenantA, "puller", "pull-secret"), Reader)
	e.AddServicePrincipal(tenantA, "nobody", "nobody-secret")
	pusher := &authn.Basic{Username: nullUsername, Password: refreshTokenFor(t, e, hostA, tenantA, "pusher", "push-secret")}
	puller := &authn.Basic{Username: nullUsername, Password: refreshTokenFor(t, e, hostA, tenantA, "puller", "pull-secret")}
	nobody := &authn.Basic{Username: nullUsername, Password: refreshTokenFor(t, e, hostA, tenantA, "nobody", "nobody-secret")}

	r := ref(t, hostA+"/team/app:v1")
	img, err := push(e, r, pusher)
	require.NoError(t, err)
	want, err := img.Digest()
	require.NoError(t, err)

	got, err := pull(e, r, puller)
	require.NoError(t, err)
	require.Equal(t, want, got)
	_, err = push(e, ref(t, hostA+"/team/app:v2"), puller)
	requireStatus(t, err, http.StatusUnauthorized)
	_, err = pull(e, r, nobody)
	requireStatus(t, err, http.StatusUnauthorized)

	// A service principal's app ID and secret work directly, as in ACR.
	got, err = pull(e, r, &authn.Basic{Username: "puller", Password: "pull-secret"})
	require.NoError(t, err)
	require.Equal(t, want, got)
	_, err = pull(e, r, &authn.Basic{Username: "puller", Password: "wrong"})
	requireStatus(t, err, http.StatusUnauthorized)

	// A refresh token is bound to its registry.
	_, err = pull(e, ref(t, hostB+"/team/app:v1"), puller)
	requireStatus(t, err, http.StatusUnauthorized)

	// The identity-token form: grant_type=refresh_token.
	got, err = pull(e, r, &authn.Bearer{Token: "unused"}) // no basic creds: refused
	requireStatus(t, err, http.StatusUnauthorized)
	require.NotEqual(t, want, got)
	got, err = pull(e, r, authn.FromConfig(authn.AuthConfig{IdentityToken: puller.Password}))
	require.NoError(t, err)
	require.Equal(t, want, got)

	require.Positive(t, e.Count("acr.token@"+hostA))
	require.Positive(t, e.Count("registry@"+hostA))
	require.Empty(t, e.RefusedHosts())
}

func TestAdminAccount(t *testing.T) {
	t.Parallel()
	e := start(t)
	r := ref(t, hostA+"/admin/app:v1")
	_, err := push(e, r, &authn.Basic{Username: "e2e", Password: "anything"})
	requireStatus(t, err, http.StatusUnauthorized)

	user, pw1, pw2, err := e.EnableAdmin(hostA)
	require.NoError(t, err)
	require.Equal(t, "e2e", user)
	require.NotEqual(t, pw1, pw2)
	_, err = push(e, r, &authn.Basic{Username: user, Password: pw1})
	require.NoError(t, err)
	_, err = pull(e, r, &authn.Basic{Username: user, Password: pw2})
	require.NoError(t, err)

	newPW1, err := e.RegenerateAdminPassword(hostA, 1)
	require.NoError(t, err)
	_, err = pull(e, r, &authn.Basic{Username: user, Password: pw1})
	requireStatus(t, err, http.StatusUnauthorized)
	_, err = pull(e, r, &authn.Basic{Username: user, Password: newPW1})
	require.NoError(t, err)
	_, err = pull(e, r, &authn.Basic{Username: user, Password: pw2})
	require.NoError(t, err)

	require.NoError(t, e.DisableAdmin(hostA))
	_, err = pull(e, r, &authn.Basic{Username: user, Password: pw2})
	requireStatus(t, err, http.StatusUnauthorized)
}

func TestRepositoryToken(t *testing.T) {
	t.Parallel()
	e := start(t)
	require.NoError(t, e.AddRepositoryToken(hostA, "ci", "ci-pw", map[string][]string{
		"ci/app":   {"content/read", "content/write"},
		"shared/*": {"pull"},
	}))
	ci := &authn.Basic{Username: "ci", Password: "ci-pw"}
	_, err := push(e, ref(t, hostA+"/ci/app:v1"), ci)
	require.NoError(t, err)
	_, err = pull(e, ref(t, hostA+"/ci/app:v1"), ci)
	require.NoError(t, err)
	_, err = push(e, ref(t, hostA+"/shared/base:v1"), ci)
	requireStatus(t, err, http.StatusUnauthorized)
	_, err = push(e, ref(t, hostA+"/other/app:v1"), ci)
	requireStatus(t, err, http.StatusUnauthorized)
}

func TestAccessTokenScopes(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.AssignRole(hostA, e.AddServicePrincipal(tenantA, "reader", "pw"), Reader)
	form := url.Values{"grant_type": {"password"}, "service": {hostA}, "username": {"reader"}, "password": {"pw"},
		"scope": {"repository:a/b:pull,push registry:catalog:*", "repository:c:delete"}}
	resp, err := e.HTTPClient().PostForm("https://"+hostA+"/oauth2/token", form)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var body map[string]string
	require.NoError(t, jsonDecode(resp, &body))
	require.Equal(t, body["access_token"], body["token"])
	claims, _, err := peekClaims(body["access_token"])
	require.NoError(t, err)
	require.Equal(t, []any{
		map[string]any{"type": "repository", "name": "a/b", "actions": []any{"pull"}},
		map[string]any{"type": "registry", "name": "catalog", "actions": []any{"*"}},
		map[string]any{"type": "repository", "name": "c", "actions": []any{}},
	}, claims["access"])
}

func TestPublicRegistryIsAnonymous(t *testing.T) {
	t.Parallel()
	e := start(t)
	r := ref(t, publicHost+"/lib/img:v1")
	_, err := push(e, r, authn.Anonymous)
	require.NoError(t, err)
	_, err = pull(e, r, authn.Anonymous)
	require.NoError(t, err)
	require.Zero(t, e.Count("acr.token"))
}

// TestConcurrentClients runs many full flows at once, as the e2e tests will.
func TestConcurrentClients(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.AssignRole(hostA, e.AddServicePrincipal(tenantA, "many", "pw"), Contributor)
	_, err := push(e, ref(t, hostA+"/busy:v1"), &authn.Basic{Username: "many", Password: "pw"})
	require.NoError(t, err)
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for range 16 {
		wg.Go(func() {
			cred, err := azidentity.NewClientSecretCredential(tenantA, "many", "pw",
				&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(e)})
			if err == nil {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				_, err = cred.GetToken(ctx, tokenRequest(acrScope))
			}
			if err == nil {
				_, err = pull(e, ref(t, hostA+"/busy:v1"), &authn.Basic{Username: "many", Password: "pw"})
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	require.Equal(t, 16, e.Count("aad.token"))
}
