package emulator

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"time"
)

// azPath is the fake az's endpoint on the plain-HTTP loopback listener.
const azPath = "/az/token"

// emulatorSubscription is the subscription the fake az reports.
const emulatorSubscription = "5c3c4d6e-0000-4000-8000-00000000e2e0"

// serveAz answers the fake az: a token for the logged-in user, printed by
// the fake az as "az account get-access-token -o json" prints it. Errors are
// plain text that the fake az prints on stderr before exiting 1.
func (e *Emulator) serveAz(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if f := e.stats.hit(counterAz); f.apply(r.Context(), w) {
		http.Error(w, "ERROR: injected fault", f.Status)
		return
	}
	d := e.directory
	d.mu.Lock()
	u := d.cliUser
	d.mu.Unlock()
	if u == nil {
		http.Error(w, "ERROR: Please run 'az login' to setup account.", http.StatusUnauthorized)
		return
	}
	if t := q.Get("tenant"); t != "" && !strings.EqualFold(t, u.tenant) {
		http.Error(w, fmt.Sprintf("ERROR: AADSTS50020: User account '%s' from identity provider does not exist in tenant '%s'.", u.name, t), http.StatusBadRequest)
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		http.Error(w, "ERROR: the following arguments are required: --resource", http.StatusBadRequest)
		return
	}
	c, _ := d.tenantCloud(u.tenant)
	tok, lifetime, err := e.issueAADToken(*u, resource, c)
	if err != nil {
		http.Error(w, "ERROR: "+err.Error(), http.StatusInternalServerError)
		return
	}
	exp := time.Now().Add(lifetime)
	writeJSON(w, http.StatusOK, map[string]any{
		"accessToken":  tok,
		"expiresOn":    exp.Local().Format("2006-01-02 15:04:05.000000"),
		"expires_on":   exp.Unix(),
		"subscription": emulatorSubscription,
		"tenant":       u.tenant,
		"tokenType":    "Bearer",
	})
}

// AddUser creates a user (for the Azure CLI) in tenant and returns its object ID.
func (e *Emulator) AddUser(tenant, upn string) string {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ensureTenantLocked(tenant, AzurePublic)
	p := &principal{kind: kindUser, tenant: tenant, objectID: newID(), name: upn}
	d.objects[p.objectID] = p
	return p.objectID
}

// SetAzureCLIUser logs the fake az in as the user objectID.
func (e *Emulator) SetAzureCLIUser(objectID string) error {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.objects[strings.ToLower(objectID)]
	if !ok || p.kind != kindUser {
		return fmt.Errorf("emulator: no user with object ID %q", objectID)
	}
	d.cliUser = p
	return nil
}

// AzureCLILogout logs the fake az out: it then fails as the real one does.
func (e *Emulator) AzureCLILogout() {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	d.cliUser = nil
}

// AzBinDir returns a directory holding an executable "az" that talks to this
// emulator; prepend it to PATH. The first call builds cmd/fake-az with the
// Go toolchain unless Options.FakeAzBinary is set.
func (e *Emulator) AzBinDir() (string, error) {
	e.azOnce.Do(func() { e.azDir, e.azErr = e.makeAzBinDir() })
	return e.azDir, e.azErr
}

func (e *Emulator) makeAzBinDir() (string, error) {
	dir := filepath.Join(e.dir, "azbin")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("emulator: az dir: %w", err)
	}
	bin := e.opts.FakeAzBinary
	if bin == "" {
		bin = filepath.Join(dir, "fake-az")
		if err := buildFakeAz(bin); err != nil {
			return "", err
		}
	}
	script := fmt.Sprintf("#!/bin/sh\nexec %s --emulator-url %s \"$@\"\n", shellQuote(bin), shellQuote(e.ControlURL()+azPath))
	if err := os.WriteFile(filepath.Join(dir, "az"), []byte(script), 0o755); err != nil {
		return "", fmt.Errorf("emulator: write az: %w", err)
	}
	return dir, nil
}

// buildFakeAz builds cmd/fake-az, found relative to this source file.
func buildFakeAz(out string) error {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return fmt.Errorf("emulator: cannot locate the fake-az source")
	}
	src := filepath.Join(filepath.Dir(file), "..", "cmd", "fake-az")
	cmd := exec.Command("go", "build", "-o", out, ".")
	cmd.Dir = src
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("emulator: build fake-az: %w: %s", err, b)
	}
	return nil
}

func shellQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
