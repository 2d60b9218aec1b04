package credhelper_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// recognise is the whole recognition pipeline: a server URL names an ACR
// login server iff it normalises and the normalised host is an ACR name.
func recognise(raw string) (string, token.Cloud, bool) {
	host, err := credhelper.NormalizeServerURL(raw)
	if err != nil {
		return "", token.Cloud{}, false
	}
	cloud, ok := credhelper.ACRCloud(host)
	if !ok {
		return "", token.Cloud{}, false
	}
	return host, cloud, true
}

// hostAcceptCase is a server URL that must be recognised as an ACR login server.
type hostAcceptCase struct {
	name  string
	input string
	want  string // normalised key
	cloud token.Cloud
}

func hostAcceptCases() []hostAcceptCase {
	const key = "myreg.azurecr.io"
	pub := token.AzurePublic
	return []hostAcceptCase{
		{"bare host", "myreg.azurecr.io", key, pub},
		{"default port", "myreg.azurecr.io:443", key, pub},
		{"https", "https://myreg.azurecr.io", key, pub},
		{"https slash", "https://myreg.azurecr.io/", key, pub},
		{"https v2 slash", "https://myreg.azurecr.io/v2/", key, pub},
		{"https v2", "https://myreg.azurecr.io/v2", key, pub},
		{"https v1 slash", "https://myreg.azurecr.io/v1/", key, pub},
		{"host v2 slash", "myreg.azurecr.io/v2/", key, pub},
		{"upper case", "MYREG.AZURECR.IO", key, pub},
		{"trailing dot", "myreg.azurecr.io.", key, pub},
		{"trailing dot and port", "myreg.azurecr.io.:443", key, pub},
		{"mixed everything", "HTTPS://MyReg.AzureCR.io:443/v2/", key, pub},
		{"surrounding spaces", "  myreg.azurecr.io  ", key, pub},
		{"trailing newline", "myreg.azurecr.io\n", key, pub},
		{"surrounding tabs and crlf", "\t https://myreg.azurecr.io/v2/\r\n", key, pub},
		{"digits in name", "reg2024.azurecr.io", "reg2024.azurecr.io", pub},
		{"one-char name", "a.azurecr.io", "a.azurecr.io", pub},
		{"50-char name", strings.Repeat("a", 50) + ".azurecr.io", strings.Repeat("a", 50) + ".azurecr.io", pub},
		{"china", "myreg.azurecr.cn", "myreg.azurecr.cn", token.AzureChina},
		{"china https v2", "https://MyReg.azurecr.cn/v2/", "myreg.azurecr.cn", token.AzureChina},
		{"us government", "myreg.azurecr.us", "myreg.azurecr.us", token.AzureGovernment},
		{"germany (retired)", "myreg.azurecr.de", "myreg.azurecr.de", token.AzureGermany},
		{"domain name label", "myreg-abc123def.azurecr.io", "myreg-abc123def.azurecr.io", pub},
		{"domain name label, 63 chars", strings.Repeat("a", 50) + "-" + strings.Repeat("b", 12) + ".azurecr.io",
			strings.Repeat("a", 50) + "-" + strings.Repeat("b", 12) + ".azurecr.io", pub},
		{"domain name label china", "https://myreg-h4sh.azurecr.cn:443", "myreg-h4sh.azurecr.cn", token.AzureChina},
		{"regional", "myreg.eastus.geo.azurecr.io", "myreg.eastus.geo.azurecr.io", pub},
		{"regional dnl", "myreg-abc123.westeurope.geo.azurecr.io", "myreg-abc123.westeurope.geo.azurecr.io", pub},
		{"regional https upper", "HTTPS://MYREG.EASTUS2.GEO.AZURECR.IO/v2/", "myreg.eastus2.geo.azurecr.io", pub},
		{"regional us gov", "myreg.usgovvirginia.geo.azurecr.us", "myreg.usgovvirginia.geo.azurecr.us", token.AzureGovernment},
	}
}

func TestRecogniseAccepted(t *testing.T) {
	t.Parallel()
	for _, tc := range hostAcceptCases() {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, err := credhelper.NormalizeServerURL(tc.input)
			require.NoError(t, err)
			assert.Equal(t, tc.want, host)
			cloud, ok := credhelper.ACRCloud(host)
			require.True(t, ok, "ACRCloud(%q)", host)
			assert.Equal(t, tc.cloud, cloud)
			// The key is a fixed point.
			again, err := credhelper.NormalizeServerURL(host)
			require.NoError(t, err)
			assert.Equal(t, host, again)
		})
	}
}

// TestNormalizeServerURLKeepsOtherPorts: a non-default port is part of the
// key (so such a host can be configured as a custom host), but a host with a
// port is never an ACR name.
func TestNormalizeServerURLKeepsOtherPorts(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{"registry.example.com:5000", "registry.example.com:5000"},
		{"https://Registry.Example.com:5000/v2/", "registry.example.com:5000"},
		{"registry.example.com:443", "registry.example.com"},
		{"https://registry.example.com", "registry.example.com"},
		{"localhost:65535", "localhost:65535"},
		{"localhost:1", "localhost:1"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			t.Parallel()
			got, err := credhelper.NormalizeServerURL(tc.in)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
			_, ok := credhelper.ACRCloud(got)
			assert.False(t, ok)
		})
	}
}

// hostSpoofCase is a server URL that must not be recognised. normalised is
// what NormalizeServerURL makes of it ("" = it must refuse it); ACRCloud must
// then refuse that key.
type hostSpoofCase struct {
	name       string
	input      string
	normalised string
}

func hostSpoofCases() []hostSpoofCase {
	long := strings.Repeat("a", 2000) + ".azurecr.io"
	return []hostSpoofCase{
		// Suffix tricks.
		{"suffix followed by evil domain", "x.azurecr.io.evil.com", "x.azurecr.io.evil.com"},
		{"suffix followed by evil domain, https v2", "https://x.azurecr.io.evil.com/v2/", "x.azurecr.io.evil.com"},
		{"suffix without dot", "xazurecr.io", "xazurecr.io"},
		{"bare suffix", "azurecr.io", "azurecr.io"},
		{"bare suffix china", "azurecr.cn", "azurecr.cn"},
		{"leading dot", ".azurecr.io", ""},
		{"suffix then evil label", "x.azurecr.io." + "evil", "x.azurecr.io.evil"},
		{"suffix extended", "x.azurecr.iox", "x.azurecr.iox"},
		{"suffix hyphen extended", "x.azurecr.io-evil.com", "x.azurecr.io-evil.com"},
		{"suffix in the middle", "x.evil.azurecr.io.com", "x.evil.azurecr.io.com"},
		{"suffix as subdomain of cn", "x.azurecr.io.cn", "x.azurecr.io.cn"},
		{"bare suffix under evil", "azurecr.io.evil.com", "azurecr.io.evil.com"},
		{"empty label", "x..azurecr.io", ""},
		{"two trailing dots", "x.azurecr.io..", ""},
		{"private link zone", "x.privatelink.azurecr.io", "x.privatelink.azurecr.io"},
		{"look-alike suffix", "x.azurecr-io.com", "x.azurecr-io.com"},
		{"look-alike zero for o", "x.azurecr.i0", "x.azurecr.i0"},
		// Userinfo, always refused.
		{"host as userinfo", "x.azurecr.io@evil.com", ""},
		{"evil userinfo", "https://evil.com@x.azurecr.io", ""},
		{"user and password", "https://user:pass@x.azurecr.io", ""},
		{"empty userinfo", "https://@x.azurecr.io", ""},
		{"port-looking userinfo", "https://x.azurecr.io:443@evil.com", ""},
		{"empty port userinfo", "https://x.azurecr.io:@evil.com", ""},
		{"percent-encoded at", "https://x.azurecr.io%40evil.com", ""},
		// Paths.
		{"host in path", "evil.com/x.azurecr.io", ""},
		{"host in https path", "https://evil.com/x.azurecr.io/v2/", ""},
		{"dot-dot path", "https://x.azurecr.io/v2/../../evil", ""},
		{"other path", "https://x.azurecr.io/foo", ""},
		{"v3 path", "https://x.azurecr.io/v3/", ""},
		{"catalog path", "https://x.azurecr.io/v2/_catalog", ""},
		{"double slash path", "https://x.azurecr.io//", ""},
		{"upper-case path", "https://x.azurecr.io/V2/", ""},
		{"encoded path", "https://x.azurecr.io/%76%32/", ""},
		// Queries and fragments.
		{"query", "https://x.azurecr.io?x=1", ""},
		{"empty query", "https://x.azurecr.io?", ""},
		{"fragment", "https://x.azurecr.io#frag", ""},
		{"empty fragment", "https://x.azurecr.io#", ""},
		{"suffix in fragment", "https://evil.com#.azurecr.io", ""},
		{"suffix in query", "https://evil.com?.azurecr.io", ""},
		{"suffix in query after path", "https://evil.com/v2/?x.azurecr.io", ""},
		// IDN and Unicode look-alikes.
		{"cyrillic a", "x.\u0430zurecr.io", ""},
		{"cyrillic i (ukrainian)", "x.azurecr.\u0456o", ""},
		{"fullwidth dot", "x\uff0eazurecr.io", ""},
		{"ideographic full stop", "x.azurecr.io\u3002", ""},
		{"zero-width space", "x.azurecr\u200b.io", ""},
		{"zero-width space at end", "x.azurecr.io\u200b", ""},
		{"right-to-left override", "\u202eoi.rceruza.x", ""},
		{"fullwidth scheme", "\uff48ttps://x.azurecr.io", ""},
		{"combining mark", "x\u0301.azurecr.io", ""},
		{"nbsp inside", "x.azurecr\u00a0.io", ""},
		{"punycode registry label", "xn--80ak6aa92e.azurecr.io", "xn--80ak6aa92e.azurecr.io"},
		{"punycode short", "xn--x.azurecr.io", "xn--x.azurecr.io"},
		{"punycode in hash position", "myreg-xn--abc.azurecr.io", "myreg-xn--abc.azurecr.io"},
		{"zero-width space in https URL", "https://x.azurecr\u200b.io", ""},
		{"percent-encoded zero-width space", "https://x.azurecr%E2%80%8B.io", ""},
		// Ports.
		{"other port", "x.azurecr.io:8443", "x.azurecr.io:8443"},
		{"port 80", "https://x.azurecr.io:80/v2/", "x.azurecr.io:80"},
		{"port 0", "x.azurecr.io:0", ""},
		{"leading-zero port", "x.azurecr.io:0443", ""},
		{"port too big", "x.azurecr.io:99999", ""},
		{"port 65536", "x.azurecr.io:65536", ""},
		{"empty port", "x.azurecr.io:", ""},
		{"two ports", "x.azurecr.io:443:443", ""},
		{"signed port", "x.azurecr.io:+443", ""},
		{"named port", "x.azurecr.io:https", ""},
		// Schemes.
		{"http", "http://x.azurecr.io", ""},
		{"http upper", "HTTP://X.AZURECR.IO/v2/", ""},
		{"ftp", "ftp://x.azurecr.io", ""},
		{"file", "file:///x.azurecr.io", ""},
		{"javascript", "javascript:x.azurecr.io", ""},
		{"scheme-relative", "//x.azurecr.io", ""},
		{"opaque https", "https:x.azurecr.io", ""},
		{"one-slash https", "https:/x.azurecr.io", ""},
		{"three-slash https", "https:///x.azurecr.io", ""},
		{"double scheme", "https://https://x.azurecr.io", ""},
		{"oci scheme", "oci://x.azurecr.io", ""},
		{"docker scheme", "docker://x.azurecr.io", ""},
		// Whitespace and control characters inside.
		{"inner space", "x.azurecr .io", ""},
		{"inner tab", "x.azurecr\t.io", ""},
		{"inner nul", "x.azurecr.io\x00", ""},
		{"nul then evil", "evil.com\x00x.azurecr.io", ""},
		{"inner crlf", "x.azurecr.io\r\nevil.com", ""},
		{"inner newline", "evil.com\nx.azurecr.io", ""},
		{"delete char", "x.azurecr.io\x7f", ""},
		{"bell char", "x\x07.azurecr.io", ""},
		{"space then second host", "x.azurecr.io evil.com", ""},
		// Backslashes and separators.
		{"backslash userinfo", "https://evil.com\\@x.azurecr.io", ""},
		{"backslash path", "x.azurecr.io\\evil", ""},
		{"backslash scheme", "https:\\\\x.azurecr.io", ""},
		{"semicolon", "x.azurecr.io;evil.com", ""},
		{"comma", "x.azurecr.io,evil.com", ""},
		{"underscore label", "x_y.azurecr.io", ""},
		// Percent-encoding.
		{"encoded dot", "x%2eazurecr.io", ""},
		{"encoded slash before userinfo", "https://x.azurecr.io%2F@evil.com", ""},
		{"encoded nul", "https://x.azurecr.io%00", ""},
		{"encoded host", "https://%78.azurecr.io", ""},
		// Not login servers.
		{"data endpoint", "x.eastus.data.azurecr.io", "x.eastus.data.azurecr.io"},
		{"too deep", "a.b.x.azurecr.io", "a.b.x.azurecr.io"},
		{"geo twice", "x.eastus.geo.geo.azurecr.io", "x.eastus.geo.geo.azurecr.io"},
		{"geo without region", "x.geo.azurecr.io", "x.geo.azurecr.io"},
		{"geo with dnl region", "x.east-us.geo.azurecr.io", "x.east-us.geo.azurecr.io"},
		{"one-letter region", "x.e.geo.azurecr.io", "x.e.geo.azurecr.io"},
		{"double hyphen name", "x--y.azurecr.io", "x--y.azurecr.io"},
		{"two hyphens", "x-y-z.azurecr.io", "x-y-z.azurecr.io"},
		// Addresses.
		{"ipv4 loopback", "127.0.0.1", "127.0.0.1"},
		{"ipv4 loopback with port", "https://127.0.0.1:443/v2/", "127.0.0.1"},
		{"ipv6 loopback", "[::1]", ""},
		{"ipv6 with port", "https://[::1]:443", ""},
		{"ipv6 with zone", "https://[fe80::1%25eth0]", ""},
		{"imds", "169.254.169.254", "169.254.169.254"},
		{"decimal ip", "2130706433", "2130706433"},
		{"bracketed name", "https://[x.azurecr.io]", ""},
		// Degenerate input.
		{"empty", "", ""},
		{"only spaces", "   ", ""},
		{"only newline", "\n", ""},
		{"2000-char name", long, ""},
		{"1025 bytes", strings.Repeat("a", 1025-len(".azurecr.io")) + ".azurecr.io", ""},
		{"64-char label", strings.Repeat("a", 64) + ".azurecr.io", ""},
		{"leading hyphen", "-x.azurecr.io", ""},
		{"trailing hyphen", "x-.azurecr.io", ""},
		{"hyphen before suffix", "x.-azurecr.io", ""},
		{"51-char name", strings.Repeat("a", 51) + ".azurecr.io", strings.Repeat("a", 51) + ".azurecr.io"},
		{"only a hash", "-abc.azurecr.io", ""},
		// Other registries.
		{"localhost", "localhost", "localhost"},
		{"localhost port", "localhost:5000", "localhost:5000"},
		{"docker hub", "docker.io", "docker.io"},
		{"docker hub index", "index.docker.io/v1/", "index.docker.io"},
		{"docker hub index https", "https://index.docker.io/v1/", "index.docker.io"},
		{"gcr", "gcr.io", "gcr.io"},
		{"ghcr", "ghcr.io", "ghcr.io"},
		{"ecr", "123456789012.dkr.ecr.us-east-1.amazonaws.com", "123456789012.dkr.ecr.us-east-1.amazonaws.com"},
		{"management endpoint", "management.azure.com", "management.azure.com"},
	}
}

func TestRecogniseRejectsSpoofing(t *testing.T) {
	t.Parallel()
	cases := hostSpoofCases()
	require.GreaterOrEqual(t, len(cases), 60)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			host, err := credhelper.NormalizeServerURL(tc.input)
			if tc.normalised == "" {
				assert.Error(t, err, "NormalizeServerURL(%q) = %q", tc.input, host)
				assert.Empty(t, host)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.normalised, host)
				_, ok := credhelper.ACRCloud(host)
				assert.False(t, ok, "ACRCloud(%q)", host)
			}
			_, _, ok := recognise(tc.input)
			assert.False(t, ok, "%q must not be recognised", tc.input)
		})
	}
}

// TestACRCloudNeedsNormalisedKey: ACRCloud takes normalised keys only and
// refuses anything else rather than guessing.
func TestACRCloudNeedsNormalisedKey(t *testing.T) {
	t.Parallel()
	for _, in := range []string{
		"", "MYREG.AZURECR.IO", "myreg.azurecr.io.", "myreg.azurecr.io:443", "https://myreg.azurecr.io",
		"myreg.azurecr.io/v2/", " myreg.azurecr.io", ".azurecr.io", "azurecr.io", "-.azurecr.io",
		"myreg-.azurecr.io", "myreg..eastus.geo.azurecr.io", "myreg.eastus..azurecr.io",
	} {
		t.Run(in, func(t *testing.T) {
			t.Parallel()
			_, ok := credhelper.ACRCloud(in)
			assert.False(t, ok)
		})
	}
}

func TestACRCloudEveryCloud(t *testing.T) {
	t.Parallel()
	for _, c := range token.Clouds {
		for _, form := range []string{"myreg.", "myreg-h4sh.", "myreg.westus3.geo.", "myreg-h4sh.westus3.geo."} {
			host := form + c.Suffix
			t.Run(host, func(t *testing.T) {
				t.Parallel()
				got, ok := credhelper.ACRCloud(host)
				require.True(t, ok)
				assert.Equal(t, c, got)
				_, ok = credhelper.ACRCloud(form + "data." + c.Suffix)
				assert.False(t, ok)
				_, ok = credhelper.ACRCloud(host + ".evil.com")
				assert.False(t, ok)
			})
		}
	}
}

func BenchmarkNormalizeServerURL(b *testing.B) {
	inputs := []string{"myreg.azurecr.io", "https://MyReg.AzureCR.io:443/v2/", "x.azurecr.io.evil.com", "https://evil.com@x.azurecr.io"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, _ = credhelper.NormalizeServerURL(inputs[i%len(inputs)])
	}
}

func BenchmarkACRCloud(b *testing.B) {
	hosts := []string{"myreg.azurecr.io", "myreg-abc123.westeurope.geo.azurecr.io", "myreg.azurecr.us", "x.azurecr.io.evil.com"}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		_, _ = credhelper.ACRCloud(hosts[i%len(hosts)])
	}
}
