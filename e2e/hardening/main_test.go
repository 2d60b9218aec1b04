// Package hardening holds the end-to-end hardening tests of
// docker-credential-acr: hostile server URLs, secret hygiene, cache file
// safety, crash safety and Azure faults, all through the real binary against
// the emulator. Without -hardening.long every test runs in a short form so
// that `go test ./...` stays fast; `make hardening` passes the flag for the
// full figures.
package hardening

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
	"github.com/docker-credential-acr/docker-credential-acr/e2e/harness"
)

var long = flag.Bool("hardening.long", false, "run the hardening tests with their full figures (10,000 hostile URLs, 1,000 crash operations)")

// pick returns the long-mode figure with -hardening.long, else the short one.
func pick(short, full int) int {
	if *long {
		return full
	}
	return short
}

const (
	tenantA  = "11111111-1111-1111-1111-111111111111"
	tenantB  = "22222222-2222-2222-2222-222222222222"
	registry = "e2e.azurecr.io"

	notFound = "credentials not found in native keychain"
	guidUser = "00000000-0000-0000-0000-000000000000"
)

func TestMain(m *testing.M) {
	flag.Parse()
	// Most of these tests wait on deadlines, retries and Retry-After, not on
	// the CPU: unless -test.parallel was given, run more of them at once than
	// there are CPUs. Nothing here asserts a duration.
	explicit := false
	flag.Visit(func(f *flag.Flag) { explicit = explicit || f.Name == "test.parallel" })
	if !explicit {
		_ = flag.Set("test.parallel", "6")
	}
	code := m.Run()
	figures.print()
	harness.Cleanup()
	os.Exit(code)
}

// figures collects the numbers each test reports, printed at the end of the
// run as one table (and logged by each test as it goes).
var figures = &figureTable{}

type figureTable struct {
	mu   sync.Mutex
	rows []string
}

func (f *figureTable) add(t testing.TB, format string, args ...any) {
	t.Helper()
	line := fmt.Sprintf("%-44s %s", t.Name(), fmt.Sprintf(format, args...))
	t.Log("FIGURE " + line)
	f.mu.Lock()
	defer f.mu.Unlock()
	f.rows = append(f.rows, line)
}

func (f *figureTable) print() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.rows) == 0 {
		return
	}
	sort.Strings(f.rows)
	mode := "short"
	if *long {
		mode = "long"
	}
	fmt.Printf("\nhardening figures (%s mode):\n", mode)
	for _, r := range f.rows {
		fmt.Println("  " + r)
	}
}

// world is an emulator with registries and an environment service
// principal that has a role on all of them, and a harness environment that
// uses it.
type world struct {
	emu    *emulator.Emulator
	env    *harness.Env
	oid    string // object ID of the environment service principal
	secret string // its client secret
	t      *testing.T
}

// newWorld starts an emulator serving hosts (registry if none) in tenantA
// and a machine whose environment service principal may pull and push.
func newWorld(t *testing.T, hosts ...string) *world {
	t.Helper()
	if len(hosts) == 0 {
		hosts = []string{registry}
	}
	var regs []emulator.Registry
	for _, h := range hosts {
		regs = append(regs, emulator.Registry{Host: h, Tenant: tenantA})
	}
	emu, err := emulator.Start(emulator.Options{Registries: regs})
	require.NoError(t, err)
	t.Cleanup(func() { emu.Close() })
	w := &world{emu: emu, t: t, secret: "env-sp-SECRET-" + strings.ReplaceAll(t.Name(), "/", "-") + "-q7Zp"}
	w.oid = emu.AddServicePrincipal(tenantA, "ci-app", w.secret)
	for _, h := range hosts {
		emu.AssignRole(h, w.oid, emulator.Contributor)
	}
	w.env = harness.New(t, emu, hosts...)
	w.env.Set("AZURE_TENANT_ID", tenantA, "AZURE_CLIENT_ID", "ci-app", "AZURE_CLIENT_SECRET", w.secret)
	return w
}

// run runs the real helper binary (not the recording wrapper) with stdin.
func run(t testing.TB, env *harness.Env, stdin string, args ...string) (harness.Result, time.Duration) {
	t.Helper()
	return runWith(t, env.Environ(), env.Dir, stdin, harness.HelperBinary(t), args...)
}

func runWith(t testing.TB, environ []string, dir, stdin, prog string, args ...string) (harness.Result, time.Duration) {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Env = environ
	cmd.Dir = dir
	cmd.Stdin = strings.NewReader(stdin)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	r := harness.Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		t.Fatalf("running %s: %v", prog, err)
	}
	return r, took
}

// withEnv returns environ with k=v appended (later entries win in os/exec).
func withEnv(environ []string, kv ...string) []string {
	out := append([]string(nil), environ...)
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, kv[i]+"="+kv[i+1])
	}
	return out
}

// lines splits output into its non-empty lines.
func lines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.TrimSpace(l) != "" {
			out = append(out, l)
		}
	}
	return out
}
