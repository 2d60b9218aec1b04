package library

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper/acr"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

const (
	host   = "e2e.azurecr.io"
	public = "public.example.com"
	tenant = "22222222-2222-2222-2222-222222222222"
	guid   = "00000000-0000-0000-0000-000000000000"
)

func TestMain(m *testing.M) {
	// authn.DefaultKeychain reads the Docker config: never the developer's,
	// whose credential helpers could reach out of the sandbox.
	dir, err := os.MkdirTemp("", "library-docker-config")
	if err != nil {
		panic(err)
	}
	os.Setenv("DOCKER_CONFIG", dir)
	code := m.Run()
	os.RemoveAll(dir)
	harness.Cleanup()
	os.Exit(code)
}

func startEmulator(t *testing.T) *emulator.Emulator {
	t.Helper()
	emu, err := emulator.Start(emulator.Options{
		Registries:  []emulator.Registry{{Host: host, Tenant: tenant}},
		PublicHosts: []string{public},
	})
	require.NoError(t, err)
	t.Cleanup(func() { emu.Close() })
	return emu
}

// emptyConfig is a helper configuration naming nothing, so that nothing of
// the machine's configuration is read.
func emptyConfig(t *testing.T) string {
	p := t.TempDir() + "/config.json"
	require.NoError(t, os.WriteFile(p, []byte(`{}`), 0o600))
	return p
}

// pushPull pushes a random image through kc and pulls it back.
func pushPull(t *testing.T, emu *emulator.Emulator, kc authn.Keychain, repo string) {
	t.Helper()
	ref, err := name.ParseReference(repo + ":1")
	require.NoError(t, err)
	img, err := random.Image(2048, 2)
	require.NoError(t, err)
	opts := []remote.Option{remote.WithAuthFromKeychain(kc), remote.WithTransport(emu.Transport())}
	require.NoError(t, remote.Write(ref, img, opts...))
	pulled, err := remote.Image(ref, opts...)
	require.NoError(t, err)
	want, err := img.Digest()
	require.NoError(t, err)
	got, err := pulled.Digest()
	require.NoError(t, err)
	assert.Equal(t, want, got)
	_, err = pulled.RawManifest()
	require.NoError(t, err)
}

// multi is how tools combine keychains: Docker's first, ACR's second.
func multi(kc authn.Keychain) authn.Keychain {
	return authn.NewMultiKeychain(authn.DefaultKeychain, kc)
}

// secretCredential is an azidentity service principal that talks to the
// emulator.
func secretCredential(t *testing.T, emu *emulator.Emulator, clientID, secret string) azcore.TokenCredential {
	cred, err := azidentity.NewClientSecretCredential(tenant, clientID, secret, &azidentity.ClientSecretCredentialOptions{
		ClientOptions:            azcore.ClientOptions{Transport: emu.HTTPClient()},
		DisableInstanceDiscovery: true,
	})
	require.NoError(t, err)
	return cred
}

// authorization resolves host through kc and returns its credentials.
func authorization(t *testing.T, kc authn.Keychain, reg string) authn.AuthConfig {
	t.Helper()
	r, err := name.NewRegistry(reg)
	require.NoError(t, err)
	auth, err := kc.Resolve(r)
	require.NoError(t, err)
	require.NotSame(t, authn.Anonymous, auth)
	c, err := auth.Authorization()
	require.NoError(t, err)
	return *c
}

// clearAzureEnv empties every variable that could select another identity.
// Tests that call it (through t.Setenv) cannot be parallel.
func clearAzureEnv(t *testing.T) {
	for _, k := range []string{"AZURE_TENANT_ID", "AZURE_CLIENT_ID", "AZURE_CLIENT_SECRET",
		"AZURE_CLIENT_CERTIFICATE_PATH", "AZURE_FEDERATED_TOKEN_FILE", "AZURE_AUTHORITY_HOST",
		"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT",
		"DOCKER_CREDENTIAL_ACR_CONFIG", "DOCKER_CREDENTIAL_ACR_CACHE_DIR", "DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY",
		"DOCKER_CREDENTIAL_ACR_TIMEOUT"} {
		t.Setenv(k, "")
	}
}

// --- identities that need the process environment (not parallel) ---

// The CI case: a service principal in AZURE_* variables, the library with
// no options but the emulator's HTTP client, in the same environment as the
// binary. The token the library fetched is what `docker-credential-acr get`
// answers, from the shared cache, without another exchange.
func TestEnvironmentServicePrincipalSharesCacheWithBinary(t *testing.T) {
	emu := startEmulator(t)
	oid := emu.AddServicePrincipal(tenant, "ci-app", "ci-secret-PLANTED")
	emu.AssignRole(host, oid, emulator.Contributor)
	env := harness.New(t, emu, host)
	env.WriteConfig(t, `{}`)
	env.Set("AZURE_TENANT_ID", tenant, "AZURE_CLIENT_ID", "ci-app", "AZURE_CLIENT_SECRET", "ci-secret-PLANTED")

	// This process gets the binary's environment: same HOME, configuration,
	// cache directory, PATH and identity.
	clearAzureEnv(t)
	for _, kv := range env.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		switch {
		case strings.Contains(strings.ToLower(k), "proxy"), strings.HasPrefix(k, "SSL_"), strings.HasPrefix(k, "CURL_"),
			strings.HasPrefix(k, "DOCKER_CREDENTIAL_ACR_LOG"):
			continue // the emulator's HTTP client does this in-process; the library logs nowhere
		}
		t.Setenv(k, v)
	}
	// authn.DefaultKeychain must not find the harness's Docker config, whose
	// credHelpers would run the binary outside the emulator's proxy.
	t.Setenv("DOCKER_CONFIG", t.TempDir())

	kc := acr.Keychain(acr.WithHTTPClient(emu.HTTPClient()))
	pushPull(t, emu, multi(kc), host+"/library/env-sp")
	assert.Equal(t, 1, emu.Count("aad.token"))
	assert.Equal(t, 1, emu.Count("acr.exchange"))
	libSecret := authorization(t, kc, host).Password

	r := env.Helper(t, host, "get")
	require.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, libSecret, "the binary answers with the library's token")
	assert.Equal(t, 1, emu.Count("aad.token"), "the binary made no Azure AD request")
	assert.Equal(t, 1, emu.Count("acr.exchange"), "the binary made no exchange")
	for file, out := range env.HelperOutput(t) {
		assert.NotContains(t, string(out), "ci-secret-PLANTED", file)
	}
	t.Logf("counts: %v", emu.Counts())
}

// A managed identity announced by IDENTITY_ENDPOINT (App Service, Arc...),
// user-assigned and chosen by AZURE_CLIENT_ID as on AKS. MSAL reads those
// variables from the process environment itself. (User-assigned with a
// fresh client ID because MSAL caches managed identity tokens process-wide,
// which would hand a second emulator's registry the first one's token.)
func TestManagedIdentity(t *testing.T) {
	emu := startEmulator(t)
	mi := emu.AddUserAssignedIdentity(tenant, harness.UniqueName("lib-mi"))
	emu.AssignRole(host, mi.ObjectID, emulator.Contributor)
	clearAzureEnv(t)
	for _, kv := range emu.ManagedIdentityEnv() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	t.Setenv("AZURE_CLIENT_ID", mi.ClientID)
	kc := acr.Keychain(acr.WithHTTPClient(emu.HTTPClient()), acr.WithConfigFile(emptyConfig(t)), acr.WithCacheDir(t.TempDir()))
	pushPull(t, emu, multi(kc), host+"/library/managed-identity")
	assert.Equal(t, 1, emu.Count("msi"))
	assert.Equal(t, 1, emu.Count("msi@"+mi.ClientID))
	assert.Equal(t, 1, emu.Count("acr.exchange"))
	assert.Zero(t, emu.Count("aad.token"), "no client-credential request")
	t.Logf("counts: %v", emu.Counts())
}

// --- identities that need nothing from the process environment ---

// A program that already has an azcore.TokenCredential passes it in.
func TestSuppliedTokenCredential(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	oid := emu.AddServicePrincipal(tenant, "tool-app", "tool-secret-PLANTED")
	emu.AssignRole(host, oid, emulator.Contributor)
	cred := secretCredential(t, emu, "tool-app", "tool-secret-PLANTED")
	dir := t.TempDir()
	kc := acr.Keychain(acr.WithTokenCredential(cred, "serviceprincipal:"+tenant+":tool-app"),
		acr.WithHTTPClient(emu.HTTPClient()), acr.WithConfigFile(emptyConfig(t)), acr.WithCacheDir(dir))
	pushPull(t, emu, multi(kc), host+"/library/supplied")
	assert.Equal(t, 1, emu.Count("aad.token"))
	assert.Equal(t, 1, emu.Count("acr.exchange"))

	// A second keychain (a second run of the tool) reads the token from disk.
	kc2 := acr.Keychain(acr.WithTokenCredential(cred, "serviceprincipal:"+tenant+":tool-app"),
		acr.WithHTTPClient(emu.HTTPClient()), acr.WithConfigFile(emptyConfig(t)), acr.WithCacheDir(dir))
	pushPull(t, emu, multi(kc2), host+"/library/supplied-again")
	assert.Equal(t, 1, emu.Count("acr.exchange"))
	t.Logf("counts: %v", emu.Counts())
}

// Workload identity (GitHub Actions OIDC, AKS) named in the configuration:
// the binary fetches, the library is served from the shared cache.
func TestWorkloadIdentityTokenFromBinaryServedToLibrary(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	tokenFile, err := emu.AddFederatedIdentity(tenant, "wi-app")
	require.NoError(t, err)
	emu.AssignRole(host, emu.ObjectID(tenant, "wi-app"), emulator.Contributor)
	env := harness.New(t, emu, host)
	env.WriteConfig(t, fmt.Sprintf(`{"registries": {%q: {"identity": "workloadidentity", "tenantId": %q, "clientId": "wi-app", "tokenFile": %q}}}`,
		host, tenant, tokenFile))

	r := env.Helper(t, host, "get")
	require.Equal(t, 0, r.Code, r.String())
	assert.Equal(t, 1, emu.Count("acr.exchange"))

	kc := acr.Keychain(acr.WithHTTPClient(emu.HTTPClient()), acr.WithConfigFile(env.Config), acr.WithCacheDir(env.Cache))
	c := authorization(t, kc, host)
	assert.Equal(t, guid, c.Username)
	assert.Contains(t, r.Stdout, c.Password, "the library answers with the binary's token")
	pushPull(t, emu, multi(kc), host+"/library/workload-identity")
	assert.Equal(t, 1, emu.Count("aad.token"), "the library made no Azure AD request")
	assert.Equal(t, 1, emu.Count("acr.exchange"), "the library made no exchange")
	t.Logf("counts: %v", emu.Counts())
}

// Workload identity alone, through acr.Credentials (the containerd/oras shape).
func TestWorkloadIdentityCredentials(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	tokenFile, err := emu.AddFederatedIdentity(tenant, "wi-app2")
	require.NoError(t, err)
	emu.AssignRole(host, emu.ObjectID(tenant, "wi-app2"), emulator.Reader)
	cfg := t.TempDir() + "/config.json"
	require.NoError(t, os.WriteFile(cfg, fmt.Appendf(nil, `{"registries": {%q: {"identity": "workloadidentity", "tenantId": %q, "clientId": "wi-app2", "tokenFile": %q}}}`,
		host, tenant, tokenFile), 0o600))
	creds := acr.Credentials(acr.WithHTTPClient(emu.HTTPClient()), acr.WithConfigFile(cfg), acr.WithoutCache())
	// containerd's docker.WithAuthCreds shape.
	authCreds := func(h string) (string, string, error) { return creds(context.Background(), h) }
	user, secret, err := authCreds(host)
	require.NoError(t, err)
	assert.Equal(t, guid, user)
	assert.NotEmpty(t, secret)
	user, secret, err = authCreds("registry-1.docker.io")
	require.NoError(t, err)
	assert.Empty(t, user+secret)
	assert.Equal(t, 1, emu.Count("acr.exchange"))
}

func TestHundredGoroutinesOneExchange(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	oid := emu.AddServicePrincipal(tenant, "par-app", "par-secret-PLANTED")
	emu.AssignRole(host, oid, emulator.Contributor)
	emu.InjectFault("acr.exchange", emulator.Fault{Latency: 300 * time.Millisecond}) // let the others pile up
	kc := acr.Keychain(acr.WithTokenCredential(secretCredential(t, emu, "par-app", "par-secret-PLANTED"), "par"),
		acr.WithHTTPClient(emu.HTTPClient()), acr.WithConfigFile(emptyConfig(t)), acr.WithCacheDir(t.TempDir()))
	r, err := name.NewRegistry(host)
	require.NoError(t, err)
	const n = 100
	secrets := make([]string, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			auth, err := kc.Resolve(r)
			if !assert.NoError(t, err) {
				return
			}
			c, err := auth.Authorization()
			if assert.NoError(t, err) {
				secrets[i] = c.Password
			}
		})
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 1, emu.Count("acr.exchange"), "one exchange for %d goroutines", n)
	assert.Equal(t, 1, emu.Count("aad.token"), "one Azure AD token for %d goroutines", n)
	for _, s := range secrets {
		assert.Equal(t, secrets[0], s)
	}
	emu.ClearFaults()
	pushPull(t, emu, multi(kc), host+"/library/parallel")
	assert.Equal(t, 1, emu.Count("acr.exchange"))
	t.Logf("counts: %v", emu.Counts())
}

func TestSpoofedHostsAreAnonymousWithoutAzure(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	oid := emu.AddServicePrincipal(tenant, "spoof-app", "spoof-secret-PLANTED")
	emu.AssignRole(host, oid, emulator.Contributor)
	o := []acr.Option{acr.WithTokenCredential(secretCredential(t, emu, "spoof-app", "spoof-secret-PLANTED"), "spoof"),
		acr.WithHTTPClient(emu.HTTPClient()), acr.WithConfigFile(emptyConfig(t)), acr.WithCacheDir(t.TempDir())}
	kc := acr.Keychain(o...)
	creds := acr.Credentials(o...)
	for _, h := range []string{"e2e.azurecr.io.evil.com", "evil.com/e2e.azurecr.io", "e2e.azurecr.io@evil.com",
		"https://evil.com/v2/e2e.azurecr.io", "http://e2e.azurecr.io", "e2e.westus.data.azurecr.io", public} {
		auth, err := kc.Resolve(resource(h))
		require.NoError(t, err, h)
		assert.Same(t, authn.Anonymous, auth, h)
		user, secret, err := creds(context.Background(), h)
		require.NoError(t, err, h)
		assert.Empty(t, user+secret, h)
	}
	// A real non-ACR registry works anonymously through the same keychain.
	pushPull(t, emu, multi(kc), public+"/library/anonymous")
	assert.Zero(t, emu.Count("aad.token"), "no Azure AD request for a host that is not ACR")
	assert.Zero(t, emu.Count("acr.exchange"))
	assert.Zero(t, emu.Count("proxy.refused"))
	t.Logf("counts: %v", emu.Counts())
}

func TestRefusedIdentityIsAnError(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t)
	emu.AddServicePrincipal(tenant, "bad-app", "right-secret")
	kc := acr.Keychain(acr.WithTokenCredential(secretCredential(t, emu, "bad-app", "wrong-secret-PLANTED"), ""),
		acr.WithHTTPClient(emu.HTTPClient()), acr.WithConfigFile(emptyConfig(t)), acr.WithoutCache())
	r, err := name.NewRegistry(host)
	require.NoError(t, err)
	_, err = multi(kc).Resolve(r)
	require.Error(t, err)
	assert.Contains(t, err.Error(), host)
	assert.NotContains(t, err.Error(), "wrong-secret-PLANTED")
	t.Log(err)
	assert.Zero(t, emu.Count("acr.exchange"))

	// remote.Image reports it rather than a registry 401.
	ref, err := name.ParseReference(host + "/library/x:1")
	require.NoError(t, err)
	_, err = remote.Image(ref, remote.WithAuthFromKeychain(multi(kc)), remote.WithTransport(emu.Transport()))
	require.Error(t, err)
	assert.Contains(t, err.Error(), host)
}

// resource is an authn.Resource for any string, even ones name.NewRegistry refuses.
type resource string

func (r resource) String() string      { return string(r) }
func (r resource) RegistryStr() string { return string(r) }
