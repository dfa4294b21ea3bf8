package engine

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const drainReason = "server shutting down"

// expectShuttingDown checks the answer to a handshake during a shutdown.
func expectShuttingDown(t *testing.T, r response) {
	t.Helper()
	const body = `{"code":4,"message":"Server shutting down"}`
	if r.status != http.StatusServiceUnavailable || r.body != body {
		t.Fatalf("handshake while draining: %d %q, want 503 %q", r.status, r.body, body)
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("Content-Type %q, want application/json", ct)
	}
}

// waitDrained runs Wait with a generous bound and fails if it ends by it.
func waitDrained(t *testing.T, s *Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	if err := s.Wait(ctx); err != nil {
		t.Fatalf("Wait: %v (sessions left: %d)", err, s.Len())
	}
}

// TestDrainRefusesHandshakes: once Drain is called, polling and WebSocket
// handshakes get 503 with the reference's JSON error shape, while the
// requests of sessions already open are still served.
func TestDrainRefusesHandshakes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	h.c.Send([]Frame{Text(4, []byte("queued"))}, false)
	e.srv.Drain(drainReason)
	if !e.srv.Draining() {
		t.Fatal("Draining() false after Drain")
	}

	expectShuttingDown(t, e.request("GET", "EIO=4&transport=polling", nil))
	ws, res, err := websocket.DefaultDialer.Dial(e.ws+"?EIO=4&transport=websocket", nil)
	if err == nil {
		ws.Close()
		t.Fatal("WebSocket handshake accepted while draining")
	}
	if res == nil || res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("WebSocket handshake while draining: %v %v, want 503", res, err)
	}
	res.Body.Close()

	// The open session still gets its queue, then the close packet.
	if got := e.getBody(sid); got != "4queued" {
		t.Fatalf("GET %q, want the queued message", got)
	}
	if got := e.getBody(sid); got != "1" {
		t.Fatalf("GET %q, want the close packet", got)
	}
	h.expectClose(t, drainReason)
	waitDrained(t, e.srv)
	expectShuttingDown(t, e.request("GET", "EIO=4&transport=polling", nil))
}

// TestDrainFlushesThenCloses: what sessions queued before Drain reaches
// their clients before the transport closes, on both transports; Wait
// returns once every session is gone, and every handler saw the drain's
// reason.
func TestDrainFlushesThenCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, _, wh := e.openWS()
	sid, ph := e.openPolling()
	const n = 300
	for i := 0; i < n; i++ {
		wh.c.Send([]Frame{Text(4, []byte(strconv.Itoa(i)))}, false)
		ph.c.Send([]Frame{Text(4, []byte(strconv.Itoa(i)))}, false)
	}
	e.srv.Drain(drainReason)
	e.srv.Drain(drainReason) // idempotent

	for i := 0; i < n; i++ {
		readText(t, ws, "4"+strconv.Itoa(i))
	}
	if err := expectWSClosed(t, ws); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("WebSocket ended with %v, want close 1000", err)
	}
	var got []string
	for {
		body := e.getBody(sid)
		if body == "1" {
			break
		}
		got = append(got, body)
		if len(got) > n {
			t.Fatalf("no close packet after %d GETs", len(got))
		}
	}
	want := ""
	for i := 0; i < n; i++ {
		if i > 0 {
			want += "\x1e"
		}
		want += "4" + strconv.Itoa(i)
	}
	if joined := joinBodies(got); joined != want {
		t.Fatalf("polling client got %q, want the %d messages in order", joined, n)
	}
	waitDrained(t, e.srv)
	wh.expectClose(t, drainReason)
	ph.expectClose(t, drainReason)
	if n := e.srv.Len(); n != 0 {
		t.Fatalf("%d sessions after Wait", n)
	}
}

func joinBodies(b []string) string {
	out := ""
	for i, s := range b {
		if i > 0 {
			out += "\x1e"
		}
		out += s
	}
	return out
}

// TestWaitContextEnds: a client that never comes for its queue holds the
// shutdown only until the context ends; then its session is closed at
// once and Wait returns the context's error.
func TestWaitContextEnds(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	h.c.Send([]Frame{Text(4, []byte("never fetched"))}, false)
	e.srv.Drain(drainReason)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := e.srv.Wait(ctx); !errors.Is(err, context.Canceled) {
		t.Fatalf("Wait = %v, want context.Canceled", err)
	}
	if n := e.srv.Len(); n != 0 {
		t.Fatalf("%d sessions after Wait", n)
	}
	h.expectClose(t, drainReason)
	expectError(t, e.get(sid), 400, 1)
}

// TestDrainDuringHandshake: a handshake that passed the check before
// Drain and completes after it gets its open packet, then the close; the
// shutdown waits for it.
func TestDrainDuringHandshake(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"polling", "websocket"} {
		t.Run(transport, func(t *testing.T) {
			t.Parallel()
			var srv *Server
			e := newEnv(t, Config{OnConnection: func(c *Conn, _ *http.Request) { srv.Drain(drainReason) }})
			srv = e.srv
			if transport == "websocket" {
				ws := e.mustDial("EIO=4&transport=websocket")
				_, data := readWS(t, ws)
				p := parseOpen(t, data)
				if err := expectWSClosed(t, ws); !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
					t.Fatalf("WebSocket ended with %v, want close 1000", err)
				}
				e.handler(p.SID).expectClose(t, drainReason)
			} else {
				r := e.request("GET", "EIO=4&transport=polling", nil)
				p := parseOpen(t, r.body)
				if got := e.getBody(p.SID); got != "1" {
					t.Fatalf("GET after the handshake %q, want the close packet", got)
				}
				e.handler(p.SID).expectClose(t, drainReason)
			}
			waitDrained(t, e.srv)
		})
	}
}

// TestDrainSkipsLinger: a polling session its client closed, which lingers
// for a racing GET, leaves the table at once when the server drains.
func TestDrainSkipsLinger(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{testLinger: time.Hour})
	sid, h := e.openPolling()
	e.postOK(sid, "1")
	h.expectClose(t, ReasonTransportClose)
	if e.conn(sid) == nil {
		t.Fatal("the session did not linger")
	}
	e.srv.Drain(drainReason)
	if n := e.srv.Len(); n != 0 {
		t.Fatalf("%d sessions right after Drain", n)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Nanosecond)
	defer cancel()
	<-ctx.Done()
	// Even with its context over, Wait finds nothing left to close.
	if err := e.srv.Wait(ctx); err != nil {
		t.Fatalf("Wait = %v, want nil: the table was empty", err)
	}
}

// TestClientClosesWhileServerCloses: a polling session whose server-side
// close waits for a poll to carry the close packet (here: its queue is not
// yet taken) ends at once when its client sends its own close instead of
// polling, rather than when the server gives up waiting for the poll.
func TestClientClosesWhileServerCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	h.c.Send([]Frame{Text(4, []byte("queued"))}, false)
	e.srv.Drain(drainReason)
	if r := e.post(sid, "1"); r.status != http.StatusOK {
		t.Fatalf("client's close: %d %q", r.status, r.body)
	}
	if n := e.srv.Len(); n != 0 {
		t.Fatalf("%d session(s) left once the client closed", n)
	}
	h.expectClose(t, drainReason)
	waitDrained(t, e.srv)
}
