package credhelper

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/cache"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// imdsAddr is the Azure Instance Metadata Service, where a VM's managed
// identity answers.
const imdsAddr = "169.254.169.254:80"

// Target is a registry the helper may authenticate to, and how.
type Target struct {
	// Host is the normalised host.
	Host string
	// Cloud is the Azure cloud of the registry.
	Cloud token.Cloud
	// Config is the registry's configuration, nil if it has none.
	Config *RegistryConfig
	// Identity, if set, is the only identity used, instead of stored
	// credentials, the configuration and the chain. One with an Assertion
	// is never cached.
	Identity *token.Identity
}

// target recognises host as an ACR login server by name or by configuration.
// Only a configured custom host needs the configuration to be read.
func (h *Helper) target(host string) (Target, bool, error) {
	cloud, isACR := ACRCloud(host)
	cfg, err := h.config()
	if err != nil {
		if isACR {
			return Target{}, false, err
		}
		// Other hosts stay "not found" (a keychain asked about docker.io
		// must not fail), but the broken file may be what declares this
		// one a customHost: say so.
		h.configWarned.Do(func() {
			h.warnf("%s is not an ACR host by name, and the configuration that might declare it a customHost cannot be read: %s",
				host, oneLineError(err))
		})
		return Target{}, false, nil
	}
	rc, configured := cfg.Registry(host)
	if !isACR && !configured {
		return Target{}, false, nil
	}
	if !isACR {
		cloud = token.AzurePublic
	}
	t := Target{Host: host, Cloud: cloud, Config: rc}
	if t.Cloud, err = h.cloudFor(t); err != nil {
		return Target{}, false, err
	}
	return t, true, nil
}

// cloudFor applies, in order of precedence, the registry's configured
// authority host or cloud, then AZURE_AUTHORITY_HOST, to the cloud that the
// host name implies.
func (h *Helper) cloudFor(t Target) (token.Cloud, error) {
	c := t.Cloud
	if rc := t.Config; rc != nil {
		if rc.Cloud != "" {
			c, _ = token.CloudByName(rc.Cloud)
		}
		if rc.AuthorityHost != "" {
			return c.WithAuthorityHost(rc.AuthorityHost)
		}
		if rc.Cloud != "" {
			return c, nil
		}
	}
	if a := h.getenv("AZURE_AUTHORITY_HOST"); a != "" {
		return c.WithAuthorityHost(a)
	}
	return c, nil
}

// identities lists the Azure AD identities to try for t, in order: the one
// the configuration names, or the default chain. The chain includes only the
// kinds whose preconditions hold, so nothing unconfigured is probed.
// skipped explains the kinds left out.
func (h *Helper) identities(ctx context.Context, t Target, probe bool) (ids []token.Identity, skipped []string) {
	if t.Identity != nil {
		return []token.Identity{*t.Identity}, nil
	}
	if h.cred != nil {
		return []token.Identity{{Kind: token.KindCredential, Cloud: t.Cloud, ClientID: h.credID}}, nil
	}
	rc := t.Config
	if rc != nil && rc.Identity != token.KindDefault {
		id := token.Identity{Kind: rc.Identity, Cloud: t.Cloud, TenantID: rc.TenantID, ClientID: rc.ClientID,
			ResourceID: rc.ResourceID, ClientSecretFile: rc.ClientSecretFile, ClientSecretEnv: rc.ClientSecretEnv,
			ClientCertificateFile: rc.ClientCertificateFile, TokenFile: rc.TokenFile}
		h.fillFromEnv(&id, rc)
		return []token.Identity{id}, nil
	}
	chain := token.DefaultChain
	if cfg, _ := h.config(); cfg != nil && len(cfg.Defaults.Chain) > 0 {
		chain = cfg.Defaults.Chain
	}
	for _, k := range chain {
		id := token.Identity{Kind: k, Cloud: t.Cloud}
		if rc != nil {
			id.TenantID = rc.TenantID
		}
		// Probe (IMDS) only while nothing earlier in the chain is usable: with
		// environment credentials a cold get must not pay the probe's dial.
		if why := h.available(ctx, &id, probe && len(ids) == 0); why != "" {
			skipped = append(skipped, k.Describe()+" ("+why+")")
			continue
		}
		ids = append(ids, id)
	}
	return ids, skipped
}

// fillFromEnv completes a configured identity from the variables the
// platform sets (AKS sets AZURE_CLIENT_ID and friends). An environment
// service principal is whatever the environment holds at the time, so its
// tenant and client, which key its cached tokens, always come from there.
func (h *Helper) fillFromEnv(id *token.Identity, rc *RegistryConfig) {
	switch id.Kind {
	case token.KindEnvironment:
		id.TenantID, id.ClientID = h.getenv("AZURE_TENANT_ID"), h.getenv("AZURE_CLIENT_ID")
		return
	case token.KindAzureCLI:
		id.Account = h.azureCLIAccount()
		return
	case token.KindAzd:
		id.Account = h.azdAccount()
		return
	case token.KindWorkloadIdentity:
	default:
		return
	}
	if id.TenantID == "" {
		id.TenantID = h.getenv("AZURE_TENANT_ID")
	}
	if id.ClientID == "" {
		id.ClientID = h.getenv("AZURE_CLIENT_ID")
	}
	if id.TokenFile == "" {
		id.TokenFile = h.getenv("AZURE_FEDERATED_TOKEN_FILE")
	}
}

// available reports why a chain kind cannot be used here ("" if it can),
// filling in what the environment says about it.
func (h *Helper) available(ctx context.Context, id *token.Identity, probe bool) string {
	env := h.getenv
	switch id.Kind {
	case token.KindEnvironment:
		if env("AZURE_TENANT_ID") == "" || env("AZURE_CLIENT_ID") == "" {
			return "AZURE_TENANT_ID or AZURE_CLIENT_ID not set"
		}
		if env("AZURE_CLIENT_SECRET") == "" && env("AZURE_CLIENT_CERTIFICATE_PATH") == "" {
			return "neither AZURE_CLIENT_SECRET nor AZURE_CLIENT_CERTIFICATE_PATH set"
		}
		id.TenantID, id.ClientID = env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID")
	case token.KindWorkloadIdentity:
		if env("AZURE_FEDERATED_TOKEN_FILE") == "" || env("AZURE_CLIENT_ID") == "" || env("AZURE_TENANT_ID") == "" {
			return "AZURE_FEDERATED_TOKEN_FILE, AZURE_CLIENT_ID or AZURE_TENANT_ID not set"
		}
		id.TenantID, id.ClientID, id.TokenFile = env("AZURE_TENANT_ID"), env("AZURE_CLIENT_ID"), env("AZURE_FEDERATED_TOKEN_FILE")
	case token.KindManagedIdentity:
		id.ClientID = env("AZURE_CLIENT_ID")
		return h.managedIdentityAvailable(ctx, probe)
	case token.KindAzureCLI:
		if _, err := h.lookPath("az"); err != nil {
			return "az not found on PATH"
		}
		id.Account = h.azureCLIAccount()
	case token.KindAzd:
		if _, err := h.lookPath("azd"); err != nil {
			return "azd not found on PATH"
		}
		id.Account = h.azdAccount()
	}
	return ""
}

// managedIdentityAvailable decides whether to try the managed identity: yes
// where the platform announces its endpoint (App Service, Functions, Arc,
// Cloud Shell, Service Fabric); on a VM only if IMDS answers a TCP connect
// within imdsProbeTimeout. The probe's answer is remembered for
// imdsProbeTTL, so a machine outside Azure pays it once, not on every call.
func (h *Helper) managedIdentityAvailable(ctx context.Context, probe bool) string {
	mode := strings.ToLower(h.getenv(EnvManagedIdentity))
	if cfg, _ := h.config(); mode == "" && cfg != nil {
		mode = cfg.Defaults.ManagedIdentity
	}
	if mode == "never" {
		return "disabled by " + EnvManagedIdentity + " or defaults.managedIdentity"
	}
	for _, v := range []string{"IDENTITY_ENDPOINT", "MSI_ENDPOINT", "IDENTITY_SERVER_THUMBPRINT"} {
		if h.getenv(v) != "" {
			return ""
		}
	}
	if mode == "always" {
		return ""
	}
	if !probe {
		return "" // decided on the cold path; the warm path only needs the chain's shape
	}
	if h.imdsReachable(ctx) {
		return ""
	}
	return "no managed identity endpoint: IMDS did not answer"
}

const (
	imdsProbeTimeout = 300 * time.Millisecond
	imdsProbeTTL     = 10 * time.Minute
)

// imdsReachable probes IMDS, or reads the probe's remembered answer (in
// memory, then in the token cache).
func (h *Helper) imdsReachable(ctx context.Context) bool {
	key := cache.Key("imds-probe")
	st := h.tokenStore()
	e, ok := h.mem.get(key)
	if !ok && st != nil {
		e, ok, _ = st.Get(key)
	}
	if ok && !e.Expired(h.now()) {
		return e.Negative == ""
	}
	reachable := h.probeIMDS(ctx)
	e = cache.Entry{Kind: "probe", ExpiresAt: h.now().Add(imdsProbeTTL)}
	if !reachable {
		e.Negative = "unreachable"
	}
	h.mem.put(key, e)
	h.save(ctx, st, key, e)
	return reachable
}

// dialProbe reports whether addr accepts a TCP connection within the timeout.
func dialProbe(ctx context.Context, addr string, timeout time.Duration) bool {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return false
	}
	_ = c.Close()
	return true
}

// azureCLIAccount identifies the Azure CLI's login state for cache keys
// without running az: `az login`, `az logout` and `az account set` rewrite
// azureProfile.json, so its size and modification time change with them.
func (h *Helper) azureCLIAccount() string {
	dir := h.getenv("AZURE_CONFIG_DIR")
	if dir == "" {
		dir = filepath.Join(homeDir(h.getenv), ".azure")
	}
	return fileState(filepath.Join(dir, "azureProfile.json"))
}

// fileState is a file's size and modification time, which a rewrite changes.
func fileState(path string) string {
	st, err := os.Stat(path)
	if err != nil {
		return "none"
	}
	return fmt.Sprintf("%d %d", st.Size(), st.ModTime().UnixNano())
}

// azdAccount is azureCLIAccount for the Azure Developer CLI: `azd auth
// login` and `azd auth logout` rewrite its config.json (the current user);
// azd may also hand the work to az (auth.useAzCliAuth), so az's state is
// part of it.
func (h *Helper) azdAccount() string {
	dir := h.getenv("AZD_CONFIG_DIR")
	if dir == "" {
		dir = filepath.Join(homeDir(h.getenv), ".azd")
	}
	return "azd " + fileState(filepath.Join(dir, "config.json")) + "; az " + h.azureCLIAccount()
}

// lookPathEnv finds an executable on the PATH that getenv reports.
func lookPathEnv(getenv func(string) string) func(string) (string, error) {
	return func(name string) (string, error) {
		for _, dir := range strings.Split(getenv("PATH"), string(os.PathListSeparator)) {
			if dir == "" {
				dir = "."
			}
			p := dir + string(os.PathSeparator) + name
			if st, err := os.Stat(p); err == nil && st.Mode().IsRegular() && st.Mode()&0o111 != 0 {
				return p, nil
			}
		}
		return "", os.ErrNotExist
	}
}
