//go:build !unix

package cache

import (
	"errors"
	"io/fs"
	"os"
)

// lockFlags opens or creates a lock file.
const lockFlags = os.O_CREATE | os.O_RDWR

var errSymlink = errors.New("is a symbolic link")

// openNoFollow checks for a symbolic link before opening; there is no
// O_NOFOLLOW here.
func openNoFollow(path string) (*os.File, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return nil, err
	}
	if fi.Mode()&fs.ModeSymlink != 0 {
		return nil, errSymlink
	}
	return os.Open(path)
}

func isSymlinkErr(err error) bool { return errors.Is(err, errSymlink) }

// ownedByMe cannot be checked portably here; ACLs decide.
func ownedByMe(fs.FileInfo) bool { return true }

// enforceModes: permission bits are synthesised from ACLs here and say
// nothing about who can write.
const enforceModes = false
