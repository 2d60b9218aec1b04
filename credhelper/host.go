package credhelper

import (
	"errors"
	"net/url"
	"strings"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// errNotRegistryURL is returned for server URLs that cannot name a registry
// at all; callers answer "not found" for them, as for any host that is not ours.
var errNotRegistryURL = errors.New("not a registry server URL")

// maxServerURL bounds what is parsed; no real registry URL comes near it.
const maxServerURL = 1024

// NormalizeServerURL turns any form of server URL a client sends
// ("host", "host:443", "https://host", "https://host/v2/", upper case,
// trailing dot) into one key: the lower-case host name, followed by ":port"
// only when the port is not 443. It rejects userinfo, queries, fragments,
// paths other than "/", "/v1/" and "/v2/", non-ASCII and malformed host names,
// and any scheme other than https.
func NormalizeServerURL(raw string) (string, error) {
	s := strings.TrimSpace(raw)
	if s == "" || len(s) > maxServerURL {
		return "", errNotRegistryURL
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c >= 0x7f || c == '\\' {
			return "", errNotRegistryURL
		}
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	u, err := url.Parse(s)
	if err != nil || !strings.EqualFold(u.Scheme, "https") || u.User != nil ||
		u.Opaque != "" || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" ||
		strings.Contains(s, "#") {
		return "", errNotRegistryURL
	}
	switch strings.TrimSuffix(u.EscapedPath(), "/") {
	case "", "/v1", "/v2":
	default:
		return "", errNotRegistryURL
	}
	host := strings.ToLower(strings.TrimSuffix(u.Hostname(), "."))
	if !validHostName(host) {
		return "", errNotRegistryURL
	}
	port := u.Port()
	if strings.HasSuffix(u.Host, ":") && port == "" {
		return "", errNotRegistryURL
	}
	switch {
	case port == "" || port == "443":
		return host, nil
	case validPort(port):
		return host + ":" + port, nil
	default:
		return "", errNotRegistryURL
	}
}

// validHostName reports whether h is an ASCII DNS name of letter-digit-hyphen
// labels. IP literals and IDN characters are refused; punycode labels are
// plain ASCII and pass here, but never match an ACR pattern.
func validHostName(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for _, label := range strings.Split(h, ".") {
		if !validLabel(label) {
			return false
		}
	}
	return true
}

func validLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

func validPort(p string) bool {
	if p == "" || len(p) > 5 || p[0] == '0' {
		return false
	}
	n := 0
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return false
		}
		n = n*10 + int(p[i]-'0')
	}
	return n > 0 && n < 65536
}

// ACRCloud reports whether host (a normalised key) is an Azure Container
// Registry login server by name, and in which cloud. Recognised forms, for
// each cloud suffix S (azurecr.io, azurecr.cn, azurecr.us, azurecr.de):
//
//	name.S                   a registry
//	name-hash.S              a domain-name-label registry
//	name.region.geo.S        a regional (geo-replica) endpoint, also name-hash.region.geo.S
//
// Dedicated data endpoints (name.region.data.S) serve blobs, not tokens, and
// are not recognised; neither is anything with a port.
func ACRCloud(host string) (token.Cloud, bool) {
	for _, c := range token.Clouds {
		rest, ok := strings.CutSuffix(host, "."+c.Suffix)
		if !ok {
			continue
		}
		labels := strings.Split(rest, ".")
		switch {
		case len(labels) == 1 && registryLabel(labels[0]):
			return c, true
		case len(labels) == 3 && labels[2] == "geo" && registryLabel(labels[0]) && regionLabel(labels[1]):
			return c, true
		}
		return token.Cloud{}, false
	}
	return token.Cloud{}, false
}

// registryLabel accepts an ACR registry name (alphanumeric, at most 50
// characters) with an optional domain-name-label hash ("-" and alphanumerics).
func registryLabel(l string) bool {
	name, hash, dnl := strings.Cut(l, "-")
	if !alnum(name, 1, 50) {
		return false
	}
	return !dnl || alnum(hash, 1, 62-len(name))
}

// regionLabel accepts an Azure region name such as "eastus2".
func regionLabel(l string) bool { return alnum(l, 2, 40) }

func alnum(s string, minLen, maxLen int) bool {
	if len(s) < minLen || len(s) > maxLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}
