package wire_test

import (
	"testing"

	"github.com/hubd/hubd/sdk/wire"
)

// BenchmarkAppendJSONConnect writes a connect envelope, handshake maps
// included: the host writes one per connect hook call.
func BenchmarkAppendJSONConnect(b *testing.B) {
	env := &wire.Envelope{
		Hook: wire.HookConnect, Namespace: "/", Socket: wire.Socket{ID: "Xy3kD9aQ2mN4pL7s", Rooms: []string{}},
		Handshake: &wire.Handshake{Auth: wire.Raw(`{"token":"eyJhbGciOiJIUzI1NiJ9.e30.x"}`), Query: map[string]string{"EIO": "4", "transport": "websocket"},
			Headers: map[string]string{"host": "example.com", "user-agent": "Mozilla/5.0 (X11; Linux x86_64)", "origin": "https://example.com", "accept-language": "en-US,en;q=0.9"},
			Address: "203.0.113.7"},
	}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf = env.AppendJSON(buf[:0])
	}
}
