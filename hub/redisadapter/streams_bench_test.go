package redisadapter_test

import (
	"testing"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/redisadapter"
)

// BenchmarkBroadcastAcrossNodes is the throughput of broadcasts from one
// node to a client of another, end to end through Redis: node b emits
// b.N events to a room as fast as Emit returns, and the clock stops when
// the client on node a has them all. The streams flavour runs with
// connection state recovery on (offsets), and with a MaxLen above b.N:
// a reader that falls further behind than MaxLen loses entries to the
// trimming, by design.
func BenchmarkBroadcastAcrossNodes(b *testing.B) {
	for _, name := range []string{"classic", "streams"} {
		b.Run(name, func(b *testing.B) {
			var a, n *node
			if name == "classic" {
				a, n = twoNodes(b, redisadapter.Options{})
			} else {
				so := streamsOptions(testKey(b), false)
				so.MaxLen = int64(b.N) + 10_000
				ho := hub.Options{ConnectionStateRecovery: &hub.RecoveryOptions{}}
				a, _ = startStreamsNode(b, so, redisURL, ho, nil)
				n, _ = startStreamsNode(b, so, redisURL, ho, nil)
				waitNodes(b, a, "/", 2)
			}
			c, id := dial(b, a, "/")
			joinRooms(b, a, "/", id, "r")
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := n.srv.To("r").Emit("tick", i, "some text of a chat message"); err != nil {
					b.Fatal(err)
				}
			}
			for range b.N {
				if _, err := c.NextEvent("/", wait); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
