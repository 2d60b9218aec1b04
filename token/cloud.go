package token

import (
	"errors"
	"net/url"
	"strings"
)

// ACRScope is the Azure AD scope of Azure Container Registry. It is the same
// in every cloud, and registries may be configured to accept only it.
const ACRScope = "https://containerregistry.azure.net/.default"

// Cloud is an Azure cloud: where its Azure AD lives and what its Azure
// Resource Manager audience is.
type Cloud struct {
	// Name is a short, stable name used in configuration and cache keys.
	Name string
	// AuthorityHost is the Azure AD authority, e.g. https://login.microsoftonline.com/.
	AuthorityHost string
	// ARMScope is the Azure Resource Manager scope, the fallback audience.
	ARMScope string
	// Suffix is the login-server suffix of the cloud's registries (no leading dot).
	Suffix string
}

// The clouds whose registries the helper recognises by name.
var (
	AzurePublic = Cloud{
		Name:          "AzurePublic",
		AuthorityHost: "https://login.microsoftonline.com/",
		ARMScope:      "https://management.azure.com/.default",
		Suffix:        "azurecr.io",
	}
	AzureChina = Cloud{
		Name:          "AzureChina",
		AuthorityHost: "https://login.chinacloudapi.cn/",
		ARMScope:      "https://management.chinacloudapi.cn/.default",
		Suffix:        "azurecr.cn",
	}
	AzureGovernment = Cloud{
		Name:          "AzureUSGovernment",
		AuthorityHost: "https://login.microsoftonline.us/",
		ARMScope:      "https://management.usgovcloudapi.net/.default",
		Suffix:        "azurecr.us",
	}
	// AzureGermany is retired; its registries are recognised so that their
	// names are not sent anywhere else, and its authority is kept for the record.
	AzureGermany = Cloud{
		Name:          "AzureGermany",
		AuthorityHost: "https://login.microsoftonline.de/",
		ARMScope:      "https://management.microsoftazure.de/.default",
		Suffix:        "azurecr.de",
	}
)

// Clouds lists the known clouds, public first.
var Clouds = []Cloud{AzurePublic, AzureChina, AzureGovernment, AzureGermany}

// CloudByName finds a known cloud by its name, case-insensitively. It also
// accepts the short forms "public", "china", "usgovernment" and "germany".
func CloudByName(name string) (Cloud, bool) {
	n := strings.ToLower(name)
	for _, c := range Clouds {
		if n == strings.ToLower(c.Name) {
			return c, true
		}
	}
	switch n {
	case "public", "azurecloud":
		return AzurePublic, true
	case "china", "azurechinacloud":
		return AzureChina, true
	case "usgovernment", "usgov", "azureusgovernment":
		return AzureGovernment, true
	case "germany", "azuregermancloud":
		return AzureGermany, true
	}
	return Cloud{}, false
}

// WithAuthorityHost returns c with another Azure AD authority host, which must
// be an https URL (Azure AD tokens are secrets; MSAL refuses http anyway).
func (c Cloud) WithAuthorityHost(host string) (Cloud, error) {
	u, err := url.Parse(host)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil {
		return c, errors.New("the authority host must be an https URL without userinfo")
	}
	if !strings.HasSuffix(host, "/") {
		host += "/"
	}
	c.AuthorityHost = host
	if known := c.knownAuthority(); !known {
		c.Name = "Custom"
	}
	return c, nil
}

// knownAuthority reports whether c's authority is one of the known clouds'.
func (c Cloud) knownAuthority() bool {
	for _, k := range Clouds {
		if strings.EqualFold(k.AuthorityHost, c.AuthorityHost) {
			return true
		}
	}
	return false
}
