package credhelper_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
)

const mainNotFound = "credentials not found in native keychain\n"

// mainEnv is one isolated machine for credhelper.Main: its own home, config
// and cache directories, a PATH without az or azd, no managed identity, and
// an environment that exists only in a map.
type mainEnv struct {
	env        map[string]string
	configPath string
	cacheDir   string
	// warns is set when the configuration makes every call warn on stderr.
	warns bool
}

func newMainEnv(t *testing.T, config string) *mainEnv {
	t.Helper()
	root := t.TempDir()
	bin := filepath.Join(root, "bin")
	require.NoError(t, os.Mkdir(bin, 0o700))
	e := &mainEnv{
		env: map[string]string{
			"HOME":                        filepath.Join(root, "home"),
			"XDG_CONFIG_HOME":             filepath.Join(root, "config"),
			"XDG_CACHE_HOME":              filepath.Join(root, "xdg-cache"),
			credhelper.EnvCacheDir:        filepath.Join(root, "cache", "acr"),
			credhelper.EnvManagedIdentity: "never",
			"PATH":                        bin,
		},
		configPath: filepath.Join(root, "config", "docker-credential-acr", "config.json"),
		cacheDir:   filepath.Join(root, "cache", "acr"),
	}
	if config != "" {
		require.NoError(t, os.MkdirAll(filepath.Dir(e.configPath), 0o700))
		require.NoError(t, os.WriteFile(e.configPath, []byte(config), 0o600))
	}
	return e
}

// expireAll moves every entry of a cache file into the past.
func expireAll(t *testing.T, path string) {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var f struct {
		Version int                       `json:"version"`
		Entries map[string]map[string]any `json:"entries"`
	}
	require.NoError(t, json.Unmarshal(b, &f))
	require.NotEmpty(t, f.Entries)
	for _, e := range f.Entries {
		e["expiresAt"] = time.Now().Add(-time.Second).UTC().Format(time.RFC3339Nano)
	}
	b, err = json.Marshal(f)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, b, 0o600))
}

type mainResult struct {
	code           int
	stdout, stderr string
}

func (e *mainEnv) run(t *testing.T, stdin string, args ...string) mainResult {
	t.Helper()
	return e.runAt(t, time.Time{}, stdin, args...)
}

// runAt runs Main with the clock at now (the real clock if now is zero).
func (e *mainEnv) runAt(t *testing.T, now time.Time, stdin string, args ...string) mainResult {
	t.Helper()
	var stdout, stderr bytes.Buffer
	o := credhelper.Options{Getenv: mapGetenv(e.env)}
	if !now.IsZero() {
		o.Now = func() time.Time { return now }
	}
	code := credhelper.Main(args, strings.NewReader(stdin), &stdout, &stderr, o)
	return mainResult{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func (e *mainEnv) credentialsFile() string { return filepath.Join(e.cacheDir, "credentials.json") }

// readCredentials returns the bytes of credentials.json, nil if it does not exist.
func (e *mainEnv) readCredentials(t *testing.T) []byte {
	t.Helper()
	b, err := os.ReadFile(e.credentialsFile())
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	return b
}

func (e *mainEnv) store(t *testing.T, serverURL, user, secret string) {
	t.Helper()
	r := e.run(t, mainCredsJSON(serverURL, user, secret), "store")
	if e.warns {
		require.Equal(t, 0, r.code, "store %s: %s", serverURL, r.stdout)
		require.Empty(t, r.stdout)
		require.NotContains(t, r.stderr, secret)
		return
	}
	require.Equal(t, mainResult{}, r, "store %s", serverURL)
}

func mainCredsJSON(serverURL, user, secret string) string {
	b, err := json.Marshal(struct{ ServerURL, Username, Secret string }{serverURL, user, secret})
	if err != nil {
		panic(err)
	}
	return string(b)
}

// assertGot asserts a successful get answer: the protocol's JSON on one
// line, nothing on stderr.
func assertGot(t *testing.T, r mainResult, serverURL, user, secret string) {
	t.Helper()
	assert.Equal(t, mainResult{stdout: mainCredsJSON(serverURL, user, secret) + "\n"}, r)
}

// assertNotFound asserts the protocol's not-found answer with a quiet stderr.
func assertNotFound(t *testing.T, r mainResult) {
	t.Helper()
	assert.Equal(t, mainResult{code: 1, stdout: mainNotFound}, r)
}

// assertOneLine asserts that s is exactly one non-empty line.
func assertOneLine(t *testing.T, s, what string) {
	t.Helper()
	assert.True(t, strings.HasSuffix(s, "\n") && strings.Count(s, "\n") == 1 && len(strings.TrimSpace(s)) > 0,
		"%s must be exactly one line: %q", what, s)
}

// mainJWT is an unsigned JWT with the given lifetime, as the registry hands out.
func mainJWT(iat, exp time.Time) string {
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." +
		enc(fmt.Appendf(nil, `{"iat":%d,"exp":%d,"tid":"t"}`, iat.Unix(), exp.Unix())) + ".c2lnbmF0dXJl"
}

// mainBasicConfig configures every accepted host form's registry, and two
// custom hosts, with basic credentials read from the environment.
func mainBasicConfig() (string, map[string]string) {
	regs := map[string]any{}
	users := map[string]string{}
	for _, tc := range hostAcceptCases() {
		users[tc.want] = "user-" + tc.want
		regs[tc.want] = map[string]any{"identity": "basic", "username": users[tc.want], "passwordEnv": "ACR_TEST_PASSWORD"}
	}
	for _, h := range []string{"registry.example.com", "registry.example.com:5000"} {
		users[h] = "user-" + h
		regs["https://"+h] = map[string]any{"customHost": true, "identity": "basic", "username": users[h], "passwordEnv": "ACR_TEST_PASSWORD"}
	}
	b, err := json.MarshalIndent(map[string]any{"registries": regs}, "", "  ")
	if err != nil {
		panic(err)
	}
	return string(b), users
}

func TestMainGetConfiguredBasic(t *testing.T) {
	t.Parallel()
	config, users := mainBasicConfig()
	e := newMainEnv(t, config)
	e.env["ACR_TEST_PASSWORD"] = "pw-from-env"
	type form struct{ name, input, host string }
	var forms []form
	for _, tc := range hostAcceptCases() {
		forms = append(forms, form{tc.name, tc.input, tc.want})
	}
	forms = append(forms,
		form{"custom host", "registry.example.com", "registry.example.com"},
		form{"custom host https v2", "https://Registry.Example.com/v2/", "registry.example.com"},
		form{"custom host with port", "registry.example.com:5000", "registry.example.com:5000"},
	)
	for _, f := range forms {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			r := e.run(t, f.input, "get")
			assertGot(t, r, strings.TrimSpace(f.input), users[f.host], "pw-from-env")
		})
	}
}

func TestMainGetPasswordSources(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	pwFile := filepath.Join(root, "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("pw-from-file\n"), 0o600))
	config := fmt.Sprintf(`{"registries": {
		"file.azurecr.io": {"identity": "basic", "username": "uf", "passwordFile": %q},
		"env.azurecr.io":  {"identity": "basic", "username": "ue", "passwordEnv": "MY_PW"},
		"unset.azurecr.io": {"identity": "basic", "username": "uu", "passwordEnv": "UNSET_PW"},
		"gone.azurecr.io": {"identity": "basic", "username": "ug", "passwordFile": %q}}}`,
		pwFile, filepath.Join(root, "missing"))
	e := newMainEnv(t, config)
	e.env["MY_PW"] = "pw-from-env"
	assertGot(t, e.run(t, "file.azurecr.io", "get"), "file.azurecr.io", "uf", "pw-from-file")
	assertGot(t, e.run(t, "https://env.azurecr.io/v2/", "get"), "https://env.azurecr.io/v2/", "ue", "pw-from-env")
	for host, field := range map[string]string{"unset.azurecr.io": "passwordEnv", "gone.azurecr.io": "passwordFile"} {
		r := e.run(t, host, "get")
		assert.Equal(t, 1, r.code)
		assertOneLine(t, r.stdout, "stdout")
		assert.NotEqual(t, mainNotFound, r.stdout, "a broken configured secret is a real error")
		for _, want := range []string{host, field, e.configPath} {
			assert.Contains(t, r.stdout, want, "the message names the registry, the field and the file")
		}
	}
}

// mainProtocolSpoofs are the spoofing cases that reach the helper's Get
// (text, one server URL): the ones with NUL bytes, invalid UTF-8 or nothing
// at all are bad input, tested in TestMainBadInput.
func mainProtocolSpoofs() []hostSpoofCase {
	var out []hostSpoofCase
	for _, tc := range hostSpoofCases() {
		s := strings.TrimSpace(tc.input)
		if s == "" || strings.ContainsRune(s, 0) || !utf8.ValidString(s) {
			continue
		}
		out = append(out, tc)
	}
	return out
}

// TestMainSpoofedHosts: x.azurecr.io has configured and stored credentials;
// no spoofed form of it (or of anything else) gets them, or erases them.
func TestMainSpoofedHosts(t *testing.T) {
	t.Parallel()
	e := newMainEnv(t, `{"registries": {"x.azurecr.io": {"identity": "basic", "username": "cfg-user", "passwordEnv": "X_PW"}}}`)
	e.env["X_PW"] = "configured-secret"
	e.store(t, "x.azurecr.io", "stored-user", "stored-secret")
	before := e.readCredentials(t)
	require.NotEmpty(t, before)
	cases := mainProtocolSpoofs()
	require.GreaterOrEqual(t, len(cases), 60)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assertNotFound(t, e.run(t, tc.input, "get"))
			assertNotFound(t, e.run(t, tc.input, "erase"))
			r := e.run(t, mainCredsJSON(tc.input, "attacker", "attacker-secret"), "store")
			assert.Equal(t, 1, r.code)
			assertOneLine(t, r.stdout, "store stdout")
			assert.Empty(t, r.stderr)
			assert.NotContains(t, r.stdout, "attacker-secret")
		})
	}
	t.Cleanup(func() {
		assert.Equal(t, string(before), string(e.readCredentials(t)), "spoofed calls changed the stored credentials")
		assertGot(t, e.run(t, "x.azurecr.io", "get"), "x.azurecr.io", "stored-user", "stored-secret")
	})
}

func TestMainStoreGetListEraseGet(t *testing.T) {
	t.Parallel()
	e := newMainEnv(t, `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "cfg-user", "passwordEnv": "CFG_PW"}}}`)
	e.env["CFG_PW"] = "configured-secret"

	t.Run("configured host falls back to its identity", func(t *testing.T) {
		assertGot(t, e.run(t, "myreg.azurecr.io", "get"), "myreg.azurecr.io", "cfg-user", "configured-secret")
		e.store(t, "https://myreg.azurecr.io/v2/", "stored-user", "stored-secret")
		assertGot(t, e.run(t, "MYREG.AZURECR.IO:443", "get"), "MYREG.AZURECR.IO:443", "stored-user", "stored-secret")

		r := e.run(t, "", "list")
		require.Equal(t, 0, r.code, r.stdout)
		assert.Empty(t, r.stderr)
		var m map[string]string
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
		assert.Equal(t, map[string]string{"myreg.azurecr.io": "stored-user"}, m)

		assert.Equal(t, mainResult{}, e.run(t, "https://myreg.azurecr.io", "erase"))
		assertGot(t, e.run(t, "myreg.azurecr.io", "get"), "myreg.azurecr.io", "cfg-user", "configured-secret")
		r = e.run(t, "", "list")
		assert.JSONEq(t, `{"myreg.azurecr.io": "cfg-user"}`, r.stdout)
	})
	t.Run("unconfigured host falls back to not found", func(t *testing.T) {
		e.store(t, "other.azurecr.io", "stored-user-2", "stored-secret-2")
		assertGot(t, e.run(t, "https://other.azurecr.io/v2/", "get"), "https://other.azurecr.io/v2/", "stored-user-2", "stored-secret-2")
		r := e.run(t, "", "list")
		assert.JSONEq(t, `{"myreg.azurecr.io": "cfg-user", "other.azurecr.io": "stored-user-2"}`, r.stdout)

		assert.Equal(t, mainResult{}, e.run(t, "other.azurecr.io.", "erase"))
		r = e.run(t, "other.azurecr.io", "get")
		assert.Equal(t, 1, r.code)
		assert.Equal(t, mainNotFound, r.stdout)
		assertOneLine(t, r.stderr, "stderr")
		r = e.run(t, "", "list")
		assert.JSONEq(t, `{"myreg.azurecr.io": "cfg-user"}`, r.stdout)
	})
	t.Run("erase of nothing stored succeeds", func(t *testing.T) {
		assert.Equal(t, mainResult{}, e.run(t, "never.azurecr.io", "erase"))
	})
	t.Run("store replaces", func(t *testing.T) {
		e.store(t, "myreg.azurecr.io", "first", "secret-1")
		e.store(t, "myreg.azurecr.io:443", "second", "secret-2")
		assertGot(t, e.run(t, "myreg.azurecr.io", "get"), "myreg.azurecr.io", "second", "secret-2")
	})
}

func TestMainStoreNonACR(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"docker.io", "https://index.docker.io/v1/", "registry.example.com", "x.azurecr.io.evil.com",
		"x.eastus.data.azurecr.io", "http://x.azurecr.io", "x.azurecr.io:8443", "https://evil.com@x.azurecr.io"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			e := newMainEnv(t, "")
			r := e.run(t, mainCredsJSON(host, "u", "the-secret"), "store")
			assert.Equal(t, 1, r.code)
			assertOneLine(t, r.stdout, "stdout")
			assert.NotContains(t, r.stdout, "the-secret")
			assert.Empty(t, r.stderr)
			assert.Nil(t, e.readCredentials(t), "stored something")
			r = e.run(t, "", "list")
			assert.Equal(t, mainResult{stdout: "{}\n"}, r)
		})
	}
	t.Run("configured custom host is stored", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, `{"registries": {"registry.example.com": {"customHost": true}}}`)
		e.store(t, "https://registry.example.com/v2/", "u", "s")
		assertGot(t, e.run(t, "registry.example.com", "get"), "registry.example.com", "u", "s")
	})
	t.Run("empty secret", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, "")
		r := e.run(t, mainCredsJSON("myreg.azurecr.io", "u", ""), "store")
		assert.Equal(t, 1, r.code)
		assertOneLine(t, r.stdout, "stdout")
		assert.Nil(t, e.readCredentials(t))
	})
	t.Run("empty username", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, "")
		r := e.run(t, mainCredsJSON("myreg.azurecr.io", "", "s3cr3t-value"), "store")
		assert.Equal(t, 1, r.code)
		assertOneLine(t, r.stdout, "stdout")
		assert.NotContains(t, r.stdout, "s3cr3t-value")
		assert.Nil(t, e.readCredentials(t))
	})
}

func TestMainStoredTokenExpires(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	for _, user := range []string{credhelper.TokenUsername, credhelper.IdentityTokenUsername} {
		t.Run(user, func(t *testing.T) {
			t.Parallel()
			e := newMainEnv(t, "")
			jwt := mainJWT(t0.Add(-2*time.Hour), t0.Add(time.Hour))
			r := e.runAt(t, t0, mainCredsJSON("myreg.azurecr.io", user, jwt), "store")
			require.Equal(t, mainResult{}, r)

			assertGot(t, e.runAt(t, t0.Add(59*time.Minute), "myreg.azurecr.io", "get"), "myreg.azurecr.io", user, jwt)
			r = e.runAt(t, t0.Add(59*time.Minute), "", "list")
			assert.JSONEq(t, fmt.Sprintf(`{"myreg.azurecr.io": %q}`, user), r.stdout)

			for _, at := range []time.Time{t0.Add(time.Hour), t0.Add(2 * time.Hour)} {
				r = e.runAt(t, at, "myreg.azurecr.io", "get")
				assert.Equal(t, 1, r.code)
				assert.Equal(t, mainNotFound, r.stdout, "an expired token was handed out")
				assert.NotContains(t, r.stdout+r.stderr, jwt)
				r = e.runAt(t, at, "", "list")
				assert.Equal(t, mainResult{stdout: "{}\n"}, r)
			}
		})
	}
	t.Run("already expired when stored", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, "")
		jwt := mainJWT(t0.Add(-4*time.Hour), t0.Add(-time.Hour))
		r := e.runAt(t, t0, mainCredsJSON("myreg.azurecr.io", credhelper.TokenUsername, jwt), "store")
		assert.Equal(t, 1, r.code)
		assertOneLine(t, r.stdout, "stdout")
		assert.Contains(t, r.stdout, "expired")
		assert.NotContains(t, r.stdout+r.stderr, jwt)
		assert.Nil(t, e.readCredentials(t), "nothing stored")
		r = e.runAt(t, t0, "myreg.azurecr.io", "get")
		assert.Equal(t, mainNotFound, r.stdout)
	})
	t.Run("other usernames never expire", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, "")
		jwt := mainJWT(t0.Add(-4*time.Hour), t0.Add(time.Hour))
		require.Equal(t, mainResult{}, e.runAt(t, t0, mainCredsJSON("myreg.azurecr.io", "admin", jwt), "store"))
		assertGot(t, e.runAt(t, t0.Add(24*time.Hour), "myreg.azurecr.io", "get"), "myreg.azurecr.io", "admin", jwt)
	})
}

func TestMainListNeverPrintsSecrets(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	pwFile := filepath.Join(root, "pw")
	require.NoError(t, os.WriteFile(pwFile, []byte("secret-in-file"), 0o600))
	e := newMainEnv(t, fmt.Sprintf(`{"registries": {
		"inline.azurecr.io": {"identity": "basic", "username": "u-inline", "password": "secret-inline"},
		"env.azurecr.io": {"identity": "basic", "username": "u-env", "passwordEnv": "PW"},
		"file.azurecr.io": {"identity": "basic", "username": "u-file", "passwordFile": %q},
		"sp.azurecr.io": {"identity": "serviceprincipal", "tenantId": "t", "clientId": "c", "clientSecretEnv": "SP"},
		"idtoken.azurecr.io": {"identity": "azurecli", "identityToken": true},
		"registry.example.com": {"customHost": true, "identity": "managedidentity"}}}`, pwFile))
	e.env["PW"] = "secret-env"
	e.env["SP"] = "secret-sp"
	e.warns = true // the inline password
	e.store(t, "stored.azurecr.io", "u-stored", "secret-stored")
	e.store(t, "env.azurecr.io", "u-env-stored", "secret-env-stored")

	r := e.run(t, "", "list")
	require.Equal(t, 0, r.code, r.stdout)
	for _, s := range []string{"secret-inline", "secret-env", "secret-in-file", "secret-sp", "secret-stored"} {
		assert.NotContains(t, r.stdout+r.stderr, s)
	}
	assertOneLine(t, r.stdout, "list")
	var m map[string]string
	require.NoError(t, json.Unmarshal([]byte(r.stdout), &m))
	assert.Equal(t, map[string]string{
		"inline.azurecr.io":    "u-inline",
		"env.azurecr.io":       "u-env-stored",
		"file.azurecr.io":      "u-file",
		"sp.azurecr.io":        credhelper.TokenUsername,
		"idtoken.azurecr.io":   credhelper.IdentityTokenUsername,
		"registry.example.com": credhelper.TokenUsername,
		"stored.azurecr.io":    "u-stored",
	}, m)
	assertOneLine(t, r.stderr, "stderr (the inline-password warning)")
}

func TestMainBadInput(t *testing.T) {
	t.Parallel()
	big := strings.Repeat("a", 1<<20+1)
	longLine := strings.Repeat("a", 100<<10) + ".azurecr.io"
	good := mainCredsJSON("myreg.azurecr.io", "other-user", "other-secret")
	tests := []struct {
		name    string
		actions []string
		input   string
	}{
		{"empty", []string{"get", "store", "erase"}, ""},
		{"only whitespace", []string{"get", "store", "erase"}, " \t\r\n \n"},
		{"binary garbage", []string{"get", "store", "erase"}, "\xff\xfe\xfd\x80garbage\xc3\x28"},
		{"binary garbage with nul", []string{"get", "store", "erase"}, "\x00\x01\x02\xff\x00"},
		{"nul inside a host", []string{"get", "erase"}, "myreg.azurecr.io\x00"},
		{"nul inside json", []string{"store"}, strings.Replace(good, "other-user", "other\x00user", 1)},
		{"nul after json", []string{"store"}, good + "\x00"},
		{"1 MiB + 1", []string{"get", "store", "erase"}, big},
		{"1 MiB + 1 of json", []string{"store"}, good + strings.Repeat(" ", 1<<20+1-len(good))},
		{"100 KiB line", []string{"get", "erase"}, longLine},
		{"malformed json", []string{"get", "store", "erase"}, `{"ServerURL": "myreg.azurecr.io", "Username": "other-user", "Secret": "other-secret"`},
		{"json array", []string{"store"}, `[` + good + `]`},
		{"json string", []string{"store"}, `"myreg.azurecr.io"`},
		{"trailing garbage", []string{"get", "store", "erase"}, good + " x"},
		{"second object", []string{"get", "store", "erase"}, good + good},
		{"trailing brace", []string{"get", "store", "erase"}, good + "}"},
		{"trailing bracket", []string{"get", "store", "erase"}, good + "]"},
		{"multi-line objects", []string{"get", "store", "erase"}, good + "\n" + good + "\n"},
		{"multi-line hosts", []string{"get", "erase"}, "myreg.azurecr.io\nmyreg.azurecr.io\n"},
		{"multi-line host and evil", []string{"get", "erase"}, "myreg.azurecr.io\r\nevil.com"},
		{"host instead of json", []string{"store"}, "myreg.azurecr.io"},
		{"server url missing", []string{"store"}, `{"Username": "other-user", "Secret": "other-secret"}`},
	}
	for _, tc := range tests {
		for _, action := range tc.actions {
			t.Run(action+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				e := newMainEnv(t, "")
				e.store(t, "myreg.azurecr.io", "stored-user", "stored-secret")
				before := e.readCredentials(t)
				r := e.run(t, tc.input, action)
				assert.NotEqual(t, 0, r.code)
				assertOneLine(t, r.stdout, "stdout")
				assert.LessOrEqual(t, len(r.stdout), 300, "stdout repeats the input?")
				assert.NotContains(t, r.stdout, "other-secret")
				assert.Equal(t, string(before), string(e.readCredentials(t)), "the credentials file changed")
				assertGot(t, e.run(t, "myreg.azurecr.io", "get"), "myreg.azurecr.io", "stored-user", "stored-secret")
			})
		}
	}
}

func TestMainNoIdentity(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"myreg.azurecr.io", "https://myreg.azurecr.cn/v2/", "myreg-abc.eastus.geo.azurecr.us"} {
		t.Run(host, func(t *testing.T) {
			t.Parallel()
			e := newMainEnv(t, "")
			// The first answer works it out, the second comes from the
			// remembered failure, and once that has expired it is worked
			// out again.
			for i, remembered := range []bool{false, true, false} {
				if i == 2 {
					expireAll(t, filepath.Join(e.cacheDir, "tokens.json"))
				}
				r := e.run(t, host, "get")
				assert.Equal(t, 1, r.code)
				assert.Equal(t, mainNotFound, r.stdout, "call %d", i)
				assertOneLine(t, r.stderr, "stderr")
				for _, tried := range []string{"environment", "workload identity", "managed identity", "Azure CLI", "Azure Developer CLI"} {
					assert.Contains(t, r.stderr, tried, "call %d", i)
				}
				assert.Equal(t, remembered, strings.Contains(r.stderr, "(remembered)"), "call %d: %s", i, r.stderr)
			}
		})
	}
	// A configured service principal whose secret variable is set nowhere
	// fails before any request is made, and, being an identity the user
	// named, with a real error rather than "not found". (A configured
	// azurecli, azd or managedidentity would run the real az or call IMDS:
	// not in a unit test.)
	t.Run("configured identity unusable", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, `{"registries": {"myreg.azurecr.io": {"identity": "serviceprincipal",
			"tenantId": "t", "clientId": "c", "clientSecretEnv": "DCA_TEST_NEVER_SET_7C1E"}}}`)
		r := e.run(t, "myreg.azurecr.io", "get")
		assert.Equal(t, 1, r.code)
		assertOneLine(t, r.stdout, "stdout")
		assert.NotEqual(t, mainNotFound, r.stdout)
		assert.Contains(t, r.stdout, "myreg.azurecr.io: the configured service principal")
		assert.Contains(t, r.stdout, "DCA_TEST_NEVER_SET_7C1E")
		assert.Empty(t, r.stderr)
	})
}

func TestMainCommands(t *testing.T) {
	t.Parallel()
	e := newMainEnv(t, "")
	for _, tc := range []struct {
		name string
		args []string
	}{
		{"unknown", []string{"frobnicate"}},
		{"none", nil},
		{"upper case", []string{"GET"}},
		{"empty", []string{""}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := e.run(t, "myreg.azurecr.io", tc.args...)
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.Contains(t, r.stderr, "Usage:")
		})
	}
	for _, action := range []string{"get", "store", "erase", "list"} {
		t.Run(action+" with an argument", func(t *testing.T) {
			t.Parallel()
			r := e.run(t, "myreg.azurecr.io", action, "myreg.azurecr.io")
			assert.Equal(t, 2, r.code)
			assert.Empty(t, r.stdout)
			assert.NotEmpty(t, r.stderr)
		})
	}
	for _, arg := range []string{"version", "--version", "-v"} {
		t.Run(arg, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, mainResult{stdout: "docker-credential-acr " + credhelper.Version + "\n"}, e.run(t, "", arg))
		})
	}
	t.Run("help", func(t *testing.T) {
		t.Parallel()
		r := e.run(t, "", "help")
		assert.Equal(t, 0, r.code)
		assert.Contains(t, r.stdout, "Usage:")
	})
	for _, args := range [][]string{{"doctor", "--help"}, {"doctor", "-h"}, {"configure", "--help"}} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			t.Parallel()
			r := e.run(t, "", args...)
			assert.Equal(t, 0, r.code)
			assert.Contains(t, strings.ToLower(r.stdout), "usage: docker-credential-acr "+args[0])
			assert.Empty(t, r.stderr)
		})
	}
	t.Run("doctor with an unknown flag", func(t *testing.T) {
		t.Parallel()
		r := e.run(t, "", "doctor", "myreg.azurecr.io", "--frobnicate")
		assert.Equal(t, 2, r.code)
		assert.Empty(t, r.stdout)
		assert.Contains(t, r.stderr, "--frobnicate")
	})
}

func TestMainFileModes(t *testing.T) {
	t.Parallel()
	e := newMainEnv(t, "")
	_, err := os.Stat(e.cacheDir)
	require.True(t, os.IsNotExist(err), "the cache directory exists before the first store")
	e.store(t, "myreg.azurecr.io", "u", "s")
	st, err := os.Stat(e.cacheDir)
	require.NoError(t, err)
	assert.True(t, st.IsDir())
	assert.Equal(t, os.FileMode(0o700), st.Mode().Perm(), "cache dir")
	st, err = os.Stat(e.credentialsFile())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "credentials.json")
	// A second store replaces the file; the mode stays.
	e.store(t, "myreg.azurecr.io", "u2", "s2")
	st, err = os.Stat(e.credentialsFile())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm(), "credentials.json after a rewrite")
}

func TestMainInlinePasswordWarning(t *testing.T) {
	t.Parallel()
	e := newMainEnv(t, `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "admin", "password": "inline-secret-42"}}}`)
	for _, action := range []string{"get", "list"} {
		t.Run(action, func(t *testing.T) {
			t.Parallel()
			r := e.run(t, "myreg.azurecr.io", action)
			assert.Equal(t, 0, r.code, r.stdout)
			if action == "get" {
				assert.Equal(t, mainCredsJSON("myreg.azurecr.io", "admin", "inline-secret-42")+"\n", r.stdout)
			}
			assertOneLine(t, r.stderr, "stderr")
			assert.Contains(t, r.stderr, "warning")
			assert.Contains(t, r.stderr, e.configPath)
			assert.Contains(t, r.stderr, `"myreg.azurecr.io"`)
			assert.NotContains(t, r.stderr, "inline-secret-42")
		})
	}
}

func TestMainConfigError(t *testing.T) {
	t.Parallel()
	const broken = `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "u", "password": "cfg-secret-77", "bogus": 1}}}`
	check := func(t *testing.T, e *mainEnv, path, field string) {
		for _, in := range []string{"myreg.azurecr.io", "other.azurecr.io", "https://x.azurecr.cn/v2/"} {
			r := e.run(t, in, "get")
			assert.Equal(t, 1, r.code, in)
			assertOneLine(t, r.stdout, "stdout")
			assert.NotEqual(t, mainNotFound, r.stdout, "a configuration error is a real error for ACR hosts")
			assert.Contains(t, r.stdout, path)
			assert.Contains(t, r.stdout, field)
			assert.NotContains(t, r.stdout+r.stderr, "cfg-secret-77")
		}
		// Other hosts are not found, with a word on stderr: the broken file
		// might have declared one a customHost.
		for _, in := range []string{"docker.io", "registry.example.com", "x.azurecr.io.evil.com"} {
			for _, action := range []string{"get", "erase"} {
				r := e.run(t, in, action)
				assert.Equal(t, 1, r.code, in)
				assert.Equal(t, mainNotFound, r.stdout, in)
				assertOneLine(t, r.stderr, "stderr")
				assert.Contains(t, r.stderr, "customHost")
				assert.Contains(t, r.stderr, path)
				assert.NotContains(t, r.stderr, "cfg-secret-77")
			}
		}
		r := e.run(t, mainCredsJSON("myreg.azurecr.io", "u", "s"), "store")
		assert.Equal(t, 1, r.code)
		assert.Contains(t, r.stdout, path)
		assert.Nil(t, e.readCredentials(t))
		r = e.run(t, "", "list")
		assert.Equal(t, 1, r.code)
		assertOneLine(t, r.stdout, "stdout")
		assert.Contains(t, r.stdout, path)
	}
	t.Run("unknown field", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, broken)
		check(t, e, e.configPath, `"registries.myreg.azurecr.io.bogus"`)
	})
	t.Run("multi-line error is one line", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "u", "password": "cfg-secret-77", "passwordEnv": "X"}}}`)
		check(t, e, e.configPath, `"password"`)
	})
	t.Run("explicit config missing", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, "")
		missing := filepath.Join(t.TempDir(), "nope.json")
		e.env[credhelper.EnvConfig] = missing
		check(t, e, missing, "nope.json")
	})
	t.Run("default config missing is fine", func(t *testing.T) {
		t.Parallel()
		e := newMainEnv(t, "")
		e.store(t, "myreg.azurecr.io", "u", "s")
		assertGot(t, e.run(t, "myreg.azurecr.io", "get"), "myreg.azurecr.io", "u", "s")
	})
}

// TestMainUnreadableStoredCredentials: a reformatted credentials.json is
// read as before; one this version cannot read is left alone, and every
// action says so instead of quietly acting as if nothing were stored.
func TestMainUnreadableStoredCredentials(t *testing.T) {
	t.Parallel()
	e := newMainEnv(t, `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "cfg-user", "passwordEnv": "CFG_PW"}}}`)
	e.env["CFG_PW"] = "configured-secret"
	e.store(t, "myreg.azurecr.io", "stored-user", "stored-secret")

	var doc any
	require.NoError(t, json.Unmarshal(e.readCredentials(t), &doc))
	pretty, err := json.MarshalIndent(doc, "", "    ")
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(e.credentialsFile(), bytes.ReplaceAll(pretty, []byte(`":`), []byte(`" :`)), 0o600))
	assertGot(t, e.run(t, "myreg.azurecr.io", "get"), "myreg.azurecr.io", "stored-user", "stored-secret")

	broken := []byte(`{"version":1,"entries":{"x":{"registry":`)
	require.NoError(t, os.WriteFile(e.credentialsFile(), broken, 0o600))
	r := e.run(t, "myreg.azurecr.io", "get")
	require.Equal(t, 0, r.code, r.stdout)
	assert.JSONEq(t, `{"ServerURL":"myreg.azurecr.io","Username":"cfg-user","Secret":"configured-secret"}`, r.stdout)
	assertOneLine(t, r.stderr, "get's stderr")
	assert.Contains(t, r.stderr, "credentials.json is not a file this version can read")
	for _, action := range []string{"list", "store", "erase"} {
		r := e.run(t, mainCredsJSON("myreg.azurecr.io", "u", "p"), action)
		if action != "store" {
			r = e.run(t, map[string]string{"list": "", "erase": "myreg.azurecr.io"}[action], action)
		}
		assert.Equal(t, 1, r.code, action)
		assertOneLine(t, r.stdout, action)
		assert.Contains(t, r.stdout, "left as it is", action)
	}
	assert.Equal(t, broken, e.readCredentials(t), "the file is untouched")
}

// TestMainBadTimeoutIsReported: a timeout that does not parse is not quietly
// replaced by the default.
func TestMainBadTimeoutIsReported(t *testing.T) {
	t.Parallel()
	e := newMainEnv(t, `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "u", "passwordEnv": "PW"}}}`)
	e.env["PW"] = "pw"
	e.env[credhelper.EnvTimeout] = "thirty"
	r := e.run(t, "myreg.azurecr.io", "get")
	require.Equal(t, 0, r.code, r.stdout)
	assertOneLine(t, r.stderr, "stderr")
	assert.Contains(t, r.stderr, credhelper.EnvTimeout+`="thirty"`, "the value is quoted: it is no secret")
}
