package credhelper

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// hint says what to do about a failure, as the end of its one line.
func (h *Helper) hint(err error) string {
	var xe *token.ExchangeError
	var ae *token.AADError
	switch {
	case errors.Is(err, context.DeadlineExceeded):
		return fmt.Sprintf("; Azure AD or the registry did not answer within the %s deadline: check the network or proxy, or raise %s",
			h.timeout(), EnvTimeout)
	case errors.Is(err, token.ErrNoAnswer):
		return "; check the registry name, the network and the proxy (HTTPS_PROXY)"
	case errors.As(err, &xe) && (xe.StatusCode == http.StatusUnauthorized || xe.StatusCode == http.StatusForbidden):
		return "; check that this identity has a role on the registry (AcrPull to pull, AcrPush to push) and belongs to the registry's tenant"
	case errors.As(err, &xe) && (xe.StatusCode == http.StatusTooManyRequests || xe.StatusCode >= 500):
		return "; the registry is throttling or failing: try again shortly"
	case errors.As(err, &ae) && ae.StatusCode == http.StatusTooManyRequests:
		return "; Azure AD is throttling: try again shortly"
	case errors.As(err, &ae) && ae.StatusCode >= 400 && ae.StatusCode < 500:
		return "; check the identity's tenant, client ID and secret or certificate"
	case errors.As(err, &ae) && ae.StatusCode >= 500:
		return "; Azure AD is failing: try again shortly"
	}
	return ""
}
