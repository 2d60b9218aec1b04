package cache

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestEntryExpiry(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	const margin = 5 * time.Minute
	at := func(d time.Duration) time.Time { return now.Add(d) }
	tests := []struct {
		name        string
		e           Entry
		wantExpired bool
		wantFresh   bool // FreshFor(now, margin)
	}{
		{"zero time never expires", Entry{Secret: "s"}, false, true},
		{"far future", Entry{ExpiresAt: at(time.Hour)}, false, true},
		{"margin+1ns left", Entry{ExpiresAt: at(margin + 1)}, false, true},
		{"exactly margin left", Entry{ExpiresAt: at(margin)}, false, false},
		{"margin-1ns left", Entry{ExpiresAt: at(margin - 1)}, false, false},
		{"1ns left", Entry{ExpiresAt: at(1)}, false, false},
		{"exactly now", Entry{ExpiresAt: now}, true, false},
		{"1ns ago", Entry{ExpiresAt: at(-1)}, true, false},
		{"long ago", Entry{ExpiresAt: at(-time.Hour)}, true, false},
		{"negative, future", Entry{Negative: "no identity available: x", ExpiresAt: at(time.Minute)}, false, false},
		{"negative, beyond margin", Entry{Negative: "x", ExpiresAt: at(margin + time.Second)}, false, true},
		{"negative, exactly now", Entry{Negative: "x", ExpiresAt: now}, true, false},
		{"negative, past", Entry{Negative: "x", ExpiresAt: at(-time.Second)}, true, false},
		{"negative without expiry is stale", Entry{Negative: "x"}, true, false},
		{"other zone, same instant", Entry{ExpiresAt: now.In(time.FixedZone("x", 3600))}, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			assert.Equal(t, tt.wantExpired, tt.e.Expired(now), "Expired")
			assert.Equal(t, tt.wantFresh, tt.e.FreshFor(now, margin), "FreshFor")
			if !tt.e.ExpiresAt.IsZero() || tt.e.Negative == "" {
				// FreshFor with margin 0 is the opposite of Expired.
				assert.Equal(t, !tt.wantExpired, tt.e.FreshFor(now, 0), "FreshFor(0)")
			}
		})
	}
}
