package token

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestRedact(t *testing.T) {
	t.Parallel()
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJleHAiOjF9.c2ln"
	tests := []struct{ in, want string }{
		{"plain words stay", "plain words stay"},
		{"token " + jwt + " end", "token [redacted] end"},
		{`"refresh_token":"` + jwt + `"`, "[redacted]"},
		{"ERROR: x refresh_token=0.AAAAsecretValue123 password=hunter2", "ERROR: x refresh_token=[redacted] password=[redacted]"},
		{"AZURE_CLIENT_SECRET=s3cr3t client_secret:abc Password:x", "AZURE_CLIENT_SECRET=[redacted] client_secret:[redacted] Password:[redacted]"},
		{"sig=abc&se=2026 apikey=k", "sig=[redacted] apikey=[redacted]"},
		{"realm=\"https://r.azurecr.io/oauth2/token\" at 2026-11-27T10:00:00Z", "realm=\"https://r.azurecr.io/oauth2/token\" at 2026-11-27T10:00:00Z"},
		{"Azure AD token for az: not logged in", "Azure AD token for az: not logged in"},
		{"multi\nline\ttext", "multi line text"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, Redact(tc.in), tc.in)
	}
}

func TestRedactRemembered(t *testing.T) { // not parallel: Remember is process-wide
	Remember("short")
	Remember("opaque-secret-value-123")
	assert.Equal(t, "echo: [redacted]. short stays", Redact("echo: opaque-secret-value-123. short stays"))
}

// TestRememberIsBounded: a long-lived process remembers the most recent
// secrets, not every token it ever fetched.
func TestRememberIsBounded(t *testing.T) { // not parallel: Remember is process-wide
	for i := range 3 * maxKnownSecrets {
		Remember(fmt.Sprintf("bounded-secret-%04d", i))
	}
	known.Lock()
	n := len(known.secrets)
	known.Unlock()
	assert.LessOrEqual(t, n, maxKnownSecrets)
	last := fmt.Sprintf("bounded-secret-%04d", 3*maxKnownSecrets-1)
	assert.Equal(t, "x [redacted] y", Redact("x "+last+" y"))
}
