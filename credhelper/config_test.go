package credhelper_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// cfgSecret is planted in configurations whose errors must not repeat it.
const cfgSecret = "Sup3r-S3cret-Value-9f2c"

func TestParseConfigValid(t *testing.T) {
	t.Parallel()
	type check func(t *testing.T, c *credhelper.Config)
	registry := func(t *testing.T, c *credhelper.Config, host string) *credhelper.RegistryConfig {
		t.Helper()
		rc, ok := c.Registry(host)
		require.True(t, ok, "no registry for %q; hosts %v", host, c.Hosts())
		return rc
	}
	tests := []struct {
		name  string
		json  string
		check check
	}{
		{"empty object", `{}`, func(t *testing.T, c *credhelper.Config) {
			assert.Empty(t, c.Hosts())
			assert.Empty(t, c.Defaults.Chain)
			_, ok := c.Registry("myreg.azurecr.io")
			assert.False(t, ok)
		}},
		{"empty registries", `{"registries": {}}`, func(t *testing.T, c *credhelper.Config) {
			assert.Empty(t, c.Hosts())
		}},
		{"basic with passwordFile", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "myreg", "passwordFile": "/run/secrets/acr"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				rc := registry(t, c, "myreg.azurecr.io")
				assert.Equal(t, token.KindBasic, rc.Identity)
				assert.Equal(t, "myreg", rc.Username)
				assert.Equal(t, "/run/secrets/acr", rc.PasswordFile)
			}},
		{"basic with passwordEnv", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "tok", "passwordEnv": "ACR_TOKEN"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, "ACR_TOKEN", registry(t, c, "myreg.azurecr.io").PasswordEnv)
			}},
		{"basic with inline password", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "tok", "password": "` + cfgSecret + `"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, cfgSecret, registry(t, c, "myreg.azurecr.io").Password)
			}},
		{"service principal with secret file", `{"registries": {"myreg.azurecr.io": {"identity": "serviceprincipal", "tenantId": "t1", "clientId": "c1", "clientSecretFile": "/s"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				rc := registry(t, c, "myreg.azurecr.io")
				assert.Equal(t, token.KindServicePrincipal, rc.Identity)
				assert.Equal(t, "t1", rc.TenantID)
				assert.Equal(t, "c1", rc.ClientID)
				assert.Equal(t, "/s", rc.ClientSecretFile)
			}},
		{"service principal with secret env", `{"registries": {"myreg.azurecr.io": {"identity": "serviceprincipal", "tenantId": "t1", "clientId": "c1", "clientSecretEnv": "SP_SECRET"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, "SP_SECRET", registry(t, c, "myreg.azurecr.io").ClientSecretEnv)
			}},
		{"service principal with certificate", `{"registries": {"myreg.azurecr.cn": {"identity": "serviceprincipal", "tenantId": "t1", "clientId": "c1", "clientCertificateFile": "/c.pem"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, "/c.pem", registry(t, c, "myreg.azurecr.cn").ClientCertificateFile)
			}},
		{"two tenants side by side", `{"registries": {
				"a.azurecr.io": {"identity": "serviceprincipal", "tenantId": "t1", "clientId": "c1", "clientSecretEnv": "A"},
				"b.azurecr.io": {"identity": "serviceprincipal", "tenantId": "t2", "clientId": "c2", "clientSecretEnv": "B"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, "t1", registry(t, c, "a.azurecr.io").TenantID)
				assert.Equal(t, "t2", registry(t, c, "b.azurecr.io").TenantID)
				assert.ElementsMatch(t, []string{"a.azurecr.io", "b.azurecr.io"}, c.Hosts())
			}},
		{"environment", `{"registries": {"myreg.azurecr.io": {"identity": "environment"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, token.KindEnvironment, registry(t, c, "myreg.azurecr.io").Identity)
			}},
		{"workload identity", `{"registries": {"myreg.azurecr.io": {"identity": "workloadidentity", "tenantId": "t", "clientId": "c", "tokenFile": "/var/run/secrets/azure/tokens/azure-identity-token"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				rc := registry(t, c, "myreg.azurecr.io")
				assert.Equal(t, token.KindWorkloadIdentity, rc.Identity)
				assert.Equal(t, "/var/run/secrets/azure/tokens/azure-identity-token", rc.TokenFile)
			}},
		{"managed identity, system", `{"registries": {"myreg.azurecr.io": {"identity": "managedidentity"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, token.KindManagedIdentity, registry(t, c, "myreg.azurecr.io").Identity)
			}},
		{"managed identity with clientId", `{"registries": {"myreg.azurecr.io": {"identity": "managedidentity", "clientId": "c"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, "c", registry(t, c, "myreg.azurecr.io").ClientID)
			}},
		{"managed identity with resourceId", `{"registries": {"myreg.azurecr.io": {"identity": "managedidentity", "resourceId": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ManagedIdentity/userAssignedIdentities/i"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Contains(t, registry(t, c, "myreg.azurecr.io").ResourceID, "userAssignedIdentities/i")
			}},
		{"azure cli", `{"registries": {"myreg.azurecr.io": {"identity": "azurecli", "tenantId": "t"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, token.KindAzureCLI, registry(t, c, "myreg.azurecr.io").Identity)
			}},
		{"azd", `{"registries": {"myreg.azurecr.io": {"identity": "azd"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, token.KindAzd, registry(t, c, "myreg.azurecr.io").Identity)
			}},
		{"default", `{"registries": {"myreg.azurecr.io": {"identity": "default"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, token.KindDefault, registry(t, c, "myreg.azurecr.io").Identity)
			}},
		{"no identity means default", `{"registries": {"myreg.azurecr.io": {"tenantId": "t"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, token.KindDefault, registry(t, c, "myreg.azurecr.io").Identity)
			}},
		{"registry key is normalised", `{"registries": {"HTTPS://MyReg.AzureCR.io:443/v2/": {"identity": "azurecli"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, []string{"myreg.azurecr.io"}, c.Hosts())
				assert.Equal(t, token.KindAzureCLI, registry(t, c, "myreg.azurecr.io").Identity)
			}},
		{"regional and dnl hosts", `{"registries": {"myreg-abc123.westeurope.geo.azurecr.io": {}, "myreg.azurecr.us": {}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.ElementsMatch(t, []string{"myreg-abc123.westeurope.geo.azurecr.io", "myreg.azurecr.us"}, c.Hosts())
			}},
		{"custom host", `{"registries": {"registry.example.com": {"customHost": true, "identity": "azurecli"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				rc := registry(t, c, "registry.example.com")
				assert.True(t, rc.CustomHost)
			}},
		{"custom host as https URL", `{"registries": {"https://registry.example.com": {"customHost": true, "identity": "basic", "username": "u", "passwordEnv": "P"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, "u", registry(t, c, "registry.example.com").Username)
			}},
		{"custom host with port", `{"registries": {"https://registry.example.com:5000/": {"customHost": true}}}`,
			func(t *testing.T, c *credhelper.Config) {
				registry(t, c, "registry.example.com:5000")
			}},
		{"cloud and https authority", `{"registries": {"registry.example.cn": {"customHost": true, "cloud": "AzureChina", "authorityHost": "https://login.chinacloudapi.cn/"}}}`,
			func(t *testing.T, c *credhelper.Config) {
				rc := registry(t, c, "registry.example.cn")
				assert.Equal(t, "AzureChina", rc.Cloud)
				assert.Equal(t, "https://login.chinacloudapi.cn/", rc.AuthorityHost)
			}},
		{"audience and identity token", `{"registries": {"myreg.azurecr.io": {"audience": "arm", "identityToken": true}}}`,
			func(t *testing.T, c *credhelper.Config) {
				rc := registry(t, c, "myreg.azurecr.io")
				assert.Equal(t, "arm", rc.Audience)
				assert.True(t, rc.IdentityToken)
			}},
		{"defaults", `{"defaults": {"chain": ["environment", "workloadidentity", "managedidentity", "azurecli", "azd"],
				"managedIdentity": "never", "timeout": "45s", "refreshMargin": "20m", "audience": "acr"}}`,
			func(t *testing.T, c *credhelper.Config) {
				d := c.Defaults
				assert.Equal(t, token.DefaultChain, d.Chain)
				assert.Equal(t, "never", d.ManagedIdentity)
				assert.Equal(t, credhelper.Duration(45*time.Second), d.Timeout)
				assert.Equal(t, credhelper.Duration(20*time.Minute), d.RefreshMargin)
				assert.Equal(t, "acr", d.Audience)
			}},
		{"defaults short chain", `{"defaults": {"chain": ["azurecli"], "managedIdentity": "always", "audience": "auto", "timeout": "1m30s"}}`,
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, []token.Kind{token.KindAzureCLI}, c.Defaults.Chain)
				assert.Equal(t, credhelper.Duration(90*time.Second), c.Defaults.Timeout)
			}},
		{"surrounding whitespace", "\n\t {\"defaults\": {\"managedIdentity\": \"auto\"}} \n\n",
			func(t *testing.T, c *credhelper.Config) {
				assert.Equal(t, "auto", c.Defaults.ManagedIdentity)
			}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := credhelper.ParseConfig("/etc/acr/config.json", []byte(tc.json))
			require.NoError(t, err)
			assert.Equal(t, "/etc/acr/config.json", c.Path())
			tc.check(t, c)
		})
	}
}

func TestParseConfigErrors(t *testing.T) {
	t.Parallel()
	const path = "/home/dev/.config/docker-credential-acr/config.json"
	// okSibling is a valid registry carrying a secret, put next to the
	// broken one: no error may quote it.
	const okSibling = `"ok.azurecr.io": {"identity": "basic", "username": "u", "password": "` + cfgSecret + `"}`
	tests := []struct {
		name string
		json string
		want []string // substrings of the message: the field, the registry
	}{
		{"unknown top-level field", `{"registry": {}}`, []string{`"registry"`}},
		{"unknown registry field", `{"registries": {` + okSibling + `, "myreg.azurecr.io": {"identity": "basic", "username": "u", "pasword": "` + cfgSecret + `"}}}`,
			[]string{`"registries.myreg.azurecr.io.pasword"`}},
		{"unknown defaults field", `{"defaults": {"timout": "30s"}}`, []string{`"defaults.timout"`}},
		{"timeout as number", `{"defaults": {"timeout": 30}}`, []string{"timeout"}},
		{"refreshMargin as number", `{"defaults": {"refreshMargin": 60}}`, []string{"refreshMargin"}},
		{"invalid duration", `{"defaults": {"timeout": "thirty seconds"}}`, []string{"timeout"}},
		{"negative duration", `{"defaults": {"refreshMargin": "-5m"}}`, []string{"refreshMargin"}},
		{"customHost as string", `{"registries": {"registry.example.com": {"customHost": "yes"}}}`, []string{"customHost"}},
		{"registries as array", `{"registries": []}`, []string{`"registries"`}},
		{"password as number", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "u", "password": 987654321}}}`,
			[]string{"password"}},
		{"chain as string", `{"defaults": {"chain": "azurecli"}}`, []string{"chain"}},
		{"unknown identity", `{"registries": {"myreg.azurecr.io": {"identity": "kerberos"}}}`,
			[]string{`"myreg.azurecr.io"`, `"identity"`}},
		{"basic without username", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "password": "` + cfgSecret + `"}}}`,
			[]string{`"myreg.azurecr.io"`, `"username"`}},
		{"basic without password", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "u"}}}`,
			[]string{`"myreg.azurecr.io"`, `"passwordFile"`, `"passwordEnv"`, `"password"`}},
		{"basic with two password sources", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "u", "password": "` + cfgSecret + `", "passwordEnv": "ACR_PW"}}}`,
			[]string{`"myreg.azurecr.io"`, `"passwordEnv"`, `"password"`}},
		{"basic with three password sources", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "u", "password": "` + cfgSecret + `", "passwordEnv": "E", "passwordFile": "/f"}}}`,
			[]string{`"myreg.azurecr.io"`, `"passwordFile"`}},
		{"service principal without tenant", `{"registries": {"myreg.azurecr.io": {"identity": "serviceprincipal", "clientId": "c", "clientSecretEnv": "S"}}}`,
			[]string{`"myreg.azurecr.io"`, `"tenantId"`}},
		{"service principal without client", `{"registries": {"myreg.azurecr.io": {"identity": "serviceprincipal", "tenantId": "t", "clientSecretEnv": "S"}}}`,
			[]string{`"myreg.azurecr.io"`, `"clientId"`}},
		{"service principal without secret", `{"registries": {"myreg.azurecr.io": {"identity": "serviceprincipal", "tenantId": "t", "clientId": "c"}}}`,
			[]string{`"myreg.azurecr.io"`, `"clientSecretFile"`}},
		{"service principal with secret and certificate", `{"registries": {"myreg.azurecr.io": {"identity": "serviceprincipal", "tenantId": "t", "clientId": "c", "clientSecretEnv": "S", "clientCertificateFile": "/c.pem"}}}`,
			[]string{`"myreg.azurecr.io"`, `"clientCertificateFile"`}},
		{"managed identity with clientId and resourceId", `{"registries": {"myreg.azurecr.io": {"identity": "managedidentity", "clientId": "c", "resourceId": "/r"}}}`,
			[]string{`"myreg.azurecr.io"`, `"clientId"`, `"resourceId"`}},
		{"custom host without customHost", `{"registries": {` + okSibling + `, "registry.example.com": {"identity": "azurecli"}}}`,
			[]string{`"registry.example.com"`, `"customHost"`}},
		{"custom https URL without customHost", `{"registries": {"https://registry.example.com": {}}}`,
			[]string{`"https://registry.example.com"`, `"customHost"`}},
		{"http host", `{"registries": {"http://myreg.azurecr.io": {}}}`, []string{`"http://myreg.azurecr.io"`, "https"}},
		{"http custom host", `{"registries": {"http://registry.example.com": {"customHost": true}}}`,
			[]string{`"http://registry.example.com"`, "https"}},
		{"non-ACR look-alike", `{"registries": {"myreg.azurecr.io.evil.com": {"identity": "azurecli"}}}`,
			[]string{`"myreg.azurecr.io.evil.com"`, `"customHost"`}},
		{"malformed host", `{"registries": {"myreg.azurecr.io/foo": {}}}`, []string{`"myreg.azurecr.io/foo"`, "host"}},
		{"empty registry entry", `{"registries": {"myreg.azurecr.io": null}}`, []string{`"myreg.azurecr.io"`}},
		{"duplicate host after normalisation", `{"registries": {"myreg.azurecr.io": {"identity": "azurecli"}, "MYREG.azurecr.io:443": {"identity": "basic", "username": "u", "password": "` + cfgSecret + `"}}}`,
			[]string{`"myreg.azurecr.io"`, `"MYREG.azurecr.io:443"`}},
		{"bad authorityHost", `{"registries": {"myreg.azurecr.io": {"authorityHost": "http://login.microsoftonline.com/"}}}`,
			[]string{`"myreg.azurecr.io"`, `"authorityHost"`, "https"}},
		{"unknown cloud", `{"registries": {"myreg.azurecr.io": {"cloud": "Mars"}}}`, []string{`"myreg.azurecr.io"`, `"cloud"`}},
		{"bad audience", `{"registries": {"myreg.azurecr.io": {"audience": "graph"}}}`, []string{`"myreg.azurecr.io"`, `"audience"`}},
		{"bad default audience", `{"defaults": {"audience": "graph"}}`, []string{`"defaults.audience"`}},
		{"bad managedIdentity", `{"defaults": {"managedIdentity": "sometimes"}}`, []string{`"defaults.managedIdentity"`}},
		{"basic in chain", `{"defaults": {"chain": ["basic"]}}`, []string{`"defaults.chain"`}},
		{"unknown kind in chain", `{"defaults": {"chain": ["azurecli", "kerberos"]}}`, []string{`"defaults.chain"`}},
		{"malformed JSON", `{"registries": {` + okSibling + ` "x.azurecr.io": {}}}`, []string{"malformed JSON"}},
		{"single quotes", `{'registries': {}}`, []string{"malformed JSON"}},
		{"truncated JSON", `{"registries": {` + okSibling, []string{"JSON"}},
		{"unterminated secret", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "u", "password": "` + cfgSecret + `}}}`,
			[]string{"JSON"}},
		{"trailing garbage", `{"registries": {` + okSibling + `}} x`, []string{"after the JSON object"}},
		{"second object", `{} {}`, []string{"after the JSON object"}},
		{"trailing brace", `{"registries": {` + okSibling + `}}}`, []string{"after the JSON object"}},
		{"trailing bracket", `{}]`, []string{"after the JSON object"}},
		{"top-level array", `[]`, nil},
		{"top-level string", `"` + cfgSecret + `"`, nil},
		{"top-level null then more", `null {}`, []string{"after the JSON object"}},
		{"empty file", ``, []string{"empty"}},
		{"only whitespace", " \n\t ", []string{"empty"}},
		{"top level array", `[{"registries": {}}]`, []string{"want a JSON object, not array"}},
		{"one field in two cases", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "username": "u", "password": "` + cfgSecret + `", "Password": "other"}}}`,
			[]string{`"registries.myreg.azurecr.io.Password"`, `"registries.myreg.azurecr.io.password"`, "ignoring case"}},
		{"defaults field in two cases", `{"defaults": {"Timeout": "30s", "timeout": "1m"}}`, []string{`"defaults.Timeout"`, "ignoring case"}},
		{"top-level field in two cases", `{"Registries": {}, "registries": {}}`, []string{`"Registries"`, "ignoring case"}},
		{"identity as number", `{"registries": {"myreg.azurecr.io": {"identity": 5}}}`,
			[]string{`"registries.myreg.azurecr.io.identity"`, "want a string, not number"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			c, err := credhelper.ParseConfig(path, []byte(tc.json))
			require.Error(t, err, "config accepted: %+v", c)
			msg := err.Error()
			assert.Contains(t, msg, "config "+path+": ", "the message names the file")
			for _, w := range tc.want {
				assert.Contains(t, msg, w)
			}
			assert.NotContains(t, msg, cfgSecret, "the message quotes a secret")
			assert.NotContains(t, msg, "987654321", "the message quotes a value")
			assert.NotContains(t, msg, "\n", "the message is one line")
			assert.NotRegexp(t, `\b(credhelper|token)\.[A-Z]`, msg, "the message names a Go type")
		})
	}
}

// TestParseConfigErrorsDoNotQuoteURLPasswords: a password written into a URL
// is a secret too, wherever the URL is.
func TestParseConfigErrorsDoNotQuoteURLPasswords(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, json, field string
	}{
		{"authorityHost with userinfo", `{"registries": {"myreg.azurecr.io": {"authorityHost": "https://admin:` + cfgSecret + `@login.example.com/"}}}`, `"authorityHost"`},
		{"registry key with userinfo", `{"registries": {"https://admin:` + cfgSecret + `@myreg.azurecr.io": {}}}`, "registry"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := credhelper.ParseConfig("/c.json", []byte(tc.json))
			require.Error(t, err)
			assert.Contains(t, err.Error(), "config /c.json: ")
			assert.Contains(t, err.Error(), tc.field)
			assert.NotContains(t, err.Error(), cfgSecret)
		})
	}
}

func TestLoadConfig(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(p, []byte(content), 0o600))
		return p
	}
	valid := write("valid.json", `{"registries": {"myreg.azurecr.io": {"identity": "azurecli"}}}`)
	invalid := write("invalid.json", `{"registries": {"myreg.azurecr.io": {"identity": "basic", "password": "`+cfgSecret+`"}}}`)
	empty := write("empty.json", ``)
	big := write("big.json", `{"registries": {}}`+strings.Repeat(" ", 1<<20))
	missing := filepath.Join(dir, "missing", "config.json")

	t.Run("missing, not required", func(t *testing.T) {
		t.Parallel()
		c, err := credhelper.LoadConfig(missing, false)
		require.NoError(t, err)
		assert.Equal(t, missing, c.Path())
		assert.Empty(t, c.Hosts())
		_, ok := c.Registry("myreg.azurecr.io")
		assert.False(t, ok)
	})
	t.Run("missing, required", func(t *testing.T) {
		t.Parallel()
		_, err := credhelper.LoadConfig(missing, true)
		require.Error(t, err)
		assert.Contains(t, err.Error(), "config "+missing+": ")
		assert.NotContains(t, err.Error(), "\n")
	})
	for _, required := range []bool{false, true} {
		name := map[bool]string{false: "optional", true: "required"}[required]
		t.Run("valid, "+name, func(t *testing.T) {
			t.Parallel()
			c, err := credhelper.LoadConfig(valid, required)
			require.NoError(t, err)
			assert.Equal(t, valid, c.Path())
			assert.Equal(t, []string{"myreg.azurecr.io"}, c.Hosts())
		})
		t.Run("invalid, "+name, func(t *testing.T) {
			t.Parallel()
			_, err := credhelper.LoadConfig(invalid, required)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "config "+invalid+": ")
			assert.Contains(t, err.Error(), `"username"`)
			assert.NotContains(t, err.Error(), cfgSecret)
		})
		t.Run("empty, "+name, func(t *testing.T) {
			t.Parallel()
			_, err := credhelper.LoadConfig(empty, required)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "config "+empty+": ")
		})
		t.Run("larger than 1 MiB, "+name, func(t *testing.T) {
			t.Parallel()
			_, err := credhelper.LoadConfig(big, required)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "config "+big+": ")
		})
		t.Run("directory, "+name, func(t *testing.T) {
			t.Parallel()
			_, err := credhelper.LoadConfig(dir, required)
			require.Error(t, err)
			assert.Contains(t, err.Error(), "config "+dir+": ")
		})
	}
}

// TestConfigLoneNameInAnotherCase: encoding/json has always accepted
// "clientID" for "clientId"; only two spellings of one field are refused.
func TestConfigLoneNameInAnotherCase(t *testing.T) {
	t.Parallel()
	c, err := credhelper.ParseConfig("/etc/acr/config.json", []byte(`{"registries": {
		"a.azurecr.io": {"identity": "serviceprincipal", "tenantID": "t", "clientID": "c", "clientSecretEnv": "SP_SECRET"}}}`))
	require.NoError(t, err)
	rc, ok := c.Registry("a.azurecr.io")
	require.True(t, ok)
	assert.Equal(t, "t", rc.TenantID)
	assert.Equal(t, "c", rc.ClientID)
}

// TestConfigRelativePaths: files named relative to the configuration file
// are found beside it, wherever docker runs; "~/" is the home directory.
func TestConfigRelativePaths(t *testing.T) {
	t.Parallel()
	home, err := os.UserHomeDir()
	require.NoError(t, err)
	c, err := credhelper.ParseConfig("/etc/acr/config.json", []byte(`{"registries": {
		"a.azurecr.io": {"identity": "basic", "username": "u", "passwordFile": "secrets/pw"},
		"b.azurecr.io": {"identity": "basic", "username": "u", "passwordFile": "~/pw"},
		"c.azurecr.io": {"identity": "basic", "username": "u", "passwordFile": "/abs/pw"},
		"d.azurecr.io": {"identity": "serviceprincipal", "tenantId": "t", "clientId": "c", "clientCertificateFile": "../cert.pem"}}}`))
	require.NoError(t, err)
	for host, want := range map[string]string{
		"a.azurecr.io": "/etc/acr/secrets/pw",
		"b.azurecr.io": filepath.Join(home, "pw"),
		"c.azurecr.io": "/abs/pw",
	} {
		rc, ok := c.Registry(host)
		require.True(t, ok)
		assert.Equal(t, want, rc.PasswordFile, host)
	}
	rc, _ := c.Registry("d.azurecr.io")
	assert.Equal(t, "/etc/cert.pem", rc.ClientCertificateFile)
}

func TestConfigPath(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"explicit wins", map[string]string{credhelper.EnvConfig: "/etc/acr.json", "XDG_CONFIG_HOME": "/xdg", "HOME": "/home/u"}, "/etc/acr.json"},
		{"explicit relative", map[string]string{credhelper.EnvConfig: "acr.json", "HOME": "/home/u"}, "acr.json"},
		{"xdg over home", map[string]string{"XDG_CONFIG_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/docker-credential-acr/config.json"},
		{"home", map[string]string{"HOME": "/home/u"}, "/home/u/.config/docker-credential-acr/config.json"},
		{"empty explicit ignored", map[string]string{credhelper.EnvConfig: "", "XDG_CONFIG_HOME": "/xdg"}, "/xdg/docker-credential-acr/config.json"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, filepath.FromSlash(tc.want), credhelper.ConfigPath(mapGetenv(tc.env)))
		})
	}
}

func TestCacheDir(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		env  map[string]string
		want string
	}{
		{"explicit wins", map[string]string{credhelper.EnvCacheDir: "/var/cache/acr", "XDG_CACHE_HOME": "/xdg", "HOME": "/home/u"}, "/var/cache/acr"},
		{"xdg over home", map[string]string{"XDG_CACHE_HOME": "/xdg", "HOME": "/home/u"}, "/xdg/docker-credential-acr"},
		{"home", map[string]string{"HOME": "/home/u"}, "/home/u/.cache/docker-credential-acr"},
		{"config variables do not count", map[string]string{"XDG_CONFIG_HOME": "/xdgc", credhelper.EnvConfig: "/c.json", "HOME": "/home/u"}, "/home/u/.cache/docker-credential-acr"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, filepath.FromSlash(tc.want), credhelper.CacheDir(mapGetenv(tc.env)))
		})
	}
}

// mapGetenv is a getenv backed by a map, so that tests need not touch the
// process environment and can run in parallel.
func mapGetenv(env map[string]string) func(string) string {
	return func(k string) string { return env[k] }
}
