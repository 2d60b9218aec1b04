package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// ErrLockTimeout is wrapped by the error Update and LockKey return when the
// lock could not be had before the lock timeout or the context ended.
var ErrLockTimeout = errors.New("cache: timed out waiting for lock")

// A process waiting for a lock polls it (flock cannot be waited on with a
// deadline), first every minLockRetry, backing off to maxLockRetry with
// jitter, so that hundreds of waiters do not starve the holder of CPU while
// it writes. Goroutines of one process queue on a channel instead (see
// inProcess), so at most one of them polls at a time.
const (
	minLockRetry = time.Millisecond
	maxLockRetry = 50 * time.Millisecond
)

// inProcess holds one semaphore (a chan struct{} of capacity 1) per lock
// path, taken before the flock. Without it every waiting goroutine polls the
// flock, and many of them starve the holder of CPU; with it the in-process
// exclusion also does not depend on flock semantics between descriptors.
var inProcess sync.Map

func semaphore(path string) chan struct{} {
	if c, ok := inProcess.Load(path); ok {
		return c.(chan struct{})
	}
	c, _ := inProcess.LoadOrStore(path, make(chan struct{}, 1))
	return c.(chan struct{})
}

// locksDir is the subdirectory of LockKey's lock files.
const locksDir = "locks"

// LockKey takes a cross-process exclusive lock for key in this store, so
// that of many processes missing the same key only one fetches it:
//
//	Get -> miss -> LockKey -> Get again -> fetch -> Update -> unlock
//
// It waits at most the lock timeout and the life of ctx, then fails with an
// error wrapping ErrLockTimeout. unlock is idempotent. The lock is a flock on
// "<dir>/locks/<sha256 hex>.lock" (directory 0700, file 0600); lock files are
// left in place (deleting one while another process waits on it would break
// the exclusion) and are empty, one per key ever locked.
func (s *Store) LockKey(ctx context.Context, key string) (unlock func(), err error) {
	dir := filepath.Join(s.dir, locksDir)
	if err := os.Mkdir(dir, 0o700); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	// The store name is hashed in so that equal keys in tokens.json and
	// credentials.json do not share a lock.
	sum := sha256.Sum256([]byte(s.name + "\x00" + key))
	return s.lock(ctx, filepath.Join(dir, hex.EncodeToString(sum[:])+".lock"))
}

// lock takes an exclusive flock on path (created 0600 if needed, never
// through a symbolic link), waiting at most the lock timeout and the life of
// ctx.
func (s *Store) lock(ctx context.Context, path string) (func(), error) {
	lctx, cancel := context.WithTimeout(ctx, s.lockTimeout)
	defer cancel()
	sem := semaphore(path)
	select {
	case sem <- struct{}{}:
	case <-lctx.Done():
		return nil, s.timeoutError(ctx, path)
	}
	fl := flock.New(path, flock.SetFlag(lockFlags), flock.SetPermissions(0o600))
	ok, err := tryLock(lctx, fl)
	if ok {
		return sync.OnceFunc(func() {
			_ = fl.Unlock()
			<-sem
		}), nil
	}
	<-sem
	switch {
	case err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return nil, s.timeoutError(ctx, path)
	case isSymlinkErr(err):
		return nil, fmt.Errorf("%w: %s is a symbolic link", ErrUnsafe, path)
	default:
		return nil, fmt.Errorf("cache: lock: %w", err)
	}
}

// tryLock polls fl until it is locked or ctx ends, backing off between tries.
func tryLock(ctx context.Context, fl *flock.Flock) (bool, error) {
	delay := minLockRetry
	for {
		if ok, err := fl.TryLock(); ok || err != nil {
			return ok, err
		}
		// Full jitter: waiters that started together spread out.
		t := time.NewTimer(time.Duration(rand.Int64N(int64(delay))) + minLockRetry)
		select {
		case <-ctx.Done():
			t.Stop()
			return false, ctx.Err()
		case <-t.C:
		}
		delay = min(2*delay, maxLockRetry)
	}
}

// timeoutError wraps ErrLockTimeout and why the wait ended: the caller's
// context, or else context.DeadlineExceeded for the lock timeout.
func (s *Store) timeoutError(ctx context.Context, path string) error {
	cause := ctx.Err()
	if cause == nil {
		cause = context.DeadlineExceeded
	}
	return fmt.Errorf("%w: %s (waited up to %v): %w", ErrLockTimeout, path, s.lockTimeout, cause)
}
