package acr_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/google/go-containerregistry/pkg/registry"
)

// fakeACR stands in, on loopback, for an ACR login server: its token
// service (/oauth2/exchange, /oauth2/token) in front of go-containerregistry's
// in-memory registry, which takes only the access tokens it issued. It is
// served over TLS as fakeRegistry (a real ACR host name, so no configuration
// declares it), and its clients dial the listener whatever host they ask for.
type fakeACR struct {
	srv  *httptest.Server
	cert *x509.Certificate

	// Lifetime is the life of the refresh tokens the exchange issues.
	Lifetime  atomic.Int64 // seconds
	exchanges atomic.Int32
	aad       atomic.Int32 // calls of the fake Azure AD credential
	delay     time.Duration

	mu            sync.Mutex
	refreshTokens map[string]bool
	accessTokens  map[string]bool
}

const (
	fakeRegistry = "myregistry.azurecr.io"
	fakeTenant   = "72f988bf-0000-0000-0000-0000000000aa"
)

func startFakeACR() *fakeACR {
	f := &fakeACR{refreshTokens: map[string]bool{}, accessTokens: map[string]bool{}}
	f.Lifetime.Store(3 * 3600)
	cert, leaf := selfSigned(fakeRegistry)
	f.cert = leaf
	f.srv = httptest.NewUnstartedServer(f.handler(registry.New(registry.Logger(discardLog()))))
	f.srv.TLS = &tls.Config{Certificates: []tls.Certificate{cert}}
	f.srv.StartTLS()
	return f
}

func (f *fakeACR) Close() { f.srv.Close() }

// Exchanges counts /oauth2/exchange calls.
func (f *fakeACR) Exchanges() int { return int(f.exchanges.Load()) }

// AADCalls counts GetToken calls of Credential.
func (f *fakeACR) AADCalls() int { return int(f.aad.Load()) }

// Transport trusts only the fake's certificate and dials the fake whatever
// the address: it never leaves loopback.
func (f *fakeACR) Transport() *http.Transport {
	roots := x509.NewCertPool()
	roots.AddCert(f.cert)
	addr := f.srv.Listener.Addr().String()
	var d net.Dialer
	return &http.Transport{
		TLSClientConfig: &tls.Config{RootCAs: roots},
		DialContext: func(ctx context.Context, network, _ string) (net.Conn, error) {
			return d.DialContext(ctx, network, addr)
		},
		Proxy: nil,
	}
}

// Client is an http.Client using Transport.
func (f *fakeACR) Client() *http.Client {
	return &http.Client{Transport: f.Transport(), Timeout: 10 * time.Second}
}

// Credential is an Azure AD credential that hands out fake access tokens.
func (f *fakeACR) Credential() azcore.TokenCredential { return fakeCredential{f} }

type fakeCredential struct{ f *fakeACR }

func (c fakeCredential) GetToken(_ context.Context, o policy.TokenRequestOptions) (azcore.AccessToken, error) {
	c.f.aad.Add(1)
	exp := time.Now().Add(time.Hour)
	return azcore.AccessToken{ExpiresOn: exp, Token: jwt(map[string]any{
		"tid": fakeTenant, "aud": strings.TrimSuffix(o.Scopes[0], "/.default"), "exp": exp.Unix()})}, nil
}

// failingCredential is an identity Azure AD refuses.
type failingCredential struct{ calls *atomic.Int32 }

func (c failingCredential) GetToken(context.Context, policy.TokenRequestOptions) (azcore.AccessToken, error) {
	if c.calls != nil {
		c.calls.Add(1)
	}
	return azcore.AccessToken{}, errors.New("AADSTS7000215: invalid client secret provided")
}

func (f *fakeACR) handler(reg http.Handler) http.Handler {
	challenge := fmt.Sprintf(`Bearer realm="https://%s/oauth2/token",service="%s"`, fakeRegistry, fakeRegistry)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/oauth2/exchange":
			f.exchange(w, r)
		case "/oauth2/token":
			f.token(w, r)
		default:
			tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
			f.mu.Lock()
			valid := ok && f.accessTokens[tok]
			f.mu.Unlock()
			if !valid {
				w.Header().Set("WWW-Authenticate", challenge)
				http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}`, http.StatusUnauthorized)
				return
			}
			reg.ServeHTTP(w, r)
		}
	})
}

func (f *fakeACR) exchange(w http.ResponseWriter, r *http.Request) {
	n := f.exchanges.Add(1)
	time.Sleep(f.delay)
	if r.Method != http.MethodPost || r.ParseForm() != nil || r.PostForm.Get("grant_type") != "access_token" ||
		r.PostForm.Get("service") != fakeRegistry || r.PostForm.Get("tenant") != fakeTenant ||
		r.PostForm.Get("access_token") == "" {
		http.Error(w, `{"errors":[{"code":"BAD_REQUEST","message":"bad exchange"}]}`, http.StatusBadRequest)
		return
	}
	now := time.Now()
	rt := jwt(map[string]any{"iat": now.Unix(), "exp": now.Unix() + f.Lifetime.Load(), "n": n})
	f.mu.Lock()
	f.refreshTokens[rt] = true
	f.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]string{"refresh_token": rt})
}

// token trades a refresh token (basic auth with the GUID user name, or the
// OAuth refresh_token grant) for an access token.
func (f *fakeACR) token(w http.ResponseWriter, r *http.Request) {
	var rt string
	if user, pass, ok := r.BasicAuth(); ok && user == "00000000-0000-0000-0000-000000000000" {
		rt = pass
	} else if r.Method == http.MethodPost && r.ParseForm() == nil && r.PostForm.Get("grant_type") == "refresh_token" {
		rt = r.PostForm.Get("refresh_token")
	}
	f.mu.Lock()
	ok := f.refreshTokens[rt]
	at := fmt.Sprintf("access-%d", len(f.accessTokens))
	if ok {
		f.accessTokens[at] = true
	}
	f.mu.Unlock()
	if !ok {
		http.Error(w, `{"errors":[{"code":"UNAUTHORIZED","message":"bad refresh token"}]}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(map[string]any{"access_token": at, "token": at, "expires_in": 300})
}

func jwt(claims map[string]any) string {
	b, _ := json.Marshal(claims)
	enc := base64.RawURLEncoding.EncodeToString
	return enc([]byte(`{"alg":"RS256","typ":"JWT"}`)) + "." + enc(b) + ".c2ln"
}

// selfSigned makes a certificate for host.
func selfSigned(host string) (tls.Certificate, *x509.Certificate) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: host},
		DNSNames:     []string{host},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, leaf
}

func discardLog() *log.Logger { return log.New(io.Discard, "", 0) }
