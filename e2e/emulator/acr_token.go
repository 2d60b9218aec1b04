package emulator

import (
	"crypto/subtle"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// nullUsername is the user name that goes with an ACR refresh token as
// password.
const nullUsername = "00000000-0000-0000-0000-000000000000"

// grant is what an authenticated caller may do on a registry.
type grant struct {
	subject string
	grantTy string
	all     []string            // actions on every repository
	repos   map[string][]string // per repository (or "prefix/*")
	catalog bool
}

// actionsFor returns the actions the grant allows on repository repo.
func (g grant) actionsFor(repo string) []string {
	if g.all != nil {
		return g.all
	}
	if a, ok := g.repos[repo]; ok {
		return a
	}
	for k, a := range g.repos {
		if prefix, ok := strings.CutSuffix(k, "*"); ok && strings.HasPrefix(repo, prefix) {
			return a
		}
	}
	return nil
}

// acrToken is /oauth2/token, the realm of the registry's challenge: it
// answers scoped registry access tokens for HTTP Basic credentials (GET),
// and for grant_type=refresh_token or grant_type=password (POST form).
func (e *Emulator) acrToken(w http.ResponseWriter, r *http.Request, reg *acrRegistry) {
	w.Header().Set("X-Ms-Correlation-Request-Id", uuid.NewString())
	if f := e.stats.hit(counterACRToken, counterACRToken+"@"+reg.Host); f.apply(r.Context(), w) {
		writeACRError(w, f.Status, "UNAVAILABLE", "injected fault")
		return
	}
	if err := r.ParseForm(); err != nil {
		writeACRError(w, http.StatusBadRequest, "UNAUTHORIZED", "malformed request")
		return
	}
	if svc := r.Form.Get("service"); svc != "" && !strings.EqualFold(svc, reg.Host) {
		writeACRError(w, http.StatusBadRequest, "UNAUTHORIZED", fmt.Sprintf("service %q does not match the registry", svc))
		return
	}
	g, err := e.authenticateACR(r, reg)
	if err != nil {
		writeACRError(w, http.StatusUnauthorized, "UNAUTHORIZED", err.Error())
		return
	}
	tok, err := e.issueAccessToken(reg, g, requestedScopes(r))
	if err != nil {
		writeACRError(w, http.StatusInternalServerError, "INTERNAL_ERROR", err.Error())
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"access_token": tok, "token": tok})
}

var errAuthRequired = errors.New("authentication required, visit https://aka.ms/acr/authorization for more information")

func (e *Emulator) authenticateACR(r *http.Request, reg *acrRegistry) (grant, error) {
	if r.Method == http.MethodPost && r.PostForm.Get("grant_type") != "" {
		switch gt := r.PostForm.Get("grant_type"); gt {
		case "refresh_token":
			return e.grantForRefreshToken(reg, r.PostForm.Get("refresh_token"))
		case "password":
			return e.grantForPassword(reg, r.PostForm.Get("username"), r.PostForm.Get("password"))
		default:
			return grant{}, fmt.Errorf("grant type %q is not supported", gt)
		}
	}
	user, pass, ok := r.BasicAuth()
	if !ok {
		return grant{}, errAuthRequired
	}
	return e.grantForPassword(reg, user, pass)
}

// grantForPassword accepts, in order: an ACR refresh token with the null
// user name, the admin account, a repository-scoped token, and a service
// principal's application ID and client secret.
func (e *Emulator) grantForPassword(reg *acrRegistry, user, pass string) (grant, error) {
	if user == "" || pass == "" {
		return grant{}, errAuthRequired
	}
	if user == nullUsername {
		return e.grantForRefreshToken(reg, pass)
	}
	if g, ok := reg.adminGrant(user, pass); ok {
		return g, nil
	}
	if g, ok := reg.repoTokenGrant(user, pass); ok {
		return g, nil
	}
	if p, ok := e.directory.checkSecret(reg.Tenant, user, pass); ok {
		return e.roleGrant(reg, p, "password"), nil
	}
	return grant{}, errAuthRequired
}

func (e *Emulator) grantForRefreshToken(reg *acrRegistry, raw string) (grant, error) {
	claims, err := e.acrKey.verify(raw)
	if errors.Is(err, jwt.ErrTokenExpired) {
		return grant{}, errors.New("the refresh token has expired")
	}
	if err != nil {
		return grant{}, errAuthRequired
	}
	if !slices.ContainsFunc(audiences(claims), func(a string) bool { return strings.EqualFold(a, reg.Host) }) ||
		claimString(claims, "grant_type") != "refresh_token" {
		return grant{}, errors.New("the refresh token is not valid for this registry")
	}
	p, ok := e.directory.object(claimString(claims, "sub"))
	if !ok {
		return grant{}, errors.New("the identity of the refresh token does not exist")
	}
	return e.roleGrant(reg, p, "refresh_token"), nil
}

func (e *Emulator) roleGrant(reg *acrRegistry, p principal, grantType string) grant {
	role := e.directory.role(reg.Host, p.objectID)
	return grant{subject: p.objectID, grantTy: grantType, all: nonNil(role.actions()), catalog: role != NoRole}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

func (reg *acrRegistry) adminUser() string {
	name, _, _ := strings.Cut(reg.Host, ".")
	return name
}

func (reg *acrRegistry) adminGrant(user, pass string) (grant, bool) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	if !reg.adminEnabled || !strings.EqualFold(user, reg.adminUser()) {
		return grant{}, false
	}
	for _, pw := range reg.adminPW {
		if subtle.ConstantTimeCompare([]byte(pw), []byte(pass)) == 1 {
			return grant{subject: reg.adminUser(), grantTy: "password", all: []string{"pull", "push", "delete"}, catalog: true}, true
		}
	}
	return grant{}, false
}

func (reg *acrRegistry) repoTokenGrant(user, pass string) (grant, bool) {
	reg.mu.Lock()
	defer reg.mu.Unlock()
	t, ok := reg.repoTokens[user]
	if !ok || subtle.ConstantTimeCompare([]byte(t.password), []byte(pass)) != 1 {
		return grant{}, false
	}
	return grant{subject: user, grantTy: "password", repos: t.actions}, true
}

// scope is one requested resource, "type:name:action,action".
type scope struct {
	typ, name string
	actions   []string
}

// requestedScopes parses every "scope" parameter; each may hold several
// space-separated scopes.
func requestedScopes(r *http.Request) []scope {
	var out []scope
	for _, v := range r.Form["scope"] {
		for s := range strings.FieldsSeq(v) {
			typ, rest, ok := strings.Cut(s, ":")
			i := strings.LastIndex(rest, ":")
			if !ok || i < 0 {
				continue
			}
			if j := strings.Index(typ, "("); j >= 0 {
				typ = typ[:j] // resource class, e.g. repository(plugin)
			}
			out = append(out, scope{typ: typ, name: rest[:i], actions: strings.Split(rest[i+1:], ",")})
		}
	}
	return out
}

// issueAccessToken signs a registry access token with the granted subset of
// the requested scopes.
func (e *Emulator) issueAccessToken(reg *acrRegistry, g grant, scopes []scope) (string, error) {
	access := []map[string]any{}
	for _, s := range scopes {
		var allowed []string
		switch s.typ {
		case "repository":
			allowed = g.actionsFor(s.name)
		case "registry":
			if s.name == "catalog" && g.catalog {
				allowed = []string{"*"}
			}
		}
		access = append(access, map[string]any{"type": s.typ, "name": s.name, "actions": intersect(s.actions, allowed)})
	}
	now := time.Now()
	tok, err := e.acrKey.sign(jwt.MapClaims{
		"jti":        uuid.NewString(),
		"sub":        g.subject,
		"nbf":        now.Add(-time.Minute).Unix(),
		"exp":        now.Add(e.lifetimes().access).Unix(),
		"iat":        now.Unix(),
		"iss":        acrIssuer,
		"aud":        reg.Host,
		"version":    "1.0",
		"rid":        strings.ReplaceAll(uuid.NewString(), "-", ""),
		"grant_type": g.grantTy,
		"access":     access,
		"roles":      []string{},
	})
	if err != nil {
		return "", fmt.Errorf("acr: %w", err)
	}
	return tok, nil
}

// intersect returns the requested actions that allowed permits. "*" is
// granted only to a caller allowed everything (pull, push and delete).
func intersect(requested, allowed []string) []string {
	out := []string{}
	for _, a := range requested {
		a = normalizeAction(a)
		switch {
		case slices.Contains(allowed, a) && !slices.Contains(out, a):
			out = append(out, a)
		case a == "*" && slices.Contains(allowed, "delete") && slices.Contains(allowed, "push"):
			out = append(out, "*")
		}
	}
	return out
}

// normalizeAction maps ACR scope-map actions to registry actions.
func normalizeAction(a string) string {
	switch a {
	case "content/read":
		return "pull"
	case "content/write":
		return "push"
	case "content/delete":
		return "delete"
	default:
		return a
	}
}
