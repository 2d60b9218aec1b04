package emulator

import (
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// IssueRefreshTokenAt signs an ACR refresh token for the principal objectID
// on registry host, as the exchange would, but with the given issue and
// expiry times instead of the emulator's clock. Tests use it to stand for a
// token service whose clock is skewed against the machine's (iat in the
// future or the past), and to plant cached tokens of a chosen age. The token
// is accepted by the registry's /oauth2/token while it is valid by the
// emulator's clock.
func (e *Emulator) IssueRefreshTokenAt(host, objectID string, issuedAt, expiresAt time.Time) (string, error) {
	e.mu.RLock()
	reg := e.registries[strings.ToLower(host)]
	e.mu.RUnlock()
	if reg == nil {
		return "", fmt.Errorf("emulator: unknown registry %q", host)
	}
	p, ok := e.directory.object(objectID)
	if !ok {
		return "", fmt.Errorf("emulator: unknown principal %q", objectID)
	}
	return e.signRefreshToken(reg, p, issuedAt, expiresAt)
}

// signRefreshToken signs an ACR refresh token for p on reg, shaped like the
// real token service's.
func (e *Emulator) signRefreshToken(reg *acrRegistry, p principal, issuedAt, expiresAt time.Time) (string, error) {
	return e.acrKey.sign(jwt.MapClaims{
		"jti":        uuid.NewString(),
		"sub":        p.objectID,
		"oid":        p.objectID,
		"nbf":        issuedAt.Add(-time.Minute).Unix(),
		"exp":        expiresAt.Unix(),
		"iat":        issuedAt.Unix(),
		"iss":        acrIssuer,
		"aud":        reg.Host,
		"version":    "1.0",
		"rid":        strings.ReplaceAll(uuid.NewString(), "-", ""),
		"grant_type": "refresh_token",
		"appid":      p.appID,
		"tenant":     p.tenant,
		"permissions": map[string]any{
			"actions": []string{"read", "write", "delete"}, "notActions": []string{},
		},
		"roles": []string{},
	})
}
