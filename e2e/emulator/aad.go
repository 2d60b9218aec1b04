package emulator

import (
	"crypto/sha1" //nolint:gosec // x5t is SHA-1 by definition.
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

const (
	clientAssertionType = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
	// federatedAudience is the audience Azure AD requires of workload
	// identity assertions.
	federatedAudience = "api://AzureADTokenExchange"
	// oidcIssuer is the issuer of the emulator's workload identity tokens
	// (what a Kubernetes cluster or GitHub would be).
	oidcIssuer = "https://oidc.acr-emulator.invalid/"
	// azureCLIAppID is the Azure CLI's well-known client ID.
	azureCLIAppID = "04b07795-8ddb-461a-bbee-02f9e1bf7b46"
)

// serveAAD answers the Azure AD endpoints MSAL uses, on authority host host.
func (e *Emulator) serveAAD(w http.ResponseWriter, r *http.Request, host string, c Cloud) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	switch {
	case r.URL.Path == "/common/discovery/instance":
		e.aadInstanceDiscovery(w, r, host)
	case len(parts) == 4 && parts[1] == "v2.0" && parts[2] == ".well-known" && parts[3] == "openid-configuration":
		e.aadMetadata(w, r, host, c, parts[0])
	case len(parts) == 4 && parts[1] == "oauth2" && parts[2] == "v2.0" && parts[3] == "token":
		e.aadToken(w, r, host, c, parts[0])
	case len(parts) == 4 && parts[1] == "discovery" && parts[2] == "v2.0" && parts[3] == "keys":
		e.stats.hit(counterAADKeys)
		writeJSON(w, http.StatusOK, map[string]any{"keys": []any{e.aadKey.jwk()}})
	default:
		writeAADError(w, r, http.StatusNotFound, "invalid_request", 900561, "The endpoint only accepts POST requests. Received a GET request.")
	}
}

// aadMetadata serves the tenant's OpenID Connect metadata. MSAL fetches it
// before its first token request and requires the issuer host to match the
// authority host.
func (e *Emulator) aadMetadata(w http.ResponseWriter, r *http.Request, host string, c Cloud, tenant string) {
	if f := e.stats.hit(counterAADMetadata, counterAADMetadata+"@"+host); f.apply(r.Context(), w) {
		writeAADError(w, r, f.Status, "temporarily_unavailable", 50196, "Injected fault.")
		return
	}
	if !e.tenantInCloud(tenant, c) {
		writeAADError(w, r, http.StatusBadRequest, "invalid_tenant", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	base := "https://" + host + "/" + tenant
	writeJSON(w, http.StatusOK, map[string]any{
		"token_endpoint":                        base + "/oauth2/v2.0/token",
		"token_endpoint_auth_methods_supported": []string{"client_secret_post", "private_key_jwt", "client_secret_basic"},
		"jwks_uri":                              base + "/discovery/v2.0/keys",
		"response_modes_supported":              []string{"query", "fragment", "form_post"},
		"subject_types_supported":               []string{"pairwise"},
		"id_token_signing_alg_values_supported": []string{"RS256"},
		"response_types_supported":              []string{"code", "id_token", "code id_token", "id_token token"},
		"scopes_supported":                      []string{"openid", "profile", "email", "offline_access"},
		"issuer":                                base + "/v2.0",
		"request_uri_parameter_supported":       false,
		"authorization_endpoint":                base + "/oauth2/v2.0/authorize",
		"device_authorization_endpoint":         base + "/oauth2/v2.0/devicecode",
		"end_session_endpoint":                  base + "/oauth2/v2.0/logout",
		"kerberos_endpoint":                     base + "/kerberos",
		"tenant_region_scope":                   "NA",
		"cloud_instance_name":                   strings.TrimPrefix(string(c), "login."),
	})
}

// aadInstanceDiscovery serves /common/discovery/instance, which MSAL calls
// for authority hosts it does not know (and for regional authorities).
func (e *Emulator) aadInstanceDiscovery(w http.ResponseWriter, r *http.Request, host string) {
	if f := e.stats.hit(counterAADDiscovery, counterAADDiscovery+"@"+host); f.apply(r.Context(), w) {
		writeAADError(w, r, f.Status, "temporarily_unavailable", 50196, "Injected fault.")
		return
	}
	authz := r.URL.Query().Get("authorization_endpoint")
	authHost, tenant, ok := parseAuthorizeEndpoint(authz)
	if !ok {
		writeAADError(w, r, http.StatusBadRequest, "invalid_instance", 50049, "Unknown or invalid instance.")
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"tenant_discovery_endpoint": "https://" + authHost + "/" + tenant + "/v2.0/.well-known/openid-configuration",
		"api-version":               "1.1",
		"metadata": []map[string]any{
			{"preferred_network": "login.microsoftonline.com", "preferred_cache": "login.windows.net",
				"aliases": []string{"login.microsoftonline.com", "login.windows.net", "login.microsoft.com", "sts.windows.net"}},
			{"preferred_network": "login.partner.microsoftonline.cn", "preferred_cache": "login.partner.microsoftonline.cn",
				"aliases": []string{"login.partner.microsoftonline.cn", "login.chinacloudapi.cn"}},
			{"preferred_network": "login.microsoftonline.us", "preferred_cache": "login.microsoftonline.us",
				"aliases": []string{"login.microsoftonline.us", "login.usgovcloudapi.net"}},
		},
	})
}

// parseAuthorizeEndpoint splits https://<host>/<tenant>/oauth2/v2.0/authorize.
func parseAuthorizeEndpoint(s string) (host, tenant string, ok bool) {
	rest, found := strings.CutPrefix(s, "https://")
	if !found {
		return "", "", false
	}
	parts := strings.Split(rest, "/")
	if len(parts) < 2 || parts[1] == "" {
		return "", "", false
	}
	host = strings.ToLower(parts[0])
	if _, known := authorityAliases[host]; !known {
		return "", "", false
	}
	return host, parts[1], true
}

func (e *Emulator) tenantInCloud(tenant string, c Cloud) bool {
	tc, ok := e.directory.tenantCloud(tenant)
	return ok && tc == c
}

// aadToken is the v2.0 token endpoint, client credentials grant only: with a
// client secret, a certificate-signed client assertion, or a federated
// (workload identity) assertion.
func (e *Emulator) aadToken(w http.ResponseWriter, r *http.Request, host string, c Cloud, tenant string) {
	if r.Method != http.MethodPost {
		writeAADError(w, r, http.StatusMethodNotAllowed, "invalid_request", 900561, "The endpoint only accepts POST requests.")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body is malformed.")
		return
	}
	clientID := r.PostForm.Get("client_id")
	if f := e.stats.hit(counterAADToken, counterAADToken+"@"+host, counterAADToken+"@"+clientID); f.apply(r.Context(), w) {
		writeAADError(w, r, f.Status, "temporarily_unavailable", 50196, "Injected fault.")
		return
	}
	if !e.tenantInCloud(tenant, c) {
		writeAADError(w, r, http.StatusBadRequest, "invalid_tenant", 90002,
			fmt.Sprintf("Tenant '%s' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud.", tenant))
		return
	}
	if gt := r.PostForm.Get("grant_type"); gt != "client_credentials" {
		writeAADError(w, r, http.StatusBadRequest, "unsupported_grant_type", 70003,
			fmt.Sprintf("The app requested an unsupported grant type '%s'.", gt))
		return
	}
	if clientID == "" {
		writeAADError(w, r, http.StatusBadRequest, "invalid_request", 900144, "The request body must contain the following parameter: 'client_id'.")
		return
	}
	resource, ok := defaultScopeResource(r.PostForm.Get("scope"))
	if !ok {
		writeAADError(w, r, http.StatusBadRequest, "invalid_scope", 1002012,
			fmt.Sprintf("The provided value for scope %s is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier (application ID URI).", r.PostForm.Get("scope")))
		return
	}
	p, aerr := e.authenticateClient(r, host, tenant, clientID)
	if aerr != nil {
		writeAADError(w, r, aerr.status, aerr.code, aerr.aadsts, aerr.desc)
		return
	}
	tok, lifetime, err := e.issueAADToken(p, resource, c)
	if err != nil {
		writeAADError(w, r, http.StatusInternalServerError, "server_error", 50000, err.Error())
		return
	}
	secs := int(lifetime / time.Second)
	writeJSON(w, http.StatusOK, map[string]any{
		"token_type":     "Bearer",
		"expires_in":     secs,
		"ext_expires_in": secs,
		"access_token":   tok,
	})
}

// aadError is an Azure AD error answer.
type aadError struct {
	status int
	code   string
	aadsts int
	desc   string
}

func (e *Emulator) authenticateClient(r *http.Request, host, tenant, clientID string) (principal, *aadError) {
	app, ok := e.directory.app(tenant, clientID)
	if !ok {
		return principal{}, &aadError{http.StatusBadRequest, "unauthorized_client", 700016,
			fmt.Sprintf("Application with identifier '%s' was not found in the directory '%s'. This can happen if the application has not been installed by the administrator of the tenant or consented to by any user in the tenant. You may have sent your authentication request to the wrong tenant.", clientID, tenant)}
	}
	secret, assertion := r.PostForm.Get("client_secret"), r.PostForm.Get("client_assertion")
	switch {
	case secret != "":
		if _, ok := e.directory.checkSecret(tenant, clientID, secret); !ok {
			return principal{}, &aadError{http.StatusUnauthorized, "invalid_client", 7000215,
				fmt.Sprintf("Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '%s'.", clientID)}
		}
		return app, nil
	case assertion != "":
		if t := r.PostForm.Get("client_assertion_type"); t != clientAssertionType {
			return principal{}, &aadError{http.StatusBadRequest, "invalid_request", 50027,
				fmt.Sprintf("Invalid client_assertion_type '%s'.", t)}
		}
		claims, _, err := peekClaims(assertion)
		if err != nil {
			return principal{}, &aadError{http.StatusBadRequest, "invalid_request", 50027, "JWT token is invalid or malformed."}
		}
		if claimString(claims, "iss") == oidcIssuer {
			return e.checkFederatedAssertion(app, assertion)
		}
		return e.checkCertificateAssertion(app, host, assertion)
	default:
		return principal{}, &aadError{http.StatusUnauthorized, "invalid_client", 7000218,
			"The request body must contain the following parameter: 'client_assertion' or 'client_secret'."}
	}
}

// checkFederatedAssertion verifies a workload identity token: issued by the
// emulator's OIDC issuer, for api://AzureADTokenExchange, with a subject
// registered as a federated credential of the app.
func (e *Emulator) checkFederatedAssertion(app principal, assertion string) (principal, *aadError) {
	claims, err := e.oidcKey.verify(assertion)
	if errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet) {
		return principal{}, &aadError{http.StatusBadRequest, "invalid_client", 700024, "Client assertion is not within its valid time range."}
	}
	if err != nil {
		return principal{}, &aadError{http.StatusBadRequest, "invalid_client", 50027, "JWT token is invalid or malformed: " + err.Error()}
	}
	sub := claimString(claims, "sub")
	if !slices.Contains(audiences(claims), federatedAudience) {
		return principal{}, &aadError{http.StatusBadRequest, "invalid_client", 700212,
			fmt.Sprintf("No matching federated identity record found for presented assertion audience '%v'.", audiences(claims))}
	}
	if !app.federated[sub] {
		return principal{}, &aadError{http.StatusBadRequest, "invalid_client", 70021,
			fmt.Sprintf("No matching federated identity record found for presented assertion. Assertion Issuer: '%s'. Assertion Subject: '%s'. Assertion Audience: '%s'.", oidcIssuer, sub, federatedAudience)}
	}
	return app, nil
}

// checkCertificateAssertion verifies a client assertion signed with one of
// the app's registered certificates, found by the x5t#S256 or x5t header.
func (e *Emulator) checkCertificateAssertion(app principal, host, assertion string) (principal, *aadError) {
	claims := jwt.MapClaims{}
	_, err := jwt.ParseWithClaims(assertion, claims, func(t *jwt.Token) (any, error) {
		for _, c := range app.certs {
			if thumbprintMatches(t.Header, c.Raw) {
				return c.PublicKey, nil
			}
		}
		return nil, errNoKey
	}, jwt.WithValidMethods([]string{"PS256", "RS256"}), jwt.WithExpirationRequired(), jwt.WithLeeway(5*time.Second))
	switch {
	case errors.Is(err, errNoKey):
		return principal{}, &aadError{http.StatusUnauthorized, "invalid_client", 700027,
			fmt.Sprintf("The certificate with identifier used to sign the client assertion is not registered on application. [Reason - The key was not found., Please visit the Azure Portal, Graph Explorer or directly use MS Graph to see configured keys for app Id '%s'.]", app.appID)}
	case errors.Is(err, jwt.ErrTokenExpired) || errors.Is(err, jwt.ErrTokenNotValidYet):
		return principal{}, &aadError{http.StatusBadRequest, "invalid_client", 700024, "Client assertion is not within its valid time range."}
	case err != nil:
		return principal{}, &aadError{http.StatusUnauthorized, "invalid_client", 700027, "Client assertion failed signature validation."}
	}
	if claimString(claims, "iss") != app.appID || claimString(claims, "sub") != app.appID {
		return principal{}, &aadError{http.StatusUnauthorized, "invalid_client", 700021, "Client assertion application identifier doesn't match 'client_id' parameter."}
	}
	if !slices.ContainsFunc(audiences(claims), func(a string) bool { return strings.HasPrefix(strings.ToLower(a), "https://"+host+"/") }) {
		return principal{}, &aadError{http.StatusBadRequest, "invalid_client", 700016, "The audience of the client assertion is not this token endpoint."}
	}
	return app, nil
}

func thumbprintMatches(header map[string]any, der []byte) bool {
	s256 := sha256.Sum256(der)
	s1 := sha1.Sum(der) //nolint:gosec // x5t is SHA-1 by definition.
	for key, sum := range map[string][]byte{"x5t#S256": s256[:], "x5t": s1[:]} {
		v, _ := header[key].(string)
		if v == "" {
			continue
		}
		if v == base64.StdEncoding.EncodeToString(sum) || v == base64.RawURLEncoding.EncodeToString(sum) {
			return true
		}
	}
	return false
}

// defaultScopeResource returns X for a scope "X/.default", ignoring the
// OIDC scopes MSAL may add.
func defaultScopeResource(scope string) (string, bool) {
	for s := range strings.FieldsSeq(scope) {
		if res, ok := strings.CutSuffix(s, "/.default"); ok && res != "" {
			return res, true
		}
	}
	return "", false
}

// canonicalAudience maps a resource to the "aud" Azure AD puts in tokens:
// ARM audiences keep a trailing slash, others have none.
func canonicalAudience(resource string) string {
	r := strings.TrimSuffix(resource, "/.default")
	r = strings.TrimRight(r, "/")
	if armAudiences[strings.ToLower(r)] {
		return r + "/"
	}
	return r
}

// issueAADToken signs an Azure AD access token for p and resource.
func (e *Emulator) issueAADToken(p principal, resource string, c Cloud) (string, time.Duration, error) {
	lifetime := e.lifetimes().aad
	now := time.Now()
	claims := jwt.MapClaims{
		"aud": canonicalAudience(resource),
		"iss": "https://" + string(c) + "/" + p.tenant + "/v2.0",
		"iat": now.Unix(),
		"nbf": now.Add(-5 * time.Minute).Unix(),
		"exp": now.Add(lifetime).Unix(),
		"tid": p.tenant,
		"oid": p.objectID,
		"sub": p.objectID,
		"uti": uuid.NewString(),
		"ver": "2.0",
	}
	switch p.kind {
	case kindUser:
		claims["appid"], claims["azp"] = azureCLIAppID, azureCLIAppID
		claims["idtyp"], claims["upn"], claims["scp"] = "user", p.name, "user_impersonation"
	default:
		claims["appid"], claims["azp"] = p.appID, p.appID
		claims["idtyp"] = "app"
	}
	tok, err := e.aadKey.sign(claims)
	if err != nil {
		return "", 0, fmt.Errorf("aad: %w", err)
	}
	e.stats.hit(counterTokenIssued)
	return tok, lifetime, nil
}

// writeAADError writes an error in Azure AD's format.
func writeAADError(w http.ResponseWriter, r *http.Request, status int, code string, aadsts int, desc string) {
	corr := r.Header.Get("client-request-id")
	if corr == "" {
		corr = uuid.NewString()
	}
	trace := uuid.NewString()
	ts := time.Now().UTC().Format("2006-01-02 15:04:05Z")
	writeJSON(w, status, map[string]any{
		"error": code,
		"error_description": fmt.Sprintf("AADSTS%d: %s Trace ID: %s Correlation ID: %s Timestamp: %s",
			aadsts, desc, trace, corr, ts),
		"error_codes":    []int{aadsts},
		"timestamp":      ts,
		"trace_id":       trace,
		"correlation_id": corr,
		"error_uri":      fmt.Sprintf("https://%s/error?code=%d", r.Host, aadsts),
	})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store, no-cache")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
