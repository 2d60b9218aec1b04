package scenarios

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// TestSkopeoCopyAndInspect: skopeo (containers/image) finds the helper
// through the credHelpers of ~/.docker/config.json (its default search),
// and through --authfile naming that file: inspect, and a registry to
// registry copy.
func TestSkopeoCopyAndInspect(t *testing.T) {
	t.Parallel()
	harness.SkopeoBinary(t)
	emu := startEmulator(t, emulatorOptions())
	principal := newCI(emu)
	env := principal.machine(t)

	src, dst := registry+"/skopeo/src:1", registry+"/skopeo/dst:1"
	pushed := cranePush(t, env, src)

	inspect := func(args ...string) string {
		t.Helper()
		r := env.Skopeo(t, append([]string{"inspect"}, args...)...)
		require.Equal(t, 0, r.Code, "skopeo inspect:\n%s", r)
		var out struct{ Digest string }
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &out), r.Stdout)
		return out.Digest
	}
	require.Equal(t, pushed, inspect("docker://"+src))
	require.Equal(t, pushed, inspect("--authfile", filepath.Join(env.DockerConfig, "config.json"), "docker://"+src))

	r := env.Skopeo(t, "copy", "docker://"+src, "docker://"+dst)
	require.Equal(t, 0, r.Code, "skopeo copy:\n%s", r)
	require.Equal(t, pushed, craneDigest(t, env, dst))
	require.Equal(t, pushed, inspect("docker://"+dst))

	requireCounts(t, emu, map[string]int{"aad.token": 1, "acr.exchange": 1})
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}
