package hub

import "github.com/hubd/hubd/hub/internal/engine"

// PerMessageDeflate turns on WebSocket per-message compression
// (permessage-deflate, RFC 7692) for the clients that offer it, as Node's
// perMessageDeflate option. Node's ws client, which socket.io-client uses
// under Node, and every browser offer it.
//
// Messages are compressed one by one, without a shared window (the server
// answers server_no_context_takeover): a broadcast is compressed once and
// the same compressed frame is written to every receiver. Clients are
// asked to do the same (client_no_context_takeover), so a connection keeps
// no inflate state between its messages. Compressing costs CPU (10–25 µs
// for a 2 KB message, once per broadcast) and saves bytes on the wire:
// JSON shrinks to between a half (chat text) and a sixth (arrays of
// similar objects) of its size.
type PerMessageDeflate struct {
	// Threshold is the smallest message compressed, in bytes (1024, as
	// Node's default, when 0 or less); 1 compresses every message. A
	// message that does not shrink goes out uncompressed.
	Threshold int
}

// engine returns the engine's form of d (nil when d is).
func (d *PerMessageDeflate) engine() *engine.Deflate {
	if d == nil {
		return nil
	}
	return &engine.Deflate{Threshold: d.Threshold}
}
