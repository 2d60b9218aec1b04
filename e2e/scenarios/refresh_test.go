package scenarios

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// TestRefreshAfterExpiryMidSession: ACR refresh tokens that live 6 seconds,
// so the helper's margin is 3 seconds (half the lifetime, below 1 hour).
// A push; then, with less than the margin left on the token handed out,
// the helper already answers with a new one; then that token expires in the
// middle of the session and a pull still works after one more exchange. No
// answer ever carries an expired token.
func TestRefreshAfterExpiryMidSession(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulatorOptions())
	emu.SetLifetimes(0, 6*time.Second, 0)
	principal := newCI(emu)
	env := principal.machine(t)

	get := func() (answer, time.Time) {
		t.Helper()
		asked := time.Now()
		a := helperGet(t, env, registry)
		exp := jwtExpiry(t, a.Secret)
		require.True(t, exp.After(asked), "the helper answered with a token that expired at %s", exp)
		return a, exp
	}

	ref := registry + "/refresh/app:1"
	pushed := cranePush(t, env, ref)
	first, exp1 := get()

	// Less than the 3-second margin left: the helper must not hand out the
	// token any more (exp has a one-second resolution: 2 seconds before it,
	// at most 2 seconds are left).
	time.Sleep(time.Until(exp1.Add(-2 * time.Second)))
	exchanges := emu.Count("acr.exchange")
	second, exp2 := get()
	require.NotEqual(t, first.Secret, second.Secret, "a token with less than the margin left was handed out again")
	require.True(t, exp2.After(exp1))
	require.Equal(t, exchanges+1, emu.Count("acr.exchange"), "one exchange for the refresh")

	// The token handed out last expires in the middle of the session.
	time.Sleep(time.Until(exp2) + time.Second)
	exchanges = emu.Count("acr.exchange")
	cranePull(t, env, ref)
	require.Equal(t, pushed, craneDigest(t, env, ref))
	third, _ := get()
	require.NotEqual(t, second.Secret, third.Secret, "the expired token was served again")
	require.Greater(t, emu.Count("acr.exchange"), exchanges, "no new exchange after expiry")
	require.Equal(t, emu.Count("acr.exchange"), emu.Count("aad.token"), "one Azure AD token per exchange")
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}
