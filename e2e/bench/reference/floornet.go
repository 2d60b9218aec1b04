//go:build floornet

package main

// Built with -tags floornet, the reference also links net/http (and crypto/tls)
// without calling it: the least any binary that can speak HTTPS pays at
// start-up. make bench prints its ratio to the plain reference beside the
// azidentity floor (floor.go), to show where the start-up cost comes from.
import _ "net/http"
