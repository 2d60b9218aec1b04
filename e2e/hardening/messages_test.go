package hardening

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
)

// failure is one of the main ways a get fails, and what its message must say.
type failure struct {
	name     string
	host     string
	prepare  func(w *world)
	status   string // "HTTP 401", or "" when no HTTP answer exists
	code     string // Azure's error code, or ""
	corr     bool   // a correlation id exists and must be repeated
	kind     string // identity kind in the message
	notFound bool   // answered "not found" (no identity): the reason is on stderr
}

func failures() []failure {
	return []failure{
		{name: "no identity", host: registry, notFound: true, prepare: func(w *world) {
			w.env.Set("AZURE_TENANT_ID", "", "AZURE_CLIENT_ID", "", "AZURE_CLIENT_SECRET", "")
		}},
		{name: "AAD refused (wrong secret)", host: registry, status: "HTTP 401", code: "invalid_client", corr: true,
			kind: "environment service principal", prepare: func(w *world) { w.env.Set("AZURE_CLIENT_SECRET", "wrong") }},
		{name: "AAD refused (unknown client)", host: registry, status: "HTTP 400", code: "unauthorized_client", corr: true,
			kind: "environment service principal", prepare: func(w *world) { w.env.Set("AZURE_CLIENT_ID", "no-such-app") }},
		{name: "exchange refused (other tenant)", host: "other.azurecr.io", status: "HTTP 401", code: "UNAUTHORIZED", corr: true,
			kind: "environment service principal", prepare: func(w *world) {
				require.NoError(w.t, w.emu.AddRegistry(emulator.Registry{Host: "other.azurecr.io", Tenant: tenantB}))
			}},
		{name: "registry unreachable", host: "gone.azurecr.io", kind: "environment service principal",
			prepare: func(w *world) { w.env.Set("DOCKER_CREDENTIAL_ACR_TIMEOUT", "5s") }},
		{name: "timeout (AAD)", host: registry, kind: "environment service principal", prepare: func(w *world) {
			w.env.Set("DOCKER_CREDENTIAL_ACR_TIMEOUT", "2s")
			w.emu.InjectFault("aad.token", emulator.Fault{Latency: time.Minute})
		}},
		{name: "timeout (exchange)", host: registry, kind: "environment service principal", prepare: func(w *world) {
			w.env.Set("DOCKER_CREDENTIAL_ACR_TIMEOUT", "2s")
			w.emu.InjectFault("acr.exchange", emulator.Fault{Latency: time.Minute})
		}},
	}
}

// advice recognises a message that tells the user what to do next.
var advice = regexp.MustCompile(`(?i)\b(set|check|run|log ?in|az login|grant|assign|increase|retry|see|visit|configure|DOCKER_CREDENTIAL_ACR_\w+|AZURE_\w+)\b`)

// TestFailureMessages: each main failure gives one clear line that names the
// registry and what Azure said (HTTP status, error code, correlation id when
// there is one). Whether it names the identity kind and says what to do is
// reported for each (the identity kind is asserted separately).
func TestFailureMessages(t *testing.T) {
	t.Parallel()
	for _, f := range failures() {
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.t = t
			f.prepare(w)
			r, took := run(t, w.env, f.host, "get")
			require.Equal(t, 1, r.Code, "%s", r)
			msg := strings.TrimSpace(r.Stdout)
			if f.notFound {
				require.Equal(t, notFound, msg)
				require.Len(t, lines(r.Stderr), 1, "one line of explanation on stderr: %q", r.Stderr)
				msg = strings.TrimSpace(r.Stderr)
			} else {
				require.Len(t, lines(r.Stdout), 1, "one line: %q", r.Stdout)
			}
			assert.Contains(t, msg, f.host, "the registry")
			if f.status != "" {
				assert.Contains(t, msg, f.status)
			}
			if f.code != "" {
				assert.Contains(t, msg, f.code)
			}
			if f.corr {
				assert.Regexp(t, uuidRE, msg, "the correlation id")
			}
			assert.NotContains(t, msg, "eyJ")
			assert.LessOrEqual(t, len(msg), 600, "one readable line")
			var short []string
			if f.kind != "" && !strings.Contains(msg, f.kind) {
				short = append(short, "no identity kind")
			}
			if !advice.MatchString(msg) {
				short = append(short, "no advice")
			}
			if strings.Count(msg, f.host) > 1 {
				short = append(short, "registry named twice")
			}
			figures.add(t, "took=%s shortfalls=%v: %s", took.Round(time.Millisecond), short, msg)
			// Every failure names the identity and says what to do. (The
			// registry may appear twice when the message quotes its URL.)
			assert.NotContains(t, short, "no identity kind", msg)
			assert.NotContains(t, short, "no advice", msg)
		})
	}
}

// TestExchangeErrorNamesIdentity: when the registry refuses the token
// exchange, the error names the registry once and the identity whose token
// was refused, as the README promises ("the registry, the identity, the
// HTTP status, Azure's error code and correlation id").
func TestExchangeErrorNamesIdentity(t *testing.T) {
	t.Parallel()
	for _, f := range failures() {
		if !strings.HasPrefix(f.name, "exchange") && f.name != "timeout (exchange)" && f.name != "registry unreachable" {
			continue
		}
		t.Run(f.name, func(t *testing.T) {
			t.Parallel()
			w := newWorld(t)
			w.t = t
			f.prepare(w)
			r, _ := run(t, w.env, f.host, "get")
			require.Equal(t, 1, r.Code, "%s", r)
			assert.Contains(t, r.Stdout, f.kind, "the identity kind")
			assert.Contains(t, r.Stdout, "ci-app", "the client ID")
		})
	}
}
