package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

const tenantA = "11111111-1111-1111-1111-111111111111"

func TestSmokeCranePushPull(t *testing.T) {
	t.Parallel()
	emu, err := emulator.Start(emulator.Options{Registries: []emulator.Registry{{Host: "e2e.azurecr.io", Tenant: tenantA}}})
	require.NoError(t, err)
	t.Cleanup(func() { emu.Close() })
	oid := emu.AddServicePrincipal(tenantA, "ci-app", "ci-secret-PLANTED")
	emu.AssignRole("e2e.azurecr.io", oid, emulator.Contributor)
	env := harness.New(t, emu, "e2e.azurecr.io")
	env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", "ci-app", "AZURE_CLIENT_SECRET", "ci-secret-PLANTED")
	r := env.Crane(t, "append", "--new_layer", "/dev/null", "--new_tag", "e2e.azurecr.io/smoke:1") // empty tar? see below
	t.Log(r)
	r = env.Crane(t, "digest", "e2e.azurecr.io/smoke:1")
	t.Log(r)
	t.Log(emu.Counts())
}
