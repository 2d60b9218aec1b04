package emulator

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/sirupsen/logrus"
	"golang.org/x/sync/errgroup"
)

// Options configure an Emulator.
type Options struct {
	// Dir receives the CA file, certificate and token files and the fake az.
	// If empty, a temporary directory is created and removed by Close.
	Dir string
	// Registries are the ACR login servers to serve. More can be added with
	// AddRegistry.
	Registries []Registry
	// PublicHosts are non-ACR registry hosts served by a registry without
	// any authentication.
	PublicHosts []string
	// FakeAzBinary is a prebuilt fake-az (cmd/fake-az). If empty, AzBinDir
	// builds one with the Go toolchain on first use.
	FakeAzBinary string
	// Verbose keeps the registry's logs (on stderr) and logs each request
	// and proxy decision through Logf.
	Verbose bool
	// Logf receives verbose logs; nil means log.Printf-like output on stderr.
	Logf func(format string, args ...any)
}

// Registry describes one ACR login server.
type Registry struct {
	// Host is the login server, e.g. "e2e.azurecr.io".
	Host string
	// Tenant is the registry's Azure AD tenant ID.
	Tenant string
	// RejectARMAudience makes the exchange refuse AAD tokens whose audience
	// is Azure Resource Manager (the registry's "azureADAuthenticationAsArmPolicy"
	// disabled).
	RejectARMAudience bool
	// RejectACRAudience makes the exchange refuse tokens for the ACR
	// audience, to test a fallback to ARM.
	RejectACRAudience bool
}

// lifetimes of issued tokens.
type lifetimes struct {
	aad, refresh, access time.Duration
}

// Emulator is a running Azure AD + ACR emulator. Its methods are safe for
// concurrent use.
type Emulator struct {
	opts   Options
	dir    string
	ownDir bool

	ca      *certAuthority
	aadKey  *signer // Azure AD access tokens
	acrKey  *signer // ACR refresh and access tokens
	oidcKey *signer // workload identity federation issuer

	stats     *stats
	directory *directory

	mu         sync.RWMutex
	registries map[string]*acrRegistry
	public     map[string]*registryServer
	life       lifetimes

	identityHeader string
	caFile         string
	acrCertFile    string
	emptyCertDir   string

	tlsLn, proxyLn, localLn    net.Listener
	tlsSrv, proxySrv, localSrv *http.Server
	tunnels                    *tunnelSet

	azOnce sync.Once
	azDir  string
	azErr  error
}

// Start starts an emulator on loopback.
func Start(opts Options) (_ *Emulator, err error) {
	e := &Emulator{
		opts:           opts,
		stats:          newStats(),
		directory:      newDirectory(),
		registries:     map[string]*acrRegistry{},
		public:         map[string]*registryServer{},
		life:           lifetimes{aad: time.Hour, refresh: 3 * time.Hour, access: time.Hour},
		identityHeader: uuid.NewString(),
		tunnels:        newTunnelSet(),
	}
	if !opts.Verbose {
		// The registry logs through logrus' standard logger.
		logrus.SetOutput(io.Discard)
	}
	defer func() {
		if err != nil {
			e.Close()
		}
	}()
	if err := e.initDir(); err != nil {
		return nil, err
	}
	if err := e.initKeys(); err != nil {
		return nil, err
	}
	if err := e.listen(); err != nil {
		return nil, err
	}
	for _, r := range opts.Registries {
		if err := e.AddRegistry(r); err != nil {
			return nil, err
		}
	}
	for _, h := range opts.PublicHosts {
		if err := e.AddPublicRegistry(h); err != nil {
			return nil, err
		}
	}
	return e, nil
}

func (e *Emulator) initDir() error {
	e.dir = e.opts.Dir
	if e.dir == "" {
		d, err := os.MkdirTemp("", "acr-emulator-")
		if err != nil {
			return fmt.Errorf("emulator: create dir: %w", err)
		}
		e.dir, e.ownDir = d, true
	}
	e.emptyCertDir = filepath.Join(e.dir, "no-system-certs")
	if err := os.MkdirAll(e.emptyCertDir, 0o700); err != nil {
		return fmt.Errorf("emulator: create dir: %w", err)
	}
	return nil
}

func (e *Emulator) initKeys() error {
	var g errgroup.Group
	g.Go(func() (err error) { e.ca, err = newCertAuthority(); return err })
	g.Go(func() (err error) { e.aadKey, err = newSigner("acr-emulator Azure AD"); return err })
	g.Go(func() (err error) { e.acrKey, err = newSigner("acr-emulator ACR token service"); return err })
	g.Go(func() (err error) { e.oidcKey, err = newSigner("acr-emulator OIDC issuer"); return err })
	if err := g.Wait(); err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.caFile = filepath.Join(e.dir, "ca.pem")
	if err := os.WriteFile(e.caFile, e.ca.certPEM, 0o644); err != nil {
		return fmt.Errorf("emulator: write CA file: %w", err)
	}
	e.acrCertFile = filepath.Join(e.dir, "acr-token-signing.pem")
	if err := os.WriteFile(e.acrCertFile, e.acrKey.certPEM, 0o644); err != nil {
		return fmt.Errorf("emulator: write token signing certificate: %w", err)
	}
	return nil
}

func (e *Emulator) listen() error {
	var err error
	if e.tlsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fmt.Errorf("emulator: listen TLS: %w", err)
	}
	if e.proxyLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fmt.Errorf("emulator: listen proxy: %w", err)
	}
	if e.localLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		return fmt.Errorf("emulator: listen local: %w", err)
	}
	e.tlsSrv = &http.Server{
		Handler:           http.HandlerFunc(e.serveTLSHost),
		TLSConfig:         &tls.Config{GetCertificate: e.getCertificate, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		ErrorLog:          e.serverLog(),
	}
	e.proxySrv = &http.Server{Handler: http.HandlerFunc(e.serveProxy), ReadHeaderTimeout: 30 * time.Second, ErrorLog: e.serverLog()}
	e.localSrv = &http.Server{Handler: e.localMux(), ReadHeaderTimeout: 30 * time.Second, ErrorLog: e.serverLog()}
	go func() { _ = e.tlsSrv.ServeTLS(e.tlsLn, "", "") }()
	go func() { _ = e.proxySrv.Serve(e.proxyLn) }()
	go func() { _ = e.localSrv.Serve(e.localLn) }()
	return nil
}

// Close stops all listeners, open tunnels and registries, and removes Dir if
// the emulator created it.
func (e *Emulator) Close() error {
	var errs []error
	for _, s := range []*http.Server{e.proxySrv, e.tlsSrv, e.localSrv} {
		if s != nil {
			errs = append(errs, s.Close())
		}
	}
	e.tunnels.closeAll()
	e.mu.Lock()
	for _, r := range e.registries {
		errs = append(errs, r.server.close())
	}
	for _, r := range e.public {
		errs = append(errs, r.close())
	}
	e.mu.Unlock()
	if e.ownDir {
		errs = append(errs, os.RemoveAll(e.dir))
	}
	return errors.Join(errs...)
}

// getCertificate serves a leaf certificate for every host the emulator knows.
func (e *Emulator) getCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	host := strings.ToLower(hello.ServerName)
	if !e.knownHost(host) {
		return nil, fmt.Errorf("emulator: no certificate for %q", hello.ServerName)
	}
	return e.ca.leaf(host)
}

// knownHost reports whether the emulator serves host (no port).
func (e *Emulator) knownHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if _, ok := authorityAliases[host]; ok {
		return true
	}
	e.mu.RLock()
	defer e.mu.RUnlock()
	_, reg := e.registries[host]
	_, pub := e.public[host]
	return reg || pub
}

// serveTLSHost dispatches a request on the TLS listener by its Host.
func (e *Emulator) serveTLSHost(w http.ResponseWriter, r *http.Request) {
	host := hostOnly(r.Host)
	e.logf("%s %s %s", r.Method, host, r.URL.Path)
	if c, ok := authorityAliases[host]; ok {
		e.serveAAD(w, r, host, c)
		return
	}
	e.mu.RLock()
	reg := e.registries[host]
	pub := e.public[host]
	e.mu.RUnlock()
	switch {
	case reg != nil:
		e.serveACR(w, r, reg)
	case pub != nil:
		e.stats.hit(counterRegistry, counterRegistry+"@"+host)
		pub.ServeHTTP(w, r)
	default:
		http.Error(w, "unknown host", http.StatusMisdirectedRequest)
	}
}

// hostOnly strips the port and trailing dot from a Host header, lower-cased.
func hostOnly(hostport string) string {
	h := hostport
	if host, _, err := net.SplitHostPort(hostport); err == nil {
		h = host
	}
	return strings.TrimSuffix(strings.ToLower(h), ".")
}

func (e *Emulator) logf(format string, args ...any) {
	if !e.opts.Verbose {
		return
	}
	if e.opts.Logf != nil {
		e.opts.Logf(format, args...)
		return
	}
	fmt.Fprintf(os.Stderr, "acr-emulator: "+format+"\n", args...)
}

// Env returns the environment a child process needs to reach the emulator
// through its proxy and trust only its CA. Append it after os.Environ()
// (later entries win in os/exec). NO_PROXY lists loopback only, so every
// Azure and registry host goes through the proxy while the managed identity
// and control endpoints do not (Go never proxies loopback anyway; curl
// would). CURL_CA_BUNDLE is for curl in shell scripts, which ignores
// SSL_CERT_FILE.
func (e *Emulator) Env() []string {
	p := e.ProxyURL()
	const loopback = "127.0.0.1,localhost,::1"
	return []string{
		"HTTPS_PROXY=" + p, "https_proxy=" + p,
		"HTTP_PROXY=" + p, "http_proxy=" + p,
		"NO_PROXY=" + loopback, "no_proxy=" + loopback,
		"SSL_CERT_FILE=" + e.caFile,
		"SSL_CERT_DIR=" + e.emptyCertDir,
		"CURL_CA_BUNDLE=" + e.caFile,
	}
}

// CAFile is the PEM file of the emulator's CA, for SSL_CERT_FILE.
func (e *Emulator) CAFile() string { return e.caFile }

// CAPEM returns the CA certificate in PEM form.
func (e *Emulator) CAPEM() []byte { return append([]byte(nil), e.ca.certPEM...) }

// ProxyURL is the URL of the CONNECT proxy, for HTTPS_PROXY.
func (e *Emulator) ProxyURL() string { return "http://" + e.proxyLn.Addr().String() }

// ControlURL is the base URL of the plain-HTTP loopback listener that serves
// the managed identity endpoint, the fake az and /_emulator/counts.
func (e *Emulator) ControlURL() string { return "http://" + e.localLn.Addr().String() }

// Dir is the emulator's directory.
func (e *Emulator) Dir() string { return e.dir }

// Transport returns an http.Transport for in-process clients: it goes
// through the proxy and trusts only the emulator's CA.
func (e *Emulator) Transport() *http.Transport {
	u, _ := url.Parse(e.ProxyURL())
	return &http.Transport{
		// Like http.ProxyFromEnvironment: loopback is never proxied.
		Proxy: func(r *http.Request) (*url.URL, error) {
			if ip := net.ParseIP(r.URL.Hostname()); (ip != nil && ip.IsLoopback()) || r.URL.Hostname() == "localhost" {
				return nil, nil
			}
			return u, nil
		},
		TLSClientConfig:     &tls.Config{RootCAs: e.ca.pool(), MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     30 * time.Second,
	}
}

// HTTPClient returns a client using Transport.
func (e *Emulator) HTTPClient() *http.Client {
	return &http.Client{Transport: e.Transport(), Timeout: 60 * time.Second}
}

// SetLifetimes sets the lifetime of tokens issued from now on: Azure AD
// access tokens, ACR refresh tokens and ACR access tokens. A zero value
// leaves that lifetime unchanged.
func (e *Emulator) SetLifetimes(aad, refresh, access time.Duration) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if aad > 0 {
		e.life.aad = aad
	}
	if refresh > 0 {
		e.life.refresh = refresh
	}
	if access > 0 {
		e.life.access = access
	}
}

func (e *Emulator) lifetimes() lifetimes {
	e.mu.RLock()
	defer e.mu.RUnlock()
	return e.life
}

// Count returns the number of requests counted under name, e.g. "aad.token",
// "aad.token@login.microsoftonline.com", "acr.exchange@e2e.azurecr.io".
func (e *Emulator) Count(name string) int { return e.stats.count(name) }

// Counts returns a copy of all counters.
func (e *Emulator) Counts() map[string]int { return e.stats.snapshot() }

// ResetCounts zeroes every counter and forgets refused proxy targets.
func (e *Emulator) ResetCounts() { e.stats.reset() }

// RefusedHosts lists the proxy targets refused since the last reset, as
// "host:port" for CONNECT and "http://host" for plain HTTP proxying.
func (e *Emulator) RefusedHosts() []string { return e.stats.refusedHosts() }

// InjectFault makes requests counted under name misbehave; it replaces any
// fault for the same name.
func (e *Emulator) InjectFault(name string, f Fault) { e.stats.inject(name, f) }

// ClearFaults removes every injected fault.
func (e *Emulator) ClearFaults() { e.stats.clearFaults() }

func (e *Emulator) serverLog() *log.Logger {
	if e.opts.Verbose {
		return nil
	}
	return log.New(io.Discard, "", 0)
}
