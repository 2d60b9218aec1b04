package scenarios

import (
	"fmt"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/require"
)

const (
	keychainChildVar = "ACR_E2E_KEYCHAIN_CHILD"
	keychainRefVar   = "ACR_E2E_KEYCHAIN_REF"
)

// keychainChild is a go-containerregistry program as a Go tool embedding
// the library would be: authn.DefaultKeychain (DOCKER_CONFIG ->
// credHelpers -> docker-credential-acr on PATH) and the default transport
// (HTTPS_PROXY, SSL_CERT_FILE), all from its process environment. It runs
// in a child process of the test binary so that the test's own environment
// stays untouched and the test can be parallel.
func keychainChild(mode, ref string) int {
	if err := keychainClient(mode, ref); err != nil {
		fmt.Fprintln(os.Stderr, "keychain client:", err)
		return 1
	}
	return 0
}

func keychainClient(mode, ref string) error {
	r, err := name.ParseReference(ref)
	if err != nil {
		return err
	}
	auth, err := authn.DefaultKeychain.Resolve(r.Context())
	if err != nil {
		return err
	}
	if auth == authn.Anonymous {
		return fmt.Errorf("DefaultKeychain resolved %s to anonymous", r.Context().RegistryStr())
	}
	opt := remote.WithAuthFromKeychain(authn.DefaultKeychain)
	switch mode {
	case "push":
		img, err := random.Image(2048, 2)
		if err != nil {
			return err
		}
		if err := remote.Write(r, img, opt); err != nil {
			return err
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Println(d)
	case "pull":
		img, err := remote.Image(r, opt)
		if err != nil {
			return err
		}
		layers, err := img.Layers()
		if err != nil {
			return err
		}
		for _, l := range layers {
			rc, err := l.Compressed()
			if err != nil {
				return err
			}
			_, err = io.Copy(io.Discard, rc)
			rc.Close()
			if err != nil {
				return err
			}
		}
		d, err := img.Digest()
		if err != nil {
			return err
		}
		fmt.Println(d)
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	return nil
}

// TestGoContainerRegistryDefaultKeychain: go-containerregistry's library,
// in a Go program, pushes and pulls through authn.DefaultKeychain, which
// finds the helper through the Docker config's credHelpers.
func TestGoContainerRegistryDefaultKeychain(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulatorOptions())
	principal := newCI(emu)
	env := principal.machine(t)

	self, err := os.Executable()
	require.NoError(t, err)
	ref := registry + "/ggcr/app:1"
	run := func(mode string) string {
		t.Helper()
		env.Set(keychainChildVar, mode, keychainRefVar, ref)
		r := env.Run(t, "", self)
		require.Equal(t, 0, r.Code, "go-containerregistry %s:\n%s", mode, r)
		return strings.TrimSpace(r.Stdout)
	}
	pushed := run("push")
	require.Regexp(t, `^sha256:[0-9a-f]{64}$`, pushed)
	require.Equal(t, pushed, run("pull"))
	require.Equal(t, pushed, craneDigest(t, env, ref))
	require.GreaterOrEqual(t, env.Runs(t), 3, "helper invocations: at least one per process")

	requireCounts(t, emu, map[string]int{"aad.token": 1, "acr.exchange": 1})
	requireNothingRefused(t, emu)
	t.Logf("counters: %v", emu.Counts())
}
