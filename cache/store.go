package cache

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// DefaultLockTimeout is how long Update and LockKey wait for a lock unless
// WithLockTimeout says otherwise.
const DefaultLockTimeout = 10 * time.Second

// Store is one JSON cache file in a private directory. It is safe for
// concurrent use by goroutines and by processes.
type Store struct {
	dir         string
	name        string
	path        string
	lockTimeout time.Duration
	noSync      bool
	strict      bool
}

// Option configures Open.
type Option func(*Store)

// WithLockTimeout sets how long Update and LockKey wait for a lock before
// failing with ErrLockTimeout. d <= 0 means DefaultLockTimeout.
func WithLockTimeout(d time.Duration) Option {
	return func(s *Store) {
		if d > 0 {
			s.lockTimeout = d
		}
	}
}

// WithoutSync skips the fsyncs of Update. The rename stays atomic, so other
// processes still see whole files; only a power loss or kernel crash may
// leave an older or empty file, which reads as a miss. For data that can be
// fetched again (tokens), not for data a user gave (stored credentials).
func WithoutSync() Option {
	return func(s *Store) { s.noSync = true }
}

// Strict makes Update refuse to replace a file it cannot read whole
// (corrupt, or of another version) instead of starting afresh: for data a
// user gave, which must not be lost.
func Strict() Option {
	return func(s *Store) { s.strict = true }
}

// Open returns the Store for the file name (a plain file name such as
// "tokens.json") in dir. It creates dir (and missing parents) with mode 0700
// if needed; an existing dir must be a real directory, not a symbolic link,
// owned by the current user and not writable by group or others, or Open
// fails with an error wrapping ErrUnsafe. Open does not create the file.
func Open(dir, name string, opts ...Option) (*Store, error) {
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, `/\`) ||
		strings.HasSuffix(name, ".lock") || strings.HasSuffix(name, ".tmp") || name == locksDir {
		return nil, fmt.Errorf("cache: invalid file name %q", name)
	}
	if dir == "" {
		return nil, fmt.Errorf("cache: empty directory")
	}
	dir = filepath.Clean(dir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if err := checkDir(dir); err != nil {
		return nil, err
	}
	s := &Store{
		dir:         dir,
		name:        name,
		path:        filepath.Join(dir, name),
		lockTimeout: DefaultLockTimeout,
	}
	for _, o := range opts {
		o(s)
	}
	return s, nil
}

// Path returns the path of the cache file.
func (s *Store) Path() string { return s.path }

// Get returns the entry stored under key, whether it exists or has expired
// (see Entry.FreshFor). It takes no lock. A missing file is a miss; so is an
// unreadable one (see the package documentation), except in a Strict store,
// where it is an error, as is a file that is unsafe (ErrUnsafe) or cannot be
// read at all.
func (s *Store) Get(key string) (Entry, bool, error) {
	data, err := s.read()
	if err != nil {
		return Entry{}, false, err
	}
	raw, valid := find(data, key)
	if !valid && s.strict && len(bytes.TrimSpace(data)) > 0 {
		return Entry{}, false, s.unreadable()
	}
	e, ok := decodeEntry(raw)
	if !ok && s.strict && raw != nil {
		return Entry{}, false, s.unreadable()
	}
	return e, ok, nil
}

// read reads the file for Get and All: one too large to be ours is empty,
// or an error in a Strict store.
func (s *Store) read() ([]byte, error) {
	data, err := readFile(s.path)
	if errors.Is(err, errTooLarge) {
		if s.strict {
			return nil, s.unreadable()
		}
		return nil, nil
	}
	return data, err
}

// unreadable is the error of a strict store whose file is not one this
// version can read whole.
func (s *Store) unreadable() error {
	return fmt.Errorf("cache: %s is not a file this version can read (corrupt, or written by a newer version); "+
		"it is left as it is: move it away to start afresh", s.path)
}

// All returns every entry, by the same rules as Get. The map is never nil
// when err is nil and belongs to the caller.
func (s *Store) All() (map[string]Entry, error) {
	data, err := s.read()
	if err != nil {
		return nil, err
	}
	if s.strict {
		entries, ok := decodeStrict(data)
		if !ok {
			return nil, s.unreadable()
		}
		return entries, nil
	}
	return decodeAll(data), nil
}
