// Package ecosystem tests the subcommands people run beside the protocol
// (doctor, kubelet, configure) through the built binary, against the
// emulator.
package ecosystem

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

const (
	tenant = "33333333-3333-3333-3333-333333333333"
	host   = "eco.azurecr.io"
	secret = "eco-secret-PLANTED"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}

func start(t *testing.T) (*emulator.Emulator, *harness.Env) {
	t.Helper()
	emu, err := emulator.Start(emulator.Options{Registries: []emulator.Registry{{Host: host, Tenant: tenant}}})
	require.NoError(t, err)
	t.Cleanup(func() { emu.Close() })
	oid := emu.AddServicePrincipal(tenant, "eco-app", secret)
	emu.AssignRole(host, oid, emulator.Reader)
	env := harness.New(t, emu, host)
	return emu, env
}

func noSecrets(t *testing.T, out string) {
	t.Helper()
	assert.NotContains(t, out, secret)
	assert.NotContains(t, out, "eyJ", "no token in the output")
}

func TestDoctorHealthy(t *testing.T) {
	t.Parallel()
	emu, env := start(t)
	env.Set("AZURE_TENANT_ID", tenant, "AZURE_CLIENT_ID", "eco-app", "AZURE_CLIENT_SECRET", secret)
	r := env.Helper(t, "", "doctor", host)
	t.Logf("doctor output:\n%s", r.Stdout)
	require.Equal(t, 0, r.Code, r.String())
	for _, want := range []string{
		"[ok  ] " + host + ": recognised as ACR; cloud AzurePublic",
		"registry answers with a Bearer challenge",
		"environment service principal (tenant " + tenant + ", client eco-app) is tried first",
		"not used: workload identity",
		"live token exchange with " + host + " succeeded",
		"verdict: all checks passed",
	} {
		assert.Contains(t, r.Stdout, want)
	}
	noSecrets(t, r.Stdout+r.Stderr)
	assert.Equal(t, 1, emu.Count("acr.exchange"))
}

func TestDoctorFindsProblems(t *testing.T) {
	t.Parallel()
	emu, env := start(t)
	env.Set("AZURE_TENANT_ID", tenant, "AZURE_CLIENT_ID", "eco-app", "AZURE_CLIENT_SECRET", "wrong-"+secret)
	r := env.Helper(t, "", "doctor", host, "x."+host+".evil.com", "user:pw-PLANTED@"+host)
	t.Logf("doctor output:\n%s", r.Stdout)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stdout, "[FAIL] [redacted]@"+host+": not an Azure Container Registry host")
	assert.NotContains(t, r.Stdout+r.Stderr, "PLANTED")
	assert.Contains(t, r.Stdout, "[FAIL] live token exchange: Azure AD refused environment service principal")
	assert.Contains(t, r.Stdout, "[FAIL] x."+host+".evil.com: not an Azure Container Registry host")
	assert.Contains(t, r.Stdout, "verdict: something is wrong")
	noSecrets(t, r.Stdout+r.Stderr)
	assert.Zero(t, emu.Count("acr.exchange"))
	assert.Zero(t, emu.Count("proxy.refused"))

	// Nothing available at all.
	env2 := harness.New(t, emu, host)
	r = env2.Helper(t, "", "doctor", host)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stdout, "[FAIL] no Azure identity available from the default chain")
}

// TestDoctorCoversStoredRegistries: without arguments doctor checks every
// registry the helper answers for, those stored with docker login too.
func TestDoctorCoversStoredRegistries(t *testing.T) {
	t.Parallel()
	emu, env := start(t)
	user, password, _, err := emu.EnableAdmin(host)
	require.NoError(t, err)
	r := env.Helper(t, `{"ServerURL":"`+host+`","Username":"`+user+`","Secret":"`+password+`"}`, "store")
	require.Equal(t, 0, r.Code, r.String())
	r = env.Helper(t, "", "doctor")
	t.Logf("doctor output:\n%s", r.Stdout)
	require.Equal(t, 0, r.Code)
	assert.Contains(t, r.Stdout, "[ok  ] "+host+": recognised as ACR")
	assert.Contains(t, r.Stdout, "stored with docker login")
	assert.Contains(t, r.Stdout, "[ok  ] live login at "+host+" succeeded")
	assert.NotContains(t, r.Stdout+r.Stderr, password)

	// Stored credentials the registry no longer accepts are found out.
	r = env.Helper(t, `{"ServerURL":"`+host+`","Username":"`+user+`","Secret":"stale-PLANTED"}`, "store")
	require.Equal(t, 0, r.Code, r.String())
	r = env.Helper(t, "", "doctor", host)
	assert.Equal(t, 1, r.Code)
	assert.Contains(t, r.Stdout, "[FAIL] live login at "+host+": the registry refuses these credentials")
	assert.NotContains(t, r.Stdout+r.Stderr, "PLANTED")
}

// TestDoctorStoredIdentityToken: a refresh token stored in Docker's
// identity-token form (user name "<token>", as `az acr login` may leave it)
// is checked live as the registry knows it, with the GUID user name.
func TestDoctorStoredIdentityToken(t *testing.T) {
	t.Parallel()
	_, env := start(t)
	env.Set("AZURE_TENANT_ID", tenant, "AZURE_CLIENT_ID", "eco-app", "AZURE_CLIENT_SECRET", secret)
	r := env.Helper(t, host, "get")
	require.Equal(t, 0, r.Code, r.String())
	var c struct{ Secret string }
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &c))
	// Forget the helper's own copy (docker logout), then store the token as
	// somebody else's.
	require.Equal(t, 0, env.Helper(t, host, "erase").Code)
	env.Set("AZURE_CLIENT_SECRET", "")
	r = env.Helper(t, `{"ServerURL":"`+host+`","Username":"<token>","Secret":"`+c.Secret+`"}`, "store")
	require.Equal(t, 0, r.Code, r.String())
	r = env.Helper(t, "", "doctor", host)
	t.Logf("doctor output:\n%s", r.Stdout)
	assert.Equal(t, 0, r.Code)
	assert.Contains(t, r.Stdout, "[ok  ] live login at "+host+" succeeded")
	noSecrets(t, r.Stdout+r.Stderr)
}

func TestKubeletWithEmulator(t *testing.T) {
	t.Parallel()
	emu, env := start(t)
	mi := emu.SetManagedIdentity(tenant)
	emu.AssignRole(host, mi.ObjectID, emulator.Reader)
	env.SetAll(emu.ManagedIdentityEnv())
	env.Set("DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY", "always")
	req := `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"` + host + `/team/app:1.0"}`
	r := env.Helper(t, req, "kubelet")
	require.Equal(t, 0, r.Code, r.String())
	t.Logf("kubelet request:  %s", req)
	t.Logf("kubelet response: %s", redact(r.Stdout))
	var resp struct {
		Kind, APIVersion, CacheKeyType, CacheDuration string
		Auth                                          map[string]struct{ Username, Password string }
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &resp))
	assert.Equal(t, "CredentialProviderResponse", resp.Kind)
	assert.Equal(t, "credentialprovider.kubelet.k8s.io/v1", resp.APIVersion)
	assert.Equal(t, "Registry", resp.CacheKeyType)
	assert.Equal(t, "00000000-0000-0000-0000-000000000000", resp.Auth[host].Username)
	assert.NotEmpty(t, resp.Auth[host].Password)
	assert.Equal(t, 1, emu.Count("msi"))
	assert.Equal(t, 1, emu.Count("acr.exchange"))

	// The answer works against the registry: crane with the returned basic credentials.
	craneEnv := harness.New(t, emu)
	lr := craneEnv.Run(t, "", harness.CraneBinary(t), "auth", "login", host, "-u", resp.Auth[host].Username, "-p", resp.Auth[host].Password)
	require.Equal(t, 0, lr.Code, lr.String())
	ls := craneEnv.Run(t, "", harness.CraneBinary(t), "ls", host+"/team/app")
	assert.NotContains(t, ls.Stderr, "UNAUTHORIZED", "the kubelet's credentials are accepted by the registry")

	// A Docker Hub image: an empty auth, no Azure call.
	emu.ResetCounts()
	r = env.Helper(t, `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"nginx:latest"}`, "kubelet")
	require.Equal(t, 0, r.Code, r.String())
	assert.Contains(t, r.Stdout, `"auth":{}`)
	assert.Zero(t, emu.Count("msi")+emu.Count("acr.exchange"))
}

func TestConfigureThroughBinary(t *testing.T) {
	t.Parallel()
	_, env := start(t)
	cfg := filepath.Join(env.DockerConfig, "config.json")
	orig := `{"auths":{"other.example.com":{"auth":"dXNlcjpwYXNz"}},"credsStore":"desktop","credHelpers":{"gcr.io":"gcr"},"experimental":{"x":1}}`
	require.NoError(t, os.WriteFile(cfg, []byte(orig), 0o600))
	r := env.Helper(t, "", "configure", "https://MyReg.azurecr.io/v2/")
	require.Equal(t, 0, r.Code, r.String())
	var got map[string]any
	b, err := os.ReadFile(cfg)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(b, &got))
	assert.Equal(t, map[string]any{"gcr.io": "gcr", "myreg.azurecr.io": "acr"}, got["credHelpers"])
	assert.Equal(t, "desktop", got["credsStore"])
	assert.Equal(t, map[string]any{"x": float64(1)}, got["experimental"])
	assert.Contains(t, got, "auths")

	r = env.Helper(t, "", "configure", "evil.com")
	assert.Equal(t, 1, r.Code)
	assert.Equal(t, 1, strings.Count(strings.TrimSpace(r.Stderr+r.Stdout), "\n")+1, "one line: %q", r.Stderr+r.Stdout)
}

// redact shortens tokens for the log.
func redact(s string) string {
	f := strings.Fields(strings.ReplaceAll(s, `"`, `" `))
	for i, w := range f {
		if strings.HasPrefix(w, "eyJ") && len(w) > 20 {
			f[i] = w[:12] + "…"
		}
	}
	return strings.ReplaceAll(strings.Join(f, ""), `" `, `"`)
}
