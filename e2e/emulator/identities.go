package emulator

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

func newID() string { return uuid.NewString() }

// AddTenant registers tenant in cloud c. Tenants named elsewhere (service
// principals, registries) are created implicitly, in the registry's cloud
// or else in AzurePublic; call AddTenant first to choose another cloud.
func (e *Emulator) AddTenant(tenant string, c Cloud) {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	d.tenants[strings.ToLower(tenant)] = c
}

// AddServicePrincipal registers the application clientID in tenant (if new)
// with client secret secret (unless empty, which keeps the current one) and
// returns the service principal's object ID.
func (e *Emulator) AddServicePrincipal(tenant, clientID, secret string) string {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.appLocked(tenant, clientID)
	if secret != "" {
		p.secret = secret
	}
	return p.objectID
}

// ObjectID returns the object ID of the service principal clientID in
// tenant, or "".
func (e *Emulator) ObjectID(tenant, clientID string) string {
	p, _ := e.directory.app(tenant, clientID)
	return p.objectID
}

// AddServicePrincipalCert registers a new certificate for the application
// clientID in tenant (created if new) and writes a PEM file with the
// certificate and its unencrypted private key, as
// AZURE_CLIENT_CERTIFICATE_PATH wants. It returns the file's path.
func (e *Emulator) AddServicePrincipalCert(tenant, clientID string) (string, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return "", fmt.Errorf("emulator: client certificate key: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: randomSerial(),
		Subject:      pkix.Name{CommonName: clientID},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(7 * 24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return "", fmt.Errorf("emulator: client certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return "", fmt.Errorf("emulator: client certificate: %w", err)
	}
	pemBytes := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("emulator: client certificate key: %w", err)
	}
	pemBytes = append(pemBytes, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER})...)
	path := filepath.Join(e.dir, fmt.Sprintf("client-cert-%s-%s.pem", clientID, cert.SerialNumber.Text(16)[:8]))
	if err := os.WriteFile(path, pemBytes, 0o600); err != nil {
		return "", fmt.Errorf("emulator: write client certificate: %w", err)
	}
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	p := d.appLocked(tenant, clientID)
	p.certs = append(p.certs, cert)
	return path, nil
}

// federatedSubject is the subject registered for clientID's workload
// identity, shaped like a Kubernetes service account.
func federatedSubject(clientID string) string {
	return "system:serviceaccount:e2e:" + clientID
}

// AddFederatedIdentity registers a federated credential (issuer: the
// emulator's OIDC issuer, audience api://AzureADTokenExchange) on the
// application clientID in tenant (created if new), writes a fresh assertion
// valid for an hour to a file and returns its path, for
// AZURE_FEDERATED_TOKEN_FILE.
func (e *Emulator) AddFederatedIdentity(tenant, clientID string) (string, error) {
	d := e.directory
	d.mu.Lock()
	p := d.appLocked(tenant, clientID)
	if p.federated == nil {
		p.federated = map[string]bool{}
	}
	p.federated[federatedSubject(clientID)] = true
	if p.tokenFile == "" {
		p.tokenFile = filepath.Join(e.dir, "federated-token-"+clientID)
	}
	path := p.tokenFile
	d.mu.Unlock()
	if err := e.WriteFederatedToken(tenant, clientID, time.Hour); err != nil {
		return "", err
	}
	return path, nil
}

// FederatedToken returns an assertion for clientID's federated credential,
// valid for ttl from now (already expired when ttl <= 0).
func (e *Emulator) FederatedToken(clientID string, ttl time.Duration) (string, error) {
	now := time.Now()
	exp := now.Add(ttl)
	iat := now
	if ttl <= 0 {
		iat = exp.Add(-time.Hour)
	}
	tok, err := e.oidcKey.sign(jwt.MapClaims{
		"iss": oidcIssuer,
		"sub": federatedSubject(clientID),
		"aud": []string{federatedAudience},
		"iat": iat.Unix(),
		"nbf": iat.Unix(),
		"exp": exp.Unix(),
		"jti": uuid.NewString(),
	})
	if err != nil {
		return "", fmt.Errorf("emulator: federated token: %w", err)
	}
	return tok, nil
}

// WriteFederatedToken rewrites the federated token file of clientID in
// tenant (see AddFederatedIdentity) with an assertion valid for ttl (already
// expired when ttl <= 0). The file is replaced atomically.
func (e *Emulator) WriteFederatedToken(tenant, clientID string, ttl time.Duration) error {
	p, ok := e.directory.app(tenant, clientID)
	if !ok || p.tokenFile == "" {
		return fmt.Errorf("emulator: no federated identity for %s in %s", clientID, tenant)
	}
	tok, err := e.FederatedToken(clientID, ttl)
	if err != nil {
		return err
	}
	tmp := p.tokenFile + ".tmp-" + uuid.NewString()
	if err := os.WriteFile(tmp, []byte(tok), 0o600); err != nil {
		return fmt.Errorf("emulator: write federated token: %w", err)
	}
	if err := os.Rename(tmp, p.tokenFile); err != nil {
		return fmt.Errorf("emulator: write federated token: %w", err)
	}
	return nil
}

// IssueAADToken signs an Azure AD access token for the principal objectID
// and resource (e.g. "https://containerregistry.azure.net"), valid for ttl
// (already expired when ttl <= 0), as the token endpoint would. For
// hand-made exchange requests in tests.
func (e *Emulator) IssueAADToken(objectID, resource string, ttl time.Duration) (string, error) {
	p, ok := e.directory.object(objectID)
	if !ok {
		return "", fmt.Errorf("emulator: no principal with object ID %q", objectID)
	}
	c, _ := e.directory.tenantCloud(p.tenant)
	now := time.Now()
	claims := jwt.MapClaims{
		"aud": canonicalAudience(resource), "iss": "https://" + string(c) + "/" + p.tenant + "/v2.0",
		"iat": now.Add(-time.Hour).Unix(), "nbf": now.Add(-time.Hour).Unix(), "exp": now.Add(ttl).Unix(),
		"tid": p.tenant, "oid": p.objectID, "sub": p.objectID, "appid": p.appID, "azp": p.appID, "ver": "2.0",
	}
	return e.aadKey.sign(claims)
}

// AssignRole gives the principal objectID role on registry host (NoRole
// removes the assignment).
func (e *Emulator) AssignRole(host, objectID string, role Role) {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	host = strings.ToLower(host)
	if d.roles[host] == nil {
		d.roles[host] = map[string]Role{}
	}
	if role == NoRole {
		delete(d.roles[host], strings.ToLower(objectID))
		return
	}
	d.roles[host][strings.ToLower(objectID)] = role
}
