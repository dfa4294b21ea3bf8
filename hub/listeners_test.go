package hub_test

// A socket's listeners follow Node's EventEmitter and socket.io's
// catch-all listeners (listeners.go).

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// listenerSocket connects a client whose socket setup prepares (on the
// socket's goroutine, before the client's first event) and returns both.
// The socket acks "sync" events: when the ack comes, the events sent
// before have been handled.
func listenerSocket(t *testing.T, setup func(s *hub.Socket)) (*testclient.Client, *hub.Socket) {
	t.Helper()
	srv, url := hubServer(t, hub.Options{})
	sockets := make(chan *hub.Socket, 1)
	srv.OnConnection(func(s *hub.Socket) {
		s.On("sync", func(ev *hub.Event) { _ = ev.Ack() })
		setup(s)
		sockets <- s
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	return c, socketOf(t, sockets)
}

// send emits events from the client, then waits until the socket has
// handled them.
func send(t *testing.T, c *testclient.Client, events ...string) {
	t.Helper()
	for _, e := range events {
		if err := c.Emit("/", e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := c.EmitWithAck("/", "sync"); err != nil {
		t.Fatalf("sync: %v", err)
	}
}

func wantLog(t *testing.T, rec *strLog, want ...string) {
	t.Helper()
	if got := rec.get(); !slices.Equal(got, want) {
		t.Errorf("listeners ran: %q\nwant          %q", got, want)
	}
	rec.reset()
}

// TestOnAddsListeners: every listener of an event runs, in the order
// added; a Once listener runs once.
func TestOnAddsListeners(t *testing.T) {
	var rec strLog
	c, _ := listenerSocket(t, func(s *hub.Socket) {
		s.On("ev", func(*hub.Event) { rec.add("a") })
		s.Once("ev", func(*hub.Event) { rec.add("once") })
		s.On("ev", func(*hub.Event) { rec.add("b") })
	})
	send(t, c, "ev")
	wantLog(t, &rec, "a", "once", "b")
	send(t, c, "ev")
	wantLog(t, &rec, "a", "b")
}

// TestOffRemovesListeners: the function On returns removes that listener
// only (again does nothing); Off removes every listener of the event.
func TestOffRemovesListeners(t *testing.T) {
	var rec strLog
	offs := make(chan func(), 3)
	c, s := listenerSocket(t, func(s *hub.Socket) {
		offs <- s.On("ev", func(*hub.Event) { rec.add("a") })
		offs <- s.On("ev", func(*hub.Event) { rec.add("b") })
		offs <- s.Once("ev", func(*hub.Event) { rec.add("once") })
		s.On("other", func(*hub.Event) { rec.add("other") })
	})
	offA, _, offOnce := <-offs, <-offs, <-offs
	offA()
	offA()
	offOnce() // before it ran: it never will
	send(t, c, "ev")
	wantLog(t, &rec, "b")
	s.Off("ev")
	send(t, c, "ev", "other")
	wantLog(t, &rec, "other")
	s.On("ev", func(*hub.Event) { rec.add("c") })
	send(t, c, "ev")
	wantLog(t, &rec, "c")
}

// TestListenersChangedDuringEmit: as Node's emit, which copies the list
// first: a listener removed by an earlier one still runs in this emit, and
// a listener added during it runs from the next one on.
func TestListenersChangedDuringEmit(t *testing.T) {
	var rec strLog
	c, _ := listenerSocket(t, func(s *hub.Socket) {
		var offB func()
		added := false
		s.On("ev", func(*hub.Event) {
			rec.add("a")
			offB()
			if !added {
				added = true
				s.On("ev", func(*hub.Event) { rec.add("added") })
			}
		})
		offB = s.On("ev", func(*hub.Event) { rec.add("b") })
	})
	send(t, c, "ev")
	wantLog(t, &rec, "a", "b")
	send(t, c, "ev")
	wantLog(t, &rec, "a", "added")
}

// TestOnceInsideItsEmit: a Once listener that removes itself, or makes
// the socket get the same event again, still runs once.
func TestOnceInsideItsEmit(t *testing.T) {
	var rec strLog
	c, _ := listenerSocket(t, func(s *hub.Socket) {
		var off func()
		off = s.Once("ev", func(*hub.Event) {
			rec.add("once")
			off()
		})
		s.On("ev", func(*hub.Event) { rec.add("on") })
	})
	send(t, c, "ev", "ev")
	wantLog(t, &rec, "once", "on", "on")
}

// TestCatchAllListeners: PrependAny runs before the catch-alls already
// there, OnAny after; each returns its remover; OffAny removes them all.
// Catch-alls run before the event's own listeners.
func TestCatchAllListeners(t *testing.T) {
	var rec strLog
	offs := make(chan func(), 1)
	c, s := listenerSocket(t, func(s *hub.Socket) {
		s.On("ev", func(*hub.Event) { rec.add("on") })
		s.OnAny(func(ev *hub.Event) {
			if ev.Name != "sync" {
				rec.add("any-1")
			}
		})
		offs <- s.PrependAny(func(ev *hub.Event) {
			if ev.Name != "sync" {
				rec.add("prepended")
			}
		})
		s.OnAny(func(ev *hub.Event) {
			if ev.Name != "sync" {
				rec.add("any-2 " + ev.Name)
			}
		})
	})
	send(t, c, "ev")
	wantLog(t, &rec, "prepended", "any-1", "any-2 ev", "on")
	(<-offs)()
	send(t, c, "ev")
	wantLog(t, &rec, "any-1", "any-2 ev", "on")
	s.OffAny()
	send(t, c, "ev")
	wantLog(t, &rec, "on")
}

// TestOutgoingListeners: OnAnyOutgoing sees every event the socket emits,
// with its arguments (not the ack function), whatever the emitter's flags;
// not the acks it sends. PrependAnyOutgoing goes first; the remover and
// OffAnyOutgoing remove.
func TestOutgoingListeners(t *testing.T) {
	var rec strLog
	c, s := listenerSocket(t, func(s *hub.Socket) {
		s.On("ask", func(ev *hub.Event) { _ = ev.Ack("answer") })
	})
	offLast := s.OnAnyOutgoing(func(event string, args hub.Args) { rec.add("last " + event + " " + string(args.JSON())) })
	s.PrependAnyOutgoing(func(event string, args hub.Args) { rec.add("first " + event + " " + string(args.JSON())) })

	if err := s.Emit("plain", 1, "a"); err != nil {
		t.Fatal(err)
	}
	wantLog(t, &rec, `first plain [1,"a"]`, `last plain [1,"a"]`)

	acked := make(chan error, 1)
	if err := s.Timeout(testWait).Emit("question", 2, hub.AckFunc(func(_ hub.Args, err error) { acked <- err })); err != nil {
		t.Fatal(err)
	}
	wantLog(t, &rec, `first question [2]`, `last question [2]`)
	p := nextEvent(t, c, "/")
	for p.Event != "question" {
		p = nextEvent(t, c, "/")
	}
	if err := c.Ack("/", p.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-acked:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(testWait):
		t.Fatal("no ack")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, _ = s.Volatile().Compress(true).EmitWithAck(ctx, "volatile", 3)
	wantLog(t, &rec, `first volatile [3]`, `last volatile [3]`)

	// The socket's ack to the client's event is not an outgoing event.
	if _, err := c.EmitWithAck("/", "ask"); err != nil {
		t.Fatal(err)
	}
	wantLog(t, &rec)

	offLast()
	_ = s.Emit("after-off")
	wantLog(t, &rec, "first after-off []")
	s.OffAnyOutgoing()
	_ = s.Emit("after-offany")
	wantLog(t, &rec)
}
