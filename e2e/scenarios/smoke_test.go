package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestSmokeCranePushPull: the shortest path through everything: an
// environment service principal, crane push, then crane digest served from
// the helper's cache (1 Azure AD token request, 1 exchange in all).
func TestSmokeCranePushPull(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulatorOptions())
	principal := newCI(emu)
	env := principal.machine(t)

	pushed := cranePush(t, env, registry+"/smoke:1")
	requireCounts(t, emu, map[string]int{"aad.token": 1, "acr.exchange": 1})
	require.Equal(t, pushed, craneDigest(t, env, registry+"/smoke:1"))
	requireCounts(t, emu, map[string]int{"aad.token": 1, "aad.metadata": 1, "acr.exchange": 1})
	requireNothingRefused(t, emu)
}
