package scenarios

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/remotes"
	"github.com/containerd/containerd/v2/core/remotes/docker"
	"github.com/docker/cli/cli/config"
	"github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// TestContainerdResolverWithDockerConfigHelpers: the containerd path, as
// nerdctl (and the CRI plugin handed Docker-style credentials) takes it, in
// this process: docker/cli's config package loads the machine's
// ~/.docker/config.json and GetAuthConfig runs docker-credential-acr, found
// on PATH through credHelpers; the user name and secret go to containerd's
// docker resolver (WithAuthCreds), which resolves the pushed image, fetches
// its manifest and config over real TLS through the emulator's proxy,
// trusting only the emulator's CA. crane's push and the helper run for
// containerd cost one Azure AD token and one exchange: the helper's cache
// serves the second run.
//
// docker/cli runs the helper with exec.Command and the process environment
// (no way to pass one), so the test gives this process the machine's
// environment with t.Setenv for its duration: it must not be parallel.
func TestContainerdResolverWithDockerConfigHelpers(t *testing.T) {
	emu := startEmulator(t, emulatorOptions())
	principal := newCI(emu)
	env := principal.machine(t)

	ref := registry + "/containerd/app:1"
	// crane and the helper are built here, before the environment changes.
	pushed := cranePush(t, env, ref)
	runsBefore := env.Runs(t)
	tokens := newCounter(emu, "acr.token")

	useMachineEnv(t, env)
	helperPath, err := exec.LookPath("docker-credential-acr")
	require.NoError(t, err)
	require.Equal(t, filepath.Join(env.BinDir, "docker-credential-acr"), helperPath, "the helper on PATH is not the machine's")

	// What nerdctl does: load the Docker config and ask it for the host's
	// credentials; an identity token goes as the secret with no user name
	// (a refresh token grant), as nerdctl and the CRI plugin pass it.
	cfg, err := config.Load(env.DockerConfig)
	require.NoError(t, err)
	require.Equal(t, "acr", cfg.CredentialHelpers[registry], "credHelpers of %s", cfg.Filename)
	var credMu sync.Mutex
	var credHosts []string
	var credUser string
	creds := func(host string) (string, string, error) {
		credMu.Lock()
		defer credMu.Unlock()
		credHosts = append(credHosts, host)
		ac, err := cfg.GetAuthConfig(host)
		if err != nil {
			return "", "", err
		}
		if ac.IdentityToken != "" {
			credUser = "(identity token)"
			return "", ac.IdentityToken, nil
		}
		credUser = ac.Username
		return ac.Username, ac.Password, nil
	}

	rec := &recordingTransport{next: containerdTransport(t, emu)}
	client := &http.Client{Transport: rec, Timeout: 60 * time.Second}
	authorizer := docker.NewDockerAuthorizer(docker.WithAuthClient(client), docker.WithAuthCreds(creds))
	resolver := docker.NewResolver(docker.ResolverOptions{
		Hosts: docker.ConfigureDefaultRegistries(docker.WithAuthorizer(authorizer), docker.WithClient(client)),
	})

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	name, desc, err := resolver.Resolve(ctx, ref)
	require.NoError(t, err, "containerd resolve %s", ref)
	require.Equal(t, pushed, desc.Digest.String(), "resolved digest")

	fetcher, err := resolver.Fetcher(ctx, name)
	require.NoError(t, err)
	raw := fetchVerified(ctx, t, fetcher, desc)
	var manifest ocispec.Manifest
	require.NoError(t, json.Unmarshal(raw, &manifest), "manifest %s", raw)
	require.Len(t, manifest.Layers, 1, "crane append pushed one layer")
	require.NotEmpty(t, manifest.Config.Digest)
	configBlob := fetchVerified(ctx, t, fetcher, manifest.Config)
	var imageConfig ocispec.Image
	require.NoError(t, json.Unmarshal(configBlob, &imageConfig), "image config")
	require.Len(t, imageConfig.RootFS.DiffIDs, 1, "image config rootfs")

	// The credentials came from the helper, run by docker/cli for the one
	// registry host containerd asked about.
	credMu.Lock()
	require.Equal(t, []string{registry}, credHosts, "hosts containerd asked credentials for")
	require.Equal(t, "00000000-0000-0000-0000-000000000000", credUser, "user name of the helper's answer")
	credMu.Unlock()
	helperRuns := env.Runs(t) - runsBefore
	require.Equal(t, 1, helperRuns, "helper runs by docker/cli for containerd")

	// Every request containerd made went over TLS to the registry host;
	// its token requests are the ones the emulator counted.
	reqs := rec.requests()
	tokenForms := map[string]int{}
	for _, r := range reqs {
		require.Equal(t, "https", r.scheme, "%s", r)
		require.Equal(t, registry, r.host, "%s", r)
		if r.path == "/oauth2/token" {
			tokenForms[r.form]++
		}
	}
	counts := emu.Counts()
	containerdTokens := tokens.delta()
	require.Positive(t, containerdTokens, "containerd asked no token: %v", counts)
	require.Equal(t, containerdTokens, sumCounts(tokenForms), "token requests seen by containerd's transport vs counted by the emulator")
	require.Equal(t, sumCounts(tokenForms), tokenForms["POST grant_type=password username=00000000-0000-0000-0000-000000000000"],
		"containerd's token requests: %v", tokenForms)

	requireCounts(t, emu, map[string]int{"aad.token": 1, "acr.exchange": 1})
	requireNothingRefused(t, emu)
	t.Logf("containerd token requests: %v", tokenForms)
	t.Logf("containerd requests: %d; helper runs for containerd: %d; counters: %v", len(reqs), helperRuns, counts)
}

// useMachineEnv gives this process exactly the machine's environment until
// the test ends: the machine's variables are set and every other one is
// unset (and restored afterwards), so nothing of the developer's
// environment (AZURE_*, DOCKER_AUTH_CONFIG, a real HTTPS_PROXY) reaches the
// helper that docker/cli runs.
func useMachineEnv(t *testing.T, env *harness.Env) {
	t.Helper()
	want := map[string]string{}
	for _, kv := range env.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		want[k] = v // later entries win, as in os/exec
	}
	for _, kv := range os.Environ() {
		k, v, _ := strings.Cut(kv, "=")
		if _, ok := want[k]; ok || k == "" {
			continue
		}
		t.Setenv(k, v) // records the value to restore
		require.NoError(t, os.Unsetenv(k))
	}
	for k, v := range want {
		t.Setenv(k, v)
	}
}

// containerdTransport is containerd's default transport (as the resolver
// builds it when given no client) with the proxy and CA made explicit:
// the emulator's CONNECT proxy and a pool holding only the emulator's CA,
// read from its CA file. http.ProxyFromEnvironment reads the environment
// once per process, so the proxy is not taken from it.
func containerdTransport(t *testing.T, emu *emulator.Emulator) *http.Transport {
	t.Helper()
	pem, err := os.ReadFile(emu.CAFile())
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem), "no certificate in the emulator's CA file")
	proxy, err := url.Parse(emu.ProxyURL())
	require.NoError(t, err)
	tr := docker.DefaultHTTPTransport(&tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12})
	tr.Proxy = http.ProxyURL(proxy)
	return tr
}

// fetchVerified fetches desc and checks its size and digest.
func fetchVerified(ctx context.Context, t *testing.T, f remotes.Fetcher, desc ocispec.Descriptor) []byte {
	t.Helper()
	rc, err := f.Fetch(ctx, desc)
	require.NoError(t, err, "containerd fetch %s (%s)", desc.Digest, desc.MediaType)
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, 4<<20))
	require.NoError(t, err)
	require.Equal(t, desc.Size, int64(len(b)), "size of %s", desc.Digest)
	require.Equal(t, desc.Digest, digest.FromBytes(b), "fetched %s does not hash to its digest", desc.MediaType)
	return b
}

func sumCounts(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// recordedRequest is what recordingTransport keeps of a request: never a
// password, token or Authorization value.
type recordedRequest struct {
	method, scheme, host, path string
	// form of a token request: method, grant type and user name.
	form string
}

func (r recordedRequest) String() string {
	return r.method + " " + r.scheme + "://" + r.host + r.path + " " + r.form
}

// recordingTransport records the requests containerd sends, and for the
// token endpoint how it authenticated.
type recordingTransport struct {
	next http.RoundTripper
	mu   sync.Mutex
	reqs []recordedRequest
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rr := recordedRequest{method: req.Method, scheme: req.URL.Scheme, host: req.URL.Host, path: req.URL.Path}
	if req.URL.Path == "/oauth2/token" {
		rr.form = req.Method
		if req.Body != nil && req.Method == http.MethodPost {
			body, err := io.ReadAll(req.Body)
			req.Body.Close()
			if err != nil {
				return nil, err
			}
			req.Body = io.NopCloser(bytes.NewReader(body))
			if form, err := url.ParseQuery(string(body)); err == nil {
				rr.form += " grant_type=" + form.Get("grant_type")
				if u := form.Get("username"); u != "" {
					rr.form += " username=" + u
				}
			}
		}
		if user, _, ok := req.BasicAuth(); ok {
			rr.form += " basic username=" + user
		}
	}
	rt.mu.Lock()
	rt.reqs = append(rt.reqs, rr)
	rt.mu.Unlock()
	return rt.next.RoundTrip(req)
}

func (rt *recordingTransport) requests() []recordedRequest {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return append([]recordedRequest(nil), rt.reqs...)
}
