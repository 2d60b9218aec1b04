package token

import (
	"slices"
	"strings"
	"sync"
)

// known holds the secrets this process has handled (client secrets,
// passwords, tokens), so that a message that quotes one anyway (an Azure AD
// or registry error that echoes the request) loses it.
var known struct {
	sync.Mutex
	secrets []string
}

// minKnownSecret is the shortest secret Redact removes wherever it appears;
// shorter ones would match innocent words.
const minKnownSecret = 8

// maxKnownSecrets bounds what a long-lived process (a program using the
// library) remembers: the most recent secrets, tokens expiring anyway.
const maxKnownSecrets = 32

// Remember makes Redact remove secret from messages from now on (for the
// maxKnownSecrets most recently remembered).
func Remember(secret string) {
	if len(secret) < minKnownSecret {
		return
	}
	known.Lock()
	defer known.Unlock()
	known.secrets = slices.DeleteFunc(known.secrets, func(s string) bool { return s == secret })
	known.secrets = append(known.secrets, secret)
	if n := len(known.secrets) - maxKnownSecrets; n > 0 {
		known.secrets = slices.Delete(known.secrets, 0, n)
	}
}

// Redact returns s with every secret this process remembers, and every
// word that may hold one, replaced by "[redacted]": a word holding a JWT,
// and the value of a key=value or key:value word whose key names a secret
// (password=..., client_secret:...). Messages built from what other programs
// print (az, azd, Azure AD, the registry) go through it before anyone sees
// them.
func Redact(s string) string {
	known.Lock()
	for _, k := range known.secrets {
		s = strings.ReplaceAll(s, k, "[redacted]")
	}
	known.Unlock()
	f := strings.Fields(s)
	for i, w := range f {
		f[i] = redactWord(w)
	}
	return strings.Join(f, " ")
}

func redactWord(w string) string {
	if looksLikeJWT(w) {
		return "[redacted]"
	}
	if i := strings.IndexAny(w, "=:"); i > 0 && i < len(w)-1 && secretKey(w[:i]) {
		return w[:i+1] + "[redacted]"
	}
	return w
}

// looksLikeJWT reports whether a word holds what may be a JWT: two dots and
// the base64 of '{"' before them.
func looksLikeJWT(w string) bool {
	i := strings.Index(w, "eyJ")
	return i >= 0 && strings.Count(w[i:], ".") >= 2
}

// secretKey reports whether a key=value key names a secret.
func secretKey(k string) bool {
	k = strings.ToLower(strings.Trim(k, `"'{[(,`))
	for _, s := range []string{"password", "passwd", "pwd", "secret", "token", "assertion", "key", "sig"} {
		if strings.Contains(k, s) {
			return true
		}
	}
	return false
}
