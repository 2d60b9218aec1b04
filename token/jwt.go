package token

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"time"
)

// Claims are the few JWT claims the helper reads. The signature is not
// verified: the helper only learns expiry and tenant from tokens it was just
// handed over TLS, and never trusts them for anything else.
type Claims struct {
	Expiry   time.Time
	IssuedAt time.Time
	TenantID string
	ObjectID string
}

type rawClaims struct {
	Exp json.Number `json:"exp"`
	Iat json.Number `json:"iat"`
	Tid string      `json:"tid"`
	Oid string      `json:"oid"`
}

var errNotJWT = errors.New("token is not a JWT")

// ParseClaims decodes the payload of a JWT.
func ParseClaims(jwt string) (Claims, error) {
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 || len(parts[1]) > 64<<10 {
		return Claims{}, errNotJWT
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, errNotJWT
	}
	var rc rawClaims
	if err := json.Unmarshal(b, &rc); err != nil {
		return Claims{}, errNotJWT
	}
	c := Claims{TenantID: rc.Tid, ObjectID: rc.Oid}
	if c.Expiry, err = unixTime(rc.Exp); err != nil {
		return Claims{}, errNotJWT
	}
	if c.IssuedAt, err = unixTime(rc.Iat); err != nil {
		return Claims{}, errNotJWT
	}
	return c, nil
}

func unixTime(n json.Number) (time.Time, error) {
	if n == "" {
		return time.Time{}, nil
	}
	f, err := n.Float64()
	if err != nil || f < 0 || f > 1e11 {
		return time.Time{}, errNotJWT
	}
	return time.Unix(int64(f), 0).UTC(), nil
}
