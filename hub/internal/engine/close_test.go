package engine

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestCloseWebSocket: Close flushes the queue, then sends a close frame.
func TestCloseWebSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, sid, h := e.openWS()
	for i := 0; i < 500; i++ {
		h.c.Send([]Frame{Text(4, []byte(strconv.Itoa(i)))}, false)
	}
	h.c.Close()
	h.c.Close() // idempotent
	if h.c.Send([]Frame{Text(4, []byte("late"))}, false) {
		t.Fatal("Send after Close succeeded")
	}
	for i := 0; i < 500; i++ {
		readText(t, ws, "4"+strconv.Itoa(i))
	}
	err := expectWSClosed(t, ws)
	if !websocket.IsCloseError(err, websocket.CloseNormalClosure) {
		t.Fatalf("connection ended with %v, want close 1000", err)
	}
	h.expectClose(t, ReasonForcedClose)
	waitFor(t, "the session to leave the table", func() bool { return e.conn(sid) == nil })
}

// TestClosePollingPendingGet: a parked GET carries the close at once.
func TestClosePollingPendingGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	pending := e.asyncGet(sid)
	e.waitParked(sid)
	h.c.Close()
	if r := recv(t, pending); r.status != 200 || r.body != "1" {
		t.Fatalf("pending GET: %d %q, want \"1\"", r.status, r.body)
	}
	h.expectClose(t, ReasonForcedClose)
	expectError(t, e.get(sid), 400, 1)
}

// TestClosePollingPendingGetWithData: frames sent just before Close reach
// the client ahead of the close packet, whichever GET carries them.
func TestClosePollingPendingGetWithData(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	pending := e.asyncGet(sid)
	e.waitParked(sid)
	h.c.Send([]Frame{Text(4, []byte("a")), Text(4, []byte("b"))}, false)
	h.c.Send([]Frame{{Data: []byte{7}, Binary: true}}, false)
	h.c.Close()
	var bodies []string
	bodies = append(bodies, recv(t, pending).body)
	for bodies[len(bodies)-1] != "1" {
		bodies = append(bodies, e.getBody(sid))
	}
	// The close packet comes on its own, after everything sent before it.
	if got := strings.Join(bodies, "\x1e"); got != "4a\x1e4b\x1ebBw==\x1e1" {
		t.Fatalf("GETs carried %q", bodies)
	}
	h.expectClose(t, ReasonForcedClose)
	expectError(t, e.get(sid), 400, 1)
}

// TestClosePollingNoGet: without a parked GET, the next GET carries the
// queue and the one after it the close packet, on its own: the JS client
// acts on a close at once but on the Socket.IO packets before it a tick
// later, so a shared payload would reorder them (the reference waits for
// the queue to drain before it closes).
func TestClosePollingNoGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	h.c.Send([]Frame{Text(4, []byte("a"))}, false)
	h.c.Send([]Frame{Text(4, []byte("b"))}, false)
	h.c.Close()
	if got := e.getBody(sid); got != "4a\x1e4b" {
		t.Fatalf("GET %q", got)
	}
	if h.isClosed() {
		t.Fatal("closed before the client was told")
	}
	if got := e.getBody(sid); got != "1" {
		t.Fatalf("GET %q, want the close packet alone", got)
	}
	h.expectClose(t, ReasonForcedClose)
	expectError(t, e.get(sid), 400, 1)

	// Without anything queued, the next GET gets the close at once.
	sid, h = e.openPolling()
	h.c.Close()
	if got := e.getBody(sid); got != "1" {
		t.Fatalf("GET %q", got)
	}
	h.expectClose(t, ReasonForcedClose)
}

// TestCloseAll closes the sessions of both transports.
func TestCloseAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	var wss []*websocket.Conn
	var hs []*testHandler
	for i := 0; i < 5; i++ {
		ws, _, h := e.openWS()
		wss = append(wss, ws)
		hs = append(hs, h)
	}
	var pendings []<-chan response
	for i := 0; i < 5; i++ {
		sid, h := e.openPolling()
		pendings = append(pendings, e.asyncGet(sid))
		e.waitParked(sid)
		hs = append(hs, h)
	}
	e.srv.CloseAll()
	for _, ws := range wss {
		expectWSClosed(t, ws)
	}
	for _, p := range pendings {
		if r := recv(t, p); r.body != "1" {
			t.Fatalf("pending GET %q", r.body)
		}
	}
	for _, h := range hs {
		h.expectClose(t, ReasonForcedClose)
	}
	waitFor(t, "an empty table", func() bool { return e.srv.Len() == 0 })
}

// TestCloseAllDuringHandshakes: CloseAll racing with new sessions never
// sees a half-built one, and every session ends with exactly one OnClose.
func TestCloseAllDuringHandshakes(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			select {
			case <-stop:
				return
			default:
				e.srv.CloseAll()
			}
		}
	}()
	var wg sync.WaitGroup
	for i := 0; i < 40; i++ {
		wg.Add(2)
		go func() {
			defer wg.Done()
			ws, _, err := websocket.DefaultDialer.Dial(e.ws+"?EIO=4&transport=websocket", nil)
			if err == nil {
				for {
					if _, _, err := ws.ReadMessage(); err != nil {
						break
					}
				}
				ws.Close()
			}
		}()
		go func() {
			defer wg.Done()
			res, err := e.ts.Client().Get(e.base + "?EIO=4&transport=polling")
			if err == nil {
				res.Body.Close()
			}
		}()
	}
	wg.Wait()
	close(stop)
	<-done
	e.srv.CloseAll()
	e.mu.Lock()
	all := append([]*testHandler(nil), e.all...)
	e.mu.Unlock()
	for _, h := range all {
		// Polling sessions closed before their first GET wait for one.
		if h.c.Transport() == "polling" && !h.isClosed() {
			e.get(h.c.ID())
		}
		h.waitClose(t)
	}
	waitFor(t, "an empty table", func() bool { return e.srv.Len() == 0 })
}

// TestOnConnectionCloses: a session closed by OnConnection itself never
// lingers in the table.
func TestOnConnectionCloses(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{OnConnection: func(c *Conn, _ *http.Request) { c.Close() }})
	ws := e.mustDial("EIO=4&transport=websocket")
	_, data := readWS(t, ws)
	parseOpen(t, data)
	expectWSClosed(t, ws)
	r := e.request("GET", "EIO=4&transport=polling", nil)
	p := parseOpen(t, r.body)
	if got := e.getBody(p.SID); got != "1" {
		t.Fatalf("GET after the handshake %q, want the close packet", got)
	}
	e.handler(p.SID).expectClose(t, ReasonForcedClose)
	waitFor(t, "an empty table", func() bool { return e.srv.Len() == 0 })
}

// TestCloseReasonWhenClientAnswers: a session the server closes ends with
// "forced close" even when the client answers the close frame and drops
// the connection at once (the reader may see that before the writer has
// returned from writing the close frame).
func TestCloseReasonWhenClientAnswers(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	const n = 100
	var wg sync.WaitGroup
	var mu sync.Mutex
	reasons := map[string]int{}
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ws, _, err := websocket.DefaultDialer.Dial(e.ws+"?EIO=4&transport=websocket", nil)
			if err != nil {
				t.Error(err)
				return
			}
			defer ws.Close()
			_, data, err := ws.ReadMessage()
			if err != nil {
				t.Error(err)
				return
			}
			var sid string
			if i := strings.Index(string(data), `"sid":"`); i >= 0 {
				sid = string(data[i+7 : i+27])
			}
			e.mu.Lock()
			h := e.handlers[sid]
			e.mu.Unlock()
			if h == nil {
				t.Errorf("no session for %q", data)
				return
			}
			h.c.Close()
			// gorilla answers the close frame as it reads it.
			for {
				if _, _, err := ws.ReadMessage(); err != nil {
					break
				}
			}
			ws.NetConn().Close()
			select {
			case r := <-h.closed:
				mu.Lock()
				reasons[r]++
				mu.Unlock()
			case <-time.After(waitTimeout):
				t.Errorf("session %s did not close", sid)
			}
		}()
	}
	wg.Wait()
	if reasons[ReasonForcedClose] != n {
		t.Fatalf("reasons %v, want all %q", reasons, ReasonForcedClose)
	}
}
