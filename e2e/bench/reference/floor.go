//go:build floor

package main

// Built with -tags floor, the reference also links azidentity (and through it
// MSAL, azcore, net/http and crypto/tls) without calling it: the least any
// binary that can fetch Azure AD tokens pays at start-up, whatever its warm
// path does. make bench prints its ratio to the plain reference as the floor
// of the warm figure.
import _ "github.com/Azure/azure-sdk-for-go/sdk/azidentity"
