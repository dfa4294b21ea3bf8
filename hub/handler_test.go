package hub_test

// The handler execution model (dispatch.go): a socket's listeners run one
// at a time, in arrival order, off the goroutine that reads the
// connection, which keeps reading acks and pongs meanwhile.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"runtime"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// gate is a channel a listener waits on until the test opens it; it never
// waits longer than testWait, so that a failing test leaves no listener
// behind.
type gate chan struct{}

func (g gate) open() { close(g) }

func (g gate) wait() {
	select {
	case <-g:
	case <-time.After(testWait):
	}
}

// socketOf waits for the next socket a connection listener sent on ch.
func socketOf(t *testing.T, ch <-chan *hub.Socket) *hub.Socket {
	t.Helper()
	select {
	case s := <-ch:
		return s
	case <-time.After(testWait):
		t.Fatal("no socket connected")
		return nil
	}
}

// TestHandlersRunInArrivalOrder: while a listener waits, the events sent
// after it queue up; they run afterwards, in the order sent, one at a
// time.
func TestHandlersRunInArrivalOrder(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	release := make(gate)
	var order strLog
	var running, overlap atomic.Int32
	sockets := make(chan *hub.Socket, 1)
	srv.OnConnection(func(s *hub.Socket) {
		s.OnAny(func(ev *hub.Event) {
			if running.Add(1) > 1 {
				overlap.Add(1)
			}
			defer running.Add(-1)
			if ev.Name == "slow" {
				release.wait()
			}
			var n int
			_ = ev.Args.Bind(&n)
			order.add(fmt.Sprintf("%s-%d", ev.Name, n))
		})
		sockets <- s
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	s := socketOf(t, sockets)
	if err := c.Emit("/", "slow", 0); err != nil {
		t.Fatal(err)
	}
	const n = 20
	for i := 1; i <= n; i++ {
		if err := c.Emit("/", "ev", i); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, func() bool { return s.QueuedTasks() == n }, "%d events queued behind the waiting listener (have %d)", n, s.QueuedTasks())
	if got := order.get(); len(got) != 0 {
		t.Fatalf("listeners ran while the first one waited: %q", got)
	}
	release.open()
	got := order.waitLen(t, n+1)
	want := []string{"slow-0"}
	for i := 1; i <= n; i++ {
		want = append(want, fmt.Sprintf("ev-%d", i))
	}
	if !slices.Equal(got, want) {
		t.Errorf("order = %q\nwant    %q", got, want)
	}
	if overlap.Load() != 0 {
		t.Errorf("%d listeners ran while another one of the socket ran", overlap.Load())
	}
}

// TestAckReadWhileHandlerWaits: a listener that emits to its own client
// and waits for the ack gets it (the connection is read meanwhile); so
// does a connection listener.
func TestAckReadWhileHandlerWaits(t *testing.T) {
	for _, polling := range []bool{false, true} {
		name := map[bool]string{false: "websocket", true: "polling"}[polling]
		t.Run(name, func(t *testing.T) {
			srv, url := hubServer(t, hub.Options{})
			srv.OnConnection(func(s *hub.Socket) {
				ctx, cancel := context.WithTimeout(s.Context(), testWait)
				defer cancel()
				args, err := s.EmitWithAck(ctx, "welcome")
				if err != nil {
					_ = s.Emit("welcome-failed", err.Error())
				}
				var name string
				_ = args.Bind(&name)
				s.On("cmd", func(ev *hub.Event) {
					ctx, cancel := context.WithTimeout(s.Context(), testWait)
					defer cancel()
					args, err := s.EmitWithAck(ctx, "hello", "there")
					if err != nil {
						_ = ev.Ack("error: " + err.Error())
						return
					}
					var got string
					_ = args.Bind(&got)
					_ = ev.Ack(name + " says " + got)
				})
			})
			c := hubDialOpts(t, url, testclient.Options{Polling: polling})
			hubConnect(t, c, "/", nil)
			answerNext(t, c, "welcome", "ann")
			id, err := c.EmitID("/", "cmd")
			if err != nil {
				t.Fatal(err)
			}
			answerNext(t, c, "hello", "hi")
			p, err := c.WaitAck("/", id, testWait)
			if err != nil {
				t.Fatalf("the ack of cmd: %v", err)
			}
			if got := p.Str(0); got != "ann says hi" {
				t.Fatalf("cmd answered %q, want %q", got, "ann says hi")
			}
		})
	}
}

// answerNext waits for event from the server and answers its ack with arg.
func answerNext(t *testing.T, c *testclient.Client, event string, arg any) {
	t.Helper()
	p := nextEvent(t, c, "/")
	if p.Event != event {
		t.Fatalf("got %s, want %s", p.Text, event)
	}
	if p.ID == testclient.NoID {
		t.Fatalf("%s asks for no ack", p.Text)
	}
	if err := c.Ack("/", p.ID, arg); err != nil {
		t.Fatal(err)
	}
}

// TestHeartbeatWhileHandlerWaits: a listener that waits does not stop
// the pongs being read, so the heartbeat does not end its connection.
func TestHeartbeatWhileHandlerWaits(t *testing.T) {
	// Pings come often; the timeout is long so that a loaded machine
	// answers in time. The engine sends a ping only once the previous
	// one's pong was read, so each new ping proves a pong was read.
	srv, url := hubServer(t, hub.Options{PingInterval: 20 * time.Millisecond, PingTimeout: 5 * time.Second})
	release := make(gate)
	done := make(chan struct{})
	srv.OnConnection(func(s *hub.Socket) {
		s.On("slow", func(ev *hub.Event) {
			release.wait()
			_ = ev.Ack("done")
		})
		s.OnDisconnect(func(hub.DisconnectReason) { close(done) })
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	id, err := c.EmitID("/", "slow")
	if err != nil {
		t.Fatal(err)
	}
	// Five more pings while the listener waits: had the pongs not been
	// read, no ping would have followed the first unanswered one.
	start := c.Pings()
	waitUntil(t, func() bool {
		select {
		case <-done:
			t.Fatal("the socket disconnected while its listener waited")
		case <-c.Done():
			t.Fatalf("the connection ended while the listener waited: %v", c.Err())
		default:
		}
		return c.Pings() >= start+5
	}, "five pings while the listener waits")
	release.open()
	if _, err := c.WaitAck("/", id, testWait); err != nil {
		t.Fatalf("the listener's ack: %v", err)
	}
}

// TestClientDisconnectAfterQueuedEvents: the client's DISCONNECT of a
// namespace takes effect after the events it sent before it, but what
// waits on the client's behalf (the socket's context, its pending acks)
// ends at once; and the client may connect to the namespace again at once.
func TestClientDisconnectAfterQueuedEvents(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	release := make(gate)
	var order strLog
	sockets := make(chan *hub.Socket, 2)
	ackErr := make(chan error, 1)
	srv.OnConnection(func(s *hub.Socket) {
		s.On("slow", func(*hub.Event) {
			// The client never answers this ack; it leaves instead.
			_, err := s.EmitWithAck(context.Background(), "question")
			ackErr <- err
			release.wait()
			order.add("slow")
		})
		s.On("ev", func(ev *hub.Event) { order.add("ev " + string(ev.Args.JSON())) })
		s.OnDisconnecting(func(r hub.DisconnectReason) { order.add("disconnecting " + string(r)) })
		s.OnDisconnect(func(r hub.DisconnectReason) { order.add("disconnect " + string(r)) })
		sockets <- s
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	s := socketOf(t, sockets)
	for _, send := range []func() error{
		func() error { return c.Emit("/", "slow") },
		func() error { return c.Emit("/", "ev", 1) },
		func() error { return c.Emit("/", "ev", 2) },
		func() error { return c.Disconnect("/") },
	} {
		if err := send(); err != nil {
			t.Fatal(err)
		}
	}
	select {
	case err := <-ackErr:
		if !errors.Is(err, hub.ErrDisconnected) {
			t.Fatalf("the pending ack ended with %v, want ErrDisconnected", err)
		}
	case <-time.After(testWait):
		t.Fatal("the pending ack did not end when the client left")
	}
	select {
	case <-s.Context().Done():
		if cause := context.Cause(s.Context()); !errors.Is(cause, hub.ErrDisconnected) {
			t.Errorf("context.Cause = %v, want ErrDisconnected", cause)
		}
	case <-time.After(testWait):
		t.Fatal("the socket's context did not end when the client left")
	}
	if !s.Connected() {
		t.Fatal("the socket disconnected before the events sent before the DISCONNECT ran")
	}
	// A new socket in the same namespace, while the old one's listener
	// still waits.
	if _, err := c.Connect("/", nil); err != nil {
		t.Fatalf("connecting again while the old socket's listener waits: %v", err)
	}
	socketOf(t, sockets)
	release.open()
	want := []string{"slow", "ev [1]", "ev [2]", "disconnecting client namespace disconnect", "disconnect client namespace disconnect"}
	if got := order.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Errorf("order = %q\nwant    %q", got, want)
	}
	waitUntil(t, func() bool { return srv.Of("/").Len() == 1 }, "only the new socket left")
}

// TestTransportCloseAfterQueuedEvents: when the connection ends while a
// listener runs, the events the client sent before are still handled, then
// the socket disconnects; the listener's context ends at once.
func TestTransportCloseAfterQueuedEvents(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var order strLog
	sockets := make(chan *hub.Socket, 1)
	srv.OnConnection(func(s *hub.Socket) {
		s.On("slow", func(*hub.Event) {
			<-s.Context().Done() // ends with the connection
			order.add("slow")
		})
		s.On("ev", func(ev *hub.Event) { order.add("ev " + string(ev.Args.JSON())) })
		s.OnDisconnect(func(r hub.DisconnectReason) { order.add("disconnect " + string(r)) })
		sockets <- s
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	s := socketOf(t, sockets)
	_ = c.Emit("/", "slow")
	_ = c.Emit("/", "ev", 1)
	_ = c.Emit("/", "ev", 2)
	waitUntil(t, func() bool { return s.QueuedTasks() == 2 }, "two events queued")
	_ = c.Close()
	want := []string{"slow", "ev [1]", "ev [2]", "disconnect transport close"}
	if got := order.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Errorf("order = %q\nwant    %q", got, want)
	}
}

// TestEventQueueBound: a client that sends while its listener waits fills
// the socket's queue up to its bound, and no further: its connection is not
// read until there is room. Then every event runs, in order.
func TestEventQueueBound(t *testing.T) {
	cases := []struct {
		name string
		arg  string
		max  int // queued events at most
	}{
		{"count", "x", hub.MaxQueuedTasks},
		// Each message is `2["ev",<n>,"<100,000 x>"]` without the
		// Engine.IO prefix: 10 fit in MaxQueuedBytes, 11 do not.
		{"bytes", strings.Repeat("x", 100_000), 10},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := hubServer(t, hub.Options{})
			release := make(gate)
			var handled atomic.Int64
			var inOrder atomic.Bool
			inOrder.Store(true)
			sockets := make(chan *hub.Socket, 1)
			srv.OnConnection(func(s *hub.Socket) {
				s.On("block", func(*hub.Event) { release.wait() })
				s.On("ev", func(ev *hub.Event) {
					var n int64
					_ = ev.Args.Bind(&n)
					if n != handled.Load() {
						inOrder.Store(false)
					}
					handled.Add(1)
				})
				sockets <- s
			})
			c := hubDial(t, url)
			hubConnect(t, c, "/", nil)
			s := socketOf(t, sockets)
			if err := c.Emit("/", "block"); err != nil {
				t.Fatal(err)
			}
			total := tc.max + 20
			sent := make(chan error, 1)
			go func() {
				// The writes block once the server stops reading.
				for i := range total {
					if err := c.Emit("/", "ev", i, tc.arg); err != nil {
						sent <- err
						return
					}
				}
				sent <- nil
			}()
			waitUntil(t, func() bool { return s.QueuedTasks() >= tc.max }, "the queue full (%d events)", tc.max)
			if n := s.QueuedTasks(); n != tc.max {
				t.Fatalf("%d events queued, want the bound %d", n, tc.max)
			}
			release.open()
			waitUntil(t, func() bool { return handled.Load() == int64(total) }, "%d events handled (have %d)", total, handled.Load())
			if !inOrder.Load() {
				t.Error("events ran out of order")
			}
			select {
			case err := <-sent:
				if err != nil {
					t.Fatal(err)
				}
			case <-time.After(testWait):
				t.Fatal("the client's writes did not finish")
			}
		})
	}
}

// TestConnectionListenersBeforeEvents: the client's first events wait for
// the connection listeners, which set their listeners, even when those
// wait; and a slow CONNECT (a middleware that waits) holds up neither the
// client's other namespaces nor their acks.
func TestConnectionListenersBeforeEvents(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	release := make(gate)
	var got strLog
	srv.OnConnection(func(s *hub.Socket) {
		s.On("ev", func(ev *hub.Event) { _ = ev.Ack("main") })
	})
	slow := srv.Of("/slow")
	slow.Use(func(*hub.Socket) error { release.wait(); return nil })
	late := srv.Of("/late")
	late.OnConnection(func(s *hub.Socket) {
		release.wait()
		s.On("first", func(*hub.Event) { got.add("first") })
	})

	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	// /slow's middleware waits; the client's CONNECT reply for it will
	// come later.
	if err := c.SendText("40/slow,"); err != nil {
		t.Fatal(err)
	}
	// /late answers its CONNECT, then its connection listener waits; the
	// client's first event waits for it.
	hubConnect(t, c, "/late", nil)
	if err := c.Emit("/late", "first"); err != nil {
		t.Fatal(err)
	}
	// Meanwhile "/" is served.
	p, err := c.EmitWithAck("/", "ev")
	if err != nil || p.Str(0) != "main" {
		t.Fatalf("the main namespace while /slow connects: %v %v", p, err)
	}
	release.open()
	if _, err := c.Wait(testWait, func(p *testclient.Packet) bool { return p.Type == testclient.Connect && p.Nsp == "/slow" }); err != nil {
		t.Fatalf("the CONNECT reply of /slow: %v", err)
	}
	if g := got.waitLen(t, 1); g[0] != "first" {
		t.Fatalf("got %q", g)
	}
}

// TestConnectionListenerPanic: a connection listener runs on the socket's
// goroutine; a panic there is recovered and closes that connection only.
func TestConnectionListenerPanic(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	srv.OnConnection(func(s *hub.Socket) {
		var auth struct{ Boom bool }
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		if auth.Boom {
			panic("connection listener")
		}
	})
	before := srv.Stats().PanicsRecovered
	c := hubDial(t, url)
	// The CONNECT reply may be lost with the connection.
	_, _ = c.Connect("/", map[string]bool{"boom": true})
	if err := c.WaitClosed(testWait); err != nil {
		t.Fatal(err)
	}
	waitPanics(t, srv, before+1)
	other := hubDial(t, url)
	hubConnect(t, other, "/", nil)
}

// TestNoGoroutineLeftByWaitingHandlers: sockets whose listeners wait (on
// the socket's context) and whose queues are full when their connections
// end leave no goroutine behind: the runners finish, and the readers that
// waited for room go.
func TestNoGoroutineLeftByWaitingHandlers(t *testing.T) {
	// The heartbeat ends the connections; its timeout is long enough that
	// it does not end one before the test saw its queue on a loaded machine.
	srv, url := hubServer(t, hub.Options{PingInterval: 50 * time.Millisecond, PingTimeout: 5 * time.Second})
	sockets := make(chan *hub.Socket, 10)
	srv.OnConnection(func(s *hub.Socket) {
		s.On("wait", func(*hub.Event) { <-s.Context().Done() })
		s.On("ev", func(*hub.Event) {})
		sockets <- s
	})
	time.Sleep(10 * time.Millisecond) // let earlier tests' goroutines finish
	baseline := runtime.NumGoroutine()

	const n = 5
	var wg sync.WaitGroup
	for i := range n {
		full := i < 2 // these fill their queues: their readers wait for room
		c, err := testclient.DialOptions(url, ioPath, testclient.Options{Polling: i >= 3})
		if err != nil {
			t.Fatal(err)
		}
		hubConnect(t, c, "/", nil)
		s := socketOf(t, sockets)
		if err := c.Emit("/", "wait"); err != nil {
			t.Fatal(err)
		}
		count := 3
		if full {
			count = hub.MaxQueuedTasks + 5
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range count {
				if c.Emit("/", "ev") != nil {
					return
				}
			}
		}()
		want := 3
		if full {
			want = hub.MaxQueuedTasks
		}
		waitUntil(t, func() bool { return s.QueuedTasks() >= want }, "client %d: %d events queued", i, want)
		// A reader that waits for room reads nothing, not even the
		// close: the heartbeat ends those connections.
		_ = c.Close()
	}
	wg.Wait()
	// Each connection ends within PingInterval+PingTimeout of its close.
	deadline := time.Now().Add(testWait)
	for {
		g := runtime.NumGoroutine()
		if g <= baseline && srv.Of("/").Len() == 0 && srv.Connections() == 0 {
			return
		}
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines (baseline %d), %d sockets, %d connections\n%s", g, baseline, srv.Of("/").Len(), srv.Connections(), buf.String())
		}
		time.Sleep(5 * time.Millisecond)
	}
}
