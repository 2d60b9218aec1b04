package emulator

import (
	"context"
	"maps"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Fault makes a counted endpoint misbehave. A fault is matched by the
// counter name it was injected under (for example "acr.exchange" or
// "acr.exchange@e2e.azurecr.io").
type Fault struct {
	// Status, when non-zero, is answered instead of the normal response,
	// with an error body in the format of the service.
	Status int
	// RetryAfter, when non-zero, is sent as a Retry-After header (seconds).
	RetryAfter time.Duration
	// Times is how many requests the fault applies to; 0 means every
	// request until ClearFaults.
	Times int
	// Latency delays the request (before any Status is answered).
	Latency time.Duration
}

type faultState struct {
	Fault
	left int // remaining uses when Times > 0
}

// stats holds the request counters, injected faults and the hosts the proxy
// refused. It is safe for concurrent use.
type stats struct {
	mu      sync.Mutex
	counts  map[string]int
	faults  map[string]*faultState
	refused []string
}

func newStats() *stats {
	return &stats{counts: map[string]int{}, faults: map[string]*faultState{}}
}

// hit counts one request under every name and returns the first fault that
// applies to any of them (consuming one of its uses), or nil.
func (s *stats) hit(names ...string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, n := range names {
		if !strings.HasSuffix(n, "@") { // a qualifier was empty
			s.counts[n]++
		}
	}
	for _, n := range names {
		f, ok := s.faults[n]
		if !ok {
			continue
		}
		if f.Times > 0 {
			f.left--
			if f.left <= 0 {
				delete(s.faults, n)
			}
		}
		out := f.Fault
		return &out
	}
	return nil
}

func (s *stats) count(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.counts[name]
}

func (s *stats) snapshot() map[string]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return maps.Clone(s.counts)
}

func (s *stats) reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts = map[string]int{}
	s.refused = nil
}

func (s *stats) inject(name string, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults[name] = &faultState{Fault: f, left: f.Times}
}

func (s *stats) clearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = map[string]*faultState{}
}

func (s *stats) refuse(target string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.counts[counterProxyRefused]++
	s.refused = append(s.refused, target)
}

func (s *stats) refusedHosts() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.refused...)
}

// apply sleeps for the fault's latency and reports whether the caller must
// answer f.Status instead of handling the request. It sets Retry-After.
func (f *Fault) apply(ctx context.Context, w http.ResponseWriter) bool {
	if f == nil {
		return false
	}
	if f.Latency > 0 {
		t := time.NewTimer(f.Latency)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
		}
	}
	if f.Status == 0 {
		return false
	}
	if f.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int((f.RetryAfter+time.Second-1)/time.Second)))
	}
	return true
}

// Counter names. Most requests are also counted as "<name>@<qualifier>":
// the authority host or client ID for "aad.*", the registry host for
// "acr.*" and "registry*", the target host for "proxy.connect", and the
// identity selector (client ID, resource ID, or "system") for "msi".
const (
	counterAADToken      = "aad.token"
	counterAADMetadata   = "aad.metadata"
	counterAADDiscovery  = "aad.discovery"
	counterAADKeys       = "aad.keys"
	counterMSI           = "msi"
	counterAz            = "az"
	counterExchange      = "acr.exchange"
	counterACRToken      = "acr.token"
	counterRegistry      = "registry"
	counterRegistry401   = "registry.401"
	counterProxyConnect  = "proxy.connect"
	counterProxyRefused  = "proxy.refused"
	counterTokenIssued   = "aad.issued"
	counterRefreshIssued = "acr.refresh.issued"
)
