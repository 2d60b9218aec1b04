// Package credhelper is the Docker credential-helper side of
// docker-credential-acr: it parses the server URLs clients send, recognises
// Azure Container Registry hosts (and refuses everything else before any
// network work), reads the configuration that says which identity to use
// for which registry, and answers the protocol's get, store, erase and list
// from stored credentials, the token cache, or a fresh token exchange.
package credhelper
