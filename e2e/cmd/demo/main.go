// Command demo shows docker-credential-acr at work on a machine with no
// Azure account and no network: it starts the emulated Azure AD + ACR (a
// real registry behind it) in-process, builds crane, lays out a throw-away
// HOME whose Docker config sends demo.azurecr.io to the helper, pushes an
// image, pulls it twice, and tells what happened: which identity the helper
// used and how many Azure AD token requests and token exchanges each step
// cost. Everything it creates is removed at the end. `make demo` runs it:
//
//	cd e2e && go run ./cmd/demo -helper "$PWD/../bin/docker-credential-acr"
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
)

const (
	host     = "demo.azurecr.io"
	tenant   = "72f988bf-0000-4000-8000-00000000de70"
	clientID = "c0ffee00-0000-4000-8000-0000000000c1"
	repo     = host + "/hello/world"
)

func main() {
	helper := flag.String("helper", "", "path of the docker-credential-acr binary (make build writes bin/docker-credential-acr)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, *helper)
	stop()
	if err != nil {
		fmt.Fprintf(os.Stderr, "\ndemo FAILED: %v\n", err)
		os.Exit(1)
	}
}

// demo is the state of one run.
type demo struct {
	ctx   context.Context
	emu   *emulator.Emulator
	home  string
	crane string
	env   []string
}

func run(ctx context.Context, helper string) error {
	start := time.Now()
	if helper == "" {
		return errors.New("-helper is required (the path of bin/docker-credential-acr)")
	}
	helper, err := filepath.Abs(helper)
	if err != nil {
		return err
	}
	if _, err := os.Stat(helper); err != nil {
		return fmt.Errorf("helper binary: %w (run make build)", err)
	}
	tmp, err := os.MkdirTemp("", "acr-demo-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)

	fmt.Println("docker-credential-acr demo: an emulated Azure AD and Azure Container Registry, all on loopback")
	fmt.Println()
	step("building crane (go-containerregistry) with the Go toolchain")
	d := &demo{ctx: ctx, home: filepath.Join(tmp, "home")}
	if d.crane, err = buildCrane(ctx, filepath.Join(tmp, "tools")); err != nil {
		return err
	}

	step("starting the emulator: Azure AD (login.microsoftonline.com), ACR token service and a CNCF distribution registry at %s", host)
	d.emu, err = emulator.Start(emulator.Options{
		Dir:        filepath.Join(tmp, "emulator"),
		Registries: []emulator.Registry{{Host: host, Tenant: tenant}},
	})
	if err != nil {
		return fmt.Errorf("starting the emulator: %w", err)
	}
	defer d.emu.Close()
	secret := randomHex("demo-secret-", 16)
	d.emu.AssignRole(host, d.emu.AddServicePrincipal(tenant, clientID, secret), emulator.Contributor)
	detail("service principal %s in tenant %s has the AcrPush (Contributor) role on %s", clientID, tenant, host)

	if err := d.layout(helper, secret); err != nil {
		return err
	}
	step("a throw-away HOME whose Docker config names the helper for the registry")
	detail("%s/.docker/config.json: {\"credHelpers\": {%q: \"acr\"}}", "$HOME", host)
	detail("the CI-style environment: AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET (no docker login, no az)")

	// 1. push
	step("crane push %s:v1", repo)
	layer, err := writeLayer(tmp)
	if err != nil {
		return err
	}
	out, err := d.run(d.crane, "append", "--new_layer", layer, "--new_tag", repo+":v1")
	if err != nil {
		return err
	}
	digest := regexp.MustCompile(`sha256:[0-9a-f]{64}`).FindString(out)
	if digest == "" {
		return fmt.Errorf("crane push printed no digest: %s", out)
	}
	detail("pushed %s@%s", repo, digest)
	if err := d.expectCalls("after the first push", 1, 1); err != nil {
		return err
	}

	// 2. pull
	step("crane pull %s:v1 (to a tarball)", repo)
	if _, err := d.run(d.crane, "pull", repo+":v1", filepath.Join(tmp, "world.tar")); err != nil {
		return err
	}
	fi, err := os.Stat(filepath.Join(tmp, "world.tar"))
	if err != nil {
		return err
	}
	detail("pulled %d bytes", fi.Size())
	if err := d.expectCalls("after the first pull", 1, 1); err != nil {
		return err
	}

	// 3. pull again
	step("crane digest + crane manifest %s:v1 (pulling again)", repo)
	out, err = d.run(d.crane, "digest", repo+":v1")
	if err != nil {
		return err
	}
	if got := strings.TrimSpace(out); got != digest {
		return fmt.Errorf("crane digest: %s, pushed %s", got, digest)
	}
	if _, err := d.run(d.crane, "manifest", repo+":v1"); err != nil {
		return err
	}
	detail("digest %s, as pushed", digest)
	if err := d.expectCalls("after pulling again", 1, 1); err != nil {
		return err
	}

	// What Docker and crane receive.
	step("what the helper answers crane (docker-credential-acr get, secret withheld here)")
	if err := d.showAnswer(); err != nil {
		return err
	}

	// doctor
	step("docker-credential-acr doctor %s (it never prints a secret; it does one live exchange)", host)
	out, err = d.run("docker-credential-acr", "doctor", host)
	fmt.Println(indent(out))
	if err != nil {
		return err
	}
	if strings.Contains(out, secret) {
		return errors.New("doctor printed the client secret")
	}
	if refused := d.emu.RefusedHosts(); len(refused) > 0 {
		return fmt.Errorf("something tried to reach hosts the emulator does not serve: %v", refused)
	}

	fmt.Println()
	fmt.Printf("demo OK in %s: 1 push and 2 pulls cost 1 Azure AD token request and 1 token exchange; the rest came from the helper's cache.\n",
		time.Since(start).Round(100*time.Millisecond))
	return nil
}

// layout writes the throw-away HOME: Docker config, the helper on PATH, and
// the process environment of every command.
func (d *demo) layout(helper, secret string) error {
	bin := filepath.Join(d.home, "bin")
	docker := filepath.Join(d.home, ".docker")
	for _, dir := range []string{bin, docker} {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return err
		}
	}
	if err := os.Symlink(helper, filepath.Join(bin, "docker-credential-acr")); err != nil {
		return err
	}
	cfg := fmt.Sprintf("{\"credHelpers\": {%q: \"acr\"}}\n", host)
	if err := os.WriteFile(filepath.Join(docker, "config.json"), []byte(cfg), 0o600); err != nil {
		return err
	}
	d.env = append([]string{
		"HOME=" + d.home,
		"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin",
		"DOCKER_CONFIG=" + docker,
		"DOCKER_CREDENTIAL_ACR_CACHE_DIR=" + filepath.Join(d.home, ".cache", "docker-credential-acr"),
		// Not an Azure VM: never probe the instance metadata service.
		"DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY=never",
		"TMPDIR=" + os.TempDir(),
		"AZURE_TENANT_ID=" + tenant,
		"AZURE_CLIENT_ID=" + clientID,
		"AZURE_CLIENT_SECRET=" + secret,
	}, d.emu.Env()...)
	return nil
}

// run runs a command in the demo's environment and returns its stdout.
func (d *demo) run(name string, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(d.ctx, 30*time.Second)
	defer cancel()
	path := name
	if !strings.Contains(name, "/") {
		path = filepath.Join(d.home, "bin", name)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Env = d.env
	cmd.Dir = d.home
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("%s %s: %v\n%s%s", filepath.Base(name), strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String(), nil
}

// expectCalls prints the Azure AD and exchange counts and checks them.
func (d *demo) expectCalls(when string, aad, exchanges int) error {
	gotAAD, gotEx := d.emu.Count("aad.token"), d.emu.Count("acr.exchange")
	detail("%s: the emulator has seen %d Azure AD token request(s) and %d token exchange(s) in total", when, gotAAD, gotEx)
	if gotAAD != aad || gotEx != exchanges {
		return fmt.Errorf("%s: want %d Azure AD token request(s) and %d exchange(s)", when, aad, exchanges)
	}
	return nil
}

// showAnswer prints the helper's `get` answer with its secret replaced by a
// description of the token.
func (d *demo) showAnswer() error {
	cmd := exec.CommandContext(d.ctx, filepath.Join(d.home, "bin", "docker-credential-acr"), "get")
	cmd.Env = d.env
	cmd.Stdin = strings.NewReader(host)
	out, err := cmd.Output()
	if err != nil {
		return fmt.Errorf("docker-credential-acr get: %v", err)
	}
	var a struct{ ServerURL, Username, Secret string }
	if err := json.Unmarshal(out, &a); err != nil {
		return fmt.Errorf("docker-credential-acr get answered %d bytes that are not JSON", len(out))
	}
	what := fmt.Sprintf("<%d-byte token>", len(a.Secret))
	if exp, ok := jwtExpiry(a.Secret); ok {
		what = fmt.Sprintf("<ACR refresh token, %d bytes, valid until %s>", len(a.Secret), exp.UTC().Format(time.RFC3339))
	}
	detail("ServerURL %s, Username %s, Secret %s", a.ServerURL, a.Username, what)
	return nil
}

func jwtExpiry(token string) (time.Time, bool) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return time.Time{}, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return time.Time{}, false
	}
	var claims struct {
		Exp int64 `json:"exp"`
	}
	if json.Unmarshal(payload, &claims) != nil || claims.Exp == 0 {
		return time.Time{}, false
	}
	return time.Unix(claims.Exp, 0), true
}

// buildCrane builds crane from the go-containerregistry version this module
// requires, with the caller's environment (the module proxy must be reachable
// or the module already downloaded).
func buildCrane(ctx context.Context, dir string) (string, error) {
	modDir, err := moduleDir(ctx)
	if err != nil {
		return "", err
	}
	out := filepath.Join(dir, "crane")
	// The same build settings as the demo itself (no -trimpath, the
	// caller's CGO_ENABLED), so that on a fresh machine the standard library
	// and shared dependencies compiled for the demo are reused from the
	// build cache.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, "github.com/google/go-containerregistry/cmd/crane")
	cmd.Dir = modDir
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building crane: %v\n%s", err, b)
	}
	return out, nil
}

// moduleDir is the directory of the e2e module (whose go.mod requires
// go-containerregistry): the current directory's module under `make demo`.
func moduleDir(ctx context.Context) (string, error) {
	b, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %v", err)
	}
	mod := strings.TrimSpace(string(b))
	if mod == "" || mod == os.DevNull {
		return "", errors.New("run the demo from the e2e module (cd e2e && go run ./cmd/demo), or use make demo")
	}
	return filepath.Dir(mod), nil
}

// writeLayer writes a one-file layer tarball.
func writeLayer(dir string) (string, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	msg := []byte("hello from docker-credential-acr " + randomHex("", 4) + "\n")
	if err := tw.WriteHeader(&tar.Header{Name: "hello.txt", Mode: 0o644, Size: int64(len(msg)), Typeflag: tar.TypeReg}); err != nil {
		return "", err
	}
	if _, err := tw.Write(msg); err != nil {
		return "", err
	}
	if err := tw.Close(); err != nil {
		return "", err
	}
	path := filepath.Join(dir, "layer.tar")
	return path, os.WriteFile(path, buf.Bytes(), 0o600)
}

func randomHex(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + hex.EncodeToString(b)
}

var stepN int

func step(format string, args ...any) {
	stepN++
	fmt.Printf("%d. %s\n", stepN, fmt.Sprintf(format, args...))
}

func detail(format string, args ...any) {
	fmt.Printf("   %s\n", fmt.Sprintf(format, args...))
}

func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = "   | " + l
	}
	return strings.Join(lines, "\n")
}
