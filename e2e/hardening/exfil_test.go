package hardening

import (
	"encoding/json"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// leakCounters are the emulator counters that any token request, or any
// attempt to reach a host, would move.
var leakCounters = []string{"aad.token", "aad.metadata", "aad.discovery", "msi", "az",
	"acr.exchange", "acr.token", "registry", "proxy.connect", "proxy.refused"}

func leaked(emu *emulator.Emulator) map[string]int {
	out := map[string]int{}
	for _, c := range leakCounters {
		if n := emu.Count(c); n != 0 {
			out[c] = n
		}
	}
	return out
}

// TestHostileURLsGetNoToken runs the real binary's `get` on generated hostile
// server URLs with a working environment service principal (so a host that
// were wrongly recognised would get a token) and checks that every one is
// answered "not found" without a single request leaving the machine.
func TestHostileURLsGetNoToken(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	n := pick(500, 10000)
	urls := harness.HostileURLs(20240601, n, registry)
	require.Len(t, urls, n, "the generator should reach the requested count")
	kinds := map[string]int{}
	for _, u := range urls {
		kinds[u.Kind]++
	}

	environ := withEnv(w.env.Environ(), "DOCKER_CREDENTIAL_ACR_LOG_LEVEL", "warn", "DOCKER_CREDENTIAL_ACR_LOG_FILE", "")
	bin := harness.HelperBinary(t)
	type bad struct {
		u harness.HostileURL
		r harness.Result
	}
	var (
		mu     sync.Mutex
		bads   []bad
		stderr atomic.Int64
		next   atomic.Int64
		wg     sync.WaitGroup
	)
	start := time.Now()
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= len(urls) {
					return
				}
				r, _ := runWith(t, environ, w.env.Dir, urls[i].URL, bin, "get")
				if r.Stderr != "" {
					stderr.Add(1)
				}
				if r.Code != 1 || r.Stdout != notFound+"\n" {
					mu.Lock()
					bads = append(bads, bad{urls[i], r})
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	took := time.Since(start)

	leaks := leaked(w.emu)
	figures.add(t, "hostile URLs tried=%d leaked requests=%d wrong answers=%d with stderr=%d took=%s (%.1f ms/URL, 4 at a time)",
		len(urls), sum(leaks), len(bads), stderr.Load(), took.Round(time.Millisecond), float64(took.Microseconds())/1000/float64(len(urls)))
	t.Logf("URL kinds: %v", kinds)
	for i, b := range bads {
		if i == 20 {
			t.Logf("... and %d more", len(bads)-20)
			break
		}
		t.Errorf("%s %q: %s", b.u.Kind, b.u.URL, b.r)
	}
	assert.Empty(t, leaks, "requests left the machine; refused hosts: %v", w.emu.RefusedHosts())
	assert.Empty(t, w.emu.RefusedHosts())
	_, err := os.Stat(w.env.Cache)
	assert.True(t, os.IsNotExist(err), "a hostile URL made the helper create its cache directory")

	// The control: the same environment does fetch a token for the real host.
	r, _ := run(t, w.env, registry, "get")
	require.Equal(t, 0, r.Code, "%s", r)
	assert.Equal(t, 1, w.emu.Count("acr.exchange"), "the environment must be able to get a token, or the run above proves nothing")
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

// TestHostileStdin feeds input that is not a server URL at all: it is
// refused with exit 1, one line on stdout that does not quote the input, and
// nothing sent anywhere.
func TestHostileStdin(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	cases := []struct {
		name, in string
	}{
		{"empty", ""},
		{"blank", " \t\r\n "},
		{"NUL", registry + "\x00.evil.com"},
		{"invalid UTF-8", registry + "\xff\xfe"},
		{"two lines", registry + "\nevil.com"},
		{"huge", strings.Repeat("a", 1<<20+10) + "." + registry},
		{"JSON", `{"ServerURL":"` + registry + `"}`},
	}
	for _, c := range cases {
		for _, action := range []string{"get", "erase"} {
			r, _ := run(t, w.env, c.in, action)
			assert.Equal(t, 1, r.Code, "%s %s: %s", action, c.name, r)
			assert.Len(t, lines(r.Stdout), 1, "%s %s: %s", action, c.name, r)
			assert.NotContains(t, r.Stdout+r.Stderr, "evil", "%s %s: the input is quoted", action, c.name)
			t.Logf("%-6s %-14s -> %q", action, c.name, strings.TrimSpace(r.Stdout))
		}
	}
	assert.Empty(t, leaked(w.emu))
}

// TestCustomHostPlainHTTPRefused: a customHost declared as http:// is an error
// of the configuration loader that names the file; nothing is sent in the
// clear, and no plain-HTTP request reaches the proxy.
func TestCustomHostPlainHTTPRefused(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	require.NoError(t, w.emu.AddRegistry(emulator.Registry{Host: "custom.example.test", Tenant: tenantA}))
	w.emu.AssignRole("custom.example.test", w.oid, emulator.Contributor)
	w.env.WriteConfig(t, `{"registries": {"http://custom.example.test": {"customHost": true, "identity": "environment"}}}`)

	for _, in := range []string{"http://custom.example.test", "custom.example.test", "https://custom.example.test", registry} {
		r, _ := run(t, w.env, in, "get")
		t.Logf("get %-30s -> %s", in, strings.TrimSpace(r.Stdout))
		assert.Equal(t, 1, r.Code, "%s: %s", in, r)
		assert.NotContains(t, r.Stdout, "eyJ")
		if in == registry {
			// An ACR host cannot be answered while the configuration is broken: the error says why.
			assert.Contains(t, r.Stdout, w.env.Config, "the error should name the configuration file")
			assert.Contains(t, r.Stdout, "https", "the error should say only https is supported")
		}
	}
	r, _ := run(t, w.env, `{"ServerURL":"http://custom.example.test","Username":"u","Secret":"plain-http-secret"}`, "store")
	assert.Equal(t, 1, r.Code, "%s", r)
	assert.Zero(t, w.emu.Count("aad.token"))
	assert.Zero(t, w.emu.Count("acr.exchange"))
	for _, h := range w.emu.RefusedHosts() {
		assert.False(t, strings.HasPrefix(h, "http://"), "plain HTTP proxy request to %s", h)
	}
	assert.Empty(t, w.emu.RefusedHosts())
}

// TestCustomHostHTTPSOnly: a customHost declared as https:// gets its token,
// over HTTPS (CONNECT to :443) only; the proxy saw no plain-HTTP request.
func TestCustomHostHTTPSOnly(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	const host = "custom.example.test"
	require.NoError(t, w.emu.AddRegistry(emulator.Registry{Host: host, Tenant: tenantA}))
	w.emu.AssignRole(host, w.oid, emulator.Contributor)
	w.env.WriteConfig(t, `{"registries": {"https://custom.example.test": {"customHost": true, "identity": "environment"}}}`)
	for _, in := range []string{host, "https://" + host, "https://" + host + "/v2/"} {
		r, _ := run(t, w.env, in, "get")
		require.Equal(t, 0, r.Code, "%s: %s", in, r)
		var c struct{ ServerURL, Username, Secret string }
		require.NoError(t, json.Unmarshal([]byte(r.Stdout), &c))
		assert.Equal(t, guidUser, c.Username)
		assert.True(t, strings.HasPrefix(c.Secret, "eyJ"))
	}
	r, _ := run(t, w.env, "http://"+host, "get")
	assert.Equal(t, 1, r.Code)
	assert.Equal(t, notFound+"\n", r.Stdout)

	assert.Equal(t, 1, w.emu.Count("acr.exchange@"+host), "one exchange, then the cache")
	assert.Positive(t, w.emu.Count("proxy.connect@"+host), "the exchange went through a CONNECT tunnel (TLS)")
	assert.Empty(t, w.emu.RefusedHosts(), "no plain-HTTP or unknown-host proxy request")
	figures.add(t, "customHost https: exchanges=%d CONNECTs=%d refused=%v", w.emu.Count("acr.exchange@"+host),
		w.emu.Count("proxy.connect@"+host), w.emu.RefusedHosts())
}
