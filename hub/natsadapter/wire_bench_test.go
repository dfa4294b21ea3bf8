package natsadapter

import (
	"testing"

	"github.com/hubd/hubd/hub"
)

// The per-message work the adapter adds to a broadcast, without NATS: the
// publishing node encodes once; each other node decodes once, or only
// reads the rooms when the broadcast is for one room it has no member of.
// The packet is the one of redisadapter's benchmarks of the same names.

func benchBroadcast(b *testing.B) (*hub.Packet, hub.BroadcastOptions) {
	args, err := hub.NewArgs("room-42", map[string]any{"user": "ann", "text": "hello, world", "n": 7, "tags": []any{"a", "b"}})
	if err != nil {
		b.Fatal(err)
	}
	return hub.NewPacket("/", "chat", args), hub.BroadcastOptions{Rooms: []string{"room-42"}, Except: []string{"AbCdEfGhIjKlMnOpQrSt"}}
}

func encodeBroadcast(p *hub.Packet, opts hub.BroadcastOptions) []byte {
	w := newMessage(msgBroadcast, "abcdef")
	w.opts(opts)
	w.str(p.Event)
	w.args(p.Args)
	return w.b
}

func BenchmarkEncodeBroadcast(b *testing.B) {
	p, opts := benchBroadcast(b)
	b.ReportAllocs()
	for b.Loop() {
		encodeBroadcast(p, opts)
	}
}

func BenchmarkDecodeBroadcast(b *testing.B) {
	msg := encodeBroadcast(benchBroadcast(b))
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := decode(msg); !ok {
			b.Fatal("does not decode")
		}
	}
}

func BenchmarkSkipBroadcast(b *testing.B) {
	msg := encodeBroadcast(benchBroadcast(b))
	b.ReportAllocs()
	for b.Loop() {
		if room, ok := singleRoom(msg); !ok || room != "room-42" {
			b.Fatal("no single room")
		}
	}
}
