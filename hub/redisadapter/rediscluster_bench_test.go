package redisadapter_test

import (
	"testing"

	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/redisadapter"
)

// BenchmarkBroadcastAcrossNodesOnRedisCluster is
// BenchmarkBroadcastAcrossNodes on a Redis Cluster of three primaries, for
// each flavour: node b emits b.N events to a room as fast as Emit
// returns, and the clock stops when the client on node a has them all.
func BenchmarkBroadcastAcrossNodesOnRedisCluster(b *testing.B) {
	for _, name := range []string{"classic", "sharded", "streams"} {
		b.Run(name, func(b *testing.B) {
			rc := redisCluster(b)
			key := testKey(b)
			var f adaptertest.Flavour
			switch name {
			case "streams": // with offsets, and a MaxLen above b.N (see BenchmarkBroadcastAcrossNodes)
				f = clusterStreamsFlavour(false, rc, func(so *redisadapter.StreamsOptions) { so.MaxLen = int64(b.N) + 10_000 })
			default:
				f = clusterFlavour(redisadapter.Options{Sharded: name == "sharded"}, rc)
			}
			a := adaptertest.Start(b, f, key, nil)
			n := adaptertest.Start(b, f, key, nil)
			adaptertest.WaitNodes(b, a.Server, "/", 2)
			c, id := adaptertest.Dial(b, a.URL, "/")
			adaptertest.JoinRooms(b, a.Server, "/", id, "r")
			if name == "sharded" {
				waitShardSubscribers(b, rc, key, 1, "r")
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				if err := n.Server.To("r").Emit("tick", i, "some text of a chat message"); err != nil {
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

// BenchmarkBroadcastAcrossNodesSharded is BenchmarkBroadcastAcrossNodes in
// the sharded flavour on one Redis server, to compare with the cluster's.
func BenchmarkBroadcastAcrossNodesSharded(b *testing.B) {
	a, n := twoNodes(b, redisadapter.Options{Sharded: true})
	c, id := dial(b, a, "/")
	joinRooms(b, a, "/", id, "r")
	waitRoomChannels(b, redisadapter.Options{Sharded: true}, redisURL, a.key, 1, "r")
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
}
