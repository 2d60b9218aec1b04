package credhelper

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/docker-credential-acr/docker-credential-acr/cache"
	"github.com/docker-credential-acr/docker-credential-acr/token"
)

func init() {
	commands["doctor"] = command{
		summary: "explain which identity is used for a registry, and check it end to end",
		run:     runDoctor,
	}
}

// doctor writes a report for a person at a terminal: each check is one line
// with a verdict. It never prints a secret.
type doctor struct {
	h      *Helper
	w      io.Writer
	failed bool
	client *http.Client
}

func (d *doctor) ok(format string, args ...any)   { d.line("ok  ", format, args...) }
func (d *doctor) info(format string, args ...any) { d.line("    ", format, args...) }
func (d *doctor) warn(format string, args ...any) { d.line("warn", format, args...) }
func (d *doctor) fail(format string, args ...any) {
	d.failed = true
	d.line("FAIL", format, args...)
}

func (d *doctor) line(tag, format string, args ...any) {
	fmt.Fprintf(d.w, "[%s] %s\n", tag, token.Redact(fmt.Sprintf(format, args...)))
}

func runDoctor(args []string, io IO) int {
	const usage = "usage: docker-credential-acr doctor [REGISTRY...]"
	for _, a := range args {
		switch {
		case a == "-h" || a == "--help" || a == "-help":
			fmt.Fprintln(io.Stdout, usage)
			return 0
		case strings.HasPrefix(a, "-"):
			fmt.Fprintf(io.Stderr, "docker-credential-acr: doctor: unknown flag %s\n%s\n", shorten(a, 40), usage)
			return 2
		}
	}
	d := &doctor{h: New(io.Options), w: io.Stdout}
	d.client = d.h.fetcherHTTPClient()
	d.environment()
	registries := args
	if len(registries) == 0 {
		// Every registry the helper answers for: configured or stored.
		if m, err := d.h.List(); err == nil {
			for host := range m {
				registries = append(registries, host)
			}
			slices.Sort(registries)
		} else if cfg, err := d.h.config(); err == nil {
			registries = cfg.Hosts()
		}
	}
	if len(registries) == 0 {
		d.fail("no registry given and none configured: run `docker-credential-acr doctor myregistry.azurecr.io`")
	}
	for _, r := range registries {
		fmt.Fprintln(d.w)
		d.registry(r)
	}
	fmt.Fprintln(d.w)
	if d.failed {
		fmt.Fprintln(d.w, "verdict: something is wrong (see FAIL above)")
		return 1
	}
	fmt.Fprintln(d.w, "verdict: all checks passed")
	return 0
}

// environment reports the version, configuration and cache.
func (d *doctor) environment() {
	d.info("docker-credential-acr %s", Version)
	path := ConfigPath(d.h.getenv)
	switch cfg, err := d.h.config(); {
	case err != nil:
		d.fail("%v", err)
	case len(cfg.Registries) == 0:
		if _, serr := os.Stat(path); serr != nil {
			d.info("config file %s: none (optional)", path)
		} else {
			d.ok("config file %s: no registries", path)
		}
	default:
		d.ok("config file %s: %d registries", path, len(cfg.Registries))
	}
	dir := CacheDir(d.h.getenv)
	if _, err := cache.Open(dir, tokensFile); err != nil {
		d.fail("cache directory %s: %v (the helper works, without a cache)", dir, err)
	} else if st, err := os.Stat(dir); err == nil && st.Mode().Perm() != 0o700 {
		d.warn("cache directory %s: mode %04o, not 0700 (its files are 0600; chmod 700 %s to be strict)", dir, st.Mode().Perm(), dir)
	} else {
		d.ok("cache directory %s: private (0700)", dir)
	}
}

// registry runs every check for one registry.
func (d *doctor) registry(serverURL string) {
	t, err := d.h.Target(serverURL)
	if IsNotFound(err) {
		d.fail("%s: not an Azure Container Registry host (and not declared with customHost): the helper will answer \"not found\"", redactURL(serverURL))
		return
	}
	if err != nil {
		d.fail("%s: %v", redactURL(serverURL), err)
		return
	}
	d.ok("%s: recognised as ACR; cloud %s, Azure AD %s", t.Host, t.Cloud.Name, t.Cloud.AuthorityHost)
	ctx, cancel := context.WithTimeout(context.Background(), d.h.timeout())
	defer cancel()
	d.challenge(ctx, t)
	if c, ok := d.h.stored(t.Host); ok {
		d.ok("credentials stored with docker login are used: username %s (docker logout %s forgets them)", c.Username, t.Host)
		d.login(ctx, t, c.Username, c.Secret)
		return
	}
	if rc := t.Config; rc != nil && rc.Identity == token.KindBasic {
		secret, err := token.ReadSecret(rc.PasswordFile, rc.PasswordEnv, d.h.getenv)
		if rc.Password != "" {
			secret, err = rc.Password, nil
		}
		if err != nil {
			d.fail("configured username %s: password not readable: %v", rc.Username, err)
			return
		}
		d.ok("configured username and password are used: username %s", rc.Username)
		d.login(ctx, t, rc.Username, secret)
		return
	}
	d.identity(ctx, t)
}

// challenge checks that the registry answers /v2/ with a Bearer challenge.
func (d *doctor) challenge(ctx context.Context, t Target) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+t.Host+"/v2/", nil)
	if err != nil {
		d.fail("registry request: %v", err)
		return
	}
	resp, err := d.client.Do(req)
	if err != nil {
		d.fail("registry https://%s/v2/ does not answer: %s", t.Host, oneLineError(err))
		return
	}
	resp.Body.Close()
	ch := resp.Header.Get("Www-Authenticate")
	switch {
	case resp.StatusCode == http.StatusUnauthorized && strings.HasPrefix(strings.ToLower(ch), "bearer "):
		d.ok("registry answers with a Bearer challenge: %s", ch)
	case resp.StatusCode == http.StatusUnauthorized:
		d.warn("registry answers 401 without a Bearer challenge (%q): is it ACR?", ch)
	default:
		d.warn("registry answers /v2/ with HTTP %d without credentials (ACR always asks for them)", resp.StatusCode)
	}
}

// login checks username and secret live, as a client would use them: HTTP
// Basic at the realm of the registry's challenge, /oauth2/token.
func (d *doctor) login(ctx context.Context, t Target, user, secret string) {
	if user == IdentityTokenUsername {
		user = TokenUsername // Docker's identity-token form: the registry knows the GUID
	}
	u := "https://" + t.Host + "/oauth2/token?service=" + url.QueryEscape(t.Host)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		d.fail("registry request: %v", err)
		return
	}
	req.SetBasicAuth(user, secret)
	resp, err := d.client.Do(req)
	if err != nil {
		d.fail("live login at https://%s/oauth2/token: %s", t.Host, oneLineError(err))
		return
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		d.ok("live login at %s succeeded: the registry accepts these credentials", t.Host)
	case http.StatusUnauthorized:
		d.fail("live login at %s: the registry refuses these credentials (HTTP 401): they are wrong, expired or revoked", t.Host)
	default:
		d.fail("live login at %s: HTTP %d", t.Host, resp.StatusCode)
	}
}

// identity explains the identity choice, the cache entry, and tries a live exchange.
func (d *doctor) identity(ctx context.Context, t Target) {
	source := "the default chain"
	if t.Config != nil && t.Config.Identity != token.KindDefault {
		source = "the config file"
	}
	ids, skipped := d.h.identities(ctx, t, true)
	for _, s := range skipped {
		d.info("not used: %s", s)
	}
	if len(ids) == 0 {
		d.fail("no Azure identity available from %s: configure one (see the README's recipes)", source)
		return
	}
	for i, id := range ids {
		what := "will be tried"
		if i == 0 {
			what = "is tried first"
		}
		d.ok("from %s: %s %s", source, id, what)
	}
	d.info("audience policy %s; username answered: %s", d.h.audience(t), username(t))
	d.cacheEntry(ctx, t)
	start := time.Now()
	tok, err := d.h.fetch(ctx, t)
	if err != nil {
		var ue *token.UnavailableError
		if errors.As(err, &ue) {
			d.fail("%v", err)
		} else {
			d.fail("live token exchange: %v", err)
		}
		return
	}
	d.ok("live token exchange with %s succeeded in %s: refresh token valid until %s (%s), obtained by %s",
		t.Host, time.Since(start).Round(time.Millisecond), tok.ExpiresAt.Format(time.RFC3339),
		time.Until(tok.ExpiresAt).Round(time.Minute), tok.Identity)
}

func (d *doctor) cacheEntry(ctx context.Context, t Target) {
	st, err := d.h.store(tokensFile)
	if err != nil {
		d.warn("token cache unusable: %v", err)
		return
	}
	c := d.h.lookup(st, d.h.tokenKey(ctx, t))
	now := d.h.now()
	switch {
	case c.entry.Negative != "":
		d.warn("cache remembers a failure until %s: %s", c.entry.ExpiresAt.Format(time.RFC3339), c.entry.Negative)
	case c.answer:
		d.ok("cached token valid until %s (%s left; reused while more than %s is left)",
			c.entry.ExpiresAt.Format(time.RFC3339), c.entry.ExpiresAt.Sub(now).Round(time.Second), d.h.refreshMargin(c.entry.Secret))
	case c.have:
		d.info("cached token is inside its refresh margin: the next get replaces it")
	default:
		d.info("no cached token: the next get fetches one")
	}
}

// fetcherHTTPClient is the client used for the registry: the exchanger's,
// or the default one.
func (h *Helper) fetcherHTTPClient() *http.Client {
	if x, ok := h.fetcher.Exchanger.(*token.HTTPExchanger); ok && x.Client != nil {
		return x.Client
	}
	return token.NewHTTPClient()
}
