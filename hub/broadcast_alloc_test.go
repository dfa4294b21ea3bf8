package hub_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/engine"
)

// With no hooks installed, a broadcast allocates the same whether it
// reaches 10 sockets or 1000: the packet is encoded once and the same
// frames are queued for every recipient.
//
// The recipients are real long-polling sessions that do not poll, so
// nothing runs in the background while allocations are counted and every
// frame stays in the session's queue. That queue is a slice that grows as
// frames are appended; the warm-up fills each queue to a length from which
// the measured broadcasts fit in its capacity (found by replaying the same
// appends on a slice of the same type), so that growth is not counted.
func TestBroadcastAllocsDoNotGrowWithRecipients(t *testing.T) {
	srv, url := hubServer(t, hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	nsp := srv.Of("/")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
	t.Cleanup(hc.CloseIdleConnections)
	const small, big = 10, 1000
	var first *pollSession
	for i := range small + big {
		p := newPollSessionWith(t, url, hc)
		if first == nil {
			first = p
		}
		id := p.connect()
		room := "big"
		if i < small {
			room = "small"
		}
		if err := hubSocket(t, nsp, id).Join(room); err != nil {
			t.Fatal(err)
		}
	}
	args, err := hub.NewArgs("tick", 1)
	if err != nil {
		t.Fatal(err)
	}
	const runs = 200
	queued := map[string]int{} // frames queued so far per session of a room
	// measure counts the allocations of fn, run runs times after warming
	// the room's queues up.
	measure := func(room string, fn func()) float64 {
		warm := warmUp(queued[room], runs+1)
		for range warm {
			fn()
		}
		queued[room] += warm + runs + 1
		return testing.AllocsPerRun(runs, fn)
	}
	adapter := nsp.Adapter()
	for _, tc := range []struct {
		name string
		fn   func(room string) func()
	}{
		{"Adapter.Broadcast of a prepared packet", func(room string) func() {
			p := hub.NewPacket("/", "tick", args)
			opts := hub.BroadcastOptions{Rooms: []string{room}}
			return func() { _ = adapter.Broadcast(p, opts) }
		}},
		{"To(room).Emit", func(room string) func() {
			op := srv.To(room)
			return func() { _ = op.Emit("tick", "a", 1) }
		}},
		{"To(room).EmitArgs", func(room string) func() {
			op := srv.To(room)
			return func() { _ = op.EmitArgs("tick", args) }
		}},
	} {
		s := measure("small", tc.fn("small"))
		b := measure("big", tc.fn("big"))
		t.Logf("%s: %v allocs to %d sockets, %v to %d", tc.name, s, small, b, big)
		if s != b {
			t.Errorf("%s: %v allocs per broadcast to %d sockets, %v to %d: want the same", tc.name, s, small, b, big)
		}
	}
	// The frames were queued, not dropped.
	if got, want := strings.Count(first.get(), `42["tick",`), queued["small"]; got != want {
		t.Errorf("a recipient's queue holds %d events, want %d", got, want)
	}
}

// warmUp returns how many more frames to append to a queue holding n so
// that the next window appends do not grow it, replaying the engine's
// one-Send-one-append pattern on a slice of the same element type.
func warmUp(n, window int) int {
	frames := []engine.Frame{{Data: []byte("x")}}
	var q []engine.Frame
	for range n {
		q = append(q, frames...)
	}
	for warm := 0; ; warm++ {
		c := cap(q)
		grew := false
		probe := q
		for range window {
			probe = append(probe, frames...)
			if cap(probe) != c {
				grew = true
				break
			}
		}
		if !grew {
			return warm
		}
		q = append(q, frames...)
	}
}
