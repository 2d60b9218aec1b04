package hardening

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
)

// TestSecretHygiene plants distinctive secrets (client secrets in the
// environment and in a file, a certificate's private key, admin and inline
// passwords, stored passwords, and the JWTs the emulator issues), drives the
// helper through success and failure paths with debug logging on (to a file
// and to stderr), and greps every byte the helper wrote: a secret may appear
// only in the Secret field of a successful `get` answer.
func TestSecretHygiene(t *testing.T) {
	t.Parallel()
	const (
		cfgHost    = "cfg.azurecr.io"
		certHost   = "cert.azurecr.io"
		adminHost  = "admin.azurecr.io"
		inlineHost = "inline.azurecr.io"
		noRoleHost = "norole.azurecr.io"
		otherHost  = "other.azurecr.io" // in another tenant
		storedHost = "stored.azurecr.io"
	)
	hosts := []string{registry, cfgHost, certHost, adminHost, inlineHost, noRoleHost, storedHost}
	w := newWorld(t, hosts...)
	emu, env := w.emu, w.env
	require.NoError(t, emu.AddRegistry(emulator.Registry{Host: otherHost, Tenant: tenantB}))
	emu.AssignRole(noRoleHost, w.oid, emulator.NoRole)

	secrets := map[string]string{"environment client secret": w.secret}
	plant := func(what, v string) string { secrets[what] = v; return v }

	fileSecret := plant("client secret file", "file-SP-secret-Hq93Lx0")
	cfgOID := emu.AddServicePrincipal(tenantA, "cfg-app", fileSecret)
	emu.AssignRole(cfgHost, cfgOID, emulator.Reader)
	secretFile := filepath.Join(env.Dir, "sp-secret")
	require.NoError(t, os.WriteFile(secretFile, []byte(fileSecret+"\n"), 0o600))

	certPath, err := emu.AddServicePrincipalCert(tenantA, "cert-app")
	require.NoError(t, err)
	emu.AssignRole(certHost, emu.ObjectID(tenantA, "cert-app"), emulator.Reader)
	for i, l := range privateKeyLines(t, certPath) {
		plant(fmt.Sprintf("certificate private key line %d", i), l)
	}

	_, adminPW, _, err := emu.EnableAdmin(adminHost)
	require.NoError(t, err)
	plant("admin password", adminPW)
	env.Set("ADMIN_PW", adminPW)
	inlinePW := plant("inline password", "inline-PW-8sJ2mQ")
	storedPW := plant("stored password", "stored-PW-zzT41k")
	wrongSecret := plant("wrong client secret", "wrong-SP-secret-Vv55")
	plant("malformed config password", "malformed-PW-cfg-3Jr")

	config := fmt.Sprintf(`{"registries": {
  %q: {"identity": "serviceprincipal", "tenantId": %q, "clientId": "cfg-app", "clientSecretFile": %q},
  %q: {"identity": "serviceprincipal", "tenantId": %q, "clientId": "cert-app", "clientCertificateFile": %q},
  %q: {"identity": "basic", "username": "admin", "passwordEnv": "ADMIN_PW"},
  %q: {"identity": "basic", "username": "inline", "password": %q}
}}`, cfgHost, tenantA, secretFile, certHost, tenantA, certPath, adminHost, inlineHost, inlinePW)
	env.WriteConfig(t, config)

	type step struct {
		name    string
		setup   func()
		stdin   string
		args    []string
		wantOK  bool
		cleanup func()
	}
	freshCache := func() { env.Set("DOCKER_CREDENTIAL_ACR_CACHE_DIR", t.TempDir()) }
	steps := []step{
		{name: "cold get, environment SP", stdin: registry, args: []string{"get"}, wantOK: true},
		{name: "warm get", stdin: "https://" + registry + "/v2/", args: []string{"get"}, wantOK: true},
		{name: "get, SP secret from file", stdin: cfgHost, args: []string{"get"}, wantOK: true},
		{name: "get, SP certificate", stdin: certHost, args: []string{"get"}, wantOK: true},
		{name: "get, admin via passwordEnv", stdin: adminHost, args: []string{"get"}, wantOK: true},
		{name: "get, inline password", stdin: inlineHost, args: []string{"get"}, wantOK: true},
		{name: "get, no role", stdin: noRoleHost, args: []string{"get"}, wantOK: true},
		{name: "get, other tenant (exchange 401)", stdin: otherHost, args: []string{"get"}},
		{name: "store", stdin: `{"ServerURL":"` + storedHost + `","Username":"stored-user","Secret":"` + storedPW + `"}`, args: []string{"store"}, wantOK: true},
		{name: "get stored", stdin: storedHost, args: []string{"get"}, wantOK: true},
		{name: "list", args: []string{"list"}, wantOK: true},
		{name: "store for a non-ACR host", stdin: `{"ServerURL":"evil.com","Username":"u","Secret":"` + storedPW + `"}`, args: []string{"store"}},
		{name: "store malformed", stdin: `{"ServerURL":"` + storedHost + `","Username":"u","Secret":"` + storedPW + `"`, args: []string{"store"}},
		{name: "doctor", args: []string{"doctor", registry, cfgHost, adminHost, inlineHost, storedHost}},
		{name: "erase stored", stdin: storedHost, args: []string{"erase"}, wantOK: true},
		{name: "wrong client secret (AAD 401)", setup: func() { freshCache(); env.Set("AZURE_CLIENT_SECRET", wrongSecret) },
			stdin: registry, args: []string{"get"}, cleanup: func() { env.Set("AZURE_CLIENT_SECRET", w.secret) }},
		{name: "exchange fault 401", setup: func() { freshCache(); emu.InjectFault("acr.exchange", emulator.Fault{Status: 401}) },
			stdin: registry, args: []string{"get"}, cleanup: emu.ClearFaults},
		{name: "exchange fault 500", setup: func() {
			freshCache()
			env.Set("DOCKER_CREDENTIAL_ACR_TIMEOUT", "4s")
			emu.InjectFault("acr.exchange", emulator.Fault{Status: 500})
		}, stdin: registry, args: []string{"get"}, cleanup: func() { emu.ClearFaults(); env.Set("DOCKER_CREDENTIAL_ACR_TIMEOUT", "30s") }},
		{name: "AAD fault 400", setup: func() { freshCache(); emu.InjectFault("aad.token", emulator.Fault{Status: 400}) },
			stdin: registry, args: []string{"get"}, cleanup: emu.ClearFaults},
		{name: "debug on stderr, cold get", setup: func() {
			freshCache()
			env.Set("DOCKER_CREDENTIAL_ACR_LOG_FILE", "", "DOCKER_CREDENTIAL_ACR_LOG_LEVEL", "debug")
		}, stdin: registry, args: []string{"get"}, wantOK: true},
		{name: "debug on stderr, warm get", stdin: registry, args: []string{"get"}, wantOK: true},
		{name: "debug on stderr, SP file", stdin: cfgHost, args: []string{"get"}, wantOK: true},
		{name: "debug on stderr, wrong secret", setup: func() { freshCache(); env.Set("AZURE_CLIENT_SECRET", wrongSecret) },
			stdin: registry, args: []string{"get"}, cleanup: func() { env.Set("AZURE_CLIENT_SECRET", w.secret) }},
		{name: "debug on stderr, exchange 401", setup: func() { freshCache(); emu.InjectFault("acr.exchange", emulator.Fault{Status: 401}) },
			stdin: registry, args: []string{"get"}, cleanup: emu.ClearFaults},
		{name: "debug on stderr, inline password", stdin: inlineHost, args: []string{"get"}, wantOK: true},
		{name: "info level, cold get", setup: func() { freshCache(); env.Set("DOCKER_CREDENTIAL_ACR_LOG_LEVEL", "info") },
			stdin: registry, args: []string{"get"}, wantOK: true},
		{name: "cache dir is a file", setup: func() {
			f := filepath.Join(t.TempDir(), "not-a-dir")
			require.NoError(t, os.WriteFile(f, nil, 0o600))
			env.Set("DOCKER_CREDENTIAL_ACR_CACHE_DIR", f, "DOCKER_CREDENTIAL_ACR_LOG_LEVEL", "debug")
		}, stdin: registry, args: []string{"get"}, wantOK: true},
		{name: "cache dir is a file, store", stdin: `{"ServerURL":"` + storedHost + `","Username":"u","Secret":"` + storedPW + `"}`, args: []string{"store"}},
		{name: "cache dir world-writable", setup: func() {
			d := t.TempDir()
			require.NoError(t, os.Chmod(d, 0o777))
			env.Set("DOCKER_CREDENTIAL_ACR_CACHE_DIR", d)
		}, stdin: registry, args: []string{"get"}, wantOK: true},
		{name: "malformed config", setup: func() {
			freshCache()
			env.WriteConfig(t, `{"registries": {"`+inlineHost+`": {"identity": "basic", "username": "u", "password": "malformed-PW-cfg-3Jr",}}}`)
		}, stdin: inlineHost, args: []string{"get"}},
		{name: "malformed config, wrong type", setup: func() {
			env.WriteConfig(t, `{"registries": {"`+inlineHost+`": {"identity": "basic", "username": ["malformed-PW-cfg-3Jr"], "password": "malformed-PW-cfg-3Jr"}}}`)
		}, stdin: inlineHost, args: []string{"get"}},
		{name: "malformed config, unknown field", setup: func() {
			env.WriteConfig(t, `{"registries": {"`+inlineHost+`": {"identity": "basic", "username": "u", "passwd": "malformed-PW-cfg-3Jr"}}}`)
		}, stdin: inlineHost, args: []string{"get"}},
		{name: "malformed config, doctor", args: []string{"doctor", inlineHost}},
		{name: "malformed config, list", args: []string{"list"}},
	}
	okGets := 0
	for _, s := range steps {
		if s.setup != nil {
			s.setup()
		}
		r := env.Helper(t, s.stdin, s.args...)
		t.Logf("%-36s exit %d  stdout %q  stderr %d lines", s.name, r.Code, firstN(r.Stdout, 160), len(lines(r.Stderr)))
		if s.wantOK {
			assert.Equal(t, 0, r.Code, "%s: %s", s.name, r)
		} else if s.args[0] != "doctor" {
			assert.NotEqual(t, 0, r.Code, "%s: %s", s.name, r)
		}
		if s.args[0] == "get" && r.Code == 0 {
			okGets++
		}
		if s.cleanup != nil {
			s.cleanup()
		}
	}

	// Every byte the helper wrote: per-run stdout and stderr, and the log file.
	out := env.HelperOutput(t)
	needles := map[string]string{"JWT (eyJ)": "eyJ"}
	for what, v := range secrets {
		needles[what] = v
		needles[what+" (base64)"] = base64.StdEncoding.EncodeToString([]byte(v))
		needles[what+" (basic auth)"] = base64.StdEncoding.EncodeToString([]byte("u:" + v))[4:] // ignores the user name's bytes
	}
	found := 0
	scanned := 0
	stripped := 0
	names := make([]string, 0, len(out))
	for n := range out {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		b := out[name]
		if strings.HasSuffix(name, ".out") {
			var ans struct{ ServerURL, Username, Secret string }
			if json.Unmarshal(b, &ans) == nil && ans.Secret != "" {
				// The one allowed place: the Secret of a successful get.
				b = bytes.Replace(b, []byte(jsonString(ans.Secret)), []byte(`"[answer]"`), 1)
				stripped++
			}
		}
		scanned += len(b)
		for what, needle := range needles {
			if len(needle) < 8 && what != "JWT (eyJ)" {
				continue
			}
			if i := bytes.Index(b, []byte(needle)); i >= 0 {
				found++
				t.Errorf("%s found in %s: ...%s...", what, name, firstN(string(b[max(0, i-60):min(len(b), i+len(needle)+20)]), 200))
			}
		}
	}
	require.Contains(t, string(out["helper.log"]), "token fetch", "the debug log file should hold debug records, or grepping it proves little")
	figures.add(t, "secrets planted=%d (+JWTs) runs=%d files=%d bytes scanned=%d successful gets=%d answers excepted=%d secrets found=%d",
		len(secrets), env.Runs(t), len(out), scanned, okGets, stripped, found)
}

func jsonString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func firstN(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// privateKeyLines returns the base64 lines of the PRIVATE KEY block of a
// PEM file: any of them in the output would be a leak of the key.
func privateKeyLines(t *testing.T, path string) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	require.NoError(t, err)
	var out []string
	in := false
	for _, l := range strings.Split(string(b), "\n") {
		switch {
		case strings.HasPrefix(l, "-----BEGIN") && strings.Contains(l, "PRIVATE KEY"):
			in = true
		case strings.HasPrefix(l, "-----END"):
			in = false
		case in && len(l) >= 32:
			out = append(out, l)
		}
	}
	require.NotEmpty(t, out, "no private key in %s", path)
	return out
}
