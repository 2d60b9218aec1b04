// Package fakeaz is a stand-in for the Azure CLI's
// "az account get-access-token" command, as azidentity's
// AzureCLICredential runs it. It asks the emulator (plain HTTP on loopback)
// for a token for the logged-in user and prints what the real az prints.
//
// It imports nothing but the standard library so that the binary built from
// it stays small and starts fast.
package fakeaz

import (
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// URLEnv names the environment variable read when Main is given no --emulator-url.
const URLEnv = "ACR_EMULATOR_AZ_URL"

// Main runs the fake az with the given arguments (without the program name)
// and returns the exit code.
func Main(args []string, stdout, stderr io.Writer) int {
	emuURL, args := splitEmulatorURL(args)
	if emuURL == "" {
		emuURL = os.Getenv(URLEnv)
	}
	if len(args) < 2 || args[0] != "account" || args[1] != "get-access-token" {
		fmt.Fprintf(stderr, "ERROR: 'az %s' is not supported by this stand-in\n", strings.Join(args, " "))
		return 2
	}
	fs := flag.NewFlagSet("az", flag.ContinueOnError)
	fs.SetOutput(stderr)
	output := fs.String("o", "json", "output format")
	resource := fs.String("resource", "", "resource")
	tenant := fs.String("tenant", "", "tenant")
	fs.String("subscription", "", "subscription")
	fs.String("scope", "", "scope")
	if err := fs.Parse(args[2:]); err != nil {
		return 2
	}
	if *output != "json" {
		fmt.Fprintf(stderr, "ERROR: output %q is not supported by this stand-in\n", *output)
		return 2
	}
	if emuURL == "" {
		fmt.Fprintln(stderr, "ERROR: the emulator URL is not configured")
		return 1
	}
	return fetch(emuURL, *resource, *tenant, stdout, stderr)
}

func splitEmulatorURL(args []string) (string, []string) {
	if len(args) >= 2 && args[0] == "--emulator-url" {
		return args[1], args[2:]
	}
	return "", args
}

func fetch(emuURL, resource, tenant string, stdout, stderr io.Writer) int {
	q := url.Values{"resource": {resource}}
	if tenant != "" {
		q.Set("tenant", tenant)
	}
	client := &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{Proxy: nil}}
	resp, err := client.Get(emuURL + "?" + q.Encode())
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return 1
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		fmt.Fprintf(stderr, "ERROR: %v\n", err)
		return 1
	}
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintln(stderr, strings.TrimSpace(string(body)))
		return 1
	}
	if _, err := stdout.Write(body); err != nil {
		return 1
	}
	return 0
}
