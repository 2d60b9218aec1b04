package scenarios

import (
	"archive/tar"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

const (
	registry = "e2e.azurecr.io"
	tenantA  = "11111111-1111-1111-1111-111111111111"
	tenantB  = "22222222-2222-2222-2222-222222222222"

	// notFound is the protocol's message for "nothing for this host".
	notFound = "credentials not found in native keychain"
)

// startEmulator starts an emulator for one test and closes it at its end.
func startEmulator(t *testing.T, opts emulator.Options) *emulator.Emulator {
	t.Helper()
	if len(opts.Registries) == 0 {
		opts.Registries = []emulator.Registry{{Host: registry, Tenant: tenantA}}
	}
	emu, err := emulator.Start(opts)
	require.NoError(t, err)
	t.Cleanup(func() { emu.Close() })
	return emu
}

// machine lays out one client machine whose Docker config sends registries
// to the helper, and checks at the end of the test that nothing the helper
// wrote there leaks a planted secret or a token.
func machine(t *testing.T, emu *emulator.Emulator, secrets *harness.Secrets, registries ...string) *harness.Env {
	t.Helper()
	if len(registries) == 0 {
		registries = []string{registry}
	}
	env := harness.New(t, emu, registries...)
	env.WatchSecrets(t, secrets)
	return env
}

// ci is the service principal most scenarios push with: a CI agent's
// environment credentials, AcrPush (Contributor) on the registry, its
// secret planted so that the leak check looks for it.
type ci struct {
	emu     *emulator.Emulator
	secrets *harness.Secrets
	secret  string
}

func newCI(emu *emulator.Emulator) *ci {
	c := &ci{emu: emu, secrets: &harness.Secrets{}}
	c.secret = c.secrets.Plant(planted("sp-secret"))
	emu.AssignRole(registry, emu.AddServicePrincipal(tenantA, "ci-app", c.secret), emulator.Contributor)
	return c
}

// machine is a client machine with the service principal in its
// environment.
func (c *ci) machine(t *testing.T, registries ...string) *harness.Env {
	t.Helper()
	env := machine(t, c.emu, c.secrets, registries...)
	env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", "ci-app", "AZURE_CLIENT_SECRET", c.secret)
	return env
}

// planted returns a distinctive secret value.
func planted(kind string) string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return kind + "-PLANTED-" + hex.EncodeToString(b)
}

// randomLayer writes a small layer tarball with random content, so that
// every pushed image is distinct.
func randomLayer(t *testing.T) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "layer.tar")
	f, err := os.Create(path)
	require.NoError(t, err)
	defer f.Close()
	content := make([]byte, 4096)
	_, _ = rand.Read(content)
	tw := tar.NewWriter(f)
	require.NoError(t, tw.WriteHeader(&tar.Header{Name: "payload.bin", Mode: 0o644, Size: int64(len(content)), Typeflag: tar.TypeReg}))
	_, err = tw.Write(content)
	require.NoError(t, err)
	require.NoError(t, tw.Close())
	return path
}

var digestRE = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// cranePush pushes a fresh one-layer image to ref with crane and returns
// its digest.
func cranePush(t *testing.T, env *harness.Env, ref string) string {
	t.Helper()
	r := env.Crane(t, "append", "--new_layer", randomLayer(t), "--new_tag", ref)
	require.Equal(t, 0, r.Code, "crane push %s:\n%s", ref, r)
	d := digestRE.FindString(r.Stdout)
	require.NotEmpty(t, d, "crane printed no digest:\n%s", r)
	return d
}

// craneDigest asks the registry for ref's digest with crane.
func craneDigest(t *testing.T, env *harness.Env, ref string) string {
	t.Helper()
	r := env.Crane(t, "digest", ref)
	require.Equal(t, 0, r.Code, "crane digest %s:\n%s", ref, r)
	return strings.TrimSpace(r.Stdout)
}

// cranePull pulls ref (manifest, config and every layer) into a tarball.
func cranePull(t *testing.T, env *harness.Env, ref string) {
	t.Helper()
	r := env.Crane(t, "pull", ref, filepath.Join(t.TempDir(), "image.tar"))
	require.Equal(t, 0, r.Code, "crane pull %s:\n%s", ref, r)
}

// requireRefused checks that a client failed the way a registry refusal
// looks (401/403, UNAUTHORIZED, DENIED).
func requireRefused(t *testing.T, r harness.Result, what string) {
	t.Helper()
	require.NotEqual(t, 0, r.Code, "%s should have been refused:\n%s", what, r)
	require.Regexp(t, `(?i)401|403|unauthorized|denied|authentication required`, r.Stdout+r.Stderr, "%s failed, but not with a refusal:\n%s", what, r)
}

// requireCounts checks emulator counters.
func requireCounts(t *testing.T, emu *emulator.Emulator, want map[string]int) {
	t.Helper()
	got := emu.Counts()
	for name, n := range want {
		require.Equal(t, n, got[name], "counter %s (all counters: %v)", name, got)
	}
}

// requireNothingRefused checks that no client tried to reach a host the
// emulator does not serve.
func requireNothingRefused(t *testing.T, emu *emulator.Emulator) {
	t.Helper()
	require.Zero(t, emu.Count("proxy.refused"), "refused proxy targets: %v", emu.RefusedHosts())
	require.Empty(t, emu.RefusedHosts())
}

// answer is the helper's `get` answer.
type answer struct {
	ServerURL, Username, Secret string
}

// helperGet runs `docker-credential-acr get` for host and decodes the answer.
func helperGet(t *testing.T, env *harness.Env, host string) answer {
	t.Helper()
	r := env.Helper(t, host, "get")
	require.Equal(t, 0, r.Code, "get %s:\n%s", host, r)
	var a answer
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &a), "get answer %q", r.Stdout)
	return a
}

// jwtExpiry reads the exp claim of a JWT without verifying it.
func jwtExpiry(t *testing.T, token string) time.Time {
	t.Helper()
	parts := strings.Split(token, ".")
	require.Len(t, parts, 3, "not a JWT")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	require.NoError(t, err)
	var claims struct {
		Exp int64 `json:"exp"`
	}
	require.NoError(t, json.Unmarshal(payload, &claims))
	require.NotZero(t, claims.Exp)
	return time.Unix(claims.Exp, 0)
}

// counter is a snapshot of one emulator counter, to assert deltas.
type counter struct {
	emu  *emulator.Emulator
	name string
	base int
}

func newCounter(emu *emulator.Emulator, name string) *counter {
	return &counter{emu: emu, name: name, base: emu.Count(name)}
}

// delta is how much the counter grew since the last delta (or creation).
func (c *counter) delta() int {
	now := c.emu.Count(c.name)
	d := now - c.base
	c.base = now
	return d
}

// emulatorOptions is one ACR registry, e2e.azurecr.io in tenant A.
func emulatorOptions() emulator.Options {
	return emulator.Options{Registries: []emulator.Registry{{Host: registry, Tenant: tenantA}}}
}
