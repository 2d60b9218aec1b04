package credhelper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strings"
	"unicode/utf8"

	"github.com/docker/docker-credential-helpers/credentials"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// Version is the helper's version, stamped at build time with
// -ldflags "-X github.com/docker-credential-acr/docker-credential-acr/credhelper.Version=...".
var Version = "dev"

// maxInput bounds what is read from stdin; a server URL or a credentials
// document is far smaller.
const maxInput = 1 << 20

const usage = `Usage: docker-credential-acr <command>

Credential-helper protocol (used by docker, crane, skopeo, ...):
  get        read a registry server URL on stdin, print its credentials as JSON
  store      read {"ServerURL","Username","Secret"} on stdin and keep it
  erase      read a server URL on stdin and forget what is kept for it
  list       print every stored or configured registry with its username
  version    print the version
`

// IO is what a subcommand runs with.
type IO struct {
	Stdin          io.Reader
	Stdout, Stderr io.Writer
	Options        Options
}

// command is a subcommand beyond the credential-helper protocol.
type command struct {
	summary string
	run     func(args []string, io IO) int
}

// commands are registered by the files that implement them.
var commands = map[string]command{}

// Main runs the helper with the given arguments (without the program name)
// and streams, and returns the process exit code.
func Main(args []string, stdin io.Reader, stdout, stderr io.Writer, o Options) int {
	if o.Stderr == nil {
		o.Stderr = stderr
	}
	if len(args) == 0 {
		fmt.Fprint(stderr, usageText())
		return 2
	}
	switch args[0] {
	case "-h", "--help", "help":
		fmt.Fprint(stdout, usageText())
		return 0
	case "-v", "--version", "version":
		fmt.Fprintf(stdout, "docker-credential-acr %s\n", Version)
		return 0
	case credentials.ActionGet, credentials.ActionStore, credentials.ActionErase, credentials.ActionList:
		if len(args) != 1 {
			fmt.Fprintf(stderr, "docker-credential-acr: %s takes no arguments\n", args[0])
			return 2
		}
		return protocol(args[0], stdin, stdout, stderr, New(o))
	}
	if c, ok := commands[args[0]]; ok {
		return c.run(args[1:], IO{Stdin: stdin, Stdout: stdout, Stderr: stderr, Options: o})
	}
	fmt.Fprintf(stderr, "docker-credential-acr: unknown command %q\n%s", args[0], usageText())
	return 2
}

func usageText() string {
	var b strings.Builder
	b.WriteString(usage)
	if len(commands) > 0 {
		b.WriteString("\nOther commands:\n")
		for _, name := range sortedCommandNames() {
			fmt.Fprintf(&b, "  %-10s %s\n", name, commands[name].summary)
		}
	}
	return b.String()
}

func sortedCommandNames() []string {
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// protocol runs one credential-helper action. As the protocol requires,
// the answer or the error message goes to stdout; explanations go to stderr.
func protocol(action string, stdin io.Reader, stdout, stderr io.Writer, h *Helper) int {
	var in []byte
	if action != credentials.ActionList {
		var err error
		if in, err = readInput(action, stdin); err != nil {
			fmt.Fprintln(stdout, err)
			return 1
		}
	}
	var out bytes.Buffer
	var err error
	if action == credentials.ActionStore {
		var c *credentials.Credentials
		if c, err = decodeStore(string(in)); err == nil {
			err = h.Add(c)
		}
	} else {
		err = credentials.HandleCommand(h, action, bytes.NewReader(in), &out)
	}
	if err != nil {
		var nf *notFoundError
		if errors.As(err, &nf) {
			fmt.Fprintf(stderr, "docker-credential-acr: %s\n", token.Redact(nf.Reason()))
		}
		fmt.Fprintln(stdout, oneLineError(err))
		return 1
	}
	_, _ = stdout.Write(out.Bytes())
	return 0
}

// readInput reads and checks stdin for an action, so that malformed input
// gets a clear message (and never one that quotes it).
func readInput(action string, r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("%s: reading stdin: %v", action, err)
	}
	if len(b) > maxInput {
		return nil, fmt.Errorf("%s: input on stdin is larger than %d bytes", action, maxInput)
	}
	if !utf8.Valid(b) || bytes.IndexByte(b, 0) >= 0 {
		return nil, fmt.Errorf("%s: input on stdin is not text", action)
	}
	s := strings.TrimSpace(string(b))
	switch action {
	case credentials.ActionStore:
		if _, err := decodeStore(s); err != nil {
			return nil, err
		}
	default:
		if s == "" {
			return nil, fmt.Errorf("%s: no server URL on stdin", action)
		}
		if strings.ContainsAny(s, "\r\n") {
			return nil, credentials.NewErrCredentialsNotFound()
		}
	}
	return []byte(s), nil
}

// decodeStore parses the store action's input: exactly one JSON object.
func decodeStore(s string) (*credentials.Credentials, error) {
	var c credentials.Credentials
	dec := json.NewDecoder(strings.NewReader(s))
	if err := dec.Decode(&c); err != nil || !atEOF(dec) {
		return nil, errors.New(`store: malformed input on stdin; want a JSON object {"ServerURL","Username","Secret"}`)
	}
	switch {
	case c.ServerURL == "":
		return nil, credentials.NewErrCredentialsMissingServerURL()
	case c.Username == "":
		return nil, credentials.NewErrCredentialsMissingUsername()
	}
	return &c, nil
}

// atEOF reports whether a decoder has nothing but white space left.
func atEOF(dec *json.Decoder) bool {
	_, err := dec.Token()
	return err == io.EOF
}

// oneLineError flattens an error message to one line.
func oneLineError(err error) string {
	return token.Redact(err.Error())
}
