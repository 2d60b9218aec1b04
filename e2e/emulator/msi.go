package emulator

import (
	"crypto/subtle"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// appServiceAPIVersion is the App Service managed identity API MSAL uses.
const appServiceAPIVersion = "2019-08-01"

// msiPath is the managed identity endpoint on the plain-HTTP loopback listener.
const msiPath = "/msi/token"

// ManagedIdentity describes a managed identity.
type ManagedIdentity struct {
	ClientID   string
	ObjectID   string
	ResourceID string // empty for a system-assigned identity
}

// serveMSI is the App Service flavour of the managed identity endpoint:
// GET IDENTITY_ENDPOINT?api-version=2019-08-01&resource=R[&client_id=|&mi_res_id=|&object_id=]
// with the X-IDENTITY-HEADER header.
func (e *Emulator) serveMSI(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	selector := q.Get("client_id") + q.Get("mi_res_id") + q.Get("msi_res_id") + q.Get("object_id") + q.Get("principal_id")
	if selector == "" {
		selector = "system"
	}
	if f := e.stats.hit(counterMSI, counterMSI+"@"+selector); f.apply(r.Context(), w) {
		writeMSIError(w, f.Status, "injected fault")
		return
	}
	if h := r.Header.Get("X-IDENTITY-HEADER"); subtle.ConstantTimeCompare([]byte(h), []byte(e.identityHeader)) != 1 {
		writeMSIError(w, http.StatusUnauthorized, "The X-IDENTITY-HEADER header is missing or invalid.")
		return
	}
	if v := q.Get("api-version"); v != appServiceAPIVersion {
		writeMSIError(w, http.StatusBadRequest, fmt.Sprintf("api-version %q is not supported.", v))
		return
	}
	resource := q.Get("resource")
	if resource == "" {
		writeMSIError(w, http.StatusBadRequest, "The resource parameter is required.")
		return
	}
	p, ok := e.findManagedIdentity(q.Get("client_id"), q.Get("mi_res_id")+q.Get("msi_res_id"), q.Get("object_id")+q.Get("principal_id"))
	if !ok {
		writeMSIError(w, http.StatusBadRequest, "No Managed Identity found for specified ClientId/ResourceId/PrincipalId.")
		return
	}
	c, _ := e.directory.tenantCloud(p.tenant)
	tok, lifetime, err := e.issueAADToken(p, resource, c)
	if err != nil {
		writeMSIError(w, http.StatusInternalServerError, err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{
		"access_token": tok,
		"expires_on":   strconv.FormatInt(time.Now().Add(lifetime).Unix(), 10),
		"resource":     resource,
		"token_type":   "Bearer",
		"client_id":    p.appID,
	})
}

func (e *Emulator) findManagedIdentity(clientID, resourceID, objectID string) (principal, bool) {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	if clientID == "" && resourceID == "" && objectID == "" {
		if d.miSystem == nil {
			return principal{}, false
		}
		return *d.miSystem, true
	}
	for _, p := range d.miUser {
		if (clientID != "" && strings.EqualFold(p.appID, clientID)) ||
			(resourceID != "" && strings.EqualFold(p.name, resourceID)) ||
			(objectID != "" && strings.EqualFold(p.objectID, objectID)) {
			return *p, true
		}
	}
	return principal{}, false
}

func writeMSIError(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]any{"statusCode": status, "message": msg, "correlationId": uuid.NewString()})
}

// SetManagedIdentity gives the emulated host a system-assigned managed
// identity in tenant (replacing any previous one) and returns it.
func (e *Emulator) SetManagedIdentity(tenant string) ManagedIdentity {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ensureTenantLocked(tenant, AzurePublic)
	p := &principal{kind: kindManagedIdentity, tenant: tenant, objectID: newID(), appID: newID(), systemMI: true}
	d.objects[p.objectID] = p
	d.miSystem = p
	return ManagedIdentity{ClientID: p.appID, ObjectID: p.objectID}
}

// AddUserAssignedIdentity attaches a user-assigned managed identity named
// name (in tenant) to the emulated host and returns it.
func (e *Emulator) AddUserAssignedIdentity(tenant, name string) ManagedIdentity {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	d.ensureTenantLocked(tenant, AzurePublic)
	rid := fmt.Sprintf("/subscriptions/%s/resourcegroups/e2e/providers/Microsoft.ManagedIdentity/userAssignedIdentities/%s", emulatorSubscription, name)
	p := &principal{kind: kindManagedIdentity, tenant: tenant, objectID: newID(), appID: newID(), name: rid}
	d.objects[p.objectID] = p
	d.miUser = append(d.miUser, p)
	return ManagedIdentity{ClientID: p.appID, ObjectID: p.objectID, ResourceID: rid}
}

// RemoveManagedIdentities detaches every managed identity from the host.
func (e *Emulator) RemoveManagedIdentities() {
	d := e.directory
	d.mu.Lock()
	defer d.mu.Unlock()
	d.miSystem, d.miUser = nil, nil
}

// ManagedIdentityEnv returns IDENTITY_ENDPOINT and IDENTITY_HEADER, which
// make MSAL (and so azidentity's ManagedIdentityCredential) use the App
// Service managed identity source, served on plain HTTP loopback.
func (e *Emulator) ManagedIdentityEnv() []string {
	return []string{
		"IDENTITY_ENDPOINT=" + e.ControlURL() + msiPath,
		"IDENTITY_HEADER=" + e.identityHeader,
	}
}
