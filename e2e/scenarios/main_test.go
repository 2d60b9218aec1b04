package scenarios

import (
	"os"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

func TestMain(m *testing.M) {
	// The test binary doubles as a go-containerregistry client: see
	// keychain_test.go.
	if mode := os.Getenv(keychainChildVar); mode != "" {
		os.Exit(keychainChild(mode, os.Getenv(keychainRefVar)))
	}
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}
