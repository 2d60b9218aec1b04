package scenarios

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// TestParallelPullsColdCache: 32 crane pulls started at once on a machine
// whose cache is empty cause exactly one Azure AD token request and one
// exchange.
func TestParallelPullsColdCache(t *testing.T) {
	t.Parallel()
	const pulls = 32
	emu := startEmulator(t, emulatorOptions())
	secrets := &harness.Secrets{}
	secret := secrets.Plant(planted("sp-secret"))
	emu.AssignRole(registry, emu.AddServicePrincipal(tenantA, "ci-app", secret), emulator.Contributor)

	ref := registry + "/parallel/app:1"
	ci := machine(t, emu, secrets)
	ci.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", "ci-app", "AZURE_CLIENT_SECRET", secret)
	pushed := cranePush(t, ci, ref)

	emu.ResetCounts()
	env := machine(t, emu, secrets)
	env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", "ci-app", "AZURE_CLIENT_SECRET", secret)
	crane := harness.CraneBinary(t)
	out := t.TempDir()
	results := make([]harness.Result, pulls)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range pulls {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			results[i] = env.Run(t, "", crane, "pull", ref, filepath.Join(out, strings.Repeat("x", i+1)+".tar"))
		}()
	}
	close(start)
	wg.Wait()
	for i, r := range results {
		require.Equal(t, 0, r.Code, "pull %d:\n%s", i, r)
	}
	require.Equal(t, pushed, craneDigest(t, env, ref))
	require.Equal(t, pulls+1, env.Runs(t), "helper invocations")
	requireCounts(t, emu, map[string]int{"aad.token": 1, "acr.exchange": 1})
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}
