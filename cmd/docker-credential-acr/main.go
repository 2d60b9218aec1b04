// Command docker-credential-acr is a Docker credential helper for Azure
// Container Registry. See the README for how to configure it.
package main

import (
	"os"

	"github.com/docker-credential-acr/docker-credential-acr/credhelper"
)

func main() {
	os.Exit(credhelper.Main(os.Args[1:], os.Stdin, os.Stdout, os.Stderr, credhelper.Options{}))
}
