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

// TestTwoRegistriesTwoTenants: two registries in two tenants, each with its
// own service principal named in the helper's configuration (secrets in
// files), side by side in one `crane copy`. A third, unrelated service
// principal in the environment is not used for either.
func TestTwoRegistriesTwoTenants(t *testing.T) {
	t.Parallel()
	const regA, regB = "tenanta.azurecr.io", "tenantb.azurecr.io"
	emu := startEmulator(t, emulator.Options{Registries: []emulator.Registry{
		{Host: regA, Tenant: tenantA}, {Host: regB, Tenant: tenantB},
	}})
	secrets := &harness.Secrets{}
	secretA, secretB := secrets.Plant(planted("sp-a")), secrets.Plant(planted("sp-b"))
	emu.AssignRole(regA, emu.AddServicePrincipal(tenantA, "app-a", secretA), emulator.Contributor)
	emu.AssignRole(regB, emu.AddServicePrincipal(tenantB, "app-b", secretB), emulator.Contributor)
	env := machine(t, emu, secrets, regA, regB)
	envSecret := secrets.Plant(planted("sp-env"))
	emu.AddServicePrincipal(tenantA, "env-app", envSecret) // no role anywhere
	env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", "env-app", "AZURE_CLIENT_SECRET", envSecret)

	dir := filepath.Join(env.Dir, "secrets")
	require.NoError(t, os.MkdirAll(dir, 0o700))
	fileA, fileB := filepath.Join(dir, "app-a"), filepath.Join(dir, "app-b")
	require.NoError(t, os.WriteFile(fileA, []byte(secretA+"\n"), 0o600))
	require.NoError(t, os.WriteFile(fileB, []byte(secretB+"\n"), 0o600))
	env.WriteConfig(t, fmt.Sprintf(`{"registries": {
  %q: {"identity": "serviceprincipal", "tenantId": %q, "clientId": "app-a", "clientSecretFile": %q},
  %q: {"identity": "serviceprincipal", "tenantId": %q, "clientId": "app-b", "clientSecretFile": %q}
}}`, regA, tenantA, fileA, regB, tenantB, fileB))

	pushed := cranePush(t, env, regA+"/team/app:1")
	r := env.Crane(t, "copy", regA+"/team/app:1", regB+"/mirror/app:1")
	require.Equal(t, 0, r.Code, "crane copy across tenants:\n%s", r)
	require.Equal(t, pushed, craneDigest(t, env, regB+"/mirror/app:1"))
	require.Equal(t, pushed, craneDigest(t, env, regA+"/team/app:1"))

	requireCounts(t, emu, map[string]int{
		"aad.token@app-a": 1, "aad.token@app-b": 1, "aad.token@env-app": 0, "aad.token": 2,
		"acr.exchange@" + regA: 1, "acr.exchange@" + regB: 1,
	})
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}
