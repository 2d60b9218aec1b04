package scenarios

import (
	"os"
	"testing"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

func TestMain(m *testing.M) {
	code := m.Run()
	harness.Cleanup()
	os.Exit(code)
}
