package cache

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// readers runs n goroutines calling All until stop is closed; each checks
// that the entry count never shrinks (writers only add) and reads never fail.
func readers(t *testing.T, s *Store, n int) (stop func()) {
	t.Helper()
	done := make(chan struct{})
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			last := 0
			for {
				select {
				case <-done:
					return
				default:
				}
				all, err := s.All()
				if !assert.NoError(t, err) {
					return
				}
				if !assert.GreaterOrEqual(t, len(all), last, "a reader saw entries disappear") {
					return
				}
				last = len(all)
				time.Sleep(time.Millisecond)
			}
		})
	}
	return func() { close(done); wg.Wait() }
}

func TestConcurrentGoroutines(t *testing.T) {
	t.Parallel()
	const workers, each = 32, 8
	s := newStore(t, WithLockTimeout(time.Minute))
	stop := readers(t, s, 2)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			// Each goroutine its own Store, as separate callers would be.
			s, err := Open(fileDir(s), "tokens.json", WithLockTimeout(time.Minute))
			if !assert.NoError(t, err) {
				return
			}
			for i := range each {
				if !assert.NoError(t, s.Update(context.Background(), addKey(fmt.Sprintf("g%d-%d", w, i)))) {
					return
				}
			}
		})
	}
	wg.Wait()
	stop()
	entries := requireValidFile(t, s.Path())
	assert.Len(t, entries, workers*each)
	for w := range workers {
		for i := range each {
			k := fmt.Sprintf("g%d-%d", w, i)
			if assert.Contains(t, entries, k, "lost update") {
				assert.Equal(t, secretFor(k), entries[k].Secret)
			}
		}
	}
}

func TestConcurrentProcesses(t *testing.T) {
	t.Parallel()
	const procs, each = 16, 8
	s := newStore(t)
	stop := readers(t, s, 2)
	var wg sync.WaitGroup
	for p := range procs {
		cmd, _, stdin := helper(t, "update", fileDir(s), "p"+strconv.Itoa(p), each)
		require.NoError(t, stdin.Close())
		wg.Go(func() { assert.NoError(t, cmd.Wait(), "helper %d", p) })
	}
	wg.Wait()
	stop()
	entries := requireValidFile(t, s.Path())
	assert.Len(t, entries, procs*each)
	for p := range procs {
		for i := range each {
			assert.Contains(t, entries, fmt.Sprintf("p%d-%d", p, i), "lost update")
		}
	}
}

// TestCrashSafety kills writers with SIGKILL at random moments, many of them
// in the middle of a write. After every round the file parses and holds
// every key whose Update had returned; leftover temporary files are 0600
// (the writers run with umask 0), are ignored by readers, and are removed
// by an Update once stale.
func TestCrashSafety(t *testing.T) {
	t.Parallel()
	const rounds, perRound = 10, 4
	s := newStore(t)
	dir := fileDir(s)
	stop := readers(t, s, 2)
	var mu sync.Mutex
	acked := map[string]bool{}

	for r := range rounds {
		var wg sync.WaitGroup
		for w := range perRound {
			id := fmt.Sprintf("r%dw%d", r, w)
			cmd, out, _ := helper(t, "crash", dir, id, 0)
			wg.Go(func() {
				// Kill at a random moment once the helper is in its loop
				// (the first ack), not while it is still starting up.
				first, scanned := make(chan struct{}), make(chan struct{})
				go func() {
					defer close(scanned)
					for n := 0; out.Scan(); n++ { // until the pipe closes with the process
						mu.Lock()
						acked[id+"-"+out.Text()] = true
						mu.Unlock()
						if n == 0 {
							close(first)
						}
					}
				}()
				select {
				case <-first:
				case <-scanned:
				case <-time.After(30 * time.Second):
				}
				time.Sleep(time.Duration(rand.IntN(150_000)) * time.Microsecond)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				<-scanned
				err := cmd.Wait()
				assert.Error(t, err, "the helper must have been killed, not have failed early")
			})
		}
		wg.Wait()

		entries := requireValidFile(t, s.Path())
		mu.Lock()
		for k := range acked {
			require.Contains(t, entries, k, "an Update that returned was lost")
		}
		mu.Unlock()
	}
	stop()

	temps, err := filepath.Glob(filepath.Join(dir, "tokens.json.*.tmp"))
	require.NoError(t, err)
	t.Logf("%d keys acknowledged, %d temporary files left by killed writers", len(acked), len(temps))
	old := time.Now().Add(-2 * time.Minute)
	for _, p := range temps {
		fi, err := os.Lstat(p)
		require.NoError(t, err)
		assert.Equal(t, os.FileMode(0o600), fi.Mode(), p)
		require.NoError(t, os.Chtimes(p, old, old))
	}
	fi, err := os.Lstat(s.Path())
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode())

	require.NoError(t, s.Update(context.Background(), addKey("after")))
	temps, err = filepath.Glob(filepath.Join(dir, "*.tmp"))
	require.NoError(t, err)
	assert.Empty(t, temps, "stale temporary files must be removed")
	entries := requireValidFile(t, s.Path())
	assert.Contains(t, entries, "after")
	var lost atomic.Int32
	for k := range acked {
		if _, ok := entries[k]; !ok {
			lost.Add(1)
		}
	}
	assert.Zero(t, lost.Load())
}
