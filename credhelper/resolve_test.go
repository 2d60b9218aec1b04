package credhelper

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// TestIMDSProbedOnlyWhenNeeded checks that the managed-identity probe (a
// TCP connect to IMDS, replaced here by a counting hook) runs only when
// nothing before it in the chain is usable, and never on the warm path.
func TestIMDSProbedOnlyWhenNeeded(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name      string
		env       map[string]string
		probe     bool
		wantProbe int32
		wantKinds []token.Kind
	}{
		{"environment credentials", map[string]string{"AZURE_TENANT_ID": "t", "AZURE_CLIENT_ID": "c", "AZURE_CLIENT_SECRET": "s"},
			true, 0, []token.Kind{token.KindEnvironment, token.KindManagedIdentity}},
		{"nothing configured", nil, true, 1, nil},
		{"warm path never probes", nil, false, 0, []token.Kind{token.KindManagedIdentity}},
		{"App Service endpoint", map[string]string{"IDENTITY_ENDPOINT": "http://127.0.0.1:1/msi", "IDENTITY_HEADER": "h"},
			true, 0, []token.Kind{token.KindManagedIdentity}},
		{"managed identity never", map[string]string{EnvManagedIdentity: "never"}, true, 0, nil},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := map[string]string{"HOME": t.TempDir(), "PATH": t.TempDir(), EnvCacheDir: t.TempDir()}
			for k, v := range tc.env {
				env[k] = v
			}
			var probes atomic.Int32
			h := New(Options{Getenv: func(k string) string { return env[k] },
				ProbeIMDS: func(context.Context) bool { probes.Add(1); return false }})
			tgt, err := h.Target("myreg.azurecr.io")
			require.NoError(t, err)
			ids, _ := h.identities(context.Background(), tgt, tc.probe)
			var kinds []token.Kind
			for _, id := range ids {
				kinds = append(kinds, id.Kind)
			}
			assert.Equal(t, tc.wantKinds, kinds)
			assert.Equal(t, tc.wantProbe, probes.Load())
		})
	}
}
