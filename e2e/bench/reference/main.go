// Command reference is the yardstick of the warm-path benchmark (make bench):
// the least a credential helper can do when the answer is already on disk.
// It reads a server URL on stdin, takes a shared flock on a small JSON file
// (the helper's tokens.json), decodes it and prints the one entry for that
// registry as {"ServerURL","Username","Secret"}. It is built exactly as the
// helper is (CGO_ENABLED=0 -trimpath -ldflags "-s -w") and timed against it.
//
// Usage: reference FILE <<< myreg.azurecr.io
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/gofrs/flock"
)

type entry struct {
	Registry string `json:"registry"`
	Username string `json:"username"`
	Secret   string `json:"secret"`
}

type file struct {
	Entries map[string]entry `json:"entries"`
}

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: reference FILE")
		os.Exit(2)
	}
	in, err := io.ReadAll(io.LimitReader(os.Stdin, 1<<20))
	if err != nil {
		fail(err)
	}
	host := strings.TrimSpace(string(in))

	lock := flock.New(os.Args[1] + ".lock")
	if err := lock.RLock(); err != nil {
		fail(err)
	}
	defer lock.Unlock()
	data, err := os.ReadFile(os.Args[1])
	if err != nil {
		fail(err)
	}
	var f file
	if err := json.Unmarshal(data, &f); err != nil {
		fail(err)
	}
	for _, e := range f.Entries {
		if e.Registry == host && e.Secret != "" {
			out, _ := json.Marshal(map[string]string{"ServerURL": host, "Username": e.Username, "Secret": e.Secret})
			os.Stdout.Write(append(out, '\n'))
			return
		}
	}
	fmt.Println("credentials not found in native keychain")
	os.Exit(1)
}

func fail(err error) {
	fmt.Println(err)
	os.Exit(1)
}
