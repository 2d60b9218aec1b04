package scenarios

import (
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// TestParallelPullsColdCache: 32 crane pulls started at once on a machine
// whose cache is empty cause exactly one Azure AD token request and one
// exchange.
func TestParallelPullsColdCache(t *testing.T) {
	t.Parallel()
	const pulls = 32
	emu := startEmulator(t, emulatorOptions())
	principal := newCI(emu)

	ref := registry + "/parallel/app:1"
	ci := principal.machine(t)
	pushed := cranePush(t, ci, ref)

	emu.ResetCounts()
	env := principal.machine(t)
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
