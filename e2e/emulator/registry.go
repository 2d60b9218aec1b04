package emulator

import (
	"context"
	"fmt"
	"net/http"

	"github.com/distribution/distribution/v3/configuration"
	"github.com/distribution/distribution/v3/registry/handlers"

	// Registrations: the token access controller and the in-memory driver.
	_ "github.com/distribution/distribution/v3/registry/auth/token"
	_ "github.com/distribution/distribution/v3/registry/storage/driver/inmemory"
)

// acrIssuer is the "iss" of ACR refresh and access tokens.
const acrIssuer = "Azure Container Registry"

// registryServer is an in-process CNCF distribution registry with in-memory
// storage.
type registryServer struct {
	app    *handlers.App
	cancel context.CancelFunc
}

// newRegistryServer starts a registry for host. With tokenCertFile set, the
// registry requires bearer tokens issued by the emulator's ACR token service
// (realm https://<host>/oauth2/token, service <host>) and signed by the key
// whose certificate is in tokenCertFile; otherwise it allows anonymous access.
func newRegistryServer(host, tokenCertFile string) (rs *registryServer, err error) {
	cfg := &configuration.Configuration{}
	cfg.Storage = configuration.Storage{
		"inmemory":    configuration.Parameters{},
		"delete":      configuration.Parameters{"enabled": true},
		"redirect":    configuration.Parameters{"disable": true},
		"maintenance": configuration.Parameters{"uploadpurging": map[any]any{"enabled": false}},
	}
	cfg.HTTP.Secret = "acr-emulator-" + host
	cfg.Log.AccessLog.Disabled = true
	cfg.Log.Level = "error"
	if tokenCertFile != "" {
		cfg.Auth = configuration.Auth{"token": configuration.Parameters{
			"realm":             "https://" + host + "/oauth2/token",
			"service":           host,
			"issuer":            acrIssuer,
			"rootcertbundle":    tokenCertFile,
			"signingalgorithms": []any{"RS256"},
		}}
	}
	// NewApp panics on configuration errors; turn that into an error.
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("registry %s: %v", host, p)
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	app := handlers.NewApp(ctx, cfg)
	return &registryServer{app: app, cancel: cancel}, nil
}

func (r *registryServer) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	r.app.ServeHTTP(w, req)
}

func (r *registryServer) close() error {
	defer r.cancel()
	if err := r.app.Shutdown(); err != nil {
		return fmt.Errorf("registry shutdown: %w", err)
	}
	return nil
}

// statusRecorder remembers the status code a handler wrote.
type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the underlying writer.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }
