// Command acr-emulator runs the Azure AD + ACR emulator with a demo setup
// until SIGINT or SIGTERM, for shell-driven demos and benchmarks.
//
// It writes a shell-sourceable environment file (-env-file) once it is
// ready, prints the request counters as JSON on SIGUSR1, and serves them at
// GET $ACR_EMULATOR_CONTROL_URL/_emulator/counts.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator"
)

const (
	demoTenant      = "72f988bf-0000-4000-8000-00000000de70"
	contributorID   = "c0ffee00-0000-4000-8000-000000000001"
	readerID        = "c0ffee00-0000-4000-8000-000000000002"
	defaultRegistry = "demo.azurecr.io"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "acr-emulator:", err)
		os.Exit(1)
	}
}

func run() error {
	envFile := flag.String("env-file", "", "write a shell-sourceable environment file here once ready")
	dir := flag.String("dir", "", "directory for the CA and other files (default: a temporary directory)")
	host := flag.String("registry", defaultRegistry, "ACR login server to emulate")
	withAz := flag.Bool("az", false, "build the fake az and log it in as a Contributor user (needs the Go toolchain)")
	verbose := flag.Bool("v", false, "log requests and registry output to stderr")
	flag.Parse()

	e, err := emulator.Start(emulator.Options{
		Dir:        *dir,
		Registries: []emulator.Registry{{Host: *host, Tenant: demoTenant}},
		Verbose:    *verbose,
	})
	if err != nil {
		return err
	}
	defer e.Close()

	vars, err := setup(e, *host, *withAz)
	if err != nil {
		return err
	}
	if *envFile != "" {
		if err := writeEnvFile(*envFile, vars); err != nil {
			return err
		}
	}
	fmt.Printf("acr-emulator ready: registry %s, proxy %s, control %s\n", *host, e.ProxyURL(), e.ControlURL())

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGUSR1)
	for s := range sigs {
		if s != syscall.SIGUSR1 {
			return nil
		}
		b, err := json.Marshal(e.Counts())
		if err != nil {
			return fmt.Errorf("counts: %w", err)
		}
		fmt.Println(string(b))
	}
	return nil
}

// setup creates the demo identities and returns the environment to export.
func setup(e *emulator.Emulator, host string, withAz bool) ([][2]string, error) {
	contributorSecret, readerSecret := randomSecret(), randomSecret()
	e.AssignRole(host, e.AddServicePrincipal(demoTenant, contributorID, contributorSecret), emulator.Contributor)
	e.AssignRole(host, e.AddServicePrincipal(demoTenant, readerID, readerSecret), emulator.Reader)
	mi := e.SetManagedIdentity(demoTenant)
	e.AssignRole(host, mi.ObjectID, emulator.Reader)

	var vars [][2]string
	for _, kv := range e.Env() {
		k, v, _ := strings.Cut(kv, "=")
		vars = append(vars, [2]string{k, v})
	}
	vars = append(vars,
		[2]string{"AZURE_TENANT_ID", demoTenant},
		[2]string{"AZURE_CLIENT_ID", contributorID},
		[2]string{"AZURE_CLIENT_SECRET", contributorSecret},
		[2]string{"ACR_EMULATOR_REGISTRY", host},
		[2]string{"ACR_EMULATOR_READER_CLIENT_ID", readerID},
		[2]string{"ACR_EMULATOR_READER_CLIENT_SECRET", readerSecret},
		[2]string{"ACR_EMULATOR_CONTROL_URL", e.ControlURL()},
		[2]string{"ACR_EMULATOR_PID", fmt.Sprint(os.Getpid())},
	)
	for _, kv := range e.ManagedIdentityEnv() {
		k, v, _ := strings.Cut(kv, "=")
		vars = append(vars, [2]string{"ACR_EMULATOR_" + k, v})
	}
	if withAz {
		user := e.AddUser(demoTenant, "dev@demo.example")
		e.AssignRole(host, user, emulator.Contributor)
		if err := e.SetAzureCLIUser(user); err != nil {
			return nil, err
		}
		azDir, err := e.AzBinDir()
		if err != nil {
			return nil, err
		}
		vars = append(vars, [2]string{"ACR_EMULATOR_AZ_BIN_DIR", azDir})
	}
	return vars, nil
}

// writeEnvFile writes "export K='V'" lines atomically, so that a script
// polling for the file never reads half of it.
func writeEnvFile(path string, vars [][2]string) error {
	sort.SliceStable(vars, func(i, j int) bool { return vars[i][0] < vars[j][0] })
	var b strings.Builder
	for _, kv := range vars {
		fmt.Fprintf(&b, "export %s='%s'\n", kv[0], strings.ReplaceAll(kv[1], "'", `'\''`))
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".acr-emulator-env-*")
	if err != nil {
		return fmt.Errorf("env file: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.WriteString(b.String()); err != nil {
		tmp.Close()
		return fmt.Errorf("env file: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("env file: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("env file: %w", err)
	}
	return nil
}

func randomSecret() string {
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return "demo~" + hex.EncodeToString(b)
}
