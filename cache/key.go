package cache

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
)

// keyDomain separates these keys from any other use of SHA-256 over the same
// parts. Changing it invalidates every stored key.
const keyDomain = "docker-credential-acr/cache-key/v1"

// Key returns a stable cache key for parts: the lower-case hex SHA-256 over
// the parts, each prefixed with its length, so ("a", "bc") and ("ab", "c")
// differ. The key never contains its inputs in the clear.
func Key(parts ...string) string {
	h := sha256.New()
	var n [8]byte
	h.Write([]byte(keyDomain))
	for _, p := range parts {
		binary.BigEndian.PutUint64(n[:], uint64(len(p)))
		h.Write(n[:])
		h.Write([]byte(p))
	}
	return hex.EncodeToString(h.Sum(nil))
}
