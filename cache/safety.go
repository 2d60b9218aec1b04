package cache

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
)

// ErrUnsafe is wrapped by the errors returned when a cache directory or file
// could be read or changed by someone else: a symbolic link, not a directory
// or regular file, owned by another user, or writable by group or others.
// Callers should then work without the cache.
var ErrUnsafe = errors.New("cache: unsafe path")

// checkDir checks that path is a real directory (not a symbolic link) that
// only the current user can change.
func checkDir(path string) error {
	fi, err := os.Lstat(path)
	if err != nil {
		return fmt.Errorf("cache: %w", err)
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return fmt.Errorf("%w: %s is a symbolic link", ErrUnsafe, path)
	}
	if !fi.IsDir() {
		return fmt.Errorf("%w: %s is not a directory", ErrUnsafe, path)
	}
	return checkOwnerAndMode(path, fi)
}

// checkFile checks what fstat said about an open cache file.
func checkFile(path string, fi fs.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("%w: %s is not a regular file", ErrUnsafe, path)
	}
	return checkOwnerAndMode(path, fi)
}

func checkOwnerAndMode(path string, fi fs.FileInfo) error {
	if !ownedByMe(fi) {
		return fmt.Errorf("%w: %s is owned by another user", ErrUnsafe, path)
	}
	if enforceModes && fi.Mode().Perm()&0o022 != 0 {
		return fmt.Errorf("%w: %s is writable by group or others (mode %04o)", ErrUnsafe, path, fi.Mode().Perm())
	}
	return nil
}

// readFile reads the whole cache file at path without following a symbolic
// link. A missing file gives (nil, nil).
func readFile(path string) ([]byte, error) {
	f, err := openNoFollow(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
		if isSymlinkErr(err) {
			return nil, fmt.Errorf("%w: %s is a symbolic link", ErrUnsafe, path)
		}
		return nil, fmt.Errorf("cache: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("cache: %w", err)
	}
	if err := checkFile(path, fi); err != nil {
		return nil, err
	}
	size := fi.Size()
	if size > maxFileSize {
		// Far beyond anything this package writes: garbage.
		return nil, errTooLarge
	}
	buf := make([]byte, 0, size+1) // +1 so a file that grew still reaches EOF
	for {
		if len(buf) == cap(buf) {
			if int64(len(buf)) > maxFileSize {
				return nil, errTooLarge
			}
			buf = append(buf, 0)[:len(buf)]
		}
		m, err := f.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+m]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, fmt.Errorf("cache: %w", err)
		}
	}
}

// maxFileSize bounds what a read accepts; a larger file is unreadable
// (errTooLarge): a miss for Get and All, a fresh start for Update unless
// the store is strict.
const maxFileSize = 16 << 20

var errTooLarge = errors.New("cache: file too large")
