package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestInstallScript runs install.sh from this checkout into a temporary
// prefix: it builds (or takes the release build), verifies that the binary
// runs, and configures Docker's credHelpers for the registry it is given.
func TestInstallScript(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	t.Parallel()
	home := t.TempDir()
	prefix := filepath.Join(home, "bin")
	cmd := exec.Command("sh", "../../install.sh", "--prefix", prefix, "MyReg.azurecr.io")
	cmd.Env = append(os.Environ(), "HOME="+home, "DOCKER_CONFIG="+filepath.Join(home, ".docker"),
		"PATH="+prefix+string(os.PathListSeparator)+os.Getenv("PATH"))
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "installed "+prefix)

	version, err := exec.Command(filepath.Join(prefix, "docker-credential-acr"), "version").Output()
	require.NoError(t, err)
	assert.True(t, strings.HasPrefix(string(version), "docker-credential-acr "), "%s", version)

	cfg, err := os.ReadFile(filepath.Join(home, ".docker", "config.json"))
	require.NoError(t, err)
	assert.Contains(t, string(cfg), `"myreg.azurecr.io": "acr"`)
}
