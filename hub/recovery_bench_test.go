package hub

import (
	"fmt"
	"runtime"
	"strings"
	"testing"
)

// BenchmarkBroadcastRoomRecovery is BenchmarkBroadcastRoom's "emit" with
// connection state recovery off and on, in one run: with it on, each
// broadcast is also given an offset and kept, under the store's lock.
func BenchmarkBroadcastRoomRecovery(b *testing.B) {
	const n = 1000
	for _, on := range []bool{false, true} {
		b.Run(fmt.Sprintf("recovery=%v", on), func(b *testing.B) {
			var opts Options
			if on {
				opts.ConnectionStateRecovery = &RecoveryOptions{}
			}
			srv, _ := benchServerOpts(b, n, opts)
			op := srv.To("room")
			b.ReportAllocs()
			for b.Loop() {
				_ = op.Emit("chat", "ann", "hello, room")
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/recipient")
			if got := srv.Of("/").Len(); got != n {
				b.Fatalf("%d sockets left of %d: some fell behind", got, n)
			}
		})
	}
}

// BenchmarkRecoveryMemory reports what the in-memory store holds per kept
// packet (a 64-byte payload, broadcast to one room) and per disconnected
// session (in two rooms, its own and one other, with small data).
func BenchmarkRecoveryMemory(b *testing.B) {
	const count = 100_000
	heap := func() uint64 {
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	payload := strings.Repeat("x", 64)
	b.Run("packet", func(b *testing.B) {
		for b.Loop() {
			m := newMemoryStore(RecoveryOptions{}.withDefaults(16 << 20))
			args, _ := NewArgs(payload)
			opts := BroadcastOptions{Rooms: []string{"room"}}
			before := heap()
			for range count {
				m.broadcast(NewPacket("/", "msg", args), opts, func() {})
			}
			after := heap()
			b.ReportMetric(float64(after-before)/count, "B/packet")
			runtime.KeepAlive(m)
		}
	})
	b.Run("session", func(b *testing.B) {
		for b.Loop() {
			m := newMemoryStore(RecoveryOptions{MaxSessions: 2 * count}.withDefaults(16 << 20))
			start := m.Position()
			before := heap()
			for i := range count {
				id := fmt.Sprintf("%020d", i)
				m.PersistSession(&Session{ID: id, PID: "p" + id[1:], Rooms: []string{id, "room"}, Data: map[string]any{"user": i}, Start: start})
			}
			after := heap()
			b.ReportMetric(float64(after-before)/count, "B/session")
			runtime.KeepAlive(m)
		}
	})
}
