// Command coldref is the yardstick of the cold-path benchmark (make bench):
// the least any client process must do to turn environment credentials into
// an ACR refresh token. It reads a server URL on stdin, sends the two
// requests a cold `get` cannot avoid over fresh connections (HTTPS_PROXY and
// SSL_CERT_FILE honoured, as in the helper): the Azure AD client credentials
// token request (AZURE_TENANT_ID, AZURE_CLIENT_ID, AZURE_CLIENT_SECRET) and
// the exchange at https://<host>/oauth2/exchange, and prints
// {"ServerURL","Username","Secret"}. No cache, no retries, no metadata
// request. It is built exactly as the helper is and timed against it.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

func main() {
	in, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		fail(err)
	}
	host := strings.TrimSpace(string(in))
	tenant := os.Getenv("AZURE_TENANT_ID")
	client := &http.Client{Timeout: 30 * time.Second}

	var aad struct {
		AccessToken string `json:"access_token"`
	}
	post(client, "https://login.microsoftonline.com/"+tenant+"/oauth2/v2.0/token", url.Values{
		"grant_type": {"client_credentials"}, "client_id": {os.Getenv("AZURE_CLIENT_ID")},
		"client_secret": {os.Getenv("AZURE_CLIENT_SECRET")}, "scope": {"https://containerregistry.azure.net/.default"},
	}, &aad)
	var x struct {
		RefreshToken string `json:"refresh_token"`
	}
	post(client, "https://"+host+"/oauth2/exchange", url.Values{
		"grant_type": {"access_token"}, "service": {host}, "tenant": {tenant}, "access_token": {aad.AccessToken},
	}, &x)
	out, _ := json.Marshal(map[string]string{"ServerURL": host, "Username": "00000000-0000-0000-0000-000000000000", "Secret": x.RefreshToken})
	os.Stdout.Write(append(out, '\n'))
}

func post(c *http.Client, u string, form url.Values, v any) {
	resp, err := c.PostForm(u, form)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		fail(err)
	}
	if resp.StatusCode != http.StatusOK {
		fail(fmt.Errorf("%s: HTTP %d", u, resp.StatusCode))
	}
	if err := json.Unmarshal(body, v); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Println(err)
	os.Exit(1)
}
