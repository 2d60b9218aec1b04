package cache

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLockKeySerialisesSameKey(t *testing.T) {
	t.Parallel()
	s := newStore(t)
	var inside, maxInside, total atomic.Int32
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 10 {
				unlock, err := s.LockKey(context.Background(), "k")
				if !assert.NoError(t, err) {
					return
				}
				n := inside.Add(1)
				for {
					m := maxInside.Load()
					if n <= m || maxInside.CompareAndSwap(m, n) {
						break
					}
				}
				time.Sleep(200 * time.Microsecond)
				total.Add(1)
				inside.Add(-1)
				unlock()
			}
		})
	}
	wg.Wait()
	assert.EqualValues(t, 1, maxInside.Load(), "two holders of one key at once")
	assert.EqualValues(t, 80, total.Load())
}

func TestLockKeyDifferentKeysDoNotBlock(t *testing.T) {
	t.Parallel()
	// With "a" held, "b" must be had at once: were it blocked, the short
	// lock timeout would fail it.
	s := newStore(t, WithLockTimeout(100*time.Millisecond))
	unlockA, err := s.LockKey(context.Background(), "a")
	require.NoError(t, err)
	defer unlockA()
	unlockB, err := s.LockKey(context.Background(), "b")
	require.NoError(t, err, "another key does not wait for a held one")
	unlockB()

	// The same key in another file of the same directory is another lock.
	creds, err := Open(fileDir(s), "credentials.json", WithLockTimeout(time.Second))
	require.NoError(t, err)
	unlockC, err := creds.LockKey(context.Background(), "a")
	require.NoError(t, err)
	unlockC()
	// Nor does a key lock block Update.
	require.NoError(t, s.Update(context.Background(), addKey("a")))
}

func TestLockTimeout(t *testing.T) {
	t.Parallel()
	const timeout = 100 * time.Millisecond
	ctx := context.Background()

	t.Run("LockKey", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, WithLockTimeout(timeout))
		unlock, err := s.LockKey(ctx, "k")
		require.NoError(t, err)
		start := time.Now()
		_, err = s.LockKey(ctx, "k")
		elapsed := time.Since(start)
		require.ErrorIs(t, err, ErrLockTimeout)
		assert.ErrorIs(t, err, context.DeadlineExceeded)
		assert.GreaterOrEqual(t, elapsed, timeout)

		unlock()
		unlock() // idempotent
		unlock2, err := s.LockKey(ctx, "k")
		require.NoError(t, err)
		unlock2()
	})
	t.Run("LockKey cancelled context", func(t *testing.T) {
		t.Parallel()
		s := newStore(t)
		unlock, err := s.LockKey(ctx, "k")
		require.NoError(t, err)
		defer unlock()
		cctx, cancel := context.WithCancel(ctx)
		time.AfterFunc(20*time.Millisecond, cancel)
		_, err = s.LockKey(cctx, "k")
		require.ErrorIs(t, err, ErrLockTimeout)
		assert.ErrorIs(t, err, context.Canceled, "the cancellation, not the 10 s default timeout, ended the wait")
	})
	t.Run("Update", func(t *testing.T) {
		t.Parallel()
		s := newStore(t, WithLockTimeout(timeout))
		holding, release := make(chan struct{}), make(chan struct{})
		done := make(chan error)
		go func() {
			done <- s.Update(ctx, func(m map[string]Entry) error {
				close(holding)
				<-release
				m["first"] = Entry{}
				return nil
			})
		}()
		<-holding
		start := time.Now()
		err := s.Update(ctx, addKey("second"))
		require.ErrorIs(t, err, ErrLockTimeout)
		assert.GreaterOrEqual(t, time.Since(start), timeout)
		assert.Contains(t, err.Error(), s.Path()+".lock")
		close(release)
		require.NoError(t, <-done)

		// Reads never wait for the lock.
		holding, release = make(chan struct{}), make(chan struct{})
		go func() {
			done <- s.Update(ctx, func(map[string]Entry) error { close(holding); <-release; return nil })
		}()
		<-holding
		_, ok, err := s.Get("first")
		require.NoError(t, err)
		assert.True(t, ok)
		close(release)
		require.NoError(t, <-done)
	})
}

// TestLockKeyAcrossProcesses: another process's lock is respected, and dies
// with it (SIGKILL), so a crashed helper never wedges the others.
func TestLockKeyAcrossProcesses(t *testing.T) {
	t.Parallel()
	s := newStore(t, WithLockTimeout(100*time.Millisecond))
	cmd, out, _ := helper(t, "lockkey", fileDir(s), "k", 0)
	require.True(t, out.Scan())
	require.Equal(t, "locked", out.Text())

	_, err := s.LockKey(context.Background(), "k")
	require.ErrorIs(t, err, ErrLockTimeout)
	unlock, err := s.LockKey(context.Background(), "other")
	require.NoError(t, err)
	unlock()

	require.NoError(t, cmd.Process.Kill())
	_ = cmd.Wait()
	unlock, err = s.LockKey(context.Background(), "k")
	require.NoError(t, err)
	unlock()
}
