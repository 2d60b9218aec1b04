package credhelper_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// kubeletEnv is one isolated node for `docker-credential-acr kubelet`: its
// own home, configuration and cache, no managed identity, no az on PATH,
// and an environment that exists only in a map.
type kubeletEnv struct {
	env  map[string]string
	opts credhelper.Options
}

func newKubeletEnv(t *testing.T, config string) *kubeletEnv {
	t.Helper()
	root := t.TempDir()
	cfg := filepath.Join(root, "acr-config.json")
	e := &kubeletEnv{env: map[string]string{
		"HOME":                        filepath.Join(root, "home"),
		"PATH":                        filepath.Join(root, "bin"),
		credhelper.EnvCacheDir:        filepath.Join(root, "cache"),
		credhelper.EnvManagedIdentity: "never",
	}}
	if config != "" {
		require.NoError(t, os.WriteFile(cfg, []byte(config), 0o600))
		e.env[credhelper.EnvConfig] = cfg
	}
	return e
}

type kubeletRun struct {
	code           int
	stdout, stderr string
}

func (e *kubeletEnv) run(t *testing.T, stdin string, args ...string) kubeletRun {
	t.Helper()
	var stdout, stderr bytes.Buffer
	o := e.opts
	o.Getenv = func(k string) string { return e.env[k] }
	code := credhelper.Main(append([]string{"kubelet"}, args...), strings.NewReader(stdin), &stdout, &stderr, o)
	return kubeletRun{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func kubeletRequest(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "kubelet", name))
	require.NoError(t, err)
	return string(b)
}

// kubeletResponse mirrors credentialprovider.kubelet.k8s.io/v1
// CredentialProviderResponse; it is decoded strictly, as the kubelet does.
type kubeletResponse struct {
	Kind          string `json:"kind"`
	APIVersion    string `json:"apiVersion"`
	CacheKeyType  string `json:"cacheKeyType"`
	CacheDuration string `json:"cacheDuration"`
	Auth          map[string]struct {
		Username string `json:"username"`
		Password string `json:"password"`
	} `json:"auth"`
}

func decodeKubeletResponse(t *testing.T, r kubeletRun) kubeletResponse {
	t.Helper()
	require.Equal(t, 0, r.code, "stderr: %s", r.stderr)
	assert.Equal(t, 1, strings.Count(r.stdout, "\n"), "one JSON line on stdout")
	var resp kubeletResponse
	dec := json.NewDecoder(strings.NewReader(r.stdout))
	dec.DisallowUnknownFields()
	require.NoError(t, dec.Decode(&resp), r.stdout)
	assert.Equal(t, "CredentialProviderResponse", resp.Kind)
	assert.Equal(t, "Registry", resp.CacheKeyType)
	require.NotNil(t, resp.Auth, `"auth" is an object, never null`)
	return resp
}

const kubeletBasicConfig = `{"registries": {
	"myreg.azurecr.io": {"identity": "basic", "username": "myreg", "passwordEnv": "KUBELET_TEST_PW"},
	"registry.example.com:5000": {"customHost": true, "identity": "basic", "username": "u5000", "passwordEnv": "KUBELET_TEST_PW"}
}}`

func TestKubeletRecordedRequests(t *testing.T) {
	t.Parallel()
	type auth = map[string][2]string
	tests := []struct {
		file       string
		apiVersion string
		auth       auth
		duration   string
	}{
		{"v1-minimal.json", "v1", auth{"myreg.azurecr.io": {"myreg", "pw-PLANTED"}}, "10m0s"},
		{"v1beta1.json", "v1beta1", auth{"myreg.azurecr.io": {"myreg", "pw-PLANTED"}}, "10m0s"},
		{"v1alpha1.json", "v1alpha1", auth{"myreg.azurecr.io": {"myreg", "pw-PLANTED"}}, "10m0s"},
		{"digest.json", "v1", auth{"myreg.azurecr.io": {"myreg", "pw-PLANTED"}}, "10m0s"},
		{"host-port.json", "v1", auth{"registry.example.com:5000": {"u5000", "pw-PLANTED"}}, "10m0s"},
		// A service account token without a client ID annotation: the node's identity.
		{"v1-service-account-no-annotations.json", "v1", auth{"myreg.azurecr.io": {"myreg", "pw-PLANTED"}}, "10m0s"},
		// Not ours: a valid answer with no credentials, so the kubelet pulls without them.
		{"dockerhub.json", "v1", auth{}, "10m0s"},
		{"dockerhub-namespaced.json", "v1", auth{}, "10m0s"},
		{"other-registry.json", "v1", auth{}, "10m0s"},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			t.Parallel()
			e := newKubeletEnv(t, kubeletBasicConfig)
			e.env["KUBELET_TEST_PW"] = "pw-PLANTED"
			r := e.run(t, kubeletRequest(t, tc.file))
			resp := decodeKubeletResponse(t, r)
			assert.Empty(t, r.stderr)
			assert.Equal(t, "credentialprovider.kubelet.k8s.io/"+tc.apiVersion, resp.APIVersion, "answered in the request's version")
			assert.Equal(t, tc.duration, resp.CacheDuration)
			got := auth{}
			for k, v := range resp.Auth {
				got[k] = [2]string{v.Username, v.Password}
			}
			assert.Equal(t, tc.auth, got)
		})
	}
}

func TestKubeletRejectsBadRequests(t *testing.T) {
	t.Parallel()
	tests := []struct{ name, input, want string }{
		{"unknown kind", kubeletRequest(t, "unknown-kind.json"), `want kind "CredentialProviderRequest"`},
		{"unknown version", kubeletRequest(t, "unknown-version.json"), "unsupported apiVersion"},
		{"malformed", kubeletRequest(t, "malformed.json"), "malformed CredentialProviderRequest"},
		{"empty", "", "malformed CredentialProviderRequest"},
		{"array", "[]", "malformed CredentialProviderRequest"},
		{"two objects", strings.Repeat(kubeletRequest(t, "v1-minimal.json"), 2), "unexpected data"},
		{"no image", `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1"}`, `no valid "image"`},
		{"image with a newline", `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"myreg.azurecr.io/a\nb"}`, `no valid "image"`},
		{"token in a wrong type", `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"x","serviceAccountToken":["sa-secret-PLANTED"]}`, "wrong type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := newKubeletEnv(t, kubeletBasicConfig)
			r := e.run(t, tc.input)
			assert.Equal(t, 1, r.code)
			assert.Empty(t, r.stdout)
			assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
			assert.Contains(t, r.stderr, tc.want)
			assert.NotContains(t, r.stderr, "PLANTED")
		})
	}
	t.Run("arguments", func(t *testing.T) {
		t.Parallel()
		r := newKubeletEnv(t, "").run(t, kubeletRequest(t, "v1-minimal.json"), "extra")
		assert.Equal(t, 2, r.code)
		assert.Empty(t, r.stdout)
	})
}

// An ACR registry with no identity at all is a plugin failure, not an empty
// answer: the kubelet logs why and does not cache it.
func TestKubeletNoIdentity(t *testing.T) {
	t.Parallel()
	e := newKubeletEnv(t, "")
	r := e.run(t, kubeletRequest(t, "no-identity.json"))
	t.Logf("stderr: %s", r.stderr)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	assert.Contains(t, r.stderr, "noid.azurecr.io")
	assert.Contains(t, r.stderr, "managed identity")
}

// A configuration that cannot be read fails every image, even one of a host
// that is not ACR by name: that file may declare it a customHost, and the
// kubelet would cache an empty answer.
func TestKubeletBrokenConfig(t *testing.T) {
	t.Parallel()
	e := newKubeletEnv(t, `{"registries": {"registry.contoso.com": {"customHost": true, "identity": "basic", "username": "u", "password": "cfg-secret-PLANTED"}, "x.azurecr.io": {"identiy": "azurecli"}}}`)
	for _, image := range []string{"registry.contoso.com/team/app:1", "docker.io/library/alpine", "x.azurecr.io/a"} {
		r := e.run(t, `{"kind":"CredentialProviderRequest","apiVersion":"credentialprovider.kubelet.k8s.io/v1","image":"`+image+`"}`)
		assert.Equal(t, 1, r.code, image)
		assert.Empty(t, r.stdout, image)
		assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
		assert.Contains(t, r.stderr, `"registries.x.azurecr.io.identiy"`)
		assert.NotContains(t, r.stderr, "PLANTED")
	}
}

func TestKubeletCacheDurationFollowsExpiry(t *testing.T) {
	t.Parallel()
	e := newKubeletEnv(t, "")
	now := time.Date(2030, 1, 2, 3, 4, 5, 600, time.UTC)
	secret := kubeletJWT(map[string]any{"iat": now.Add(-time.Hour).Unix(), "exp": now.Add(2 * time.Hour).Unix()})
	// A registry token stored with docker login: served until its exp.
	var out, errb bytes.Buffer
	getenv := func(k string) string { return e.env[k] }
	in := fmt.Sprintf(`{"ServerURL":"myreg.azurecr.io","Username":%q,"Secret":%q}`, credhelper.TokenUsername, secret)
	require.Equal(t, 0, credhelper.Main([]string{"store"}, strings.NewReader(in), &out, &errb,
		credhelper.Options{Getenv: getenv, Now: func() time.Time { return now }}), out.String())

	e.opts.Now = func() time.Time { return now }
	resp := decodeKubeletResponse(t, e.run(t, kubeletRequest(t, "v1-minimal.json")))
	// The kubelet comes back when the helper would replace a token of
	// this lifetime (3 h: a margin of 1 h), though it cannot refresh this one.
	assert.Equal(t, "59m59s", resp.CacheDuration, "exp - now - refresh margin, in whole seconds")
	assert.Equal(t, credhelper.TokenUsername, resp.Auth["myreg.azurecr.io"].Username)
	assert.Equal(t, secret, resp.Auth["myreg.azurecr.io"].Password)

	// Past its expiry the stored token is not served and, with no identity,
	// the plugin fails rather than answer a dead token.
	e.opts.Now = func() time.Time { return now.Add(3 * time.Hour) }
	r := e.run(t, kubeletRequest(t, "v1-minimal.json"))
	assert.Equal(t, 1, r.code)
	assert.NotContains(t, r.stdout+r.stderr, secret)
}

func kubeletJWT(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + ".c2ln"
}

// fakeAzureForPods stands in for Azure AD (OpenID metadata and the v2.0
// token endpoint, as MSAL calls them for a client assertion credential) and
// for the registry's /oauth2/exchange, on one loopback TLS server.
type fakeAzureForPods struct {
	t        *testing.T
	srv      *httptest.Server
	tenant   string
	clientID string
	saToken  string // the only client assertion accepted
	aad      atomic.Int32
	exchange atomic.Int32
	other    atomic.Int32
	expired  atomic.Bool // the exchange hands out tokens that have already expired
}

func newFakeAzureForPods(t *testing.T, tenant, clientID, saToken string) *fakeAzureForPods {
	a := &fakeAzureForPods{t: t, tenant: tenant, clientID: clientID, saToken: saToken}
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *fakeAzureForPods) host() string { return strings.TrimPrefix(a.srv.URL, "https://") }

func (a *fakeAzureForPods) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	base := a.srv.URL + "/" + a.tenant
	switch r.URL.Path {
	case "/" + a.tenant + "/v2.0/.well-known/openid-configuration":
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                 base + "/v2.0",
			"token_endpoint":         base + "/oauth2/v2.0/token",
			"authorization_endpoint": base + "/oauth2/v2.0/authorize",
		})
	case "/" + a.tenant + "/oauth2/v2.0/token":
		a.aad.Add(1)
		assert.NoError(a.t, r.ParseForm())
		f := r.PostForm
		assert.Equal(a.t, "client_credentials", f.Get("grant_type"))
		assert.Equal(a.t, a.clientID, f.Get("client_id"))
		assert.Equal(a.t, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer", f.Get("client_assertion_type"))
		assert.Equal(a.t, token.ACRScope, strings.Fields(f.Get("scope"))[0])
		assert.Empty(a.t, f.Get("client_secret"))
		if f.Get("client_assertion") != a.saToken {
			w.WriteHeader(http.StatusUnauthorized)
			_, _ = fmt.Fprint(w, `{"error":"invalid_client","error_description":"AADSTS700213: No matching federated identity record found for presented assertion subject.","correlation_id":"corr-1"}`)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]any{
			"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
			"access_token": kubeletJWT(map[string]any{"tid": a.tenant, "aud": "https://containerregistry.azure.net",
				"exp": time.Now().Add(time.Hour).Unix(), "marker": "aad-token-PLANTED"}),
		})
	case "/oauth2/exchange":
		a.exchange.Add(1)
		assert.NoError(a.t, r.ParseForm())
		f := r.PostForm
		assert.Equal(a.t, "access_token", f.Get("grant_type"))
		assert.Equal(a.t, "127.0.0.1", f.Get("service"))
		assert.Equal(a.t, a.tenant, f.Get("tenant"))
		assert.Contains(a.t, f.Get("access_token"), ".")
		now := time.Now()
		if a.expired.Load() {
			now = now.Add(-4 * time.Hour)
		}
		_ = json.NewEncoder(w).Encode(map[string]any{"refresh_token": kubeletJWT(map[string]any{
			"iat": now.Unix(), "exp": now.Add(3 * time.Hour).Unix(), "n": a.exchange.Load()})})
	default:
		a.other.Add(1)
		a.t.Logf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

// The pod's own identity: the service account token is the federated
// assertion, the annotations name client and tenant.
func TestKubeletServiceAccountToken(t *testing.T) {
	t.Parallel()
	var sa struct {
		Token       string            `json:"serviceAccountToken"`
		Annotations map[string]string `json:"serviceAccountAnnotations"`
	}
	tmpl := kubeletRequest(t, "v1-service-account.json")
	require.NoError(t, json.Unmarshal([]byte(tmpl), &sa))
	tenant := sa.Annotations["azure.workload.identity/tenant-id"]
	clientID := sa.Annotations["azure.workload.identity/client-id"]
	a := newFakeAzureForPods(t, tenant, clientID, sa.Token)

	// The registry is the fake, declared as a custom host; the node itself
	// has no identity (a pod must not need one).
	e := newKubeletEnv(t, fmt.Sprintf(`{"registries": {%q: {"customHost": true}}}`, a.host()))
	e.env["AZURE_AUTHORITY_HOST"] = a.srv.URL + "/"
	// SSL_CERT_FILE is read once per process; in-process the fake's
	// certificate is trusted through the fetcher's clients.
	e.opts.Fetcher = &token.Fetcher{
		CredentialOptions: token.CredentialOptions{Transport: a.srv.Client()},
		Exchanger:         &token.HTTPExchanger{Client: a.srv.Client()},
	}
	req := strings.ReplaceAll(tmpl, "{{REGISTRY}}", a.host())

	r := e.run(t, req)
	t.Logf("request:  %s", strings.Join(strings.Fields(req), " "))
	t.Logf("response: %s", r.stdout)
	resp := decodeKubeletResponse(t, r)
	assert.Empty(t, r.stderr)
	assert.Equal(t, "credentialprovider.kubelet.k8s.io/v1", resp.APIVersion)
	require.Contains(t, resp.Auth, a.host())
	got := resp.Auth[a.host()]
	assert.Equal(t, credhelper.TokenUsername, got.Username)
	c, err := token.ParseClaims(got.Password)
	require.NoError(t, err, "the password is the ACR refresh token")
	// Three-hour token, one-hour margin: the kubelet may keep it about two hours.
	d, err := time.ParseDuration(resp.CacheDuration)
	require.NoError(t, err)
	assert.LessOrEqual(t, d, 2*time.Hour)
	assert.Greater(t, d, 2*time.Hour-time.Minute)
	assert.Zero(t, d%time.Second, "whole seconds")
	assert.WithinDuration(t, time.Now().Add(3*time.Hour), c.Expiry, time.Minute)
	assert.Equal(t, int32(1), a.aad.Load())
	assert.Equal(t, int32(1), a.exchange.Load())
	assert.Equal(t, int32(0), a.other.Load(), "no instance discovery or other calls")

	// Another service account claiming the same client ID gets nothing from
	// the first one's token: Azure AD sees its own token and refuses it.
	other := strings.Replace(req, sa.Token, kubeletJWT(map[string]any{"sub": "system:serviceaccount:evil:thief"}), 1)
	r = e.run(t, other)
	t.Logf("refused: %s", r.stderr)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Equal(t, 1, strings.Count(r.stderr, "\n"), "one line: %q", r.stderr)
	assert.Contains(t, r.stderr, "invalid_client")
	assert.NotContains(t, r.stderr, got.Password)
	assert.NotContains(t, r.stderr, "PLANTED")
	assert.Equal(t, int32(2), a.aad.Load(), "the thief's token went to Azure AD")
	assert.Equal(t, int32(1), a.exchange.Load())

	// Tenant from the provider's environment when the account does not name it.
	noTenant := strings.Replace(req, `"azure.workload.identity/tenant-id"`, `"example.com/unrelated"`, 1)
	r = e.run(t, noTenant)
	t.Logf("no tenant: %s", r.stderr)
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stderr, "no tenant")
	assert.NotContains(t, r.stderr, "PLANTED")
	e.env["AZURE_TENANT_ID"] = tenant
	resp = decodeKubeletResponse(t, e.run(t, noTenant))
	assert.Contains(t, resp.Auth, a.host())
	assert.Equal(t, int32(3), a.aad.Load())

	// A token that has already expired by this machine's clock is refused,
	// as for the node's own identity, not handed to the kubelet.
	a.expired.Store(true)
	r = e.run(t, req)
	assert.Equal(t, 1, r.code)
	assert.Empty(t, r.stdout)
	assert.Contains(t, r.stderr, "already expired")
}

// The example CredentialProviderConfig sends the kubelet's requests for
// every shape of ACR login server, and only for ACR: each matchImages glob
// is checked as the kubelet matches it (one glob per DNS label).
func TestKubeletDeployConfigMatchesACRHosts(t *testing.T) {
	t.Parallel()
	b, err := os.ReadFile(filepath.Join("..", "deploy", "kubelet", "credential-provider-config.yaml"))
	require.NoError(t, err)
	var globs []string
	inMatch := false
	for _, line := range strings.Split(string(b), "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == "matchImages:":
			inMatch = true
		case inMatch && strings.HasPrefix(trimmed, "- "):
			globs = append(globs, strings.Trim(strings.TrimPrefix(trimmed, "- "), `"`))
		case inMatch && !strings.HasPrefix(trimmed, "#"):
			inMatch = false
		}
	}
	require.NotEmpty(t, globs)
	matches := func(host string) bool {
		hl := strings.Split(host, ".")
		for _, g := range globs {
			gl := strings.Split(g, ".")
			if len(gl) != len(hl) {
				continue
			}
			ok := true
			for i := range gl {
				if m, _ := filepath.Match(gl[i], hl[i]); !m {
					ok = false
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	for _, host := range []string{"myreg.azurecr.io", "myreg-abc123.azurecr.io", "myreg.eastus2.geo.azurecr.io",
		"myreg-abc.westeurope.geo.azurecr.io", "myreg.azurecr.cn", "myreg.chinanorth3.geo.azurecr.cn",
		"myreg.azurecr.us", "myreg.usgovvirginia.geo.azurecr.us"} {
		_, acr := credhelper.ACRCloud(host)
		require.True(t, acr, host)
		assert.True(t, matches(host), "%s is not in matchImages", host)
	}
	for _, host := range []string{"docker.io", "ghcr.io", "myreg.azurecr.io.evil.com", "registry.example.com"} {
		assert.False(t, matches(host), "%s is in matchImages", host)
	}
}
