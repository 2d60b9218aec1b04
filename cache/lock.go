package cache

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/gofrs/flock"
)

// ErrLockTimeout is wrapped by the error Update and LockKey return when the
// lock could not be had before the lock timeout or the context ended.
var ErrLockTimeout = errors.New("cache: timed out waiting for lock")

// lockRetryDelay is how often a waiter tries the lock again.
const lockRetryDelay = 2 * time.Millisecond

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

// lock takes an exclusive flock on path, creating it 0600 if needed.
func (s *Store) lock(ctx context.Context, path string) (func(), error) {
	fl := flock.New(path, flock.SetFlag(lockFlags), flock.SetPermissions(0o600))
	lctx, cancel := context.WithTimeout(ctx, s.lockTimeout)
	defer cancel()
	ok, err := fl.TryLockContext(lctx, lockRetryDelay)
	if ok {
		return sync.OnceFunc(func() { _ = fl.Unlock() }), nil
	}
	if err == nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		cause := ctx.Err()
		if cause == nil {
			cause = context.DeadlineExceeded
		}
		return nil, fmt.Errorf("%w: %s (waited up to %v): %w", ErrLockTimeout, path, s.lockTimeout, cause)
	}
	if isSymlinkErr(err) {
		return nil, fmt.Errorf("%w: %s is a symbolic link", ErrUnsafe, path)
	}
	return nil, fmt.Errorf("cache: lock: %w", err)
}
