package scenarios

import (
	"encoding/base64"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// TestDockerLoginWithoutCredentials: `docker login REGISTRY` with no user
// name logs in with what the helper answers and then hands it back to the
// helper's store (even when the login itself fails, as here without a
// daemon). The helper does not keep its own token: kept, it would hide the
// identity behind it and never be refreshed.
func TestDockerLoginWithoutCredentials(t *testing.T) {
	t.Parallel()
	harness.DockerBinary(t)
	emu := startEmulator(t, emulatorOptions())
	env := newCI(emu).machine(t)

	r := env.Docker(t, "", "login", registry)
	require.Contains(t, r.Stderr, "Authenticating with existing credentials", "docker asked the helper:\n%s", r)

	r = env.Helper(t, "", "list")
	require.Equal(t, 0, r.Code, r.String())
	assert.JSONEq(t, `{}`, r.Stdout, "the helper's own token was stored")

	// The token stays the helper's, cached and refreshed as usual.
	r = env.Helper(t, registry, "get")
	require.Equal(t, 0, r.Code, r.String())
	requireCounts(t, emu, map[string]int{"aad.token": 1, "acr.exchange": 1})

	// A token that is not the helper's (az acr login's) is kept.
	foreign := env.Helper(t, `{"ServerURL":"`+registry+`","Username":"00000000-0000-0000-0000-000000000000","Secret":"`+
		foreignToken(t)+`"}`, "store")
	require.Equal(t, 0, foreign.Code, foreign.String())
	r = env.Helper(t, "", "list")
	assert.JSONEq(t, `{"`+registry+`": "00000000-0000-0000-0000-000000000000"}`, r.Stdout)
	requireNothingRefused(t, emu)
}

// foreignToken is an unsigned JWT that expires in an hour, shaped like a
// registry refresh token somebody else obtained.
func foreignToken(t *testing.T) string {
	t.Helper()
	enc := base64.RawURLEncoding.EncodeToString
	claims, err := json.Marshal(map[string]any{"iat": time.Now().Unix(), "exp": time.Now().Add(time.Hour).Unix()})
	require.NoError(t, err)
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(claims) + ".c2ln"
}
