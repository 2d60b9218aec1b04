package token

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Exchanger trades an Azure AD access token for an ACR refresh token.
type Exchanger interface {
	Exchange(ctx context.Context, r ExchangeRequest) (string, error)
}

// ExchangeRequest is one call to a registry's /oauth2/exchange.
type ExchangeRequest struct {
	// Host is the registry login server (and the exchange's "service").
	Host string
	// Tenant is the Azure AD tenant the access token was issued in.
	Tenant string
	// AccessToken is the Azure AD access token.
	AccessToken string
}

// ExchangeError is a failed exchange: what the registry said, never the token.
type ExchangeError struct {
	Host          string
	StatusCode    int
	Code          string // ACR's error code, e.g. UNAUTHORIZED
	Message       string // ACR's error message, shortened
	CorrelationID string
}

func (e *ExchangeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "token exchange failed: HTTP %d", e.StatusCode)
	if e.Code != "" {
		fmt.Fprintf(&b, " %s", e.Code)
	}
	if e.Message != "" {
		fmt.Fprintf(&b, ": %s", e.Message)
	}
	if e.CorrelationID != "" {
		fmt.Fprintf(&b, " (correlation id %s)", e.CorrelationID)
	}
	return b.String()
}

// Rejected reports whether the registry refused the token itself (as opposed
// to failing), which is when another audience may be worth a try.
func (e *ExchangeError) Rejected() bool {
	return e.StatusCode == http.StatusUnauthorized || e.StatusCode == http.StatusBadRequest ||
		e.StatusCode == http.StatusForbidden
}

// HTTPExchanger is the Exchanger that speaks to the registry over HTTPS.
//
// It is a few dozen lines of net/http rather than the azcontainerregistry
// authentication client: that client would add the azcore request pipeline to
// a path whose every millisecond counts, its errors quote response bodies, and
// it offers nothing the exchange needs (one form POST, one JSON answer).
type HTTPExchanger struct {
	// Client is the HTTP client; nil means a client with sane timeouts that
	// honours HTTPS_PROXY.
	Client *http.Client
	// MaxRetries bounds retries of 429 and 5xx answers and transport errors.
	MaxRetries int
	// Backoff is the first retry delay, doubled each time (capped by MaxDelay).
	Backoff, MaxDelay time.Duration
}

// ErrNoAnswer is wrapped by exchange errors where the registry could not be
// reached or did not answer in time.
var ErrNoAnswer = errors.New("no answer from the registry")

// maxBody bounds what is read of an exchange answer.
const maxBody = 256 << 10

// Exchange implements Exchanger.
func (x *HTTPExchanger) Exchange(ctx context.Context, r ExchangeRequest) (string, error) {
	if r.Host == "" || strings.ContainsAny(r.Host, "/?#@") {
		return "", fmt.Errorf("token exchange: invalid registry host")
	}
	form := url.Values{
		"grant_type":   {"access_token"},
		"service":      {hostOnly(r.Host)},
		"tenant":       {r.Tenant},
		"access_token": {r.AccessToken},
	}.Encode()
	endpoint := "https://" + r.Host + "/oauth2/exchange"
	delay := x.backoff()
	for attempt := 0; ; attempt++ {
		tok, retryAfter, err := x.once(ctx, endpoint, r.Host, form)
		if err == nil || retryAfter < 0 || attempt >= x.MaxRetries {
			return tok, err
		}
		wait := max(delay, retryAfter)
		if x.MaxDelay > 0 {
			wait = min(wait, x.MaxDelay)
		}
		delay *= 2
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return "", fmt.Errorf("%w (gave up retrying: %v)", err, ctx.Err())
		case <-t.C:
		}
	}
}

func (x *HTTPExchanger) backoff() time.Duration {
	if x.Backoff > 0 {
		return x.Backoff
	}
	return 250 * time.Millisecond
}

// once makes one request. retryAfter < 0 means the error is final.
func (x *HTTPExchanger) once(ctx context.Context, endpoint, host, form string) (string, time.Duration, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, strings.NewReader(form))
	if err != nil {
		return "", -1, fmt.Errorf("token exchange: %w", err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	resp, err := x.client().Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return "", -1, fmt.Errorf("token exchange: %w: %w", ErrNoAnswer, ctx.Err())
		}
		return "", 0, fmt.Errorf("token exchange: %w: %s", ErrNoAnswer, redactURLError(err))
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return "", 0, fmt.Errorf("token exchange: reading the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		e := exchangeError(host, resp, body)
		switch {
		case resp.StatusCode == http.StatusTooManyRequests:
			return "", retryAfter(resp.Header.Get("Retry-After")), e
		case resp.StatusCode >= 500:
			return "", retryAfter(resp.Header.Get("Retry-After")), e
		}
		return "", -1, e
	}
	var ok struct {
		RefreshToken string `json:"refresh_token"`
	}
	if err := json.Unmarshal(body, &ok); err != nil || ok.RefreshToken == "" {
		return "", -1, errors.New("token exchange: the answer has no refresh_token")
	}
	return ok.RefreshToken, 0, nil
}

// client is the HTTP client, never one that follows redirects: a 307 or
// 308 would send the form, Azure AD token included, to wherever it points.
func (x *HTTPExchanger) client() *http.Client {
	if x.Client == nil {
		return defaultHTTPClient()
	}
	c := *x.Client
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// exchangeError builds the error from ACR's {"errors":[{"code","message"}]}.
// The message is kept short and on one line; a body that is not ACR's JSON is
// not quoted at all, since it might echo the request.
func exchangeError(host string, resp *http.Response, body []byte) *ExchangeError {
	e := &ExchangeError{Host: host, StatusCode: resp.StatusCode, CorrelationID: correlationID(resp.Header)}
	var acr struct {
		Errors []struct {
			Code    string `json:"code"`
			Message string `json:"message"`
		} `json:"errors"`
	}
	if json.Unmarshal(body, &acr) == nil && len(acr.Errors) > 0 {
		e.Code = oneLine(acr.Errors[0].Code, 64)
		e.Message = oneLine(acr.Errors[0].Message, 200)
	}
	return e
}

func correlationID(h http.Header) string {
	for _, k := range []string{"X-Ms-Correlation-Request-Id", "X-Ms-Request-Id", "X-Ms-Client-Request-Id"} {
		if v := h.Get(k); v != "" {
			return oneLine(v, 80)
		}
	}
	return ""
}

// oneLine keeps printable ASCII, drops anything that looks like a JWT, and
// cuts to n bytes.
func oneLine(s string, n int) string {
	var b strings.Builder
	for _, f := range strings.Fields(s) {
		f = redactWord(f)
		if b.Len() > 0 {
			b.WriteByte(' ')
		}
		for i := 0; i < len(f); i++ {
			if c := f[i]; c >= 0x20 && c < 0x7f {
				b.WriteByte(c)
			}
		}
		if b.Len() >= n {
			break
		}
	}
	s = b.String()
	if len(s) > n {
		s = s[:n] + "..."
	}
	return s
}

// retryAfter parses a Retry-After header in seconds; it is capped so a
// misbehaving server cannot stall a docker pull.
func retryAfter(v string) time.Duration {
	secs, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil || secs < 0 {
		return 0
	}
	return min(time.Duration(secs)*time.Second, 10*time.Second)
}

// hostOnly strips a port from a host for the exchange's "service".
func hostOnly(h string) string {
	if i := strings.LastIndexByte(h, ':'); i >= 0 && !strings.Contains(h[i:], "]") {
		return h[:i]
	}
	return h
}

// redactURLError reduces a transport error to its cause: url.Error quotes the
// URL, which here holds nothing secret, but the cause is what helps.
func redactURLError(err error) string {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Op + " " + ue.URL + ": " + ue.Err.Error()
	}
	return err.Error()
}
