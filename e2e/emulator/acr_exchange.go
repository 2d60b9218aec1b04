package emulator

import (
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// acrRegistry is one emulated ACR login server: the token service state
// (admin account, repository-scoped tokens) and its registry.
type acrRegistry struct {
	Registry
	cloud  Cloud
	server *registryServer

	mu           sync.Mutex
	adminEnabled bool
	adminPW      [2]string
	repoTokens   map[string]repoToken
}

// repoToken is an ACR repository-scoped token.
type repoToken struct {
	password string
	actions  map[string][]string // repository (or "prefix/*") -> actions
}

// serveACR dispatches a request to a registry host: the ACR token service
// under /oauth2/, the registry for everything else.
func (e *Emulator) serveACR(w http.ResponseWriter, r *http.Request, reg *acrRegistry) {
	w.Header().Set("Docker-Distribution-Api-Version", "registry/2.0")
	switch r.URL.Path {
	case "/oauth2/exchange":
		e.acrExchange(w, r, reg)
	case "/oauth2/token":
		e.acrToken(w, r, reg)
	default:
		if f := e.stats.hit(counterRegistry, counterRegistry+"@"+reg.Host); f.apply(r.Context(), w) {
			writeACRError(w, f.Status, "UNAVAILABLE", "injected fault")
			return
		}
		rec := &statusRecorder{ResponseWriter: w}
		reg.server.ServeHTTP(rec, r)
		if rec.status == http.StatusUnauthorized {
			e.stats.hit(counterRegistry401, counterRegistry401+"@"+reg.Host)
		}
	}
}

// acrExchange is POST /oauth2/exchange: an Azure AD access token for an ACR
// refresh token.
func (e *Emulator) acrExchange(w http.ResponseWriter, r *http.Request, reg *acrRegistry) {
	if f := e.stats.hit(counterExchange, counterExchange+"@"+reg.Host); f.apply(r.Context(), w) {
		writeACRError(w, f.Status, "UNAVAILABLE", "injected fault")
		return
	}
	if r.Method != http.MethodPost {
		writeACRError(w, http.StatusMethodNotAllowed, "UNSUPPORTED", "method not allowed")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeACRError(w, http.StatusBadRequest, "UNAUTHORIZED", "malformed form body")
		return
	}
	f := r.PostForm
	switch {
	case f.Get("grant_type") != "access_token":
		writeACRError(w, http.StatusBadRequest, "UNAUTHORIZED", fmt.Sprintf("grant type %q is not supported", f.Get("grant_type")))
		return
	case !strings.EqualFold(f.Get("service"), reg.Host):
		writeACRError(w, http.StatusBadRequest, "UNAUTHORIZED", fmt.Sprintf("service %q does not match the registry %q", f.Get("service"), reg.Host))
		return
	case f.Get("access_token") == "":
		writeACRError(w, http.StatusBadRequest, "UNAUTHORIZED", "access_token is required")
		return
	}
	p, err := e.checkAADToken(reg, f.Get("access_token"), f.Get("tenant"))
	if err != nil {
		writeACRError(w, http.StatusUnauthorized, "UNAUTHORIZED", err.Error())
		return
	}
	tok, err := e.issueRefreshToken(reg, p)
	if err != nil {
		writeACRError(w, http.StatusInternalServerError, "INTERNAL_ERROR", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"refresh_token": tok})
}

// checkAADToken validates an Azure AD token presented to reg's exchange.
func (e *Emulator) checkAADToken(reg *acrRegistry, raw, tenantParam string) (principal, error) {
	claims, err := e.aadKey.verify(raw)
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return principal{}, errors.New("the access token has expired")
	case err != nil:
		return principal{}, fmt.Errorf("the access token is invalid: %w", err)
	}
	aud := audiences(claims)
	if !slices.ContainsFunc(aud, func(a string) bool { return reg.acceptsAudience(a) }) {
		return principal{}, fmt.Errorf("the access token audience %v is not accepted by this registry", aud)
	}
	tid := claimString(claims, "tid")
	if tenantParam != "" && !strings.EqualFold(tenantParam, tid) {
		return principal{}, fmt.Errorf("the tenant %q does not match the tenant of the access token", tenantParam)
	}
	if !strings.EqualFold(tid, reg.Tenant) {
		return principal{}, fmt.Errorf("the access token is from tenant %q, not the registry's tenant", tid)
	}
	if iss := claimString(claims, "iss"); !strings.HasPrefix(iss, "https://"+string(reg.cloud)+"/") {
		return principal{}, fmt.Errorf("the access token issuer %q is not of this registry's cloud", iss)
	}
	p, ok := e.directory.object(claimString(claims, "oid"))
	if !ok {
		return principal{}, errors.New("the identity of the access token does not exist")
	}
	return p, nil
}

func (reg *acrRegistry) acceptsAudience(aud string) bool {
	a := strings.ToLower(strings.TrimRight(aud, "/"))
	switch {
	case a == acrAudience:
		return !reg.RejectACRAudience
	case armAudiences[a]:
		return !reg.RejectARMAudience
	default:
		return false
	}
}

// issueRefreshToken signs an ACR refresh token for p.
func (e *Emulator) issueRefreshToken(reg *acrRegistry, p principal) (string, error) {
	now := time.Now()
	tok, err := e.signRefreshToken(reg, p, now, now.Add(e.lifetimes().refresh))
	if err != nil {
		return "", fmt.Errorf("acr: %w", err)
	}
	e.stats.hit(counterRefreshIssued, counterRefreshIssued+"@"+reg.Host)
	return tok, nil
}

// writeACRError writes an error in the ACR token service's format.
func writeACRError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("X-Ms-Correlation-Request-Id", uuid.NewString())
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}
