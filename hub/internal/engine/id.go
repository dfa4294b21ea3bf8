package engine

import (
	"crypto/rand"
	"encoding/base64"
)

// NewID returns a 20-character URL-safe base64 id made of 15 random bytes,
// the shape of the reference server's session and socket ids.
func NewID() string {
	var b [15]byte
	_, _ = rand.Read(b[:]) // never fails on supported platforms
	return base64.URLEncoding.EncodeToString(b[:])
}
