package credhelper_test

import (
	"regexp"
	"strings"
	"testing"
	"unicode"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// recogniseTail is everything a recognised server URL may have after its host
// name (once lower-cased, trimmed and stripped of an https:// scheme): a
// trailing dot, the default port, and the root, /v1 or /v2 path.
var recogniseTail = regexp.MustCompile(`^\.?(:443)?(/v[12])?/?$`)

// FuzzRecognise checks the recognition pipeline (NormalizeServerURL, then
// ACRCloud) for parser disagreements: whatever is recognised must be a plain
// ACR host name that the input spells out literally, with nothing around it
// but what the protocol allows.
func FuzzRecognise(f *testing.F) {
	for _, tc := range hostSpoofCases() {
		f.Add(tc.input)
	}
	for _, tc := range hostAcceptCases() {
		f.Add(tc.input)
	}
	for _, s := range []string{
		"https://myreg.azurecr.io:443/v1", "myreg.azurecr.io./v2", "https://a-b.c.geo.azurecr.us./",
		"https://x.azurecr.io/v2/#", "https://x.azurecr.io:443?", "x.azurecr.io%2e", "x.azurecr.io%252e",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, input string) {
		host, err := credhelper.NormalizeServerURL(input)
		if err != nil {
			if host != "" {
				t.Fatalf("NormalizeServerURL(%q) = %q with error %v", input, host, err)
			}
			return
		}
		// Every key is a fixed point, recognised or not.
		if again, err := credhelper.NormalizeServerURL(host); err != nil || again != host {
			t.Fatalf("NormalizeServerURL(%q) = %q; again = %q, %v", input, host, again, err)
		}
		cloud, ok := credhelper.ACRCloud(host)
		if !ok {
			return
		}
		// (a) an anchored ACR suffix, and the cloud that goes with it.
		var suffixOK bool
		for _, c := range token.Clouds {
			if strings.HasSuffix(host, "."+c.Suffix) {
				suffixOK = c == cloud
			}
		}
		if !suffixOK {
			t.Fatalf("%q recognised as %q in %s: suffix and cloud disagree", input, host, cloud.Name)
		}
		// (b) nothing but a lower-case ASCII host name.
		for _, r := range host {
			if r > unicode.MaxASCII || unicode.IsSpace(r) || unicode.IsUpper(r) || strings.ContainsRune("@/\\?#:%[]", r) {
				t.Fatalf("%q recognised as %q, which contains %q", input, host, r)
			}
		}
		if strings.HasPrefix(host, ".") || strings.HasPrefix(host, "-") || strings.Contains(host, "..") {
			t.Fatalf("%q recognised as malformed host %q", input, host)
		}
		// (d) the input spells the host out: lower-cased, trimmed and
		// without the scheme, it is the host followed by an allowed tail.
		s := strings.ToLower(strings.TrimSpace(input))
		s = strings.TrimPrefix(s, "https://")
		rest, found := strings.CutPrefix(s, host)
		if !found || !recogniseTail.MatchString(rest) {
			t.Fatalf("%q recognised as %q, which it does not spell out (rest %q)", input, host, rest)
		}
	})
}
