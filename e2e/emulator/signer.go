package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"time"

	"github.com/distribution/distribution/v3/registry/auth/token"
	"github.com/golang-jwt/jwt/v5"
)

// signer is an RS256 JWT signing key with a self-signed certificate. The
// emulator has three: Azure AD tokens, ACR tokens (refresh and access; the
// registry trusts its certificate), and the workload identity OIDC issuer.
type signer struct {
	key     *rsa.PrivateKey
	kid     string
	cert    *x509.Certificate
	certPEM []byte
}

func newSigner(name string) (*signer, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("signer %s: generate key: %w", name, err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          randomSerial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("signer %s: create certificate: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("signer %s: parse certificate: %w", name, err)
	}
	return &signer{
		key: key,
		// The distribution registry looks keys of its root certificate bundle
		// up by this thumbprint when a token carries a "kid" but no "x5c".
		kid:     token.GetJWKThumbprint(&key.PublicKey),
		cert:    cert,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// sign returns a compact RS256 JWT carrying claims.
func (s *signer) sign(claims jwt.MapClaims) (string, error) {
	t := jwt.NewWithClaims(jwt.SigningMethodRS256, claims)
	t.Header["kid"] = s.kid
	out, err := t.SignedString(s.key)
	if err != nil {
		return "", fmt.Errorf("sign token: %w", err)
	}
	return out, nil
}

// verify checks the signature, algorithm and time claims of raw and returns
// its claims. An expired token yields an error wrapping jwt.ErrTokenExpired.
func (s *signer) verify(raw string) (jwt.MapClaims, error) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(raw, claims, func(t *jwt.Token) (any, error) {
		if kid, _ := t.Header["kid"].(string); kid != s.kid {
			return nil, fmt.Errorf("unknown signing key %q", kid)
		}
		return &s.key.PublicKey, nil
	}, jwt.WithValidMethods([]string{"RS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second))
	if err != nil {
		return nil, err
	}
	return claims, nil
}

// peekClaims decodes the claims of raw without verifying anything.
func peekClaims(raw string) (jwt.MapClaims, *jwt.Token, error) {
	claims := jwt.MapClaims{}
	t, _, err := jwt.NewParser().ParseUnverified(raw, claims)
	if err != nil {
		return nil, nil, fmt.Errorf("malformed JWT: %w", err)
	}
	return claims, t, nil
}

// claimString returns the string claim name, or "".
func claimString(c jwt.MapClaims, name string) string {
	s, _ := c[name].(string)
	return s
}

// audiences returns the "aud" claim as a list.
func audiences(c jwt.MapClaims) []string {
	aud, err := c.GetAudience()
	if err != nil {
		return nil
	}
	return aud
}

var errNoKey = errors.New("no registered key matches")

// jwk returns the public key as a JSON Web Key.
func (s *signer) jwk() map[string]any {
	pub := s.key.PublicKey
	return map[string]any{
		"kty": "RSA",
		"use": "sig",
		"kid": s.kid,
		"n":   base64.RawURLEncoding.EncodeToString(pub.N.Bytes()),
		"e":   base64.RawURLEncoding.EncodeToString(big.NewInt(int64(pub.E)).Bytes()),
		"x5c": []string{base64.StdEncoding.EncodeToString(s.cert.Raw)},
	}
}
