package token

import "strings"

// Kind names a way of obtaining registry credentials.
type Kind string

// The identity kinds. All but KindBasic go through Azure AD and the
// registry's token exchange.
const (
	// KindBasic is a username and password ACR accepts directly: the admin
	// account, a repository-scoped token, or a service principal's app ID and secret.
	KindBasic Kind = "basic"
	// KindServicePrincipal is a service principal configured for one registry,
	// with its own tenant, client ID and secret or certificate.
	KindServicePrincipal Kind = "serviceprincipal"
	// KindEnvironment is a service principal from AZURE_TENANT_ID,
	// AZURE_CLIENT_ID and AZURE_CLIENT_SECRET or AZURE_CLIENT_CERTIFICATE_PATH.
	KindEnvironment Kind = "environment"
	// KindWorkloadIdentity is OIDC federation through AZURE_FEDERATED_TOKEN_FILE.
	KindWorkloadIdentity Kind = "workloadidentity"
	// KindManagedIdentity is the managed identity of an Azure VM, App Service or AKS node.
	KindManagedIdentity Kind = "managedidentity"
	// KindAzureCLI is the account of `az login`.
	KindAzureCLI Kind = "azurecli"
	// KindAzd is the account of `azd auth login`.
	KindAzd Kind = "azd"
	// KindDefault tries the default chain of Azure AD kinds.
	KindDefault Kind = "default"
	// KindCredential is an azcore.TokenCredential supplied by a program that
	// embeds the helper as a library; it cannot be named in the config file.
	KindCredential Kind = "credential"
)

var kinds = []Kind{KindBasic, KindServicePrincipal, KindEnvironment, KindWorkloadIdentity,
	KindManagedIdentity, KindAzureCLI, KindAzd, KindDefault}

// DefaultChain is the order in which Azure AD identities are tried when a
// registry names none: the explicit ones first, the developer logins last.
var DefaultChain = []Kind{KindEnvironment, KindWorkloadIdentity, KindManagedIdentity, KindAzureCLI, KindAzd}

// ValidKind reports whether k is a known kind.
func ValidKind(k Kind) bool {
	for _, v := range kinds {
		if k == v {
			return true
		}
	}
	return false
}

// KindNames lists the known kinds for messages.
func KindNames() string {
	s := make([]string, len(kinds))
	for i, k := range kinds {
		s[i] = string(k)
	}
	return strings.Join(s, ", ")
}

// Describe is a human name for the kind, used in messages.
func (k Kind) Describe() string {
	switch k {
	case KindBasic:
		return "username and password"
	case KindServicePrincipal:
		return "service principal"
	case KindEnvironment:
		return "environment service principal"
	case KindWorkloadIdentity:
		return "workload identity"
	case KindManagedIdentity:
		return "managed identity"
	case KindAzureCLI:
		return "Azure CLI"
	case KindAzd:
		return "Azure Developer CLI"
	case KindCredential:
		return "supplied token credential"
	}
	return string(k)
}
