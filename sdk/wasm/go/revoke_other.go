//go:build !wasip1

package hubd

// Revoked is what Revoke was handed, in order (native builds only, for
// tests); RevokeAnswer is what it answers (0: queued).
var (
	Revoked      []Raw
	RevokeAnswer int32
)

func revoke(b []byte) int32 {
	Revoked = append(Revoked, append(Raw(nil), b...))
	return RevokeAnswer
}
