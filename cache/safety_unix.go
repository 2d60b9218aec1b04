//go:build unix

package cache

import (
	"errors"
	"io/fs"
	"os"
	"syscall"
)

// openFlags opens without following a final symbolic link and without
// blocking on a FIFO planted in place of the file.
const openFlags = os.O_RDONLY | syscall.O_NOFOLLOW | syscall.O_NONBLOCK

// lockFlags opens or creates a lock file without following a symbolic link.
const lockFlags = os.O_CREATE | os.O_RDONLY | syscall.O_NOFOLLOW

func openNoFollow(path string) (*os.File, error) {
	return os.OpenFile(path, openFlags, 0)
}

// isSymlinkErr reports whether err is what open(O_NOFOLLOW) returns for a
// symbolic link (ELOOP; EMLINK on FreeBSD and NetBSD, EFTYPE on NetBSD too).
func isSymlinkErr(err error) bool {
	return errors.Is(err, syscall.ELOOP) || errors.Is(err, syscall.EMLINK)
}

func ownedByMe(fi fs.FileInfo) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && int(st.Uid) == os.Geteuid()
}

// enforceModes: permission bits mean what they say here.
const enforceModes = true
