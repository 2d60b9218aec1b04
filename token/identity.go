package token

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

// Identity describes one Azure AD identity. It holds no secret, only where
// to find one, so that it can be printed and hashed into cache keys.
type Identity struct {
	Kind  Kind
	Cloud Cloud

	TenantID   string
	ClientID   string
	ResourceID string // user-assigned managed identity by resource ID

	ClientSecretFile      string
	ClientSecretEnv       string
	ClientCertificateFile string
	TokenFile             string // workload identity federated token file

	// Account distinguishes logins of the same kind that the fields above
	// do not (the Azure CLI's signed-in account); it is part of CacheID.
	Account string

	// Assertion, for a workload identity, supplies the federated token
	// directly (the kubelet passes the pod's service-account token) instead
	// of TokenFile. It is not part of CacheID.
	Assertion func(context.Context) (string, error)
}

// CacheID is a stable description of the identity for cache keys: kind,
// cloud, tenant and client, never a secret.
func (id Identity) CacheID() string {
	return strings.Join([]string{string(id.Kind), id.Cloud.AuthorityHost, id.TenantID, id.ClientID,
		id.ResourceID, id.ClientCertificateFile, id.TokenFile, id.Account}, "\x00")
}

// String describes the identity for people.
func (id Identity) String() string {
	s := id.Kind.Describe()
	var attrs []string
	if id.TenantID != "" {
		attrs = append(attrs, "tenant "+id.TenantID)
	}
	if id.ClientID != "" {
		attrs = append(attrs, "client "+id.ClientID)
	}
	if id.ResourceID != "" {
		attrs = append(attrs, "resource "+id.ResourceID)
	}
	if len(attrs) > 0 {
		s += " (" + strings.Join(attrs, ", ") + ")"
	}
	return s
}

// CredentialOptions tune the Azure SDK credentials.
type CredentialOptions struct {
	// Transport sends the Azure AD requests; nil is the SDK's default.
	Transport policy.Transporter
	// Getenv reads the environment; nil is os.Getenv.
	Getenv func(string) string
}

// Credential builds the azidentity credential for id. It never prompts and
// never opens a browser: only non-interactive kinds exist.
func (id Identity) Credential(o CredentialOptions) (azcore.TokenCredential, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	co := azcore.ClientOptions{
		Cloud:     cloud.Configuration{ActiveDirectoryAuthorityHost: id.Cloud.AuthorityHost},
		Transport: o.Transport,
		Retry: policy.RetryOptions{
			MaxRetries:    3,
			RetryDelay:    300 * time.Millisecond,
			MaxRetryDelay: 4 * time.Second,
			TryTimeout:    20 * time.Second,
		},
	}
	// Instance discovery is a round trip (to the public cloud, whatever the
	// authority) to learn what we already know for the Azure clouds; for a
	// custom authority it fails offline. MSAL still checks the authority's
	// OpenID metadata, whose issuer must match the authority host.
	const noDiscovery = true
	Remember(getenv("AZURE_CLIENT_SECRET"))
	switch id.Kind {
	case KindEnvironment:
		return azidentity.NewEnvironmentCredential(&azidentity.EnvironmentCredentialOptions{
			ClientOptions: co, DisableInstanceDiscovery: noDiscovery})
	case KindWorkloadIdentity:
		if id.Assertion != nil {
			return azidentity.NewClientAssertionCredential(id.TenantID, id.ClientID, id.Assertion,
				&azidentity.ClientAssertionCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: noDiscovery})
		}
		return azidentity.NewWorkloadIdentityCredential(&azidentity.WorkloadIdentityCredentialOptions{
			ClientOptions: co, DisableInstanceDiscovery: noDiscovery,
			TenantID: id.TenantID, ClientID: id.ClientID, TokenFilePath: id.TokenFile})
	case KindManagedIdentity:
		mo := &azidentity.ManagedIdentityCredentialOptions{ClientOptions: co}
		switch {
		case id.ClientID != "":
			mo.ID = azidentity.ClientID(id.ClientID)
		case id.ResourceID != "":
			mo.ID = azidentity.ResourceID(id.ResourceID)
		}
		return azidentity.NewManagedIdentityCredential(mo)
	case KindAzureCLI:
		return azidentity.NewAzureCLICredential(&azidentity.AzureCLICredentialOptions{TenantID: id.TenantID})
	case KindAzd:
		return azidentity.NewAzureDeveloperCLICredential(&azidentity.AzureDeveloperCLICredentialOptions{TenantID: id.TenantID})
	case KindServicePrincipal:
		return id.servicePrincipal(co, getenv)
	}
	return nil, fmt.Errorf("identity kind %q does not use Azure AD", id.Kind)
}

func (id Identity) servicePrincipal(co azcore.ClientOptions, getenv func(string) string) (azcore.TokenCredential, error) {
	switch {
	case id.ClientCertificateFile != "":
		data, err := os.ReadFile(id.ClientCertificateFile)
		if err != nil {
			return nil, fmt.Errorf("service principal certificate: %w", err)
		}
		certs, key, err := azidentity.ParseCertificates(data, nil)
		if err != nil {
			return nil, fmt.Errorf("service principal certificate %s: %w", id.ClientCertificateFile, err)
		}
		return azidentity.NewClientCertificateCredential(id.TenantID, id.ClientID, certs, key,
			&azidentity.ClientCertificateCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
	case id.ClientSecretFile != "" || id.ClientSecretEnv != "":
		secret, err := ReadSecret(id.ClientSecretFile, id.ClientSecretEnv, getenv)
		if err != nil {
			return nil, fmt.Errorf("service principal secret: %w", err)
		}
		return azidentity.NewClientSecretCredential(id.TenantID, id.ClientID, secret,
			&azidentity.ClientSecretCredentialOptions{ClientOptions: co, DisableInstanceDiscovery: true})
	}
	return nil, errors.New("service principal has neither a secret nor a certificate")
}

// ReadSecret reads a secret from a file or from an environment variable,
// either holding one line (trailing newlines are dropped). Errors name the
// file or variable, never the value.
func ReadSecret(file, env string, getenv func(string) string) (string, error) {
	if file != "" {
		st, err := os.Stat(file)
		if err != nil {
			return "", fmt.Errorf("secret file: %w", err)
		}
		if !st.Mode().IsRegular() || st.Size() > 64<<10 {
			return "", fmt.Errorf("secret file %s: not a regular file of at most 64 KiB", file)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("secret file: %w", err)
		}
		return remembered(oneLineSecret(string(b), "secret file "+file))
	}
	if env != "" {
		return remembered(oneLineSecret(getenv(env), "environment variable "+env))
	}
	return "", errors.New("no secret source")
}

func remembered(secret string, err error) (string, error) {
	Remember(secret)
	return secret, err
}

// oneLineSecret is s without its trailing newlines, if it is one non-empty
// line without NUL bytes.
func oneLineSecret(s, what string) (string, error) {
	s = strings.TrimRight(s, "\r\n")
	switch {
	case s == "":
		return "", fmt.Errorf("%s is empty or not set", what)
	case strings.ContainsAny(s, "\r\n\x00"):
		return "", fmt.Errorf("%s holds more than one line (or a NUL byte); a secret is one line", what)
	}
	return s, nil
}
