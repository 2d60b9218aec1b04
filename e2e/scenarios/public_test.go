package scenarios

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// TestNonACRRegistryFallsThroughToAnonymous: a registry that is not ACR,
// listed in the same credHelpers, gets "credentials not found" from the
// helper, so crane goes anonymous there; the helper spends no Azure AD call
// or exchange on it, while the ACR registry next to it works.
func TestNonACRRegistryFallsThroughToAnonymous(t *testing.T) {
	t.Parallel()
	const public = "public.example.test"
	opts := emulatorOptions()
	opts.PublicHosts = []string{public}
	emu := startEmulator(t, opts)
	principal := newCI(emu)
	env := principal.machine(t, registry, public)

	r := env.Helper(t, public, "get")
	require.NotEqual(t, 0, r.Code, "get %s:\n%s", public, r)
	require.Contains(t, r.Stdout+r.Stderr, notFound)

	pushed := cranePush(t, env, public+"/library/base:1")
	cranePull(t, env, public+"/library/base:1")
	requireCounts(t, emu, map[string]int{"aad.token": 0, "aad.metadata": 0, "acr.exchange": 0})

	r = env.Crane(t, "copy", public+"/library/base:1", registry+"/mirror/base:1")
	require.Equal(t, 0, r.Code, "crane copy public -> ACR:\n%s", r)
	require.Equal(t, pushed, craneDigest(t, env, registry+"/mirror/base:1"))
	require.Equal(t, pushed, craneDigest(t, env, public+"/library/base:1"))
	requireCounts(t, emu, map[string]int{
		"aad.token": 1, "acr.exchange": 1, "acr.exchange@" + registry: 1, "acr.exchange@" + public: 0,
	})
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}
