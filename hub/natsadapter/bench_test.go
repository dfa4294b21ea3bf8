package natsadapter_test

import (
	"strconv"
	"testing"

	"github.com/nats-io/nats.go"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
)

// BenchmarkJoinLeave is the cost of a socket joining a room and leaving it
// (one op is both), on a node of a two-node cluster:
//
//   - memory: no cluster, the in-memory adapter alone;
//   - nats: this package, one subject per namespace (a join is local);
//   - subscribe-per-room: what one subject per room would add to a room's
//     first join and last leave, a NATS subscribe and unsubscribe;
//   - subscribe-per-room-confirmed: the same, waiting for the server to
//     confirm the subscription (a round trip), as a join must for a
//     broadcast sent right after it to be sure to arrive.
func BenchmarkJoinLeave(b *testing.B) {
	socket := func(b *testing.B, opts hub.Options) *hub.Socket {
		srv, url := adaptertest.Serve(b, opts, nil)
		_, id := adaptertest.Dial(b, url, "/")
		adaptertest.WaitFor(b, func() bool { return srv.Of("/").Socket(id) != nil }, "the socket")
		return srv.Of("/").Socket(id)
	}
	joinLeave := func(b *testing.B, s *hub.Socket, extra func(room string)) {
		rooms := make([]string, 1024)
		for i := range rooms {
			rooms[i] = "room-" + strconv.Itoa(i)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			room := rooms[i%len(rooms)]
			i++
			if err := s.Join(room); err != nil {
				b.Fatal(err)
			}
			if extra != nil {
				extra(room)
			}
			if err := s.Leave(room); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.Run("memory", func(b *testing.B) {
		joinLeave(b, socket(b, hub.Options{}), nil)
	})
	cluster := func(b *testing.B) *hub.Socket {
		name := adaptertest.ClusterName(b)
		other := connect(b, natsURL, name, natsadapter.Options{})
		adaptertest.Serve(b, hub.Options{Adapter: other.Adapter}, func(s *hub.Server) { s.Of("/") })
		c := connect(b, natsURL, name, natsadapter.Options{})
		return socket(b, hub.Options{Adapter: c.Adapter})
	}
	b.Run("nats", func(b *testing.B) {
		joinLeave(b, cluster(b), nil)
	})
	for _, confirmed := range []bool{false, true} {
		name := "subscribe-per-room"
		if confirmed {
			name += "-confirmed"
		}
		b.Run(name, func(b *testing.B) {
			s := cluster(b)
			nc, err := nats.Connect(natsURL)
			if err != nil {
				b.Fatal(err)
			}
			defer nc.Close()
			prefix := natsadapter.Subject(adaptertest.ClusterName(b), "/") + "."
			joinLeave(b, s, func(room string) {
				sub, err := nc.Subscribe(prefix+room, func(*nats.Msg) {})
				if err != nil {
					b.Fatal(err)
				}
				if confirmed {
					if err := nc.Flush(); err != nil {
						b.Fatal(err)
					}
				}
				if err := sub.Unsubscribe(); err != nil {
					b.Fatal(err)
				}
			})
		})
	}
}
