package credhelper

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/docker-credential-acr/docker-credential-acr/token"
)

// Environment variables the helper reads besides the Azure SDK's own.
const (
	EnvConfig   = "DOCKER_CREDENTIAL_ACR_CONFIG"
	EnvCacheDir = "DOCKER_CREDENTIAL_ACR_CACHE_DIR"
	EnvTimeout  = "DOCKER_CREDENTIAL_ACR_TIMEOUT"
	// EnvManagedIdentity is "auto" (default), "always" or "never": whether the
	// default chain tries the managed identity of an Azure VM (IMDS).
	EnvManagedIdentity = "DOCKER_CREDENTIAL_ACR_MANAGED_IDENTITY"
)

// maxConfigSize bounds the configuration file; a real one is a few KiB.
const maxConfigSize = 1 << 20

// Config is the helper's configuration file.
type Config struct {
	// Registries maps a registry host to how to authenticate to it.
	Registries map[string]*RegistryConfig `json:"registries,omitempty"`
	// Defaults apply to every registry that does not say otherwise.
	Defaults Defaults `json:"defaults,omitempty"`

	path  string            // where it was read from, for messages
	hosts map[string]string // normalised host -> key in Registries
}

// Defaults are the settings shared by all registries.
type Defaults struct {
	// Chain lists the identity kinds tried, in order, for a registry with no
	// identity of its own. Default: environment, workloadidentity,
	// managedidentity, azurecli, azd.
	Chain []token.Kind `json:"chain,omitempty"`
	// ManagedIdentity is "auto", "always" or "never" (see EnvManagedIdentity).
	ManagedIdentity string `json:"managedIdentity,omitempty"`
	// Timeout bounds one helper call, e.g. "30s".
	Timeout Duration `json:"timeout,omitempty"`
	// RefreshMargin is how much life a cached token must have left to be reused.
	RefreshMargin Duration `json:"refreshMargin,omitempty"`
	// Audience is "auto" (ACR audience, then ARM if the exchange rejects it), "acr" or "arm".
	Audience string `json:"audience,omitempty"`
}

// RegistryConfig says how to authenticate to one registry.
type RegistryConfig struct {
	// Identity is the identity kind: basic, serviceprincipal, environment,
	// workloadidentity, managedidentity, azurecli, azd, or default (the chain).
	Identity token.Kind `json:"identity,omitempty"`
	// CustomHost declares a host that is not an *.azurecr.* name (a custom
	// domain, a mirror, a test registry) to be an ACR login server.
	CustomHost bool `json:"customHost,omitempty"`
	// Cloud names the Azure cloud (AzurePublic, AzureChina, AzureUSGovernment)
	// when it does not follow from the host name.
	Cloud string `json:"cloud,omitempty"`
	// AuthorityHost overrides the Azure AD authority (https only).
	AuthorityHost string `json:"authorityHost,omitempty"`

	TenantID   string `json:"tenantId,omitempty"`
	ClientID   string `json:"clientId,omitempty"`
	ResourceID string `json:"resourceId,omitempty"`

	// Basic credentials (admin account, repository-scoped token, or a
	// service principal's app ID and secret).
	Username     string `json:"username,omitempty"`
	Password     string `json:"password,omitempty"`
	PasswordFile string `json:"passwordFile,omitempty"`
	PasswordEnv  string `json:"passwordEnv,omitempty"`

	// Service principal secret or certificate for the Azure AD step.
	ClientSecretFile      string `json:"clientSecretFile,omitempty"`
	ClientSecretEnv       string `json:"clientSecretEnv,omitempty"`
	ClientCertificateFile string `json:"clientCertificateFile,omitempty"`
	// TokenFile is the federated token file of a workload identity.
	TokenFile string `json:"tokenFile,omitempty"`

	// Audience overrides Defaults.Audience for this registry.
	Audience string `json:"audience,omitempty"`
	// IdentityToken answers with Username "<token>" (the identity-token form)
	// instead of the GUID username.
	IdentityToken bool `json:"identityToken,omitempty"`
}

// Duration is a time.Duration written as a string such as "30s" in JSON.
type Duration time.Duration

type durationError struct{ msg string }

func (e *durationError) Error() string { return e.msg }

// UnmarshalJSON parses a Go duration string.
func (d *Duration) UnmarshalJSON(b []byte) error {
	v, err := parseDuration(b)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

func parseDuration(b []byte) (time.Duration, error) {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return 0, &durationError{`want a duration string such as "30s"`}
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return 0, &durationError{fmt.Sprintf("invalid duration %q", s)}
	}
	return v, nil
}

// fieldPath puts the registry's name into a field path such as
// "registries.username" (encoding/json leaves map keys out).
func fieldPath(field string, b []byte) string {
	rest, ok := strings.CutPrefix(field, "registries.")
	if !ok {
		return field
	}
	var c struct {
		Registries map[string]json.RawMessage `json:"registries"`
	}
	if json.Unmarshal(b, &c) != nil {
		return field
	}
	for name, raw := range c.Registries {
		var r RegistryConfig
		if err := json.Unmarshal(raw, &r); err != nil {
			return fmt.Sprintf("registries.%s.%s", redactURL(name), rest)
		}
	}
	return field
}

// unknownFieldPath finds where the unknown field name is, for the error
// message (encoding/json does not say): "registries.<host>.<name>",
// "defaults.<name>" or "<name>".
func unknownFieldPath(name string, b []byte) string {
	var c struct {
		Registries map[string]json.RawMessage `json:"registries"`
		Defaults   json.RawMessage            `json:"defaults"`
	}
	if json.Unmarshal(b, &c) != nil {
		return name
	}
	unknown := func(raw json.RawMessage, v any) bool {
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		err := dec.Decode(v)
		return err != nil && strings.HasPrefix(err.Error(), "json: unknown field "+strconv.Quote(name))
	}
	for host, raw := range c.Registries {
		if unknown(raw, new(RegistryConfig)) {
			return "registries." + redactURL(host) + "." + name
		}
	}
	if c.Defaults != nil && unknown(c.Defaults, new(Defaults)) {
		return "defaults." + name
	}
	return name
}

// jsonKind says in JSON's words what a Go type decodes from.
func jsonKind(t reflect.Type) string {
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Map, reflect.Struct, reflect.Pointer:
		return "an object"
	}
	return t.Kind().String()
}

// badDurationField finds which duration field of the defaults failed, for
// the error message (encoding/json does not say for custom types).
func badDurationField(b []byte) string {
	var c struct {
		Defaults map[string]json.RawMessage `json:"defaults"`
	}
	_ = json.Unmarshal(b, &c)
	for _, f := range []string{"timeout", "refreshMargin"} {
		for k, v := range c.Defaults {
			if strings.EqualFold(k, f) {
				if _, err := parseDuration(v); err != nil {
					return "defaults." + f
				}
			}
		}
	}
	return "defaults"
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// ConfigPath returns where the configuration file is looked for:
// $DOCKER_CREDENTIAL_ACR_CONFIG, else $XDG_CONFIG_HOME/docker-credential-acr/config.json,
// else ~/.config/docker-credential-acr/config.json.
func ConfigPath(getenv func(string) string) string {
	if p := getenv(EnvConfig); p != "" {
		return p
	}
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "docker-credential-acr", "config.json")
	}
	return filepath.Join(homeDir(getenv), ".config", "docker-credential-acr", "config.json")
}

// LoadConfig reads the configuration file at path. A missing file is an empty
// configuration unless required is set (the path was named explicitly).
func LoadConfig(path string, required bool) (*Config, error) {
	b, err := readLimited(path, maxConfigSize)
	if errors.Is(err, fs.ErrNotExist) && !required {
		return &Config{path: path}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return ParseConfig(path, b)
}

// ParseConfig parses and validates configuration bytes; path is used in messages.
func ParseConfig(path string, b []byte) (*Config, error) {
	c := &Config{path: path}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(c); err != nil {
		return nil, fmt.Errorf("config %s: %s", path, describeJSONError(err, b))
	}
	if !atEOF(dec) {
		return nil, fmt.Errorf("config %s: unexpected data after the JSON object", path)
	}
	if err := exactFieldNames(b); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	if err := c.validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.resolvePaths()
	return c, nil
}

// exactFieldNames refuses two members of one object that encoding/json
// takes for the same field because it ignores case ("Password" beside
// "password": the last would silently win). A lone name in another case
// ("clientID") is accepted, as encoding/json accepts it. It runs on every
// load, so it looks at names only: values stay raw.
func exactFieldNames(b []byte) error {
	if !mayFoldFieldNames(b) {
		return nil
	}
	return checkFieldNames(b)
}

// checkFieldNames is exactFieldNames without the quick test.
func checkFieldNames(b []byte) error {
	var doc struct {
		Defaults   map[string]json.RawMessage            `json:"defaults"`
		Registries map[string]map[string]json.RawMessage `json:"registries"`
	}
	var top map[string]json.RawMessage
	if json.Unmarshal(b, &top) != nil || json.Unmarshal(b, &doc) != nil {
		return nil // already decoded: cannot happen
	}
	check := func(prefix string, m map[string]json.RawMessage, typ reflect.Type) error {
		seen := map[string]string{} // field -> the member name that set it
		for _, k := range slices.Sorted(maps.Keys(m)) {
			want, ok := fieldNameFolded(typ, k)
			if !ok {
				continue
			}
			if other, dup := seen[want]; dup {
				return fmt.Errorf("fields %q and %q both set %q (names match ignoring case); keep one", prefix+other, prefix+k, want)
			}
			seen[want] = k
		}
		return nil
	}
	if err := check("", top, reflect.TypeFor[Config]()); err != nil {
		return err
	}
	if err := check("defaults.", doc.Defaults, reflect.TypeFor[Defaults]()); err != nil {
		return err
	}
	for host, m := range doc.Registries {
		if err := check("registries."+redactURL(host)+".", m, reflect.TypeFor[RegistryConfig]()); err != nil {
			return err
		}
	}
	return nil
}

// mayFoldFieldNames is a cheap test that lets exactFieldNames skip its
// decoding for the usual file: it is false when no member name in b equals a
// field name ignoring ASCII case without equalling it exactly (so no two
// can fold together), and no name has an escape or a non-ASCII letter
// (encoding/json also folds a few other letters, such as the long s).
// FuzzFieldNameFolding checks that it is true whenever checkFieldNames finds
// a fault.
func mayFoldFieldNames(b []byte) bool {
	names := foldedFieldNames()
	for i := 0; i < len(b); i++ {
		switch c := b[i]; {
		case c >= utf8.RuneSelf:
			return true
		case c != '"':
			continue
		}
		start, unusual := i+1, false
		for i++; i < len(b) && b[i] != '"'; i++ {
			switch {
			case b[i] == '\\':
				unusual = true
				i++ // the escaped byte, a quote perhaps
			case b[i] >= utf8.RuneSelf:
				unusual = true
			}
		}
		if i >= len(b) {
			return false
		}
		name := b[start:i]
		if after := bytes.TrimLeft(b[i+1:], " \t\r\n"); len(after) == 0 || after[0] != ':' {
			continue // a value, not a member name
		}
		if unusual {
			return true
		}
		if want, ok := names[strings.ToLower(string(name))]; ok && want != string(name) {
			return true
		}
	}
	return false
}

// foldedFieldNames maps the lower-case JSON name of every configuration
// field to the name itself.
var foldedFieldNames = sync.OnceValue(func() map[string]string {
	m := map[string]string{}
	for _, typ := range []reflect.Type{reflect.TypeFor[Config](), reflect.TypeFor[Defaults](), reflect.TypeFor[RegistryConfig]()} {
		for f := range typ.Fields() {
			if tag, _, _ := strings.Cut(f.Tag.Get("json"), ","); tag != "" && tag != "-" {
				m[strings.ToLower(tag)] = tag
			}
		}
	}
	return m
})

// fieldNameFolded returns the JSON name of typ's field that name matches
// when case is ignored.
func fieldNameFolded(typ reflect.Type, name string) (string, bool) {
	for f := range typ.Fields() {
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if tag != "" && tag != "-" && strings.EqualFold(tag, name) {
			return tag, true
		}
	}
	return "", false
}

// resolvePaths makes the files the configuration names absolute: "~/x" is
// in the home directory, and a relative path is relative to the
// configuration file's directory, not to wherever docker was started.
func (c *Config) resolvePaths() {
	dir := filepath.Dir(c.path)
	home, _ := os.UserHomeDir()
	for _, r := range c.Registries {
		for _, p := range []*string{&r.PasswordFile, &r.ClientSecretFile, &r.ClientCertificateFile, &r.TokenFile} {
			switch {
			case *p == "" || filepath.IsAbs(*p):
			case (*p == "~" || strings.HasPrefix(*p, "~/")) && home != "":
				*p = filepath.Join(home, (*p)[1:])
			default:
				*p = filepath.Join(dir, *p)
			}
		}
	}
}

// describeJSONError turns a decoding error into a message that names the
// field, never the value (a value may be a password).
func describeJSONError(err error, b []byte) string {
	var te *json.UnmarshalTypeError
	var se *json.SyntaxError
	switch {
	case errors.As(err, &te) && te.Field == "":
		return fmt.Sprintf("want a JSON object, not %s", te.Value)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q: wrong type: want %s, not %s", fieldPath(te.Field, b), jsonKind(te.Type), te.Value)
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON at byte %d", se.Offset)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name, _ := strconv.Unquote(strings.TrimPrefix(err.Error(), "json: unknown field "))
		return fmt.Sprintf("unknown field %q", unknownFieldPath(name, b))
	case errors.As(err, new(*durationError)):
		return fmt.Sprintf("field %q: %v", badDurationField(b), err)
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "empty or truncated JSON"
	}
	return "malformed JSON"
}

func (c *Config) validate() error {
	if err := validateChain(c.Defaults.Chain); err != nil {
		return fmt.Errorf("field \"defaults.chain\": %w", err)
	}
	switch c.Defaults.ManagedIdentity {
	case "", "auto", "always", "never":
	default:
		return fmt.Errorf("field \"defaults.managedIdentity\": want auto, always or never")
	}
	if err := validateAudience(c.Defaults.Audience); err != nil {
		return fmt.Errorf("field \"defaults.audience\": %w", err)
	}
	c.hosts = make(map[string]string, len(c.Registries))
	for key, r := range c.Registries {
		if r == nil {
			return fmt.Errorf("registry %q: empty entry", key)
		}
		host, err := registryKey(key, r.CustomHost)
		if err != nil {
			return fmt.Errorf("registry %q: %w", redactURL(key), err)
		}
		if prev, dup := c.hosts[host]; dup {
			return fmt.Errorf("registries %q and %q name the same host", redactURL(prev), redactURL(key))
		}
		c.hosts[host] = key
		if err := r.validate(); err != nil {
			return fmt.Errorf("registry %q: %w", redactURL(key), err)
		}
	}
	return nil
}

// registryKey normalises a configured registry name. A name that is not an
// ACR login server must be declared with customHost, and must not ask for
// anything but https.
func registryKey(key string, custom bool) (string, error) {
	if strings.Contains(key, "://") && !strings.HasPrefix(strings.ToLower(key), "https://") {
		return "", errors.New("only https registries are supported (tokens are never sent in the clear)")
	}
	host, err := NormalizeServerURL(key)
	if err != nil {
		return "", errors.New("not a registry host name (userinfo, paths and queries are not allowed)")
	}
	if _, ok := ACRCloud(host); !ok && !custom {
		return "", errors.New(`not an Azure Container Registry host name; set "customHost": true to declare it one`)
	}
	return host, nil
}

func (r *RegistryConfig) validate() error {
	if r.Identity == "" {
		r.Identity = token.KindDefault
	}
	if !token.ValidKind(r.Identity) {
		return fmt.Errorf("field \"identity\": unknown identity %q (want one of %s)", r.Identity, token.KindNames())
	}
	if r.Cloud != "" {
		if _, ok := token.CloudByName(r.Cloud); !ok {
			return fmt.Errorf("field \"cloud\": unknown cloud %q", r.Cloud)
		}
	}
	if r.AuthorityHost != "" {
		if _, err := token.AzurePublic.WithAuthorityHost(r.AuthorityHost); err != nil {
			return fmt.Errorf("field \"authorityHost\": %w", err)
		}
	}
	if err := validateAudience(r.Audience); err != nil {
		return fmt.Errorf("field \"audience\": %w", err)
	}
	switch r.Identity {
	case token.KindBasic:
		if r.Username == "" {
			return errors.New(`field "username": required for identity "basic"`)
		}
		n := count(r.Password != "", r.PasswordFile != "", r.PasswordEnv != "")
		if n != 1 {
			return errors.New(`identity "basic" needs exactly one of "passwordFile", "passwordEnv" or "password"`)
		}
	case token.KindServicePrincipal:
		if r.TenantID == "" || r.ClientID == "" {
			return errors.New(`identity "serviceprincipal" needs "tenantId" and "clientId"`)
		}
		if count(r.ClientSecretFile != "", r.ClientSecretEnv != "", r.ClientCertificateFile != "") != 1 {
			return errors.New(`identity "serviceprincipal" needs exactly one of "clientSecretFile", "clientSecretEnv" or "clientCertificateFile"`)
		}
	case token.KindManagedIdentity:
		if r.ClientID != "" && r.ResourceID != "" {
			return errors.New(`identity "managedidentity" takes "clientId" or "resourceId", not both`)
		}
	}
	return nil
}

func validateChain(chain []token.Kind) error {
	for _, k := range chain {
		switch k {
		case token.KindEnvironment, token.KindWorkloadIdentity, token.KindManagedIdentity,
			token.KindAzureCLI, token.KindAzd:
		default:
			return fmt.Errorf("%q cannot be in the default chain", k)
		}
	}
	return nil
}

func validateAudience(a string) error {
	switch a {
	case "", "auto", "acr", "arm":
		return nil
	}
	return fmt.Errorf("want auto, acr or arm, not %q", a)
}

// redactURL removes userinfo from a URL-like string for messages.
func redactURL(s string) string {
	if at := strings.LastIndex(s, "@"); at >= 0 {
		start := strings.Index(s, "://")
		if start < 0 || start > at {
			start = -3
		}
		return s[:start+3] + "[redacted]" + s[at:]
	}
	return s
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

// Registry returns the configuration for a normalised host, if any.
func (c *Config) Registry(host string) (*RegistryConfig, bool) {
	key, ok := c.hosts[host]
	if !ok {
		return nil, false
	}
	return c.Registries[key], true
}

// Path is the file the configuration was read from.
func (c *Config) Path() string { return c.path }

// Hosts returns the normalised hosts the configuration names.
func (c *Config) Hosts() []string {
	hosts := make([]string, 0, len(c.hosts))
	for h := range c.hosts {
		hosts = append(hosts, h)
	}
	return hosts
}

// readLimited reads a whole regular file of at most max bytes.
func readLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if st, err := f.Stat(); err != nil {
		return nil, err
	} else if !st.Mode().IsRegular() {
		return nil, errors.New("not a regular file")
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("larger than %d bytes", max)
	}
	return b, nil
}
