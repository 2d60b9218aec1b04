// Package token turns Azure identities into Azure Container Registry
// refresh tokens.
//
// An [Identity] describes where credentials come from (a service principal,
// workload identity, managed identity, the Azure CLI...) and builds the
// azidentity credential for it. A [Fetcher] gets an Azure AD access token
// for the ACR audience (falling back to Azure Resource Manager's) and trades
// it at the registry's /oauth2/exchange through an [Exchanger]. [Cloud]
// says which Azure AD a registry's cloud uses.
//
// Nothing here caches or prints; errors never contain a token or secret.
package token
