package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// binary is the helper built once for the tests in this package.
var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "acr-helper-bin")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "docker-credential-acr")
	build := exec.Command("go", "build", "-trimpath", "-o", binary, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building the helper: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// azure is an httptest TLS server standing in for both Azure AD (OpenID
// metadata and the v2.0 token endpoint, as MSAL calls them) and a registry's
// /oauth2/exchange. It counts calls and checks every form field.
type azure struct {
	t        *testing.T
	srv      *httptest.Server
	tenant   string
	aadCalls atomic.Int32
	metaCall atomic.Int32
	exchange atomic.Int32
	other    atomic.Int32
	lifetime atomic.Int64 // refresh token lifetime, seconds
	fail     atomic.Bool  // exchange answers 503
	echo     atomic.Bool  // Azure AD refuses, quoting the client secret back
	delay    time.Duration
}

func newAzure(t *testing.T) *azure {
	a := &azure{t: t, tenant: "72f988bf-0000-0000-0000-000000000001"}
	a.lifetime.Store(3 * 3600)
	a.srv = httptest.NewTLSServer(http.HandlerFunc(a.serve))
	t.Cleanup(a.srv.Close)
	return a
}

func (a *azure) host() string { return strings.TrimPrefix(a.srv.URL, "https://") }

func jwt(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + ".c2ln"
}

func (a *azure) serve(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	switch {
	case r.URL.Path == "/"+a.tenant+"/v2.0/.well-known/openid-configuration":
		a.metaCall.Add(1)
		base := a.srv.URL + "/" + a.tenant
		json.NewEncoder(w).Encode(map[string]any{
			"issuer":                        base + "/v2.0",
			"token_endpoint":                base + "/oauth2/v2.0/token",
			"authorization_endpoint":        base + "/oauth2/v2.0/authorize",
			"device_authorization_endpoint": base + "/oauth2/v2.0/devicecode",
		})
	case r.URL.Path == "/"+a.tenant+"/oauth2/v2.0/token":
		a.aadCalls.Add(1)
		time.Sleep(a.delay)
		assert.NoError(a.t, r.ParseForm())
		assert.Equal(a.t, "client_credentials", r.PostForm.Get("grant_type"))
		assert.Equal(a.t, "app-id", r.PostForm.Get("client_id"))
		assert.Equal(a.t, "sp-secret-PLANTED", r.PostForm.Get("client_secret"))
		assert.Equal(a.t, "https://containerregistry.azure.net/.default", strings.Fields(r.PostForm.Get("scope"))[0])
		if a.echo.Load() {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprintf(w, `{"error":"invalid_client","error_description":"AADSTS7000215: Invalid client secret provided (%s).","correlation_id":"c-1"}`,
				r.PostForm.Get("client_secret"))
			return
		}
		json.NewEncoder(w).Encode(map[string]any{
			"token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599,
			"access_token": jwt(map[string]any{"tid": a.tenant, "oid": "object-1", "aud": "https://containerregistry.azure.net",
				"exp": time.Now().Add(time.Hour).Unix(), "secret_marker": "aad-token-PLANTED"}),
		})
	case r.URL.Path == "/oauth2/exchange":
		a.exchange.Add(1)
		assert.NoError(a.t, r.ParseForm())
		assert.Equal(a.t, "access_token", r.PostForm.Get("grant_type"))
		assert.Equal(a.t, "127.0.0.1", r.PostForm.Get("service"))
		assert.Equal(a.t, a.tenant, r.PostForm.Get("tenant"))
		assert.Contains(a.t, r.PostForm.Get("access_token"), ".")
		if a.fail.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			fmt.Fprint(w, `{"errors":[{"code":"UNAVAILABLE","message":"try later"}]}`)
			return
		}
		now := time.Now()
		n := a.exchange.Load()
		json.NewEncoder(w).Encode(map[string]any{"refresh_token": jwt(map[string]any{
			"iat": now.Unix(), "exp": now.Add(time.Duration(a.lifetime.Load()) * time.Second).Unix(), "n": n})})
	default:
		a.other.Add(1)
		a.t.Logf("unexpected request %s %s", r.Method, r.URL)
		http.NotFound(w, r)
	}
}

// env is a helper environment: its own config, cache and CA, environment
// service principal credentials, and nothing else from the host.
func (a *azure) env(t *testing.T) []string {
	dir := t.TempDir()
	ca := filepath.Join(dir, "ca.pem")
	require.NoError(t, os.WriteFile(ca, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.srv.Certificate().Raw}), 0o600))
	cfg := filepath.Join(dir, "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(`{"registries":{%q:{"customHost":true}}}`, a.host())), 0o600))
	return []string{
		"PATH=" + dir, "HOME=" + dir,
		"SSL_CERT_FILE=" + ca,
		"DOCKER_CREDENTIAL_ACR_CONFIG=" + cfg,
		"DOCKER_CREDENTIAL_ACR_CACHE_DIR=" + filepath.Join(dir, "cache"),
		"DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY=never",
		"AZURE_AUTHORITY_HOST=" + a.srv.URL + "/",
		"AZURE_TENANT_ID=" + a.tenant,
		"AZURE_CLIENT_ID=app-id",
		"AZURE_CLIENT_SECRET=sp-secret-PLANTED",
	}
}

type result struct {
	code           int
	stdout, stderr string
}

func run(t *testing.T, env []string, stdin string, args ...string) result {
	cmd := exec.Command(binary, args...)
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else {
		require.NoError(t, err)
	}
	return result{code, out.String(), errb.String()}
}

func getCreds(t *testing.T, env []string, host string) (string, string) {
	r := run(t, env, "https://"+host+"/v2/", "get")
	require.Equal(t, 0, r.code, "stdout %q stderr %q", r.stdout, r.stderr)
	var c struct{ ServerURL, Username, Secret string }
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &c))
	assert.Empty(t, r.stderr)
	return c.Username, c.Secret
}

func TestColdThenWarm(t *testing.T) {
	t.Parallel()
	a := newAzure(t)
	env := a.env(t)
	user, secret := getCreds(t, env, a.host())
	assert.Equal(t, "00000000-0000-0000-0000-000000000000", user)
	assert.Equal(t, int32(1), a.aadCalls.Load())
	assert.Equal(t, int32(1), a.exchange.Load())
	assert.Equal(t, int32(0), a.other.Load(), "no instance discovery or other calls")

	for range 3 {
		_, again := getCreds(t, env, a.host())
		assert.Equal(t, secret, again)
	}
	assert.Equal(t, int32(1), a.aadCalls.Load(), "warm gets make no Azure AD call")
	assert.Equal(t, int32(1), a.exchange.Load(), "warm gets make no exchange")
	assert.Equal(t, int32(1), a.metaCall.Load())
}

func TestConcurrentColdGetsExchangeOnce(t *testing.T) {
	t.Parallel()
	a := newAzure(t)
	a.delay = 200 * time.Millisecond // hold the first fetch open while the others pile up
	env := a.env(t)
	const n = 32
	secrets := make([]string, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { _, secrets[i] = getCreds(t, env, a.host()) })
	}
	wg.Wait()
	assert.Equal(t, int32(1), a.aadCalls.Load(), "one Azure AD token request for %d processes", n)
	assert.Equal(t, int32(1), a.exchange.Load(), "one exchange for %d processes", n)
	for _, s := range secrets {
		assert.Equal(t, secrets[0], s)
	}
}

func TestTokenInsideMarginIsReplacedAndExpiredNeverServed(t *testing.T) {
	t.Parallel()
	a := newAzure(t)
	// Tokens live 10 s and the margin is 4 s (the configured margin, being
	// less than half the lifetime); whole seconds, as JWT times are.
	a.lifetime.Store(10)
	env := a.env(t)
	cfg := filepath.Join(t.TempDir(), "config.json")
	require.NoError(t, os.WriteFile(cfg, []byte(fmt.Sprintf(
		`{"registries":{%q:{"customHost":true}},"defaults":{"refreshMargin":"4s"}}`, a.host())), 0o600))
	env = append(env, "DOCKER_CREDENTIAL_ACR_CONFIG="+cfg)
	_, first := getCreds(t, env, a.host())
	_, same := getCreds(t, env, a.host())
	assert.Equal(t, first, same)
	assert.Equal(t, int32(1), a.exchange.Load())

	time.Sleep(6100 * time.Millisecond) // now inside the refresh margin, not expired
	_, second := getCreds(t, env, a.host())
	assert.NotEqual(t, first, second, "a token inside the margin is replaced")
	assert.Equal(t, int32(2), a.exchange.Load())

	// Inside the margin and the refresh fails: the still-valid token is served, with a warning.
	time.Sleep(6100 * time.Millisecond)
	a.fail.Store(true)
	r := run(t, env, a.host(), "get")
	require.Equal(t, 0, r.code, r.stdout)
	assert.Contains(t, r.stdout, second)
	assert.Contains(t, r.stderr, "using the cached one")
	assert.NotContains(t, r.stderr, second)

	// Expired and the refresh fails: an error, never the expired token.
	time.Sleep(4 * time.Second)
	r = run(t, env, a.host(), "get")
	assert.Equal(t, 1, r.code)
	assert.NotContains(t, r.stdout, second)
	assert.Contains(t, r.stdout, "HTTP 503")
	assert.Equal(t, 1, strings.Count(r.stdout, "\n"), "one line: %q", r.stdout)
}

func TestSecretsStayOutOfOutput(t *testing.T) {
	t.Parallel()
	a := newAzure(t)
	a.fail.Store(true)
	env := a.env(t)
	r := run(t, env, a.host(), "get")
	assert.Equal(t, 1, r.code)
	for _, s := range []string{"sp-secret-PLANTED", "aad-token-PLANTED", "eyJ"} {
		assert.NotContains(t, r.stdout+r.stderr, s)
	}
	assert.Equal(t, 1, strings.Count(r.stdout, "\n"), "one line: %q", r.stdout)
}

// TestConcurrentConfigureLosesNothing: configure runs at once, for different
// registries, each add theirs; none overwrites another's with what it read.
func TestConcurrentConfigureLosesNothing(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{"HOME=" + dir, "PATH=" + dir, "DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY=never"}
	config := filepath.Join(dir, ".docker", "config.json")
	require.NoError(t, os.MkdirAll(filepath.Dir(config), 0o700))
	require.NoError(t, os.WriteFile(config, []byte(`{"auths":{"other.example.com":{"auth":"dTpw"}}}`), 0o600))

	const n = 16
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Go(func() { results[i] = run(t, env, "", "configure", fmt.Sprintf("r%d.azurecr.io", i)) })
	}
	wg.Wait()
	for i, r := range results {
		require.Equal(t, 0, r.code, "configure %d: %s %s", i, r.stdout, r.stderr)
	}
	var got struct {
		Auths       map[string]any    `json:"auths"`
		CredHelpers map[string]string `json:"credHelpers"`
	}
	data, err := os.ReadFile(config)
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &got))
	assert.Len(t, got.CredHelpers, n)
	for i := range n {
		assert.Equal(t, "acr", got.CredHelpers[fmt.Sprintf("r%d.azurecr.io", i)])
	}
	assert.Contains(t, got.Auths, "other.example.com")
}

// TestManyParallelStores: 200 docker logins at once all land, none lost and
// none out of time. (Waiters back off while the holder writes and fsyncs;
// when every waiter polled every 5 ms, a loaded 2-CPU machine saw a third of
// them time out. make bench times this storm.)
func TestManyParallelStores(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	env := []string{"HOME=" + dir, "PATH=" + dir, "DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY=never"}
	const n = 200
	var wg sync.WaitGroup
	results := make([]result, n)
	for i := range n {
		wg.Go(func() {
			in := fmt.Sprintf(`{"ServerURL":"r%d.azurecr.io","Username":"u%d","Secret":"s%d"}`, i, i, i)
			results[i] = run(t, env, in, "store")
		})
	}
	wg.Wait()
	for i, r := range results {
		require.Equal(t, 0, r.code, "store %d: %s %s", i, r.stdout, r.stderr)
	}
	r := run(t, env, "", "list")
	require.Equal(t, 0, r.code, r.stdout)
	var listed map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &listed))
	assert.Len(t, listed, n)
}

// TestEchoedSecretIsRedacted: an Azure AD error that quotes the request's
// client secret back loses it before the helper prints it, wherever.
func TestEchoedSecretIsRedacted(t *testing.T) {
	t.Parallel()
	a := newAzure(t)
	a.echo.Store(true)
	env := append(a.env(t), "DOCKER_CREDENTIAL_ACR_LOG_LEVEL=debug")
	r := run(t, env, "https://"+a.host()+"/v2/", "get")
	assert.Equal(t, 1, r.code)
	assert.Contains(t, r.stdout, "AADSTS7000215", "the error is reported")
	assert.NotContains(t, r.stdout+r.stderr, "sp-secret-PLANTED")
}
