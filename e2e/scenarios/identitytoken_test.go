package scenarios

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// TestIdentityTokenFormAcrossClients: with "identityToken": true the helper
// answers Username "<token>" (Docker's identity-token form) and every client
// must then trade the refresh token itself: crane, skopeo and the docker CLI
// (those installed) all pull with it.
func TestIdentityTokenFormAcrossClients(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulatorOptions())
	principal := newCI(emu)
	env := principal.machine(t)
	env.WriteConfig(t, fmt.Sprintf(`{"registries": {%q: {"identityToken": true}}}`, registry))

	require.Equal(t, "<token>", helperGet(t, env, registry).Username)
	ref := registry + "/idtoken/app:1"
	pushed := cranePush(t, env, ref)
	cranePull(t, env, ref)
	if _, err := harness.LookSkopeo(); err == nil {
		r := env.Skopeo(t, "inspect", "docker://"+ref)
		require.Equal(t, 0, r.Code, "skopeo inspect:\n%s", r)
		var out struct{ Digest string }
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out), r.Stdout)
		require.Equal(t, pushed, out.Digest)
	} else {
		t.Log("skopeo not installed: not checked")
	}
	if _, err := harness.LookDocker(); err == nil {
		r := env.Docker(t, "", "manifest", "inspect", ref)
		require.Equal(t, 0, r.Code, "docker manifest inspect:\n%s", r)
	} else {
		t.Log("docker CLI not installed: not checked")
	}
	requireCounts(t, emu, map[string]int{"aad.token": 1, "acr.exchange": 1})
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}
