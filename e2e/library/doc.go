// Package library tests the credhelper/acr Go library (acr.Keychain,
// acr.Credentials) against the emulator and the real distribution registry:
// every identity kind reachable in-process, single flight across goroutines,
// host spoofing, and a token cache shared with the docker-credential-acr
// binary. It holds tests only.
package library
