package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// TestSmokeCranePushPull: the shortest path through everything: an
// environment service principal, crane push, then crane digest served from
// the helper's cache (1 Azure AD token request, 1 exchange in all).
func TestSmokeCranePushPull(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulatorOptions())
	secrets := &harness.Secrets{}
	secret := secrets.Plant(planted("sp-secret"))
	emu.AssignRole(registry, emu.AddServicePrincipal(tenantA, "ci-app", secret), emulator.Contributor)
	env := machine(t, emu, secrets)
	env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", "ci-app", "AZURE_CLIENT_SECRET", secret)

	pushed := cranePush(t, env, registry+"/smoke:1")
	requireCounts(t, emu, map[string]int{"aad.token": 1, "acr.exchange": 1})
	require.Equal(t, pushed, craneDigest(t, env, registry+"/smoke:1"))
	requireCounts(t, emu, map[string]int{"aad.token": 1, "aad.metadata": 1, "acr.exchange": 1})
	requireNothingRefused(t, emu)
}
