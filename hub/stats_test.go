package hub_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// statsRoom connects n long-polling sessions that do not poll, each in
// room: frames stay queued for them, and a volatile send finds every one
// busy (no GET is pending).
func statsRoom(t *testing.T, srv *hub.Server, url, room string, n int) []*hub.Socket {
	t.Helper()
	nsp := srv.Of("/")
	var out []*hub.Socket
	for range n {
		p := newPollSession(t, url)
		s := hubSocket(t, nsp, p.connect())
		if err := s.Join(room); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// diff is b - a, counter by counter.
func diff(a, b hub.Stats) hub.Stats {
	return hub.Stats{
		EventsSent:      b.EventsSent - a.EventsSent,
		VolatileDropped: b.VolatileDropped - a.VolatileDropped,
		Undelivered:     b.Undelivered - a.Undelivered,
	}
}

func TestStats(t *testing.T) {
	srv, url := hubServer(t, hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	other, otherURL := hubServer(t, hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	if got := srv.Stats(); got != (hub.Stats{}) {
		t.Fatalf("a new server's stats: %+v", got)
	}
	sockets := statsRoom(t, srv, url, "r", 5)
	statsRoom(t, other, otherURL, "r", 2)

	for _, c := range []struct {
		name string
		fn   func() error
		want hub.Stats
	}{
		{"broadcast to a room", func() error { return srv.To("r").Emit("tick", 1) }, hub.Stats{EventsSent: 5}},
		{"broadcast with one excepted", func() error { return srv.To("r").Except(sockets[0].ID()).Emit("tick", 2) }, hub.Stats{EventsSent: 4}},
		{"broadcast to nobody", func() error { return srv.To("nobody").Emit("tick", 3) }, hub.Stats{}},
		{"volatile broadcast to busy clients", func() error { return srv.To("r").Volatile().Emit("tick", 4) }, hub.Stats{VolatileDropped: 5}},
		{"broadcast with acks", func() error {
			_, err := srv.To("r").Timeout(10*time.Millisecond).EmitWithAck(context.Background(), "tick", 5)
			if err != hub.ErrTimeout {
				t.Errorf("EmitWithAck: %v, want ErrTimeout (nobody answers)", err)
			}
			return nil
		}, hub.Stats{EventsSent: 5}},
		{"socket emit", func() error { return sockets[1].Emit("tick", 6) }, hub.Stats{EventsSent: 1}},
		{"socket emit with ack", func() error {
			return sockets[1].Emit("tick", 7, hub.AckFunc(func(hub.Args, error) {}))
		}, hub.Stats{EventsSent: 1}},
		{"volatile socket emit to a busy client", func() error { return sockets[1].Volatile().Emit("tick", 8) }, hub.Stats{VolatileDropped: 1}},
		{"reserved name refused", func() error {
			if err := srv.To("r").Emit("connect"); err != hub.ErrReserved {
				t.Errorf("reserved name: %v", err)
			}
			return nil
		}, hub.Stats{}},
	} {
		before, otherBefore := srv.Stats(), other.Stats()
		if err := c.fn(); err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		if got := diff(before, srv.Stats()); got != c.want {
			t.Errorf("%s: stats grew by %+v, want %+v", c.name, got, c.want)
		}
		if got := other.Stats(); got != otherBefore {
			t.Errorf("%s: another server's stats changed: %+v, was %+v", c.name, got, otherBefore)
		}
	}
}

// A client too far behind is not sent more: the packets count as
// undelivered, and a closed client's too.
func TestStatsUndelivered(t *testing.T) {
	srv, url := hubServer(t, hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour, MaxBufferedBytes: 1000})
	sockets := statsRoom(t, srv, url, "r", 3)
	before := srv.Stats()
	if err := srv.To("r").Emit("big", strings.Repeat("x", 2000)); err != nil {
		t.Fatal(err)
	}
	if got, want := diff(before, srv.Stats()), (hub.Stats{Undelivered: 3}); got != want {
		t.Fatalf("over the buffer limit: stats grew by %+v, want %+v", got, want)
	}
	// The limit closes the connections; later sends to them fail too.
	waitUntil(t, func() bool { return !sockets[0].Connected() }, "socket closed after a full queue")
	before = srv.Stats()
	_ = sockets[0].Emit("late")
	if got, want := diff(before, srv.Stats()), (hub.Stats{Undelivered: 1}); got != want {
		t.Fatalf("emit to a closed client: stats grew by %+v, want %+v", got, want)
	}
}

// BenchmarkBroadcastCounted measures a counted broadcast to 50 sockets
// (that allocations do not grow with recipients is
// TestBroadcastAllocsDoNotGrowWithRecipients).
func BenchmarkBroadcastCounted(b *testing.B) {
	srv, url := hubServer(b, hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	nsp := srv.Of("/")
	for range 50 {
		p := newPollSession(b, url)
		if err := hubSocket(b, nsp, p.connect()).Join("r"); err != nil {
			b.Fatal(err)
		}
	}
	op := srv.To("r").Volatile() // dropped: the queues do not grow
	b.ReportAllocs()
	for b.Loop() {
		_ = op.Emit("tick", 1)
	}
	if srv.Stats().VolatileDropped == 0 {
		b.Fatal("nothing counted")
	}
}
