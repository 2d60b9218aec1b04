package harness

import (
	"fmt"
	"math/rand/v2"
	"regexp"
	"strings"
	"unicode/utf8"
)

// acrOracle is an independent, deliberately loose description of the server
// URLs a credential helper may recognise as an ACR login server: optional
// https:// scheme, a registry label (optionally -hash), an optional
// region.geo, an azurecr suffix, an optional trailing dot, optional port
// 443, and an optional /, /v1 or /v2 path. It is looser than the helper
// (no length limits), so a string it rejects must be refused by the helper.
var acrOracle = regexp.MustCompile(`(?i)^(https://)?[a-z0-9]+(-[a-z0-9]+)?(\.[a-z0-9-]+\.geo)?\.azurecr\.(io|cn|us|de)\.?(:443)?(/|/v[12]/?)?$`)

// LooksLikeACR reports whether the oracle would let s through as an ACR
// login server. Hostile generators use it to drop any mutation that happens
// to produce a legitimate registry URL.
func LooksLikeACR(s string) bool {
	return acrOracle.MatchString(strings.TrimSpace(s))
}

// HostileURL is one generated server URL and the trick it plays.
type HostileURL struct {
	Kind string
	URL  string
}

// HostileURLs returns n server URLs, deterministic for seed, that no ACR
// credential helper may answer with a token although each names, contains or
// imitates the ACR login server real (e.g. "e2e.azurecr.io"): suffix tricks,
// userinfo, paths, queries, fragments, Unicode look-alikes, other ports and
// schemes, white space and control characters, backslashes,
// percent-encoding, data endpoints, deep names, IP literals, very long names
// and random mutations. Every URL is valid UTF-8 without NUL, is not blank,
// and is refused by LooksLikeACR.
func HostileURLs(seed uint64, n int, real string) []HostileURL {
	g := &hostileGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15)), real: strings.ToLower(real)}
	g.name, _, _ = strings.Cut(g.real, ".")
	out := make([]HostileURL, 0, n)
	seen := map[string]bool{}
	// The hand-written classics come first, so even a short run has them.
	for _, u := range g.classics() {
		if len(out) < n && g.keep(u.URL, seen) {
			out = append(out, u)
		}
	}
	for tries := 0; len(out) < n && tries < 200*n; tries++ {
		kind, gen := g.pick()
		u := gen()
		if g.keep(u, seen) {
			out = append(out, HostileURL{Kind: kind, URL: u})
		}
	}
	return out
}

type hostileGen struct {
	r    *rand.Rand
	real string // e.g. e2e.azurecr.io
	name string // e.g. e2e
}

func (g *hostileGen) keep(u string, seen map[string]bool) bool {
	if seen[u] || !utf8.ValidString(u) || strings.ContainsRune(u, 0) || strings.TrimSpace(u) == "" || LooksLikeACR(u) {
		return false
	}
	seen[u] = true
	return true
}

func (g *hostileGen) classics() []HostileURL {
	r, n := g.real, g.name
	list := []struct{ kind, url string }{
		{"suffix", r + ".evil.com"},
		{"suffix", "https://" + r + ".evil.com/v2/"},
		{"suffix", r + ".evil.com:443"},
		{"suffix", r + "evil.com"},
		{"suffix", n + ".azurecr.io-evil.com"},
		{"suffix", n + ".azurecr.io..evil.com"},
		{"suffix", n + ".azurecr.com"},
		{"suffix", n + ".azurecr.evil"},
		{"suffix", n + ".azurecr.iox"},
		{"prefix", "evil" + r[len(n):]},
		{"prefix", "evilazurecr.io"},
		{"prefix", "azurecr.io"},
		{"prefix", ".azurecr.io"},
		{"prefix", "-" + r},
		{"prefix", n + "-.azurecr.io"},
		{"path", "evil.com/" + r},
		{"path", "https://evil.com/" + r},
		{"path", "https://evil.com/v2/" + r},
		{"path", "https://" + r + "/v2/../../evil"},
		{"path", "https://" + r + "/oauth2/exchange"},
		{"path", "https://" + r + "/v3/"},
		{"path", "https://" + r + "//"},
		{"userinfo", r + "@evil.com"},
		{"userinfo", "https://" + r + "@evil.com"},
		{"userinfo", "https://evil.com@" + r},
		{"userinfo", "https://user:pass@" + r},
		{"userinfo", "https://" + r + ":443@evil.com/"},
		{"userinfo", "https://:@" + r},
		{"query", "https://evil.com?" + r},
		{"query", "https://" + r + "?x=1"},
		{"query", "https://" + r + "/?"},
		{"query", "https://" + r + "/v2/?redirect=https://evil.com"},
		{"fragment", "https://evil.com#" + r},
		{"fragment", "https://" + r + "#"},
		{"fragment", "https://evil.com#@" + r},
		{"fragment", "https://" + r + "#@evil.com"},
		{"scheme", "http://" + r},
		{"scheme", "HTTP://" + r},
		{"scheme", "http://" + r + ":443"},
		{"scheme", "ftp://" + r},
		{"scheme", "file:///" + r},
		{"scheme", "ws://" + r},
		{"scheme", "wss://" + r},
		{"scheme", "docker://" + r},
		{"scheme", "//" + r},
		{"scheme", "https:" + r},
		{"scheme", "https:/" + r},
		{"scheme", "https:///" + r},
		{"scheme", "javascript:alert(1)//" + r},
		{"scheme", "data:text/plain," + r},
		{"port", r + ":80"},
		{"port", r + ":8443"},
		{"port", r + ":0"},
		{"port", r + ":0443"},
		{"port", r + ":65536"},
		{"port", r + ":-1"},
		{"port", r + ":"},
		{"port", r + ":443:443"},
		{"port", r + ":https"},
		{"port", "https://" + r + ":5000/v2/"},
		{"backslash", `https://evil.com\@` + r},
		{"backslash", `https://` + r + `\@evil.com`},
		{"backslash", `https://evil.com\` + r},
		{"backslash", `\\` + r},
		{"percent", n + "%2eazurecr.io"},
		{"percent", strings.ReplaceAll(r, ".", "%2E")},
		{"percent", r + "%2F@evil.com"},
		{"percent", "https://evil.com%40" + r},
		{"percent", "https://" + r + "%00.evil.com"},
		{"percent", "https://%65%32%65.azurecr.io"},
		{"percent", "https://" + r + "/%2e%2e/evil"},
		{"percent", "https://" + r + "%23@evil.com"},
		{"unicode", strings.Replace(r, "io", "іo", 1)},    // Cyrillic і
		{"unicode", strings.Replace(r, "e", "е", 1)},      // Cyrillic е
		{"unicode", strings.ReplaceAll(r, ".", "。")},      // ideographic full stop
		{"unicode", strings.ReplaceAll(r, ".", "．")},      // fullwidth full stop
		{"unicode", strings.ReplaceAll(r, ".", "｡")},      // halfwidth ideographic full stop
		{"unicode", "ｅ２ｅ.azurecr.io"},                     // fullwidth letters
		{"unicode", r + "\u200b"},                         // zero-width space
		{"unicode", "\u202e" + r},                         // right-to-left override
		{"unicode", strings.Replace(r, ".", "\u2024", 1)}, // one dot leader
		{"unicode", "xn--e2e-rna.azurecr.io"},
		{"unicode", "xn--" + n + ".azurecr.io"},
		{"unicode", r + "\u00a0.evil.com"},
		{"space", n + " .azurecr.io"},
		{"space", "https://" + r + " @evil.com"},
		{"space", r + "\t.evil.com"},
		{"space", r + "\n.evil.com"},
		{"space", r + "\r\nHost: evil.com"},
		{"space", r + "\x0b"},
		{"control", r + "\x01"},
		{"control", "\x1b[2J" + r},
		{"control", r + "\x7f"},
		{"control", strings.Replace(r, ".", "\x08.", 1)},
		{"data", n + ".eastus.data.azurecr.io"},
		{"data", n + ".westeurope.data.azurecr.cn"},
		{"data", "https://" + n + "-abc123.eastus.data.azurecr.io/v2/"},
		{"deep", "a." + r},
		{"deep", "evil." + n + ".eastus.geo.azurecr.io"},
		{"deep", n + ".eastus.geo.extra.azurecr.io"},
		{"deep", n + ".geo.azurecr.io"},
		{"deep", n + ".eastus.notgeo.azurecr.io"},
		{"deep", n + "..azurecr.io"},
		{"deep", r + ".."},
		{"ip", "127.0.0.1"},
		{"ip", "https://127.0.0.1/v2/"},
		{"ip", "169.254.169.254"},
		{"ip", "[::1]"},
		{"ip", "https://[::1]:443"},
		{"ip", "[::ffff:127.0.0.1]"},
		{"ip", "0x7f000001"},
		{"ip", "2130706433"},
		{"ip", "10.0.0.1.azurecr.io.evil.com"},
		{"long", strings.Repeat("a", 51) + ".azurecr.io"},
		{"long", strings.Repeat("a", 64) + ".azurecr.io"},
		{"long", strings.Repeat("a.", 130) + r},
		{"long", r + "." + strings.Repeat("x", 300) + ".com"},
		{"long", "https://" + r + "/" + strings.Repeat("v2/", 500)},
		{"long", strings.Repeat("a", 2000) + "." + r},
		{"long", strings.Repeat("a", 4000)},
		{"misc", "localhost"},
		{"misc", "index.docker.io"},
		{"misc", "https://index.docker.io/v1/"},
		{"misc", "ghcr.io"},
		{"misc", "mcr.microsoft.com"},
		{"misc", "login.microsoftonline.com"},
		{"misc", "management.azure.com"},
		{"misc", `"` + r + `"`},
		{"misc", "{\"ServerURL\":\"" + r + "\"}"},
		{"misc", "<" + r + ">"},
		{"misc", "*." + r},
		{"misc", "*.azurecr.io"},
		{"misc", r + "/*"},
		{"misc", "%"},
		{"misc", "::"},
		{"misc", "https://"},
	}
	out := make([]HostileURL, len(list))
	for i, l := range list {
		out[i] = HostileURL{Kind: l.kind, URL: l.url}
	}
	return out
}

func (g *hostileGen) pick() (string, func() string) {
	gens := []struct {
		kind string
		fn   func() string
	}{
		{"mutation", g.mutate},
		{"mutation", g.mutate},
		{"mutation", g.mutate},
		{"suffix", g.suffix},
		{"userinfo", g.userinfo},
		{"path", g.path},
		{"query", g.queryFragment},
		{"unicode", g.lookalike},
		{"port", g.port},
		{"scheme", g.scheme},
		{"control", g.control},
		{"percent", g.percent},
		{"data", g.dataEndpoint},
		{"deep", g.deep},
		{"ip", g.ip},
		{"long", g.long},
	}
	x := gens[g.r.IntN(len(gens))]
	return x.kind, x.fn
}

func (g *hostileGen) pickOf(xs ...string) string { return xs[g.r.IntN(len(xs))] }

func (g *hostileGen) word(min, max int) string {
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, min+g.r.IntN(max-min+1))
	for i := range b {
		b[i] = alpha[g.r.IntN(len(alpha))]
	}
	return string(b)
}

func (g *hostileGen) acrName() string {
	suffix := g.pickOf("azurecr.io", "azurecr.cn", "azurecr.us", "azurecr.de")
	switch g.r.IntN(4) {
	case 0:
		return g.real
	case 1:
		return g.word(1, 12) + "." + suffix
	case 2:
		return g.word(1, 8) + "-" + g.word(4, 10) + "." + suffix
	default:
		return g.word(1, 8) + "." + g.pickOf("eastus", "westeurope", "eastus2") + ".geo." + suffix
	}
}

func (g *hostileGen) maybeScheme(s string) string {
	if g.r.IntN(2) == 0 {
		return "https://" + s
	}
	return s
}

func (g *hostileGen) evil() string {
	return g.pickOf("evil.com", "attacker.example", g.word(3, 10)+".net", "azurecr.io.evil.com", "127.0.0.1", "x.y")
}

func (g *hostileGen) suffix() string {
	sep := g.pickOf(".", "-", "", "..", "_", "%2e", "。")
	return g.maybeScheme(g.acrName() + sep + g.evil())
}

func (g *hostileGen) userinfo() string {
	a, b := g.acrName(), g.evil()
	if g.r.IntN(2) == 0 {
		a, b = b, a
	}
	info := g.pickOf(a, a+":"+g.word(1, 8), ":"+a, a+":443")
	return g.maybeScheme(info + "@" + b + g.pickOf("", "/", "/v2/", ":443"))
}

func (g *hostileGen) path() string {
	a, b := g.acrName(), g.evil()
	switch g.r.IntN(4) {
	case 0:
		return g.maybeScheme(b + "/" + a)
	case 1:
		return g.maybeScheme(b + "/v2/" + a + "/")
	case 2:
		return g.maybeScheme(a + "/" + g.pickOf("v2/x", "v3", "token", "oauth2/exchange", "..", "v2/..", "v1/v2", "%2F", g.word(1, 10)))
	default:
		return g.maybeScheme(a + "/v2/" + g.word(1, 20))
	}
}

func (g *hostileGen) queryFragment() string {
	a, b := g.acrName(), g.evil()
	switch g.r.IntN(4) {
	case 0:
		return g.maybeScheme(b + g.pickOf("?", "#", "?x=", "#@", "?@") + a)
	case 1:
		return g.maybeScheme(a + g.pickOf("?", "#", "/?", "/#", "/v2/?", "/v2/#") + g.word(0, 8))
	case 2:
		return g.maybeScheme(a + "?host=" + b)
	default:
		return g.maybeScheme(a + "#" + b)
	}
}

// lookalikes maps ASCII letters to characters that render alike.
var lookalikes = map[byte][]string{
	'a': {"а", "ɑ", "ａ"}, 'e': {"е", "ҽ", "ｅ"}, 'i': {"і", "ı", "ｉ"}, 'o': {"о", "ο", "ｏ", "0"},
	'c': {"с", "ϲ", "ｃ"}, 'r': {"г", "ｒ"}, 'u': {"υ", "ս", "ｕ"}, 'z': {"ż", "ｚ"},
	'.': {"。", "．", "｡", "\u2024", "\u3002"}, '2': {"２", "ƻ"},
}

func (g *hostileGen) lookalike() string {
	a := g.acrName()
	var idx []int
	for i := 0; i < len(a); i++ {
		if _, ok := lookalikes[a[i]]; ok {
			idx = append(idx, i)
		}
	}
	i := idx[g.r.IntN(len(idx))]
	subs := lookalikes[a[i]]
	return g.maybeScheme(a[:i] + subs[g.r.IntN(len(subs))] + a[i+1:])
}

func (g *hostileGen) port() string {
	p := g.pickOf("80", "8080", "5000", "444", "4430", "0", "00443", "99999", "-443", "443a", "+443", " 443", "", "443/")
	return g.maybeScheme(g.acrName() + ":" + p + g.pickOf("", "/", "/v2/"))
}

func (g *hostileGen) scheme() string {
	s := g.pickOf("http://", "HTTP://", "hTtP://", "ftp://", "file://", "ssh://", "git+https://", "https+unix://",
		"unix://", "oci://", "docker://", "https:", "https:/", "https:\\\\", "//", "http:/", "https//")
	return s + g.acrName() + g.pickOf("", "/", "/v2/", ":443")
}

func (g *hostileGen) control() string {
	a := []byte(g.acrName())
	c := g.pickOf("\x01", "\x07", "\x08", "\t", "\n", "\r", "\x0b", "\x0c", "\x1b", "\x7f", " ", "\u0085", "\u00a0",
		"\u2028", "\ufeff", "\u200b", "\u200d")
	i := 1 + g.r.IntN(len(a)-1) // inside, not at either end (white space there is trimmed)
	return g.maybeScheme(string(a[:i]) + c + string(a[i:]))
}

func (g *hostileGen) percent() string {
	a := g.acrName()
	i := g.r.IntN(len(a))
	enc := fmt.Sprintf(g.pickOf("%%%02X", "%%%02x", "%%25%02X", "%%u00%02X"), a[i])
	return g.maybeScheme(a[:i] + enc + a[i+1:])
}

func (g *hostileGen) dataEndpoint() string {
	suffix := g.pickOf("azurecr.io", "azurecr.cn", "azurecr.us", "azurecr.de")
	name := g.pickOf(g.name, g.word(1, 12), g.word(1, 8)+"-"+g.word(4, 10))
	return g.maybeScheme(name + "." + g.pickOf("eastus", "westeurope", "eastus2", "chinanorth") + ".data." + suffix + g.pickOf("", "/", "/v2/"))
}

func (g *hostileGen) deep() string {
	a := g.acrName()
	switch g.r.IntN(4) {
	case 0:
		return g.maybeScheme(g.word(1, 6) + "." + a)
	case 1:
		return g.maybeScheme(strings.Repeat(g.word(1, 3)+".", 1+g.r.IntN(20)) + a)
	case 2:
		name, rest, _ := strings.Cut(a, ".")
		return g.maybeScheme(name + "." + g.word(1, 6) + "." + g.word(1, 6) + "." + rest)
	default:
		return g.maybeScheme(a + "." + g.pickOf("com", "net", "evil", "io", "azurecr.io", "local", "internal"))
	}
}

func (g *hostileGen) ip() string {
	ip := g.pickOf(
		fmt.Sprintf("%d.%d.%d.%d", g.r.IntN(256), g.r.IntN(256), g.r.IntN(256), g.r.IntN(256)),
		"127.0.0.1", "169.254.169.254", "0.0.0.0", "[::1]", "[fe80::1%25eth0]", "[::ffff:169.254.169.254]",
		"0177.0.0.1", "0x7f.0.0.1", "2852039166", "[0:0:0:0:0:0:0:1]", "127.1")
	return g.maybeScheme(ip + g.pickOf("", ":443", "/v2/", ":5000"))
}

func (g *hostileGen) long() string {
	switch g.r.IntN(4) {
	case 0:
		return g.maybeScheme(g.word(51, 300) + ".azurecr.io")
	case 1:
		return g.maybeScheme(strings.Repeat(g.word(1, 63)+".", 5+g.r.IntN(60)) + g.acrName())
	case 2:
		return g.maybeScheme(g.acrName() + "/" + strings.Repeat(g.word(1, 20)+"/", 10+g.r.IntN(200)))
	default:
		return g.maybeScheme(g.acrName() + "." + g.word(200, 3000))
	}
}

// mutate applies one to three random byte- or rune-level edits to a real
// ACR URL. Results that are still a legitimate ACR URL are dropped by keep.
func (g *hostileGen) mutate() string {
	s := g.maybeScheme(g.acrName()) + g.pickOf("", "", "/", "/v2/", ":443")
	const inserts = "./:@?#\\%-_~!$&'()*+,;=[]{}|^`\"<> \t0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	for k := 1 + g.r.IntN(3); k > 0; k-- {
		if s == "" {
			s = "x"
		}
		i := g.r.IntN(len(s))
		switch g.r.IntN(6) {
		case 0: // insert an ASCII character
			s = s[:i] + string(inserts[g.r.IntN(len(inserts))]) + s[i:]
		case 1: // delete a byte
			s = s[:i] + s[i+1:]
		case 2: // replace a byte with a punctuation character
			s = s[:i] + string(inserts[g.r.IntN(22)]) + s[i+1:]
		case 3: // duplicate a slice
			j := i + g.r.IntN(len(s)-i)
			s = s[:j] + s[i:j] + s[j:]
		case 4: // insert a non-ASCII rune
			s = s[:i] + g.pickOf("é", "ı", "ß", "\u0130", "\u212a", "\u00ad", "\ufffd", "😀", "ｅ", "。") + s[i:]
		default: // append a host
			s += g.pickOf(".", "@", "/", "#", "?", ":") + g.evil()
		}
		if !utf8.ValidString(s) {
			s = strings.ToValidUTF8(s, "?")
		}
	}
	return s
}
