// Package emulator emulates Azure AD and Azure Container Registry for
// end-to-end tests of docker-credential-acr, in-process and on loopback only.
//
// Clients see the real host names (login.microsoftonline.com,
// e2e.azurecr.io, ...): they reach the emulator through its HTTP CONNECT
// proxy (HTTPS_PROXY) and trust its private CA (SSL_CERT_FILE); see
// Emulator.Env. The proxy forwards only the hosts the emulator serves and
// records every other target, so tests can assert nothing leaked.
//
// What is emulated, over TLS:
//   - Azure AD (login.microsoftonline.com, login.chinacloudapi.cn,
//     login.microsoftonline.us): OpenID metadata, instance discovery, and the
//     v2.0 token endpoint for client credentials with a client secret, a
//     certificate-signed assertion or a federated (workload identity)
//     assertion. Tokens are RS256 JWTs.
//   - The ACR token service on each registry host: /oauth2/exchange (Azure AD
//     token for ACR refresh token) and /oauth2/token (registry access tokens
//     for refresh tokens, the admin account, repository-scoped tokens and
//     service principal secrets), with Reader/Contributor/Owner roles.
//   - The registry itself: the CNCF distribution registry, in memory, with
//     token authentication against the emulated token service.
//
// And over plain HTTP on loopback: the App Service managed identity
// endpoint (Emulator.ManagedIdentityEnv) and the backend of a fake az
// (Emulator.AzBinDir) for azidentity's AzureCLICredential.
//
// Every endpoint counts its requests (Emulator.Count) and can be made to
// fail or slow down (Emulator.InjectFault). All methods are safe for
// concurrent use.
package emulator
