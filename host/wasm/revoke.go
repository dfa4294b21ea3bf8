package wasm

import (
	"context"
	"errors"
	"log/slog"

	"github.com/tetratelabs/wazero/api"

	"github.com/hubd/hubd/host"
)

// What revoke(ptr, len) returns.
const (
	revokeQueued     = 0  // the revocation is queued
	revokeNotGranted = -1 // the plugin lacks the "revoke" capability, or the call is outside a handler
	revokeBad        = -2 // the revocation is not valid JSON or breaks a bound
	revokeRefused    = -3 // the plugin's rate, or a full queue
	revokeUnreadable = -4 // [ptr, +len) is outside the guest's memory, or over 64 KiB
)

// maxRevokeInput bounds the JSON a guest may hand to revoke.
const maxRevokeInput = 64 << 10

// hostRevoke queues the revocation at [ptr, +len), JSON such as
// {"namespace": "/", "rooms": ["vip"]}, and returns one of the codes
// above; the reason of a refusal is logged at warn level as the plugin's.
func hostRevoke(ctx context.Context, m api.Module, s []uint64) {
	in := instanceOf(ctx)
	if in == nil || in.env == nil || in.p.revoke == nil {
		s[0] = api.EncodeI32(revokeNotGranted)
		return
	}
	ptr, n := uint32(s[0]), uint32(s[1])
	var b []byte
	ok := n <= maxRevokeInput
	if ok {
		b, ok = m.Memory().Read(ptr, n)
	}
	if !ok {
		s[0] = api.EncodeI32(revokeUnreadable)
		return
	}
	err := in.p.revoke(b) // copies what it keeps
	code := int32(revokeQueued)
	switch {
	case err == nil:
	case errors.Is(err, host.ErrBadRevocation):
		code = revokeBad
	default:
		code = revokeRefused
	}
	if err != nil {
		in.p.log(ctx, slog.LevelWarn, "revoke refused: "+err.Error(), in.env)
	}
	s[0] = api.EncodeI32(code)
}
