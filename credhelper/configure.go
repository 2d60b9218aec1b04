package credhelper

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

func init() {
	commands["configure"] = command{
		summary: "add this helper to the credHelpers of Docker's config.json (or podman's auth.json)",
		run:     runConfigure,
	}
}

// helperName is what credHelpers maps a registry to: Docker, crane, skopeo
// and podman run "docker-credential-" + helperName.
const helperName = "acr"

// helperBinary is the program those clients look for on the PATH.
const helperBinary = "docker-credential-" + helperName

// maxAuthFileSize bounds the Docker or containers configuration read; real
// ones are a few KiB.
const maxAuthFileSize = 4 << 20

const configureUsage = `Usage: docker-credential-acr configure [--containers-auth] [--dry-run] [REGISTRY...]

Adds "credHelpers": {"<registry>": "acr"} to Docker's config.json
($DOCKER_CONFIG/config.json, else ~/.docker/config.json), keeping everything
else in the file. With no REGISTRY, every registry named in the helper's
configuration file is added. The previous file is kept as config.json.bak.

  --containers-auth  edit the auth.json of podman, skopeo and buildah instead
                     ($REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json,
                     else $XDG_CONFIG_HOME/containers/auth.json, else
                     ~/.config/containers/auth.json)
  --dry-run          print the change, write nothing
`

type configureOptions struct {
	containersAuth bool
	dryRun         bool
	registries     []string
}

// runConfigure is the configure subcommand. Its output is for people:
// results on stdout, warnings and errors on stderr.
func runConfigure(args []string, cio IO) int {
	o, code := parseConfigureArgs(args, cio.Stdout, cio.Stderr)
	if code >= 0 {
		return code
	}
	h := New(cio.Options)
	fail := func(err error) int {
		fmt.Fprintf(cio.Stderr, "docker-credential-acr: configure: %s\n", oneLineError(err))
		return 1
	}
	hosts, err := h.configureHosts(o.registries)
	if err != nil {
		return fail(err)
	}
	path, note := dockerConfigFile(h.getenv), ""
	if o.containersAuth {
		path, note = containersAuthFile(h.getenv)
	}
	if !o.dryRun {
		// Two configures at once (a provisioning script, say) would each
		// write what it read, and the first one's change would be lost.
		if unlock, err := h.lockAuthFile(path); err != nil {
			// The lock only orders this command's own runs; write's check
			// still catches a change made meanwhile.
			fmt.Fprintf(cio.Stderr, "docker-credential-acr: warning: editing without a lock: %s\n", oneLineError(err))
		} else {
			defer unlock()
		}
	}
	f, err := readAuthFile(path)
	if err != nil {
		return fail(err)
	}
	changes := f.setHelpers(hosts)
	if _, err := h.lookPath(helperBinary); err != nil {
		fmt.Fprintf(cio.Stderr, "docker-credential-acr: warning: %s is not on PATH; clients run it by that name and will not find it until it is\n", helperBinary)
	}
	if note != "" {
		fmt.Fprintf(cio.Stderr, "docker-credential-acr: note: %s\n", note)
	}
	if len(changes) == 0 {
		fmt.Fprintf(cio.Stdout, "%s already sends %s to %s; nothing to change\n", f.path, strings.Join(hosts, ", "), helperBinary)
		return 0
	}
	f.printDiff(cio.Stdout)
	if o.dryRun {
		fmt.Fprintln(cio.Stdout, "dry run: nothing written")
		return 0
	}
	backup, err := f.write()
	if err != nil {
		return fail(err)
	}
	if backup != "" {
		fmt.Fprintf(cio.Stdout, "wrote %s (the previous version is %s)\n", f.path, backup)
	} else {
		fmt.Fprintf(cio.Stdout, "wrote %s (new file)\n", f.path)
	}
	return 0
}

// parseConfigureArgs parses flags anywhere among the registries (as people
// type them). code is the exit code when the command should stop, else -1.
func parseConfigureArgs(args []string, stdout, stderr io.Writer) (o configureOptions, code int) {
	flags := flag.NewFlagSet("configure", flag.ContinueOnError)
	flags.SetOutput(io.Discard)
	flags.BoolVar(&o.containersAuth, "containers-auth", false, "")
	flags.BoolVar(&o.dryRun, "dry-run", false, "")
	for {
		err := flags.Parse(args)
		if errors.Is(err, flag.ErrHelp) {
			fmt.Fprint(stdout, configureUsage)
			return o, 0
		}
		if err != nil {
			fmt.Fprintf(stderr, "docker-credential-acr: configure: %v\n%s", err, configureUsage)
			return o, 2
		}
		rest := flags.Args()
		if consumed := len(args) - len(rest); consumed > 0 && args[consumed-1] == "--" {
			o.registries = append(o.registries, rest...)
			return o, -1
		}
		if len(rest) == 0 {
			return o, -1
		}
		o.registries = append(o.registries, rest[0])
		args = rest[1:]
	}
}

// configureHosts turns the arguments into normalised ACR hosts, refusing
// any that the helper would not answer for; with no arguments it takes the
// registries of the configuration file.
func (h *Helper) configureHosts(args []string) ([]string, error) {
	cfg, err := h.config()
	if err != nil {
		return nil, err
	}
	if len(args) == 0 {
		hosts := cfg.Hosts()
		if len(hosts) == 0 {
			return nil, fmt.Errorf("no registry given and the configuration file %s names none; name one, e.g. configure myregistry.azurecr.io", cfg.Path())
		}
		sort.Strings(hosts)
		return hosts, nil
	}
	var hosts []string
	seen := map[string]bool{}
	for _, a := range args {
		host, err := NormalizeServerURL(a)
		if err != nil {
			return nil, fmt.Errorf("%q is not an https registry host name; nothing written", shorten(a, 80))
		}
		t, err := h.Target(host)
		if IsNotFound(err) {
			return nil, fmt.Errorf(`%s is not an Azure Container Registry login server; declare it in %s with "customHost": true to use this helper for it; nothing written`, host, cfg.Path())
		}
		if err != nil {
			return nil, err
		}
		if !seen[t.Host] {
			seen[t.Host] = true
			hosts = append(hosts, t.Host)
		}
	}
	return hosts, nil
}

func shorten(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// dockerConfigFile is Docker's client configuration: $DOCKER_CONFIG/config.json,
// else ~/.docker/config.json.
func dockerConfigFile(getenv func(string) string) string {
	if d := getenv("DOCKER_CONFIG"); d != "" {
		return filepath.Join(d, "config.json")
	}
	return filepath.Join(homeDir(getenv), ".docker", "config.json")
}

// containersAuthFile is the auth.json that containers/image (podman, skopeo,
// buildah) writes: $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json
// when that directory exists, else $XDG_CONFIG_HOME/containers/auth.json
// (~/.config/containers/auth.json). containers/image reads credHelpers from
// every file on its search path ($XDG_RUNTIME_DIR's, then $XDG_CONFIG_HOME's,
// then Docker's), so the last is honoured on Linux too, and it is also the
// default on macOS and Windows. note warns when the file will not last.
func containersAuthFile(getenv func(string) string) (path, note string) {
	if p := getenv("REGISTRY_AUTH_FILE"); p != "" {
		return p, ""
	}
	if rt := getenv("XDG_RUNTIME_DIR"); rt != "" {
		if st, err := os.Stat(rt); err == nil && st.IsDir() {
			return filepath.Join(rt, "containers", "auth.json"),
				"$XDG_RUNTIME_DIR is emptied at logout and reboot; for a lasting setting run again with REGISTRY_AUTH_FILE=~/.config/containers/auth.json"
		}
	}
	x := getenv("XDG_CONFIG_HOME")
	if x == "" {
		x = filepath.Join(homeDir(getenv), ".config")
	}
	return filepath.Join(x, "containers", "auth.json"), ""
}

// homeDir is $HOME, or the user's home directory from the system.
func homeDir(getenv func(string) string) string {
	if home := getenv("HOME"); home != "" {
		return home
	}
	home, _ := os.UserHomeDir()
	return home
}

// authFile is a Docker config.json or containers auth.json, held as its
// top-level fields in their order with their values untouched, so that
// only credHelpers changes when it is written back.
type authFile struct {
	path    string // as named (may be a symbolic link)
	mode    fs.FileMode
	exists  bool
	orig    []byte
	fields  []authField
	before  map[string]string // credHelpers as read
	helpers map[string]string // credHelpers to write
}

type authField struct {
	key   string
	value json.RawMessage
}

const credHelpersKey = "credHelpers"

// lockAuthFile serialises editors of path (this command, run concurrently)
// with a lock in the helper's cache directory, keyed by the file that path
// resolves to. Docker itself takes no lock; its writes are atomic, and
// write's check catches one that lands while we edit.
func (h *Helper) lockAuthFile(path string) (unlock func(), err error) {
	if real, err := filepath.EvalSymlinks(path); err == nil {
		path = real
	}
	if abs, err := filepath.Abs(path); err == nil {
		path = abs
	}
	st, err := h.store(credentialsFile)
	if err != nil {
		return nil, err
	}
	return st.LockKey(context.Background(), "configure\x00"+path)
}

// readAuthFile reads and parses path; a missing or empty file is an empty
// object. A malformed file is an error that quotes nothing of it (an auths
// entry holds a password).
func readAuthFile(path string) (*authFile, error) {
	f := &authFile{path: path, mode: 0o600, before: map[string]string{}}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		if target, lerr := os.Readlink(path); lerr == nil {
			// Writing would replace the link (kept in a dotfiles repository,
			// say) with a regular file.
			return nil, fmt.Errorf("%s is a symbolic link to %s, which does not exist; create that file or remove the link, nothing was changed", path, target)
		}
		f.helpers = map[string]string{}
		return f, nil
	case err != nil:
		return nil, err
	}
	f.exists, f.mode = true, st.Mode().Perm()
	if f.orig, err = readLimited(path, maxAuthFileSize); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if err := f.parse(); err != nil {
		return nil, fmt.Errorf("%s: %w; fix or move the file, nothing was changed", path, err)
	}
	f.helpers = make(map[string]string, len(f.before)+1)
	for k, v := range f.before {
		f.helpers[k] = v
	}
	return f, nil
}

func (f *authFile) parse() error {
	if len(bytes.TrimSpace(f.orig)) == 0 {
		return nil // Docker treats an empty file as an empty configuration
	}
	dec := json.NewDecoder(bytes.NewReader(f.orig))
	syntax := func() error { return fmt.Errorf("not valid JSON (near byte %d)", dec.InputOffset()) }
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errors.New("not a JSON object")
	}
	seenHelpers := false
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return syntax()
		}
		key, _ := tok.(string)
		var v json.RawMessage
		if err := dec.Decode(&v); err != nil {
			return syntax()
		}
		if key == credHelpersKey {
			if seenHelpers {
				return fmt.Errorf("%q appears twice", credHelpersKey)
			}
			seenHelpers = true
			var m map[string]string
			if err := json.Unmarshal(v, &m); err != nil {
				return fmt.Errorf("%q is not an object of strings", credHelpersKey)
			}
			for k, h := range m {
				f.before[k] = h
			}
		}
		f.fields = append(f.fields, authField{key: key, value: v})
	}
	if _, err := dec.Token(); err != nil {
		return syntax()
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("unexpected data after the JSON object")
	}
	return nil
}

// setHelpers points each host at this helper and returns the hosts whose
// entry changes.
func (f *authFile) setHelpers(hosts []string) []string {
	var changed []string
	for _, h := range hosts {
		if f.helpers[h] != helperName {
			f.helpers[h] = helperName
			changed = append(changed, h)
		}
	}
	return changed
}

// printDiff shows the credHelpers entries before and after, diff-style.
func (f *authFile) printDiff(w io.Writer) {
	after := f.path + " (after)"
	if !f.exists {
		after = f.path + " (new file)"
	}
	fmt.Fprintf(w, "--- %s\n+++ %s\n  %q: {\n", f.path, after, credHelpersKey)
	keys := make([]string, 0, len(f.helpers))
	for k := range f.helpers {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		old, had := f.before[k]
		switch {
		case had && old == f.helpers[k]:
			fmt.Fprintf(w, "      %q: %q\n", k, old)
		case had:
			fmt.Fprintf(w, "-     %q: %q\n+     %q: %q\n", k, old, k, f.helpers[k])
		default:
			fmt.Fprintf(w, "+     %q: %q\n", k, f.helpers[k])
		}
	}
	fmt.Fprintln(w, "  }")
}

// render writes the object back: the fields in their order, every value as
// it was (re-indented, as Docker writes it), credHelpers replaced or added
// at the end.
func (f *authFile) render() ([]byte, error) {
	helpers, err := json.MarshalIndent(f.helpers, "\t", "\t")
	if err != nil {
		return nil, err
	}
	fields := f.fields
	replaced := false
	for i := range fields {
		if fields[i].key == credHelpersKey {
			fields[i].value, replaced = helpers, true
		}
	}
	if !replaced {
		fields = append(fields, authField{key: credHelpersKey, value: helpers})
	}
	var b bytes.Buffer
	b.WriteString("{")
	for i, fl := range fields {
		if i > 0 {
			b.WriteString(",")
		}
		key, err := json.Marshal(fl.key)
		if err != nil {
			return nil, err
		}
		b.WriteString("\n\t")
		b.Write(key)
		b.WriteString(": ")
		if err := json.Indent(&b, fl.value, "\t", "\t"); err != nil {
			return nil, err
		}
	}
	b.WriteString("\n}\n")
	return b.Bytes(), nil
}

// write replaces the file atomically, keeping its mode, after saving the
// previous content as <file>.bak (one backup, replaced by the next change:
// one known place to restore from, and no pile of copies of a file whose
// auths may hold passwords). A symbolic link is followed, so a config kept
// in a dotfiles repository stays linked. It returns the backup's path.
func (f *authFile) write() (backup string, err error) {
	data, err := f.render()
	if err != nil {
		return "", fmt.Errorf("%s: %w", f.path, err)
	}
	target := f.path
	if f.exists {
		if target, err = filepath.EvalSymlinks(f.path); err != nil {
			return "", err
		}
		now, err := readLimited(target, maxAuthFileSize)
		if err != nil {
			return "", fmt.Errorf("%s: %w", target, err)
		}
		if !bytes.Equal(now, f.orig) {
			return "", fmt.Errorf("%s changed while it was being edited; nothing written, run configure again", f.path)
		}
		backup = target + ".bak"
		if err := writeFileAtomic(backup, f.orig, f.mode); err != nil {
			return "", fmt.Errorf("backup %s: %w", backup, err)
		}
	} else if err := os.MkdirAll(filepath.Dir(target), 0o700); err != nil {
		return "", err
	}
	if err := writeFileAtomic(target, data, f.mode); err != nil {
		return "", fmt.Errorf("%s: %w", target, err)
	}
	return backup, nil
}

// writeFileAtomic writes a temporary file in the same directory with the
// final mode set before any content, syncs it and renames it over path, so
// that readers see the old file or the new one, never a part.
func writeFileAtomic(path string, data []byte, mode fs.FileMode) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(path)+".*.tmp")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	if err = tmp.Chmod(mode); err != nil {
		return err
	}
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	if d, err := os.Open(dir); err == nil {
		_ = d.Sync() // make the rename durable; not possible everywhere
		_ = d.Close()
	}
	return nil
}
