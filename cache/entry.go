package cache

import "time"

// Entry is one record of a Store.
type Entry struct {
	// Registry is the normalised registry host, e.g. "myreg.azurecr.io".
	Registry string `json:"registry"`
	// Kind is the identity kind, e.g. "basic", "environment", "managedidentity".
	Kind     string `json:"kind,omitempty"`
	Username string `json:"username,omitempty"`
	Secret   string `json:"secret,omitempty"`
	// ExpiresAt is when the entry stops being valid; zero means never.
	ExpiresAt time.Time `json:"expiresAt,omitzero"`
	// Negative, if non-empty, makes this a remembered failure (for example
	// "no identity available: ..."). A negative entry must have an ExpiresAt:
	// one without is treated as already expired, never as a permanent failure.
	Negative string `json:"negative,omitempty"`
}

// Expired reports whether e is no longer valid at now: ExpiresAt is set and
// now is at or after it. A negative entry without ExpiresAt is always expired.
func (e Entry) Expired(now time.Time) bool {
	if e.ExpiresAt.IsZero() {
		return e.Negative != ""
	}
	return !now.Before(e.ExpiresAt)
}

// FreshFor reports whether e stays valid for more than margin after now: it
// never expires, or ExpiresAt-now > margin. A negative entry without
// ExpiresAt is never fresh.
func (e Entry) FreshFor(now time.Time, margin time.Duration) bool {
	if e.ExpiresAt.IsZero() {
		return e.Negative == ""
	}
	return e.ExpiresAt.Sub(now) > margin
}
