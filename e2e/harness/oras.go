package harness

import (
	"path/filepath"
	"testing"
)

// OrasBinary builds the ORAS CLI (oras.land/oras) once per test process.
//
// It is pinned by the `tool oras.land/oras/cmd/oras` directive of e2e/go.mod
// (`go get -tool oras.land/oras/cmd/oras@VERSION`), so go.sum holds its
// checksums and it builds from the Go module proxy like crane does. Adding
// it to this module upgraded none of the module's existing requirements
// (only new ones were added); it did raise the module's go directive to the
// go version that oras's go.mod declares.
func OrasBinary(tb testing.TB) string {
	return build(tb, "oras", filepath.Join(RepoRoot(), "e2e"), "oras.land/oras/cmd/oras")
}

// Oras runs the ORAS CLI in e. Like crane and skopeo it finds the helper
// through the credHelpers of $DOCKER_CONFIG/config.json (oras-go's Docker
// credential store), and reaches `<name>.azurecr.io` over real TLS through
// the emulator's proxy (HTTPS_PROXY) trusting only its CA (SSL_CERT_FILE,
// SSL_CERT_DIR): no --insecure, no --plain-http.
func (e *Env) Oras(tb testing.TB, args ...string) Result {
	tb.Helper()
	return e.Run(tb, "", OrasBinary(tb), args...)
}
