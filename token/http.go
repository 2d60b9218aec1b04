package token

import (
	"crypto/tls"
	"net"
	"net/http"
	"sync"
	"time"
)

var (
	httpOnce   sync.Once
	httpClient *http.Client
)

// defaultHTTPClient is built on first use, not at start-up: a warm `get`
// never needs it.
func defaultHTTPClient() *http.Client {
	httpOnce.Do(func() { httpClient = NewHTTPClient() })
	return httpClient
}

// NewHTTPClient returns the client the helper talks to registries with:
// HTTPS_PROXY honoured, TLS 1.2 or later, bounded dial, handshake and header
// waits, and no redirects (a redirect could carry a token elsewhere).
func NewHTTPClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			TLSClientConfig:       &tls.Config{MinVersion: tls.VersionTLS12},
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: 20 * time.Second,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          4,
			IdleConnTimeout:       30 * time.Second,
		},
		// A redirect is answered as it is (an error status to its caller),
		// not followed and not mistaken for a network failure to retry.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}
