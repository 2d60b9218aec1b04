//go:build tools

// Package tools pins the client programs the end-to-end tests build.
package tools

import (
	_ "github.com/google/go-containerregistry/cmd/crane"
)
