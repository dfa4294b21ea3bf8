package redisadapter

import (
	"testing"

	"github.com/hubd/hubd/hub"
)

// The per-message work the adapter adds to a broadcast, without Redis: the
// publishing node encodes once, each other node decodes once (then
// delivers to its sockets as a local broadcast).

func benchPacket(b *testing.B) *hub.Packet {
	args, err := hub.NewArgs("room-42", map[string]any{"user": "ann", "text": "hello, world", "n": 7, "tags": []any{"a", "b"}})
	if err != nil {
		b.Fatal(err)
	}
	return hub.NewPacket("/", "chat", args)
}

func BenchmarkEncodeBroadcast(b *testing.B) {
	p := benchPacket(b)
	opts := hub.BroadcastOptions{Rooms: []string{"room-42"}, Except: []string{"AbCdEfGhIjKlMnOpQrSt"}}
	b.ReportAllocs()
	var msg []byte
	for b.Loop() {
		msg = appendString(appendArrayHeader(msg[:0], 3), "abcdef")
		var err error
		if msg, err = appendPacketMsgpack(msg, p); err != nil {
			b.Fatal(err)
		}
		if msg, err = appendValue(msg, msgpackOpts(opts)); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeBroadcast(b *testing.B) {
	p := benchPacket(b)
	msg := appendString(appendArrayHeader(nil, 3), "abcdef")
	msg, _ = appendPacketMsgpack(msg, p)
	msg, _ = appendValue(msg, msgpackOpts(hub.BroadcastOptions{Rooms: []string{"room-42"}}))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, _, _, _, err := decodeBroadcast(msg); err != nil {
			b.Fatal(err)
		}
	}
}
