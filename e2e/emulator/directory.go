package emulator

import (
	"crypto/subtle"
	"crypto/x509"
	"strings"
	"sync"
)

// Role is an Azure RBAC role on a registry.
type Role int

// The ACR roles. NoRole removes an assignment.
const (
	NoRole      Role = iota
	Reader           // pull
	Contributor      // pull, push
	Owner            // pull, push, delete
)

// String returns the role's Azure name.
func (r Role) String() string {
	switch r {
	case Reader:
		return "AcrPull"
	case Contributor:
		return "AcrPush"
	case Owner:
		return "Owner"
	default:
		return "None"
	}
}

// actions returns the repository actions the role grants.
func (r Role) actions() []string {
	switch r {
	case Reader:
		return []string{"pull"}
	case Contributor:
		return []string{"pull", "push"}
	case Owner:
		return []string{"pull", "push", "delete"}
	default:
		return nil
	}
}

// Cloud is an Azure cloud, named by its Azure AD authority host.
type Cloud string

// The clouds the emulator serves.
const (
	AzurePublic     Cloud = "login.microsoftonline.com"
	AzureChina      Cloud = "login.chinacloudapi.cn"
	AzureGovernment Cloud = "login.microsoftonline.us"
)

// authorityAliases maps every authority host the emulator answers to its cloud.
var authorityAliases = map[string]Cloud{
	"login.microsoftonline.com":        AzurePublic,
	"login.chinacloudapi.cn":           AzureChina,
	"login.partner.microsoftonline.cn": AzureChina,
	"login.microsoftonline.us":         AzureGovernment,
}

// armAudiences are the Azure Resource Manager audiences, one or more per cloud,
// without trailing slash.
var armAudiences = map[string]bool{
	"https://management.azure.com":              true,
	"https://management.core.windows.net":       true,
	"https://management.chinacloudapi.cn":       true,
	"https://management.core.chinacloudapi.cn":  true,
	"https://management.usgovcloudapi.net":      true,
	"https://management.core.usgovcloudapi.net": true,
}

// acrAudience is the audience ACR accepts in every cloud.
const acrAudience = "https://containerregistry.azure.net"

// cloudForRegistry returns the cloud of a login server by its suffix.
func cloudForRegistry(host string) Cloud {
	switch {
	case strings.HasSuffix(host, ".azurecr.cn"):
		return AzureChina
	case strings.HasSuffix(host, ".azurecr.us"):
		return AzureGovernment
	default:
		return AzurePublic
	}
}

type principalKind string

const (
	kindServicePrincipal principalKind = "ServicePrincipal"
	kindUser             principalKind = "User"
	kindManagedIdentity  principalKind = "ManagedIdentity"
)

// principal is an identity in a tenant: a service principal (app), a user or
// a managed identity.
type principal struct {
	kind      principalKind
	tenant    string
	objectID  string
	appID     string // client ID; empty for users
	name      string // user principal name, or managed identity resource ID
	secret    string
	certs     []*x509.Certificate
	federated map[string]bool // accepted workload identity subjects
	tokenFile string
	systemMI  bool
}

// directory is the emulator's Azure AD and RBAC state. Guarded by mu.
type directory struct {
	mu       sync.Mutex
	tenants  map[string]Cloud
	apps     map[string]*principal // tenant + "/" + lower(appID)
	objects  map[string]*principal // lower(objectID)
	roles    map[string]map[string]Role
	cliUser  *principal
	miSystem *principal
	miUser   []*principal
}

func newDirectory() *directory {
	return &directory{
		tenants: map[string]Cloud{},
		apps:    map[string]*principal{},
		objects: map[string]*principal{},
		roles:   map[string]map[string]Role{},
	}
}

func appKey(tenant, appID string) string {
	return strings.ToLower(tenant) + "/" + strings.ToLower(appID)
}

// ensureTenantLocked registers tenant in cloud c unless it exists.
func (d *directory) ensureTenantLocked(tenant string, c Cloud) {
	if _, ok := d.tenants[strings.ToLower(tenant)]; !ok {
		d.tenants[strings.ToLower(tenant)] = c
	}
}

// tenantCloud returns the tenant's cloud and whether the tenant exists.
func (d *directory) tenantCloud(tenant string) (Cloud, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	c, ok := d.tenants[strings.ToLower(tenant)]
	return c, ok
}

// appLocked returns the app registered as appID in tenant, creating it.
func (d *directory) appLocked(tenant, appID string) *principal {
	d.ensureTenantLocked(tenant, AzurePublic)
	if p, ok := d.apps[appKey(tenant, appID)]; ok {
		return p
	}
	p := &principal{kind: kindServicePrincipal, tenant: tenant, appID: appID, objectID: newID()}
	d.apps[appKey(tenant, appID)] = p
	d.objects[p.objectID] = p
	return p
}

// app returns a copy of the app appID in tenant, if any.
func (d *directory) app(tenant, appID string) (principal, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.apps[appKey(tenant, appID)]
	if !ok {
		return principal{}, false
	}
	return *p, true
}

// object returns a copy of the principal with objectID.
func (d *directory) object(objectID string) (principal, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.objects[strings.ToLower(objectID)]
	if !ok {
		return principal{}, false
	}
	return *p, true
}

func (d *directory) role(host, objectID string) Role {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.roles[host][strings.ToLower(objectID)]
}

// checkSecret reports whether secret is the client secret of appID in tenant.
func (d *directory) checkSecret(tenant, appID, secret string) (principal, bool) {
	p, ok := d.app(tenant, appID)
	if !ok || p.secret == "" || secret == "" {
		return principal{}, false
	}
	return p, subtle.ConstantTimeCompare([]byte(p.secret), []byte(secret)) == 1
}
