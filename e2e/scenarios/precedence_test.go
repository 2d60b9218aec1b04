package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

const tokenUser = "00000000-0000-0000-0000-000000000000"

// TestStoredCredentialsWinThenEraseFallsBack: on a machine with an
// environment service principal (Reader), `docker login` with the admin
// account (store) takes over the registry; `docker logout` (erase) hands
// it back to the service principal. Erase also forgets the host's cached
// tokens (by design), so the service principal exchanges once more.
func TestStoredCredentialsWinThenEraseFallsBack(t *testing.T) {
	t.Parallel()
	harness.DockerBinary(t)
	emu := startEmulator(t, emulatorOptions())
	secrets := &harness.Secrets{}
	secret := secrets.Plant(planted("sp-secret"))
	emu.AssignRole(registry, emu.AddServicePrincipal(tenantA, "ci-app", secret), emulator.Reader)
	user, pw1, pw2, err := emu.EnableAdmin(registry)
	require.NoError(t, err)
	secrets.Plant(pw1, pw2)
	env := machine(t, emu, secrets)
	env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", "ci-app", "AZURE_CLIENT_SECRET", secret)
	ref := registry + "/precedence/app:1"

	require.Equal(t, tokenUser, helperGet(t, env, registry).Username)
	requireRefused(t, env.Crane(t, "append", "--new_layer", randomLayer(t), "--new_tag", ref), "a push as Reader")
	require.Equal(t, 1, emu.Count("acr.exchange"))

	r := env.Docker(t, pw1+"\n", "login", "-u", user, "--password-stdin", registry)
	require.Equal(t, 0, r.Code, "docker login:\n%s", r)
	a := helperGet(t, env, registry)
	require.Equal(t, user, a.Username)
	require.Equal(t, pw1, a.Secret)
	pushed := cranePush(t, env, ref)

	r = env.Docker(t, "", "logout", registry)
	require.Equal(t, 0, r.Code, "docker logout:\n%s", r)
	require.Equal(t, tokenUser, helperGet(t, env, registry).Username)
	require.Equal(t, pushed, craneDigest(t, env, ref))
	requireRefused(t, env.Crane(t, "append", "--new_layer", randomLayer(t), "--new_tag", ref), "a push as Reader after logout")

	requireCounts(t, emu, map[string]int{"aad.token": 2, "acr.exchange": 2})
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}

// TestRepositoryScopedTokenFromConfig: an ACR repository-scoped token named
// in the helper's configuration (identity "basic", password in a file) is
// handed to crane as it is: it can push and pull its repositories and
// nothing else. No Azure AD call, no exchange.
func TestRepositoryScopedTokenFromConfig(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulatorOptions())
	secrets := &harness.Secrets{}
	password := secrets.Plant(planted("repo-token"))
	require.NoError(t, emu.AddRepositoryToken(registry, "ci-token", password, map[string][]string{
		"team/*": {"pull", "push"},
	}))
	env := machine(t, emu, secrets)
	file := filepath.Join(env.Dir, "repo-token-password")
	require.NoError(t, os.WriteFile(file, []byte(password+"\n"), 0o600))
	env.WriteConfig(t, fmt.Sprintf(`{"registries": {%q: {"identity": "basic", "username": "ci-token", "passwordFile": %q}}}`, registry, file))

	pushed := cranePush(t, env, registry+"/team/app:1")
	cranePull(t, env, registry+"/team/app:1")
	require.Equal(t, pushed, craneDigest(t, env, registry+"/team/app:1"))
	requireRefused(t, env.Crane(t, "append", "--new_layer", randomLayer(t), "--new_tag", registry+"/other/app:1"), "a push outside the token's repositories")

	requireCounts(t, emu, map[string]int{"aad.token": 0, "acr.exchange": 0})
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}
