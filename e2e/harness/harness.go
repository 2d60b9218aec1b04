// Package harness runs the real docker-credential-acr binary and real
// registry clients against the emulator: it builds the binaries once, lays
// out a throw-away HOME with a Docker config whose credHelpers name the
// helper, and records every byte the helper writes so that tests can check
// that no secret leaked.
package harness

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
)

// RepoRoot is the root of the docker-credential-acr repository.
func RepoRoot() string {
	_, file, _, _ := runtime.Caller(0)
	return filepath.Dir(filepath.Dir(filepath.Dir(file)))
}

var (
	buildDir  string
	buildOnce sync.Once
	buildErr  error
	builds    sync.Map // name -> *buildResult
)

type buildResult struct {
	once sync.Once
	path string
	err  error
}

// binDir is a directory shared by the builds of one test process.
func binDir() (string, error) {
	buildOnce.Do(func() { buildDir, buildErr = os.MkdirTemp("", "acr-e2e-bin") })
	return buildDir, buildErr
}

// build compiles a Go package once per test process. dir is where `go
// build` runs (the module the package belongs to).
func build(tb testing.TB, name, dir, pkg string) string {
	tb.Helper()
	v, _ := builds.LoadOrStore(name, &buildResult{})
	b := v.(*buildResult)
	b.once.Do(func() {
		bd, err := binDir()
		if err != nil {
			b.err = err
			return
		}
		b.path = filepath.Join(bd, name)
		cmd := exec.Command("go", "build", "-trimpath", "-o", b.path, pkg)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			b.err = fmt.Errorf("go build %s: %v\n%s", pkg, err, out)
		}
	})
	if b.err != nil {
		tb.Fatal(b.err)
	}
	return b.path
}

// HelperBinary builds bin/docker-credential-acr from this checkout (or uses
// $ACR_HELPER_BINARY) and returns its path.
func HelperBinary(tb testing.TB) string {
	if p := os.Getenv("ACR_HELPER_BINARY"); p != "" {
		return p
	}
	return build(tb, "docker-credential-acr", RepoRoot(), "./cmd/docker-credential-acr")
}

// CraneBinary builds crane from the go-containerregistry module.
func CraneBinary(tb testing.TB) string {
	return build(tb, "crane", filepath.Join(RepoRoot(), "e2e"), "github.com/google/go-containerregistry/cmd/crane")
}

// Cleanup removes the built binaries; call it from TestMain after m.Run.
func Cleanup() {
	if buildDir != "" {
		os.RemoveAll(buildDir)
	}
}

// Env is one client machine: a HOME, a Docker config naming the helper in
// credHelpers, the helper's own config and cache, and the emulator's proxy
// and CA.
type Env struct {
	Emu *emulator.Emulator
	// Dir is the HOME of the machine.
	Dir string
	// BinDir is first on PATH; it holds docker-credential-acr (a recording
	// wrapper around the real binary).
	BinDir string
	// DockerConfig is the directory of config.json (DOCKER_CONFIG).
	DockerConfig string
	// Config is the helper's configuration file (may not exist).
	Config string
	// Cache is the helper's cache directory.
	Cache string
	// LogDir receives a copy of everything the helper wrote, per run.
	LogDir string

	mu   sync.Mutex
	vars map[string]string
	path []string
}

var envSeq atomic.Int64

// New lays out a machine whose Docker config sends the given registries to
// the helper.
func New(tb testing.TB, emu *emulator.Emulator, registries ...string) *Env {
	tb.Helper()
	dir := tb.TempDir()
	e := &Env{Emu: emu, Dir: dir, BinDir: filepath.Join(dir, "bin"),
		DockerConfig: filepath.Join(dir, ".docker"),
		Config:       filepath.Join(dir, "acr-config.json"),
		Cache:        filepath.Join(dir, ".cache", "docker-credential-acr"),
		LogDir:       filepath.Join(dir, "helper-logs"),
		vars:         map[string]string{}}
	for _, d := range []string{e.BinDir, e.DockerConfig, e.LogDir} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			tb.Fatal(err)
		}
	}
	e.writeWrapper(tb, HelperBinary(tb))
	e.WriteDockerConfig(tb, registries...)
	return e
}

// writeWrapper installs docker-credential-acr on PATH as a script that runs
// the real binary and keeps a copy of its stdout and stderr.
func (e *Env) writeWrapper(tb testing.TB, real string) {
	script := fmt.Sprintf(`#!/bin/sh
n="$(date +%%s%%N)-$$"
%q "$@" >"%s/$n.out" 2>"%s/$n.err"
rc=$?
cat "%s/$n.out"
cat "%s/$n.err" >&2
exit $rc
`, real, e.LogDir, e.LogDir, e.LogDir, e.LogDir)
	if err := os.WriteFile(filepath.Join(e.BinDir, "docker-credential-acr"), []byte(script), 0o755); err != nil {
		tb.Fatal(err)
	}
}

// WriteDockerConfig writes DOCKER_CONFIG/config.json with credHelpers for
// the registries.
func (e *Env) WriteDockerConfig(tb testing.TB, registries ...string) {
	helpers := make([]string, len(registries))
	for i, r := range registries {
		helpers[i] = fmt.Sprintf("%q: \"acr\"", r)
	}
	cfg := fmt.Sprintf("{\"credHelpers\": {%s}}\n", strings.Join(helpers, ", "))
	if err := os.WriteFile(filepath.Join(e.DockerConfig, "config.json"), []byte(cfg), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// WriteConfig writes the helper's configuration file.
func (e *Env) WriteConfig(tb testing.TB, json string) {
	if err := os.WriteFile(e.Config, []byte(json), 0o600); err != nil {
		tb.Fatal(err)
	}
}

// Set sets an environment variable for every command run in e.
func (e *Env) Set(kv ...string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := 0; i+1 < len(kv); i += 2 {
		e.vars[kv[i]] = kv[i+1]
	}
}

// SetAll sets "K=V" pairs, as emulator.ManagedIdentityEnv returns them.
func (e *Env) SetAll(kvs []string) {
	for _, kv := range kvs {
		k, v, _ := strings.Cut(kv, "=")
		e.Set(k, v)
	}
}

// PrependPath puts a directory on PATH after BinDir.
func (e *Env) PrependPath(dir string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.path = append(e.path, dir)
}

// Environ is the full environment of commands run in e. Nothing of the
// test process's own environment leaks in but the Go toolchain's.
func (e *Env) Environ() []string {
	e.mu.Lock()
	defer e.mu.Unlock()
	path := append([]string{e.BinDir}, e.path...)
	path = append(path, "/usr/local/bin", "/usr/bin", "/bin")
	env := []string{
		"HOME=" + e.Dir,
		"PATH=" + strings.Join(path, string(os.PathListSeparator)),
		"DOCKER_CONFIG=" + e.DockerConfig,
		"DOCKER_CREDENTIAL_ACR_CONFIG=" + e.Config,
		"DOCKER_CREDENTIAL_ACR_CACHE_DIR=" + e.Cache,
		"DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY=never",
		"DOCKER_CREDENTIAL_ACR_LOG_LEVEL=debug",
		"DOCKER_CREDENTIAL_ACR_LOG_FILE=" + filepath.Join(e.LogDir, "helper.log"),
		"XDG_RUNTIME_DIR=" + e.Dir,
		"REGISTRY_AUTH_FILE=" + filepath.Join(e.Dir, "containers-auth.json"),
		"TMPDIR=" + os.TempDir(),
	}
	env = append(env, e.Emu.Env()...)
	if _, err := os.Stat(e.Config); err != nil {
		env = dropVar(env, "DOCKER_CREDENTIAL_ACR_CONFIG")
	}
	keys := make([]string, 0, len(e.vars))
	for k := range e.vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		env = append(env, k+"="+e.vars[k])
	}
	return env
}

func dropVar(env []string, name string) []string {
	out := env[:0]
	for _, kv := range env {
		if !strings.HasPrefix(kv, name+"=") {
			out = append(out, kv)
		}
	}
	return out
}

// Result is what a command did.
type Result struct {
	Code           int
	Stdout, Stderr string
}

func (r Result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.Code, r.Stdout, r.Stderr)
}

// Run runs a program in e with stdin.
func (e *Env) Run(tb testing.TB, stdin string, name string, args ...string) Result {
	tb.Helper()
	var out, errb bytes.Buffer
	var err error
	// A script written moments ago may still be open for writing in a
	// child that another goroutine is forking (it closes at exec): exec
	// then fails with ETXTBSY for a moment. Try again.
	for attempt := 0; ; attempt++ {
		cmd := exec.Command(name, args...)
		cmd.Env = e.Environ()
		cmd.Dir = e.Dir
		cmd.Stdin = strings.NewReader(stdin)
		out.Reset()
		errb.Reset()
		cmd.Stdout, cmd.Stderr = &out, &errb
		err = cmd.Run()
		if !errors.Is(err, syscall.ETXTBSY) || attempt == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := Result{Stdout: out.String(), Stderr: errb.String()}
	if ee, ok := err.(*exec.ExitError); ok {
		r.Code = ee.ExitCode()
	} else if err != nil {
		tb.Fatalf("running %s: %v", name, err)
	}
	return r
}

// Helper runs docker-credential-acr (through the recording wrapper).
func (e *Env) Helper(tb testing.TB, stdin string, args ...string) Result {
	tb.Helper()
	return e.Run(tb, stdin, filepath.Join(e.BinDir, "docker-credential-acr"), args...)
}

// Crane runs crane.
func (e *Env) Crane(tb testing.TB, args ...string) Result {
	tb.Helper()
	return e.Run(tb, "", CraneBinary(tb), args...)
}

// HelperOutput is everything the helper wrote in e so far: stdout, stderr
// and the log file, file by file.
func (e *Env) HelperOutput(tb testing.TB) map[string][]byte {
	tb.Helper()
	out := map[string][]byte{}
	entries, err := os.ReadDir(e.LogDir)
	if err != nil {
		tb.Fatal(err)
	}
	for _, de := range entries {
		b, err := os.ReadFile(filepath.Join(e.LogDir, de.Name()))
		if err != nil {
			tb.Fatal(err)
		}
		out[de.Name()] = b
	}
	return out
}

// Runs counts the helper invocations recorded in e.
func (e *Env) Runs(tb testing.TB) int {
	n := 0
	for name := range e.HelperOutput(tb) {
		if strings.HasSuffix(name, ".out") {
			n++
		}
	}
	return n
}

// UniqueName returns a name unique in this test process, for repositories.
func UniqueName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, envSeq.Add(1))
}
