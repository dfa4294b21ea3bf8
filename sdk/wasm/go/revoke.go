package hubd

import "errors"

// Errors of Revoke.
var (
	// ErrRevokeNotGranted: the plugin's manifest does not list the
	// "revoke" capability, or Revoke was called outside a handler.
	ErrRevokeNotGranted = errors.New(`hubd: revoke needs the "revoke" capability and a handler to call it from`)
	// ErrRevokeBad: the revocation is not valid JSON, or breaks one of its
	// bounds (the host logs which).
	ErrRevokeBad = errors.New("hubd: bad revocation")
	// ErrRevokeRefused: the plugin asked for revocations faster than its
	// rate, or the host's queue of revocations is full.
	ErrRevokeRefused = errors.New("hubd: revocation refused (rate or queue)")
	// ErrRevokeUnreadable: the revocation is over 64 KiB.
	ErrRevokeUnreadable = errors.New("hubd: revocation too large")
)

// Revoke asks the host to put back to the plugins the grants of the
// sockets revocation names, JSON such as
//
//	{"namespace": "/", "data": {"path": "user.sub", "equals": "u123"}, "recheck": "connect"}
//
// (see sdk/README.md, "Grant revocation"). The host queues it and returns
// at once: the sockets are re-decided later, off this call, on every node.
func Revoke(revocation Raw) error {
	switch revoke(revocation) {
	case 0:
		return nil
	case -1:
		return ErrRevokeNotGranted
	case -2:
		return ErrRevokeBad
	case -3:
		return ErrRevokeRefused
	}
	return ErrRevokeUnreadable
}
