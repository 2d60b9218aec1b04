package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Audiences the exchange is tried with.
const (
	AudienceAuto = "auto" // the ACR audience, then ARM if the registry rejects it
	AudienceACR  = "acr"
	AudienceARM  = "arm"
)

// Token is an ACR refresh token and what is known of its life.
type Token struct {
	RefreshToken string
	ExpiresAt    time.Time
	IssuedAt     time.Time
	// Identity is the identity that obtained it.
	Identity Identity
}

// Fetcher turns an Azure AD identity into an ACR refresh token: it gets an
// Azure AD access token and exchanges it at the registry.
type Fetcher struct {
	// Exchanger trades the Azure AD token; nil is an HTTPExchanger.
	Exchanger Exchanger
	// Audience is AudienceAuto (default), AudienceACR or AudienceARM.
	Audience string
	// CredentialOptions are passed to Identity.Credential.
	CredentialOptions CredentialOptions
	// NewCredential builds a credential for an identity; nil is Identity.Credential.
	// Embedders use it to supply an azcore.TokenCredential of their own.
	NewCredential func(Identity) (azcore.TokenCredential, error)
}

// Fetch tries the identities in order and returns the first ACR refresh
// token obtained for host. It moves on to the next identity only when one
// is unavailable (not configured, not logged in); an identity that Azure AD
// or the registry refuses ends the search with that error.
func (f *Fetcher) Fetch(ctx context.Context, host string, ids []Identity) (Token, error) {
	var unavailable []string
	for _, id := range ids {
		rec := &recorder{}
		cred, err := f.credential(id, rec)
		if err != nil {
			unavailable = append(unavailable, fmt.Sprintf("%s: %s", id.Kind.Describe(), firstLine(err)))
			continue
		}
		tok, err := f.fetchWith(ctx, host, id, cred, rec)
		if err == nil {
			return tok, nil
		}
		var ae *AADError
		if errors.As(err, &ae) && ae.Unavailable {
			unavailable = append(unavailable, fmt.Sprintf("%s: %s", id.Kind.Describe(), ae.Detail))
			continue
		}
		return Token{}, err
	}
	return Token{}, &UnavailableError{Tried: unavailable}
}

// UnavailableError says that no identity could be used at all.
type UnavailableError struct {
	Tried []string
}

func (e *UnavailableError) Error() string {
	if len(e.Tried) == 0 {
		return "no Azure identity available: none configured"
	}
	return "no Azure identity available: tried " + strings.Join(e.Tried, "; ")
}

func (f *Fetcher) credential(id Identity, rec *recorder) (azcore.TokenCredential, error) {
	if f.NewCredential != nil {
		return f.NewCredential(id)
	}
	o := f.CredentialOptions
	if id.Kind == KindManagedIdentity {
		// Service Fabric's managed identity needs the transport to be an
		// *http.Client it can pin; managed identity errors are plain anyway.
		return id.Credential(o)
	}
	rec.base = o.Transport
	if rec.base == nil {
		rec.base = defaultHTTPClient()
	}
	o.Transport = rec
	return id.Credential(o)
}

// recorder remembers Azure AD's last answer, so that a failure that ends
// in a deadline (Azure AD throttling until time runs out) still says what
// Azure AD answered.
type recorder struct {
	base        policy.Transporter
	mu          sync.Mutex
	status      int
	correlation string
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	resp, err := r.base.Do(req)
	if resp != nil {
		r.mu.Lock()
		r.status = resp.StatusCode
		r.correlation = oneLine(resp.Header.Get("X-Ms-Request-Id"), 80)
		r.mu.Unlock()
	}
	return resp, err
}

func (r *recorder) last() (int, string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.status, r.correlation
}

func (f *Fetcher) fetchWith(ctx context.Context, host string, id Identity, cred azcore.TokenCredential, rec *recorder) (Token, error) {
	scopes := []string{ACRScope}
	switch f.Audience {
	case AudienceARM:
		scopes = []string{id.Cloud.ARMScope}
	case "", AudienceAuto:
		scopes = append(scopes, id.Cloud.ARMScope)
	}
	var err error
	for i, scope := range scopes {
		var tok Token
		tok, err = f.fetchScope(ctx, host, id, cred, scope, rec)
		if err == nil {
			return tok, nil
		}
		var xe *ExchangeError
		if i+1 < len(scopes) && errors.As(err, &xe) && xe.Rejected() {
			continue // the registry may accept only the other audience
		}
		break
	}
	return Token{}, err
}

func (f *Fetcher) fetchScope(ctx context.Context, host string, id Identity, cred azcore.TokenCredential, scope string, rec *recorder) (Token, error) {
	at, err := cred.GetToken(ctx, policy.TokenRequestOptions{Scopes: []string{scope}})
	if err != nil {
		e := newAADError(id, err)
		if e.cause = ctx.Err(); e.cause != nil {
			// Time ran out (a CLI killed by the deadline reports only
			// "signal: killed"): a slow identity, not an absent one, so the
			// failure is not remembered as "no identity here".
			e.Unavailable = false
		}
		if status, corr := rec.last(); e.StatusCode == 0 && status >= 400 {
			e.StatusCode = status
			e.Detail += fmt.Sprintf(" (Azure AD's last answer: HTTP %d", status)
			if corr != "" {
				e.Detail += ", request id " + corr
			}
			e.Detail += ")"
		}
		return Token{}, e
	}
	Remember(at.Token)
	tenant := id.TenantID
	if tenant == "" {
		if c, err := ParseClaims(at.Token); err == nil {
			tenant = c.TenantID
		}
	}
	x := f.Exchanger
	if x == nil {
		x = &HTTPExchanger{MaxRetries: 3}
	}
	rt, err := x.Exchange(ctx, ExchangeRequest{Host: host, Tenant: tenant, AccessToken: at.Token})
	if err != nil {
		return Token{}, fmt.Errorf("%s: %w", id, err)
	}
	Remember(rt)
	c, err := ParseClaims(rt)
	if err != nil || c.Expiry.IsZero() {
		return Token{}, fmt.Errorf("%s: token exchange: the refresh token has no expiry", id)
	}
	return Token{RefreshToken: rt, ExpiresAt: c.Expiry, IssuedAt: c.IssuedAt, Identity: id}, nil
}

// AADError is a failure to get an Azure AD token, in one line: what Azure
// AD said (status, error code, description, correlation id), never a secret.
type AADError struct {
	Identity    Identity
	StatusCode  int
	Detail      string
	Unavailable bool // the identity is not usable here, as opposed to refused
	cause       error
}

// Unwrap returns the context's error when the request ran out of time.
func (e *AADError) Unwrap() error { return e.cause }

func (e *AADError) Error() string {
	if e.StatusCode != 0 {
		return fmt.Sprintf("Azure AD refused %s: HTTP %d %s", e.Identity, e.StatusCode, e.Detail)
	}
	return fmt.Sprintf("Azure AD token for %s: %s", e.Identity, e.Detail)
}

func newAADError(id Identity, err error) *AADError {
	var af *azidentity.AuthenticationFailedError
	if !errors.As(err, &af) || af.RawResponse == nil {
		// Without an HTTP response it is a local failure: for the CLIs (not
		// logged in, not working) and managed identity, "not available here".
		return &AADError{Identity: id, Detail: firstLine(err), Unavailable: unavailableKind(id.Kind, err)}
	}
	e := &AADError{Identity: id, Detail: firstLine(err)}
	if af.RawResponse != nil {
		e.StatusCode = af.RawResponse.StatusCode
		e.Detail = aadResponseDetail(af.RawResponse)
	}
	return e
}

// unavailableKind reports whether an error other than a refusal means the
// identity is simply not usable here, so the chain may go on: a CLI that is
// not logged in, a managed identity endpoint that is not there.
func unavailableKind(k Kind, err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	switch k {
	case KindAzureCLI, KindAzd, KindManagedIdentity:
		return true
	}
	return false
}

// aadResponseDetail summarises Azure AD's JSON error answer.
func aadResponseDetail(resp *http.Response) string {
	if resp.Body == nil {
		return http.StatusText(resp.StatusCode)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return http.StatusText(resp.StatusCode)
	}
	var r struct {
		Error       string `json:"error"`
		Description string `json:"error_description"`
		Correlation string `json:"correlation_id"`
	}
	if json.Unmarshal(b, &r) != nil || r.Error == "" {
		return http.StatusText(resp.StatusCode)
	}
	desc := r.Description
	if i := strings.IndexAny(desc, "\r\n"); i >= 0 {
		desc = desc[:i]
	}
	// Azure AD appends "Trace ID: ... Correlation ID: ... Timestamp: ...";
	// the correlation id is quoted separately.
	if i := strings.Index(desc, " Trace ID:"); i >= 0 {
		desc = desc[:i]
	}
	s := oneLine(r.Error, 64)
	if desc != "" {
		s += ": " + oneLine(desc, 240)
	}
	if r.Correlation != "" {
		s += " (correlation id " + oneLine(r.Correlation, 80) + ")"
	}
	return s
}

// firstLine is an error flattened to one line, shortened and with anything
// that looks like a token removed.
func firstLine(err error) string {
	return oneLine(err.Error(), 300)
}
