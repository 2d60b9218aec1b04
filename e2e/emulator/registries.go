package emulator

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strings"
)

// AddRegistry starts serving an ACR login server.
func (e *Emulator) AddRegistry(r Registry) error {
	r.Host = strings.TrimSuffix(strings.ToLower(r.Host), ".")
	if r.Host == "" || r.Tenant == "" {
		return fmt.Errorf("emulator: registry needs a host and a tenant: %+v", r)
	}
	if e.knownHost(r.Host) {
		return fmt.Errorf("emulator: host %s is already served", r.Host)
	}
	c := cloudForRegistry(r.Host)
	d := e.directory
	d.mu.Lock()
	d.ensureTenantLocked(r.Tenant, c)
	if tc := d.tenants[strings.ToLower(r.Tenant)]; tc != c {
		c = tc
	}
	d.mu.Unlock()
	srv, err := newRegistryServer(r.Host, e.acrCertFile)
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.registries[r.Host] = &acrRegistry{Registry: r, cloud: c, server: srv, repoTokens: map[string]repoToken{}}
	return nil
}

// AddPublicRegistry starts serving a non-ACR registry at host with no
// authentication at all.
func (e *Emulator) AddPublicRegistry(host string) error {
	host = strings.TrimSuffix(strings.ToLower(host), ".")
	if e.knownHost(host) {
		return fmt.Errorf("emulator: host %s is already served", host)
	}
	srv, err := newRegistryServer(host, "")
	if err != nil {
		return fmt.Errorf("emulator: %w", err)
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	e.public[host] = srv
	return nil
}

func (e *Emulator) registry(host string) (*acrRegistry, error) {
	e.mu.RLock()
	defer e.mu.RUnlock()
	r, ok := e.registries[strings.ToLower(host)]
	if !ok {
		return nil, fmt.Errorf("emulator: no registry %s", host)
	}
	return r, nil
}

// EnableAdmin enables the registry's admin account and returns its user
// name (the registry name) and two passwords, generated on first enable.
func (e *Emulator) EnableAdmin(host string) (user, password1, password2 string, err error) {
	r, err := e.registry(host)
	if err != nil {
		return "", "", "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.adminEnabled = true
	for i := range r.adminPW {
		if r.adminPW[i] == "" {
			r.adminPW[i] = newPassword()
		}
	}
	return r.adminUser(), r.adminPW[0], r.adminPW[1], nil
}

// DisableAdmin disables the admin account; its passwords are kept.
func (e *Emulator) DisableAdmin(host string) error {
	r, err := e.registry(host)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.adminEnabled = false
	return nil
}

// RegenerateAdminPassword replaces admin password n (1 or 2) and returns it.
func (e *Emulator) RegenerateAdminPassword(host string, n int) (string, error) {
	if n != 1 && n != 2 {
		return "", fmt.Errorf("emulator: admin password %d: must be 1 or 2", n)
	}
	r, err := e.registry(host)
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.adminPW[n-1] = newPassword()
	return r.adminPW[n-1], nil
}

// AddRepositoryToken creates (or replaces) a repository-scoped token: user
// name name, password password, and per repository the allowed actions
// ("pull", "push", "delete", or ACR's "content/read", "content/write",
// "content/delete"). A repository key ending in "/*" (or "*") matches by
// prefix.
func (e *Emulator) AddRepositoryToken(host, name, password string, repoActions map[string][]string) error {
	r, err := e.registry(host)
	if err != nil {
		return err
	}
	actions := make(map[string][]string, len(repoActions))
	for repo, as := range repoActions {
		for _, a := range as {
			actions[repo] = append(actions[repo], normalizeAction(a))
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.repoTokens[name] = repoToken{password: password, actions: actions}
	return nil
}

// RemoveRepositoryToken deletes a repository-scoped token.
func (e *Emulator) RemoveRepositoryToken(host, name string) error {
	r, err := e.registry(host)
	if err != nil {
		return err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.repoTokens, name)
	return nil
}

// newPassword returns a random password shaped like ACR's (52 characters).
func newPassword() string {
	b := make([]byte, 39)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("crypto/rand failed: %v", err))
	}
	return base64.RawURLEncoding.EncodeToString(b)
}
