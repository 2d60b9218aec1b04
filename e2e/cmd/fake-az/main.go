// Command fake-az stands in for the Azure CLI in end-to-end tests: it answers
// "az account get-access-token -o json --resource R [--tenant T]" with a token
// from the emulator. See package emulator/fakeaz.
package main

import (
	"os"

	"github.com/docker-credential-acr/docker-credential-acr/e2e/emulator/fakeaz"
)

func main() {
	os.Exit(fakeaz.Main(os.Args[1:], os.Stdout, os.Stderr))
}
