package credhelper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

func init() {
	commands["kubelet"] = command{
		summary: "kubelet image credential provider: CredentialProviderRequest on stdin, response on stdout",
		run:     runKubelet,
	}
}

// The kubelet image credential provider API, credentialprovider.kubelet.k8s.io/v1
// (k8s.io/kubelet/pkg/apis/credentialprovider/v1; v1beta1 and v1alpha1 have
// the same fields). The types are written out here rather than imported:
// k8s.io/kubelet's API types pull in k8s.io/apimachinery, a large graph for
// five fields.
const (
	kubeletAPIGroup     = "credentialprovider.kubelet.k8s.io"
	kubeletRequestKind  = "CredentialProviderRequest"
	kubeletResponseKind = "CredentialProviderResponse"
	// kubeletCacheKeyRegistry makes the kubelet reuse the answer for every
	// image of the registry, which is what an ACR refresh token is good for.
	kubeletCacheKeyRegistry = "Registry"
)

var kubeletAPIVersions = map[string]bool{
	kubeletAPIGroup + "/v1":       true,
	kubeletAPIGroup + "/v1beta1":  true,
	kubeletAPIGroup + "/v1alpha1": true,
}

// kubeletRequest is a CredentialProviderRequest. ServiceAccountToken and
// ServiceAccountAnnotations are sent (Kubernetes 1.33 and later) only when
// the provider's entry in the kubelet's CredentialProviderConfig has
// tokenAttributes (KEP-4412, service account tokens for image pulls).
type kubeletRequest struct {
	Kind                      string            `json:"kind"`
	APIVersion                string            `json:"apiVersion"`
	Image                     string            `json:"image"`
	ServiceAccountToken       string            `json:"serviceAccountToken,omitempty"`
	ServiceAccountAnnotations map[string]string `json:"serviceAccountAnnotations,omitempty"`
}

// kubeletResponse is a CredentialProviderResponse. The kubelet decodes it
// strictly: no other fields may appear. CacheDuration is a metav1.Duration,
// a Go duration string.
type kubeletResponse struct {
	Kind          string                       `json:"kind"`
	APIVersion    string                       `json:"apiVersion"`
	CacheKeyType  string                       `json:"cacheKeyType"`
	CacheDuration string                       `json:"cacheDuration,omitempty"`
	Auth          map[string]kubeletAuthConfig `json:"auth"`
}

type kubeletAuthConfig struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// Service account annotations of Azure AD workload identity, which name the
// pod's Azure identity (the kubelet passes them when the CredentialProviderConfig
// lists them in tokenAttributes).
const (
	annotationClientID = "azure.workload.identity/client-id"
	annotationTenantID = "azure.workload.identity/tenant-id"
)

const (
	// kubeletStaticCacheDuration is how long the kubelet may keep
	// credentials that do not expire (basic credentials from the
	// configuration file or docker login). Asking again costs one exec and a
	// file read, so it is short: a rotated ACR token password or admin
	// password is picked up within ten minutes.
	kubeletStaticCacheDuration = 10 * time.Minute
	// kubeletNotOursCacheDuration is how long the kubelet may remember that
	// a registry is not ACR (its matchImages are wider than ACR); only a
	// change of our configuration file changes that answer.
	kubeletNotOursCacheDuration = 10 * time.Minute
)

// runKubelet answers one CredentialProviderRequest.
//
// For an ACR registry for which no credentials can be had (no identity, an
// identity Azure AD refuses, a broken configuration) it exits 1 with one line
// on stderr rather than answering an empty auth. The kubelet treats both
// alike for the pull at hand: it logs a plugin failure (with our stderr) at
// error level and pulls without these credentials, which ACR refuses. But an
// empty answer would be cached for its cacheDuration, so a managed identity
// assigned or a federated credential created a moment later would not be
// noticed until then, and the only trace would be ACR's "authentication
// required"; a failure is not cached, is retried at the next pull, and says
// why in the kubelet's log.
func runKubelet(args []string, cio IO) int {
	if len(args) != 0 {
		fmt.Fprintln(cio.Stderr, "docker-credential-acr: kubelet takes no arguments; it reads a CredentialProviderRequest on stdin")
		return 2
	}
	h := New(cio.Options)
	req, err := readKubeletRequest(cio.Stdin)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "docker-credential-acr: kubelet: %s\n", oneLineError(err))
		return 1
	}
	// A broken configuration fails every image, not only ACR ones: an empty
	// answer for an image of a custom host would be cached by the kubelet.
	if _, err := h.config(); err != nil {
		fmt.Fprintf(cio.Stderr, "docker-credential-acr: kubelet: %s\n", oneLineError(err))
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), h.timeout())
	defer cancel()
	resp, err := h.kubeletAnswer(ctx, req)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "docker-credential-acr: kubelet: %s\n", oneLineError(err))
		return 1
	}
	b, err := json.Marshal(resp)
	if err != nil {
		fmt.Fprintf(cio.Stderr, "docker-credential-acr: kubelet: %v\n", err)
		return 1
	}
	_, _ = cio.Stdout.Write(append(b, '\n'))
	return 0
}

// readKubeletRequest reads and checks the request. Messages never quote the
// input: it may hold a service account token.
func readKubeletRequest(r io.Reader) (kubeletRequest, error) {
	var req kubeletRequest
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return req, fmt.Errorf("reading stdin: %v", err)
	}
	if len(b) > maxInput {
		return req, fmt.Errorf("request on stdin is larger than %d bytes", maxInput)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	if err := dec.Decode(&req); err != nil {
		return req, fmt.Errorf("malformed CredentialProviderRequest on stdin: %s", describeJSONError(err, nil))
	}
	if dec.More() {
		return req, errors.New("malformed CredentialProviderRequest on stdin: unexpected data after the JSON object")
	}
	if req.Kind != kubeletRequestKind {
		return req, fmt.Errorf("want kind %q on stdin, not %q", kubeletRequestKind, shorten(req.Kind, 60))
	}
	if !kubeletAPIVersions[req.APIVersion] {
		return req, fmt.Errorf("unsupported apiVersion %q (want %s/v1, v1beta1 or v1alpha1)", shorten(req.APIVersion, 80), kubeletAPIGroup)
	}
	if req.Image == "" || strings.ContainsFunc(req.Image, func(r rune) bool { return r <= ' ' || r >= 0x7f }) {
		return req, errors.New(`request has no valid "image"`)
	}
	return req, nil
}

// kubeletAnswer finds credentials for the registry of the requested image.
func (h *Helper) kubeletAnswer(ctx context.Context, req kubeletRequest) (kubeletResponse, error) {
	resp := kubeletResponse{Kind: kubeletResponseKind, APIVersion: req.APIVersion,
		CacheKeyType: kubeletCacheKeyRegistry, Auth: map[string]kubeletAuthConfig{}}
	registry, ok := imageRegistry(req.Image)
	if !ok {
		resp.CacheDuration = kubeletNotOursCacheDuration.String()
		return resp, nil
	}
	t, err := h.Target(registry)
	if IsNotFound(err) {
		resp.CacheDuration = kubeletNotOursCacheDuration.String()
		return resp, nil
	}
	if err != nil {
		return resp, err
	}
	c, err := h.kubeletCredentials(ctx, t, req)
	if err != nil {
		var nf *notFoundError
		if errors.As(err, &nf) {
			return resp, errors.New(nf.Reason())
		}
		return resp, err
	}
	user := c.Username
	if user == IdentityTokenUsername {
		user = TokenUsername // the kubelet passes basic credentials; only Docker knows "<token>"
	}
	// The key is the registry as the image names it, so that the kubelet's
	// matching (host and port) finds it.
	resp.Auth[registry] = kubeletAuthConfig{Username: user, Password: c.Secret}
	resp.CacheDuration = h.kubeletCacheDuration(c).String()
	return resp, nil
}

// kubeletCredentials are the pod's own identity's when the request carries
// a service account token and the account names an Azure client ID, else
// the node's (stored credentials, configuration, the default chain).
func (h *Helper) kubeletCredentials(ctx context.Context, t Target, req kubeletRequest) (Credentials, error) {
	id, err := h.podIdentity(t, req)
	if err != nil {
		return Credentials{}, err
	}
	if id == nil {
		return h.Resolve(ctx, t)
	}
	t.Identity = id
	// Fetched every time, past the token cache: its key is the client ID,
	// and a pod must not get another pod's token by annotating its service
	// account with a client ID it has no federated credential for. Only Azure
	// AD, seeing this very service account token, may say yes. The kubelet
	// caches the answer per service account (tokenAttributes.cacheType).
	// Resolve takes the path for identities with an assertion: never
	// cached, and a token already expired by this machine's clock refused.
	return h.Resolve(ctx, t)
}

// podIdentity is the workload identity named by the service account's
// annotations, with the service account token as its federated assertion;
// nil when the request has no token or the account names no client ID.
func (h *Helper) podIdentity(t Target, req kubeletRequest) (*token.Identity, error) {
	clientID := req.ServiceAccountAnnotations[annotationClientID]
	if req.ServiceAccountToken == "" || clientID == "" {
		return nil, nil
	}
	tenant := req.ServiceAccountAnnotations[annotationTenantID]
	if tenant == "" {
		tenant = h.getenv("AZURE_TENANT_ID")
	}
	if tenant == "" {
		return nil, fmt.Errorf("%s: the service account names client ID %s but no tenant: set the %s annotation or AZURE_TENANT_ID in the provider's env",
			t.Host, shorten(clientID, 60), annotationTenantID)
	}
	if !azureID(clientID) || !azureID(tenant) {
		return nil, fmt.Errorf("%s: the service account's %s or %s annotation is not a valid ID", t.Host, annotationClientID, annotationTenantID)
	}
	saToken := req.ServiceAccountToken
	return &token.Identity{Kind: token.KindWorkloadIdentity, Cloud: t.Cloud, TenantID: tenant, ClientID: clientID,
		Assertion: func(context.Context) (string, error) { return saToken, nil }}, nil
}

// azureID accepts a tenant or client ID: a GUID or a domain name.
func azureID(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// kubeletCacheDuration is how long the kubelet may reuse c: until the helper
// itself would replace it (ExpiresAt minus RefreshMargin, in whole seconds,
// never negative; 0 tells the kubelet not to cache), or
// kubeletStaticCacheDuration for credentials that do not expire.
func (h *Helper) kubeletCacheDuration(c Credentials) time.Duration {
	if c.ExpiresAt.IsZero() {
		return kubeletStaticCacheDuration
	}
	d := c.ExpiresAt.Sub(h.now()) - c.RefreshMargin
	return max(d, 0).Truncate(time.Second)
}

// imageRegistry returns the registry part of an image reference
// ("myreg.azurecr.io/app:1.0", "host:5000/app@sha256:..."): what comes before
// the first "/" when it looks like a host (has a "." or a ":", or is
// "localhost"). Anything else is a Docker Hub image: ok is false.
func imageRegistry(image string) (registry string, ok bool) {
	host, _, found := strings.Cut(image, "/")
	if !found || host == "" {
		return "", false
	}
	if host == "localhost" || strings.ContainsAny(host, ".:") {
		return host, true
	}
	return "", false
}
