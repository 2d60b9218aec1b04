package emulator

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/stretchr/testify/require"
)

func TestClientSecretCredential(t *testing.T) {
	t.Parallel()
	e := start(t)
	oid := e.AddServicePrincipal(tenantA, "app-secret", "s3cret")
	cred, err := azidentity.NewClientSecretCredential(tenantA, "app-secret", "s3cret",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(e)})
	require.NoError(t, err)
	_, claims := getToken(t, cred, acrScope)
	require.Equal(t, "https://containerregistry.azure.net", claims["aud"])
	require.Equal(t, tenantA, claims["tid"])
	require.Equal(t, oid, claims["oid"])
	require.Equal(t, "app-secret", claims["appid"])
	require.Equal(t, "https://login.microsoftonline.com/"+tenantA+"/v2.0", claims["iss"])
	_, claims = getToken(t, cred, armScope)
	require.Equal(t, "https://management.azure.com/", claims["aud"])

	// One cold credential: one instance discovery (MSAL's token cache looks
	// up authority aliases even for a known host), one metadata fetch, one
	// token request per scope.
	require.Equal(t, 1, e.Count("aad.discovery"))
	require.Equal(t, 1, e.Count("aad.metadata"))
	require.Equal(t, 2, e.Count("aad.token"))
	require.Equal(t, 2, e.Count("aad.token@app-secret"))

	// DisableInstanceDiscovery saves the discovery request.
	e.ResetCounts()
	quiet, err := azidentity.NewClientSecretCredential(tenantA, "app-secret", "s3cret",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(e), DisableInstanceDiscovery: true})
	require.NoError(t, err)
	getToken(t, quiet, acrScope)
	require.Equal(t, map[string]int{"aad.metadata": 1, "aad.metadata@login.microsoftonline.com": 1,
		"aad.token": 1, "aad.token@login.microsoftonline.com": 1, "aad.token@app-secret": 1, "aad.issued": 1,
		"proxy.connect": 1, "proxy.connect@login.microsoftonline.com": 1}, e.Counts())

	bad, err := azidentity.NewClientSecretCredential(tenantA, "app-secret", "wrong",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(e)})
	require.NoError(t, err)
	_, err = bad.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{acrScope}})
	require.ErrorContains(t, err, "AADSTS7000215")

	unknown, err := azidentity.NewClientSecretCredential(tenantA, "no-such-app", "x",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(e)})
	require.NoError(t, err)
	_, err = unknown.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{acrScope}})
	require.ErrorContains(t, err, "AADSTS700016")
}

func TestClientSecretCredentialSovereignCloud(t *testing.T) {
	t.Parallel()
	e := start(t)
	require.NoError(t, e.AddRegistry(Registry{Host: "cn.azurecr.cn", Tenant: "cccccccc-0000-4000-8000-00000000000c"}))
	e.AddServicePrincipal("cccccccc-0000-4000-8000-00000000000c", "app-cn", "s")
	opts := clientOptions(e)
	opts.Cloud.ActiveDirectoryAuthorityHost = "https://login.chinacloudapi.cn/"
	cred, err := azidentity.NewClientSecretCredential("cccccccc-0000-4000-8000-00000000000c", "app-cn", "s",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: opts})
	require.NoError(t, err)
	tok, claims := getToken(t, cred, acrScope)
	require.Equal(t, "https://login.chinacloudapi.cn/cccccccc-0000-4000-8000-00000000000c/v2.0", claims["iss"])
	require.Equal(t, 1, e.Count("aad.token@login.chinacloudapi.cn"))
	status, body, _ := exchange(t, e, "cn.azurecr.cn", "", tok.Token)
	require.Equal(t, 200, status, "%v", body)

	// The China tenant does not exist in the public cloud.
	pub, err := azidentity.NewClientSecretCredential("cccccccc-0000-4000-8000-00000000000c", "app-cn", "s",
		&azidentity.ClientSecretCredentialOptions{ClientOptions: clientOptions(e)})
	require.NoError(t, err)
	_, err = pub.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{acrScope}})
	require.ErrorContains(t, err, "AADSTS90002")
}

func TestClientCertificateCredential(t *testing.T) {
	t.Parallel()
	e := start(t)
	path, err := e.AddServicePrincipalCert(tenantA, "app-cert")
	require.NoError(t, err)
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	certs, key, err := azidentity.ParseCertificates(data, nil)
	require.NoError(t, err)
	for _, sendChain := range []bool{false, true} {
		cred, err := azidentity.NewClientCertificateCredential(tenantA, "app-cert", certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOptions(e), SendCertificateChain: sendChain})
		require.NoError(t, err)
		_, claims := getToken(t, cred, acrScope)
		require.Equal(t, e.ObjectID(tenantA, "app-cert"), claims["oid"])
	}

	// A certificate that is not registered on the app is refused.
	otherPath, err := e.AddServicePrincipalCert(tenantA, "other-app")
	require.NoError(t, err)
	data, err = os.ReadFile(otherPath)
	require.NoError(t, err)
	certs, key, err = azidentity.ParseCertificates(data, nil)
	require.NoError(t, err)
	cred, err := azidentity.NewClientCertificateCredential(tenantA, "app-cert", certs, key,
		&azidentity.ClientCertificateCredentialOptions{ClientOptions: clientOptions(e)})
	require.NoError(t, err)
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{acrScope}})
	require.ErrorContains(t, err, "AADSTS700027")
}

func TestWorkloadIdentityCredential(t *testing.T) {
	t.Parallel()
	e := start(t)
	file, err := e.AddFederatedIdentity(tenantB, "app-wi")
	require.NoError(t, err)
	newCred := func() *azidentity.WorkloadIdentityCredential {
		cred, err := azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: clientOptions(e), ClientID: "app-wi", TenantID: tenantB, TokenFilePath: file,
		})
		require.NoError(t, err)
		return cred
	}
	_, claims := getToken(t, newCred(), acrScope)
	require.Equal(t, tenantB, claims["tid"])
	require.Equal(t, e.ObjectID(tenantB, "app-wi"), claims["oid"])

	require.NoError(t, e.WriteFederatedToken(tenantB, "app-wi", -time.Minute))
	_, err = newCred().GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{acrScope}})
	require.ErrorContains(t, err, "AADSTS700024")

	require.NoError(t, e.WriteFederatedToken(tenantB, "app-wi", time.Hour))
	getToken(t, newCred(), acrScope)
}

// TestManagedIdentityCredential changes the process environment, so it does
// not run in parallel.
func TestManagedIdentityCredential(t *testing.T) {
	e := start(t)
	system := e.SetManagedIdentity(tenantA)
	user := e.AddUserAssignedIdentity(tenantA, "uami")
	for _, kv := range e.ManagedIdentityEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	for name, tc := range map[string]struct {
		id   azidentity.ManagedIDKind
		want string
	}{
		"system":      {nil, system.ObjectID},
		"client id":   {azidentity.ClientID(user.ClientID), user.ObjectID},
		"resource id": {azidentity.ResourceID(user.ResourceID), user.ObjectID},
	} {
		t.Run(name, func(t *testing.T) {
			cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: tc.id})
			require.NoError(t, err)
			_, claims := getToken(t, cred, acrScope)
			require.Equal(t, tc.want, claims["oid"])
			require.Equal(t, "https://containerregistry.azure.net", claims["aud"])
		})
	}
	require.Equal(t, 3, e.Count("msi"))

	cred, err := azidentity.NewManagedIdentityCredential(&azidentity.ManagedIdentityCredentialOptions{ID: azidentity.ClientID("nope")})
	require.NoError(t, err)
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{acrScope}})
	require.ErrorContains(t, err, "No Managed Identity found")
}

// TestAzureCLICredential changes PATH, so it does not run in parallel.
func TestAzureCLICredential(t *testing.T) {
	e := start(t)
	dir, err := e.AzBinDir()
	require.NoError(t, err)
	t.Setenv("PATH", dir+string(os.PathListSeparator)+os.Getenv("PATH"))

	cred, err := azidentity.NewAzureCLICredential(nil)
	require.NoError(t, err)
	_, err = cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{acrScope}})
	require.ErrorContains(t, err, "Please run 'az login' to setup account.")

	oid := e.AddUser(tenantA, "dev@example.test")
	require.NoError(t, e.SetAzureCLIUser(oid))
	cred, err = azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: tenantA})
	require.NoError(t, err)
	_, claims := getToken(t, cred, acrScope)
	require.Equal(t, oid, claims["oid"])
	require.Equal(t, "user", claims["idtyp"])
	require.Equal(t, 2, e.Count("az"))
}

// TestChildProcessEnv checks that Env alone is enough for a client process
// using the default transport (HTTPS_PROXY, SSL_CERT_FILE).
func TestChildProcessEnv(t *testing.T) {
	t.Parallel()
	e := start(t)
	e.AddServicePrincipal(tenantA, "app-child", "child-secret")
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), e.Env()...)
	cmd.Env = append(cmd.Env, childEnvVar+"=client-secret",
		"AZURE_TENANT_ID="+tenantA, "AZURE_CLIENT_ID=app-child", "AZURE_CLIENT_SECRET=child-secret")
	out, err := cmd.Output()
	require.NoError(t, err, "%s", out)
	claims, _, err := peekClaims(strings.TrimSpace(string(out)))
	require.NoError(t, err)
	require.Equal(t, tenantA, claims["tid"])
	require.Equal(t, 1, e.Count("aad.metadata"))
	require.Equal(t, 1, e.Count("aad.token"))
	require.Equal(t, 1, e.Count("aad.discovery"))
	require.Empty(t, e.RefusedHosts())
}
