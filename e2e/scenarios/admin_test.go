package scenarios

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// TestAdminAccountDockerLogin: the admin account, kept by the helper
// through `docker login --password-stdin` (store) rather than in
// config.json, used by crane; switching between its two passwords;
// regenerating password 1; `docker logout` (erase). No Azure identity on
// the machine at all: no Azure AD call, no exchange.
func TestAdminAccountDockerLogin(t *testing.T) {
	t.Parallel()
	harness.DockerBinary(t)
	emu := startEmulator(t, emulatorOptions())
	user, pw1, pw2, err := emu.EnableAdmin(registry)
	require.NoError(t, err)
	secrets := &harness.Secrets{}
	secrets.Plant(pw1, pw2)
	env := machine(t, emu, secrets)

	login := func(password string) harness.Result {
		return env.Docker(t, password+"\n", "login", "-u", user, "--password-stdin", registry)
	}
	push := func(tag string) harness.Result {
		return env.Crane(t, "append", "--new_layer", randomLayer(t), "--new_tag", registry+"/admin/app:"+tag)
	}

	// Nothing stored and no identity: the helper says so, crane goes
	// anonymous and is refused.
	r := env.Helper(t, registry, "get")
	require.NotEqual(t, 0, r.Code, "get with nothing to answer:\n%s", r)
	require.Contains(t, r.Stdout+r.Stderr, notFound)
	requireRefused(t, push("0"), "an anonymous push")

	// docker login right after that failure (inside the helper's
	// 30-second "nothing available" memory): the stored credentials win.
	r = login(pw1)
	require.Equal(t, 0, r.Code, "docker login with password 1:\n%s", r)
	require.Contains(t, r.Stdout, "Login Succeeded")
	require.Equal(t, 0, push("1").Code, "push after login with password 1")
	cfg, err := os.ReadFile(filepath.Join(env.DockerConfig, "config.json"))
	require.NoError(t, err)
	require.NotContains(t, string(cfg), pw1, "docker kept the password in config.json")
	require.NotContains(t, string(cfg), `"auth"`, "docker kept an auth entry in config.json")
	r = env.Helper(t, "", "list")
	require.Equal(t, 0, r.Code, r.String())
	require.JSONEq(t, `{"`+registry+`": "`+user+`"}`, r.Stdout)

	// Re-login with password 2.
	require.Equal(t, 0, login(pw2).Code, "docker login with password 2")
	require.Equal(t, 0, push("2").Code, "push after login with password 2")

	// Back to password 1, then it is regenerated: the stored one stops
	// working, docker login refuses it, the new one works.
	require.Equal(t, 0, login(pw1).Code, "docker login with password 1 again")
	newPw1, err := emu.RegenerateAdminPassword(registry, 1)
	require.NoError(t, err)
	secrets.Plant(newPw1)
	requireRefused(t, push("3"), "a push with the regenerated password 1")
	r = login(pw1)
	require.NotEqual(t, 0, r.Code, "docker login with the old password 1:\n%s", r)
	r = login(newPw1)
	require.Equal(t, 0, r.Code, "docker login with the new password 1:\n%s", r)
	require.Equal(t, 0, push("3").Code, "push with the new password 1")
	r = env.Docker(t, "", "manifest", "inspect", registry+"/admin/app:3")
	require.Equal(t, 0, r.Code, "docker manifest inspect:\n%s", r)

	// docker logout: erase; the registry falls back to "nothing".
	r = env.Docker(t, "", "logout", registry)
	require.Equal(t, 0, r.Code, "docker logout:\n%s", r)
	r = env.Helper(t, "", "list")
	require.Equal(t, 0, r.Code, r.String())
	require.JSONEq(t, `{}`, r.Stdout)
	requireRefused(t, env.Crane(t, "digest", registry+"/admin/app:3"), "an anonymous pull after logout")

	requireCounts(t, emu, map[string]int{"aad.token": 0, "acr.exchange": 0})
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}

// TestAdminAccountCraneAuthLogin: `crane auth login --password-stdin`
// stores the admin account through the helper too (go-containerregistry
// writes through the credHelpers entry), and `crane auth logout` erases it.
func TestAdminAccountCraneAuthLogin(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulatorOptions())
	user, pw1, pw2, err := emu.EnableAdmin(registry)
	require.NoError(t, err)
	secrets := &harness.Secrets{}
	secrets.Plant(pw1, pw2)
	env := machine(t, emu, secrets)

	r := env.Run(t, pw2, harness.CraneBinary(t), "auth", "login", registry, "-u", user, "--password-stdin")
	require.Equal(t, 0, r.Code, "crane auth login:\n%s", r)
	cfg, err := os.ReadFile(filepath.Join(env.DockerConfig, "config.json"))
	require.NoError(t, err)
	require.NotContains(t, string(cfg), pw2, "crane kept the password in config.json")
	a := helperGet(t, env, registry)
	require.Equal(t, user, a.Username)
	require.Equal(t, pw2, a.Secret)
	pushed := cranePush(t, env, registry+"/admin/crane:1")
	require.Equal(t, pushed, craneDigest(t, env, registry+"/admin/crane:1"))

	r = env.Crane(t, "auth", "logout", registry)
	require.Equal(t, 0, r.Code, "crane auth logout:\n%s", r)
	r = env.Helper(t, registry, "get")
	require.NotEqual(t, 0, r.Code, "get after logout:\n%s", r)
	require.Contains(t, r.Stdout+r.Stderr, notFound)

	requireCounts(t, emu, map[string]int{"aad.token": 0, "acr.exchange": 0})
	requireNothingRefused(t, emu)
}
