package scenarios

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

// recordingTB is a testing.TB whose Errorf is recorded instead of failing.
type recordingTB struct {
	testing.TB
	mu     sync.Mutex
	errors []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recordingTB) Helper() {}

// TestLeakCheckCatchesLeaks shows that the check every scenario runs at its
// end (harness.AssertNoSecrets) does find a planted secret or a JWT in the
// helper's stderr, log or stdout, and accepts a token only as the Secret of
// a credentials answer.
func TestLeakCheckCatchesLeaks(t *testing.T) {
	t.Parallel()
	emu := startEmulator(t, emulatorOptions())
	const secret = "sp-secret-PLANTED-leakcheck"
	const jwt = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln"
	for _, tc := range []struct {
		name, file, content string
		leaks               bool
	}{
		{"token in answer", "1.out", `{"ServerURL":"e2e.azurecr.io","Username":"00000000-0000-0000-0000-000000000000","Secret":"` + jwt + `"}`, false},
		{"password in answer", "1.out", `{"ServerURL":"e2e.azurecr.io","Username":"e2e","Secret":"` + secret + `"}`, false},
		{"secret on stderr", "1.err", "error: bad client secret " + secret, true},
		{"token on stderr", "1.err", "exchange failed for " + jwt, true},
		{"token in log", "helper.log", `{"msg":"token","value":"` + jwt + `"}`, true},
		{"token in another stdout field", "1.out", `{"ServerURL":"e2e.azurecr.io","Username":"` + jwt + `","Secret":"x"}`, true},
		{"token in list", "1.out", `{"e2e.azurecr.io":"` + jwt + `"}`, true},
		{"clean stderr", "1.err", notFound, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			env := harness.New(t, emu, registry)
			require.NoError(t, os.WriteFile(filepath.Join(env.LogDir, tc.file), []byte(tc.content), 0o600))
			rec := &recordingTB{TB: t}
			harness.AssertNoSecrets(rec, env, secret)
			if tc.leaks {
				require.NotEmpty(t, rec.errors, "the leak was not reported")
			} else {
				require.Empty(t, rec.errors)
			}
		})
	}
}
