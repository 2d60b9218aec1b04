package scenarios

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// TestOrasPushPullThroughHelper: the ORAS CLI (oras-go's Docker credential
// store) finds the helper through the credHelpers of ~/.docker/config.json
// and pushes, pulls and fetches the manifest of a file artifact over real
// TLS to the registry host through the emulator's proxy. The three oras
// runs cost one Azure AD token and one exchange between them: the helper's
// cache serves the rest.
func TestOrasPushPullThroughHelper(t *testing.T) {
	t.Parallel()
	harness.OrasBinary(t) // build first, so that a build failure reads as one
	emu := startEmulator(t, emulatorOptions())
	principal := newCI(emu)
	env := principal.machine(t)

	ref := registry + "/oras/artifact:1"
	const artifactType = "application/vnd.docker-credential-acr.e2e.v1"

	// oras push stores a file under its relative path (absolute paths need
	// --disable-path-validation): write it in the machine's HOME, where
	// commands run.
	content := make([]byte, 2048)
	_, _ = rand.Read(content)
	content = append([]byte("oras e2e artifact\n"), hex.AppendEncode(nil, content)...)
	require.NoError(t, os.WriteFile(filepath.Join(env.Dir, "payload.txt"), content, 0o600))

	r := env.Oras(t, "push", "--format", "json", "--artifact-type", artifactType, ref, "payload.txt:text/plain")
	require.Equal(t, 0, r.Code, "oras push:\n%s", r)
	var pushed struct {
		Digest       string `json:"digest"`
		ArtifactType string `json:"artifactType"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &pushed), "oras push output:\n%s", r)
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, pushed.Digest)
	require.Equal(t, artifactType, pushed.ArtifactType)
	afterPush := env.Runs(t)
	require.Positive(t, afterPush, "oras push did not run the helper")

	out := t.TempDir()
	r = env.Oras(t, "pull", "-o", out, ref)
	require.Equal(t, 0, r.Code, "oras pull:\n%s", r)
	got, err := os.ReadFile(filepath.Join(out, "payload.txt"))
	require.NoError(t, err, "oras pull wrote no payload.txt:\n%s", r)
	require.Equal(t, content, got, "pulled content differs from pushed content")

	r = env.Oras(t, "manifest", "fetch", ref)
	require.Equal(t, 0, r.Code, "oras manifest fetch:\n%s", r)
	sum := sha256.Sum256([]byte(r.Stdout))
	require.Equal(t, pushed.Digest, "sha256:"+hex.EncodeToString(sum[:]), "fetched manifest does not hash to the pushed digest")
	var manifest struct {
		ArtifactType string `json:"artifactType"`
		Layers       []struct {
			MediaType   string            `json:"mediaType"`
			Digest      string            `json:"digest"`
			Size        int               `json:"size"`
			Annotations map[string]string `json:"annotations"`
		} `json:"layers"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.Stdout), &manifest), r.Stdout)
	require.Equal(t, artifactType, manifest.ArtifactType)
	require.Len(t, manifest.Layers, 1)
	layerSum := sha256.Sum256(content)
	require.Equal(t, "sha256:"+hex.EncodeToString(layerSum[:]), manifest.Layers[0].Digest)
	require.Equal(t, len(content), manifest.Layers[0].Size)
	require.Equal(t, "text/plain", manifest.Layers[0].MediaType)
	require.Equal(t, "payload.txt", manifest.Layers[0].Annotations["org.opencontainers.image.title"])

	// Each later oras run asked the helper again; the registry saw the
	// content crane would: the digest oras pushed is the one crane reads.
	require.Greater(t, env.Runs(t), afterPush, "oras pull / manifest fetch did not run the helper")
	require.Equal(t, pushed.Digest, craneDigest(t, env, ref))

	requireCounts(t, emu, map[string]int{"aad.token": 1, "acr.exchange": 1})
	requireNothingRefused(t, emu)
	t.Logf("helper runs: %d; counters: %v", env.Runs(t), emu.Counts())
}
