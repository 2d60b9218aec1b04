// Package acr lets Go programs that talk to container registries (ko,
// kaniko, cosign, trivy, crane, or your own) authenticate to Azure Container
// Registry in-process, without exec'ing docker-credential-acr.
//
// It is the credential helper itself, not a second implementation: the same
// host recognition (only ACR login servers and configured custom hosts ever
// get a token), the same configuration file, the same identity chain
// (environment service principal, workload identity, managed identity, Azure
// CLI, azd), the same Azure AD to ACR token exchange, and the same on-disk
// token cache, shared with the binary. A token the library fetched is
// served by `docker-credential-acr get` and the other way round, as long
// as both see the same cache directory and identity.
//
// # go-containerregistry
//
// Keychain returns an [authn.Keychain]. Put it after [authn.DefaultKeychain],
// so that what `docker login` stored still wins:
//
//	kc := authn.NewMultiKeychain(authn.DefaultKeychain, acr.Keychain())
//	img, err := remote.Image(ref, remote.WithAuthFromKeychain(kc))
//
// For a registry that is not ACR, Keychain answers [authn.Anonymous] at
// once, without looking at any identity or sending any request, so the next
// keychain (or anonymous access) is used. Recognition is the binary's exact
// match on the parsed host: x.azurecr.io.evil.com is not ACR. For an ACR
// registry it gets a token while resolving, so that a broken identity is
// reported as an error from Resolve rather than as a registry's 401 later.
//
// # containerd, oras-go, buildkit
//
// Credentials returns a callback from host to username and secret. Non-ACR
// hosts get ("", "", nil), which those libraries take as anonymous. The
// adapters are one line each (this package imports none of them):
//
//	creds := acr.Credentials()
//
//	// containerd: remotes/docker
//	docker.WithAuthCreds(func(host string) (string, string, error) { return creds(context.Background(), host) })
//
//	// oras-go v2: registry/remote/auth
//	client := &auth.Client{Credential: func(ctx context.Context, hostport string) (auth.Credential, error) {
//		u, p, err := creds(ctx, hostport)
//		return auth.Credential{Username: u, Password: p}, err
//	}}
//
//	// buildkit: an auth.AuthServer's Credentials method (session/auth)
//	func (s *server) Credentials(ctx context.Context, req *auth.CredentialsRequest) (*auth.CredentialsResponse, error) {
//		u, p, err := creds(ctx, req.Host)
//		return &auth.CredentialsResponse{Username: u, Secret: p}, err
//	}
//
// # What the credentials are
//
// For an Azure AD identity the username is 00000000-0000-0000-0000-000000000000
// and the secret is an ACR refresh token (a JWT living about three hours),
// which the client trades at the registry's /oauth2/token for scoped access
// tokens, exactly as with `docker login`. Credentials stored with
// `docker login` through the helper (the admin account, a repository-scoped
// token) and `basic` identities in the configuration come back as they
// are. A registry configured with "identityToken": true gets Docker's
// identity-token form, which Keychain passes as [authn.AuthConfig].IdentityToken.
//
// # Which identity
//
// By default, the configuration file and the environment decide, exactly
// as for the binary (see the project README): credentials stored with
// `docker login`, then the identity the configuration names for the
// registry, then the default chain. A program that already has an Azure
// credential passes it with WithTokenCredential; it is then the only Azure
// AD identity used (stored and configured basic credentials still come
// first).
//
// When no identity is available at all, the registry is treated as the
// binary treats it (its "credentials not found"): anonymous, so that an ACR
// registry with anonymous pull enabled still works. The reason (which
// identities were tried) goes to the logger given with WithLogger, at
// warning level. An identity that exists but fails (Azure AD refuses it,
// the exchange fails, the configuration is broken) is an error.
//
// # Freshness
//
// The Authenticator that Keychain returns resolves lazily: each call to
// Authorization (go-containerregistry makes one whenever it needs a new
// registry access token, not per HTTP request) looks the credentials up
// again. That costs a map lookup while the token is fresh, and fetches a new
// token once the cached one is within the refresh margin (an hour, or half
// a short token's life), so a long-lived tool holding one Authenticator
// never presents an expired token. Credentials likewise looks up on every
// call; callers need not cache its answer.
//
// # Concurrency
//
// Keychain and Credentials values are safe for concurrent use. Build one at
// start-up and reuse it: each holds one helper, whose in-process single
// flight makes concurrent lookups of a registry share one Azure AD request
// and one exchange, and whose memory cache answers later lookups. Across
// processes, the file lock of the on-disk cache gives one exchange per
// registry.
//
// # Environment and deadlines
//
// Like the binary, the package reads the process environment (AZURE_*,
// DOCKER_CREDENTIAL_ACR_*, IDENTITY_ENDPOINT...). There is deliberately no
// option to substitute another environment: azidentity's environment
// credential and MSAL's managed identity read some of those variables
// themselves, so a substitute would be only partly honoured. To choose an
// identity explicitly, use WithTokenCredential or the configuration file
// (WithConfigFile). A token fetch is bounded by the helper's timeout
// (DOCKER_CREDENTIAL_ACR_TIMEOUT, the configuration's defaults.timeout, or
// credhelper.DefaultTimeout) whatever the caller's context says; the caller's
// context bounds only how long the caller waits.
//
// The managed identity follows DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY or the
// configuration's defaults.managedIdentity (auto, always, never). With auto,
// on a machine outside Azure with nothing else usable, the first lookup
// probes IMDS (a 300 ms TCP connect to 169.254.169.254), and the answer is
// remembered in the shared cache for ten minutes; set never where that probe
// is unwanted.
//
// A long-lived Keychain keeps fresh tokens in memory: a `docker logout`
// (erase) in another process is seen once that token nears its refresh
// margin, not at once.
//
// # Silence
//
// A library prints nothing: the default logger discards. Pass WithLogger to
// see warnings (a token served from the cache because a refresh failed, an
// unreadable cache) and debug records (cache hits and misses, fetch times).
// Errors name the registry, the identity, Azure's status, error code and
// correlation id, never a token or secret.
package acr
