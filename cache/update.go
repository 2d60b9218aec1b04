package cache

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// staleTempAge is how old a leftover temporary file must be before Update
// removes it. Writers hold the lock while their temporary file exists, so
// any found under the lock is already stale; the age only guards against
// writers that do not follow this protocol.
const staleTempAge = time.Minute

// Update changes the file under an exclusive lock on the sidecar
// "<name>.lock", waiting at most the lock timeout and the life of ctx (else
// an error wrapping ErrLockTimeout). It reads the file afresh (an unreadable
// file counts as empty), calls fn with the entries, and if fn returns nil
// and the entries changed, replaces the file atomically (temporary file
// created 0600, fsync, rename, fsync of the directory). An error from fn is
// returned as it is and nothing is written. fn must not keep the map.
func (s *Store) Update(ctx context.Context, fn func(entries map[string]Entry) error) error {
	unlock, err := s.lock(ctx, s.path+".lock")
	if err != nil {
		return err
	}
	defer unlock()

	old, err := readFile(s.path)
	if errors.Is(err, errTooLarge) {
		if s.strict {
			return fmt.Errorf("cache: %s is larger than %d bytes, not a file this version wrote; "+
				"it is left as it is: move it away to start afresh", s.path, maxFileSize)
		}
		old, err = nil, nil
	}
	if err != nil {
		return err
	}
	entries := decodeAll(old)
	if s.strict {
		var ok bool
		if entries, ok = decodeStrict(old); !ok {
			return s.unreadable()
		}
	}
	if err := fn(entries); err != nil {
		return err
	}
	data, err := encode(entries)
	if err != nil {
		return fmt.Errorf("cache: encode %s: %w", s.path, err)
	}
	s.removeStaleTemps()
	if bytes.Equal(data, old) {
		return nil
	}
	return s.writeAtomic(data)
}

// writeAtomic replaces the file with data so that a reader or a crash sees
// either the old or the new file, whole.
func (s *Store) writeAtomic(data []byte) (err error) {
	// CreateTemp opens with O_RDWR|O_CREATE|O_EXCL and mode 0600: the file
	// is never more open than 0600, whatever the umask, and no chmod is needed.
	f, err := os.CreateTemp(s.dir, s.name+".*.tmp")
	if err != nil {
		return fmt.Errorf("cache: write %s: %w", s.path, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			_ = f.Close()
			_ = os.Remove(tmp)
			err = fmt.Errorf("cache: write %s: %w", s.path, err)
		}
	}()
	if _, err = f.Write(data); err != nil {
		return err
	}
	if !s.noSync {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, s.path); err != nil {
		return err
	}
	if s.noSync {
		return nil
	}
	return syncDir(s.dir)
}

// syncDir makes a rename in dir durable. File systems that cannot fsync a
// directory (EINVAL) are not an error.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, syscall.EINVAL) {
		return err
	}
	return nil
}

// removeStaleTemps removes temporary files of this store left by killed
// writers. Failures are ignored: a leftover file only costs disk space.
func (s *Store) removeStaleTemps() {
	des, err := os.ReadDir(s.dir)
	if err != nil {
		return
	}
	cutoff := time.Now().Add(-staleTempAge)
	for _, de := range des {
		n := de.Name()
		if !de.Type().IsRegular() || !strings.HasPrefix(n, s.name+".") || !strings.HasSuffix(n, ".tmp") {
			continue
		}
		if fi, err := de.Info(); err == nil && fi.ModTime().Before(cutoff) {
			_ = os.Remove(filepath.Join(s.dir, n))
		}
	}
}
