package engine

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// waitTimeout bounds every wait for a condition; tests never assert speed,
// and none waits it out: it is long so that a loaded machine passes.
const waitTimeout = 20 * time.Second

// msg is one message a session received.
type msg struct {
	data   string
	binary bool
}

// testHandler is the tests' Handler: an echo (text back as text, binary as
// binary, like the conformance server) that records what it saw.
type testHandler struct {
	c      *Conn
	msgs   chan msg    // every message, in order
	closed chan string // the close reason, once

	// onMessage replaces the echo when set (before any message arrives).
	onMessage func(h *testHandler, data []byte, binary bool)

	mu         sync.Mutex
	closeCalls int
	lateMsgs   int // messages delivered after OnClose
}

func (h *testHandler) OnMessage(data []byte, binary bool) {
	h.mu.Lock()
	if h.closeCalls > 0 {
		h.lateMsgs++
	}
	hook := h.onMessage
	h.mu.Unlock()
	select {
	case h.msgs <- msg{string(data), binary}:
	default:
	}
	if hook != nil {
		hook(h, data, binary)
		return
	}
	h.c.Send([]Frame{echoFrame(data, binary)}, false)
}

func echoFrame(data []byte, binary bool) Frame {
	if binary {
		return Frame{Data: data, Binary: true}
	}
	return Text(4, data)
}

func (h *testHandler) OnClose(reason string) {
	h.mu.Lock()
	h.closeCalls++
	first := h.closeCalls == 1
	h.mu.Unlock()
	if first {
		h.closed <- reason
	}
}

// waitClose returns the session's close reason, failing the test if the
// session does not close in time.
func (h *testHandler) waitClose(t *testing.T) string {
	t.Helper()
	select {
	case r := <-h.closed:
		h.closed <- r // keep it for later readers
		return r
	case <-time.After(waitTimeout):
		t.Fatalf("session %s did not close", h.c.ID())
		return ""
	}
}

// expectClose checks the close reason.
func (h *testHandler) expectClose(t *testing.T, want string) {
	t.Helper()
	if got := h.waitClose(t); got != want {
		t.Fatalf("OnClose(%q), want %q", got, want)
	}
}

// isClosed reports whether OnClose ran.
func (h *testHandler) isClosed() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.closeCalls > 0
}

// nextMsg returns the next message the session received.
func (h *testHandler) nextMsg(t *testing.T) msg {
	t.Helper()
	select {
	case m := <-h.msgs:
		return m
	case <-time.After(waitTimeout):
		t.Fatalf("session %s received no message", h.c.ID())
		return msg{}
	}
}

// env is a test server: an engine mounted at /engine.io/ on httptest. Its
// helpers fail e.t; with gives a subtest its own view of the same server.
type env struct {
	t *testing.T
	*envState
}

type envState struct {
	srv  *Server
	ts   *httptest.Server
	base string // http://host/engine.io/
	ws   string // ws://host/engine.io/

	// setup customises each new session's handler before it is used.
	setup func(h *testHandler)

	mu       sync.Mutex
	handlers map[string]*testHandler
	all      []*testHandler
}

func newEnv(t *testing.T, cfg Config) *env {
	t.Helper()
	e := &env{t: t, envState: &envState{handlers: make(map[string]*testHandler)}}
	userConn := cfg.OnConnection
	cfg.OnConnection = func(c *Conn, r *http.Request) {
		h := &testHandler{c: c, msgs: make(chan msg, 4096), closed: make(chan string, 1)}
		e.mu.Lock()
		setup := e.setup
		e.handlers[c.ID()] = h
		e.all = append(e.all, h)
		e.mu.Unlock()
		if setup != nil {
			setup(h)
		}
		c.SetHandler(h)
		if userConn != nil {
			userConn(c, r)
		}
	}
	e.srv = NewServer(cfg)
	mux := http.NewServeMux()
	mux.Handle("/engine.io/", e.srv)
	e.ts = httptest.NewServer(mux)
	e.base = e.ts.URL + "/engine.io/"
	e.ws = "ws" + strings.TrimPrefix(e.ts.URL, "http") + "/engine.io/"
	t.Cleanup(func() {
		e.srv.CloseAll()
		e.ts.CloseClientConnections()
		e.ts.Close()
		e.mu.Lock()
		defer e.mu.Unlock()
		for _, h := range e.all {
			h.mu.Lock()
			calls, late := h.closeCalls, h.lateMsgs
			h.mu.Unlock()
			if calls > 1 {
				t.Errorf("session %s: OnClose called %d times", h.c.ID(), calls)
			}
			if late > 0 {
				t.Errorf("session %s: %d messages delivered after OnClose", h.c.ID(), late)
			}
		}
	})
	return e
}

// with returns the same server, reporting to t.
func (e *env) with(t *testing.T) *env { return &env{t: t, envState: e.envState} }

// handler returns the handler of session sid.
func (e *env) handler(sid string) *testHandler {
	e.mu.Lock()
	defer e.mu.Unlock()
	h := e.handlers[sid]
	if h == nil {
		e.t.Fatalf("no session %q", sid)
	}
	return h
}

// conn returns the server's Conn for sid, nil once it left the table.
func (e *env) conn(sid string) *Conn { return e.srv.lookup(sid) }

// response is an HTTP answer, read whole.
type response struct {
	status int
	header http.Header
	body   string
}

func (e *env) do(req *http.Request) response {
	e.t.Helper()
	res, err := e.ts.Client().Do(req)
	if err != nil {
		e.t.Fatalf("%s %s: %v", req.Method, req.URL, err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		e.t.Fatalf("%s %s: reading body: %v", req.Method, req.URL, err)
	}
	return response{res.StatusCode, res.Header, string(b)}
}

func (e *env) request(method, query string, body io.Reader) response {
	e.t.Helper()
	req, err := http.NewRequest(method, e.base+"?"+query, body)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.do(req)
}

func (e *env) get(sid string) response {
	e.t.Helper()
	return e.request("GET", "EIO=4&transport=polling&sid="+sid, nil)
}

func (e *env) post(sid, body string) response {
	e.t.Helper()
	return e.request("POST", "EIO=4&transport=polling&sid="+sid, strings.NewReader(body))
}

// postOK posts a payload and checks the "ok" answer.
func (e *env) postOK(sid, body string) {
	e.t.Helper()
	if r := e.post(sid, body); r.status != 200 || r.body != "ok" {
		e.t.Fatalf("POST %q: %d %q, want 200 ok", body, r.status, r.body)
	}
}

// getBody polls once and checks for a 200.
func (e *env) getBody(sid string) string {
	e.t.Helper()
	r := e.get(sid)
	if r.status != 200 {
		e.t.Fatalf("GET: %d %q, want 200", r.status, r.body)
	}
	return r.body
}

// asyncGet starts a GET and returns its answer on a channel.
func (e *env) asyncGet(sid string) <-chan response {
	ch := make(chan response, 1)
	go func() {
		res, err := e.ts.Client().Get(e.base + "?EIO=4&transport=polling&sid=" + sid)
		if err != nil {
			ch <- response{status: -1, body: err.Error()}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		ch <- response{res.StatusCode, res.Header, string(b)}
	}()
	return ch
}

func recv(t *testing.T, ch <-chan response) response {
	t.Helper()
	select {
	case r := <-ch:
		if r.status < 0 {
			t.Fatalf("request failed: %s", r.body)
		}
		return r
	case <-time.After(waitTimeout):
		t.Fatal("no answer")
		return response{}
	}
}

// waitFor polls cond until it holds.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitTimeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

// parked reports whether session sid has a GET waiting.
func (e *env) parked(sid string) bool {
	c := e.conn(sid)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.poll != nil
}

// waitParked waits until a GET of session sid is held by the server.
func (e *env) waitParked(sid string) {
	e.t.Helper()
	waitFor(e.t, "a parked GET", func() bool { return e.parked(sid) })
}

type openPacket struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int64    `json:"pingInterval"`
	PingTimeout  int64    `json:"pingTimeout"`
	MaxPayload   int64    `json:"maxPayload"`
}

// parseOpen checks an open packet's shape: type 0 and exactly the five keys.
func parseOpen(t *testing.T, s string) openPacket {
	t.Helper()
	if !strings.HasPrefix(s, "0{") {
		t.Fatalf("not an open packet: %q", s)
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal([]byte(s[1:]), &keys); err != nil {
		t.Fatalf("open packet %q: %v", s, err)
	}
	if len(keys) != 5 {
		t.Fatalf("open packet %q has %d keys, want 5", s, len(keys))
	}
	var p openPacket
	dec := json.NewDecoder(strings.NewReader(s[1:]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("open packet %q: %v", s, err)
	}
	return p
}

// openPolling runs a polling handshake.
func (e *env) openPolling() (string, *testHandler) {
	e.t.Helper()
	r := e.request("GET", "EIO=4&transport=polling", nil)
	if r.status != 200 {
		e.t.Fatalf("handshake: %d %q", r.status, r.body)
	}
	p := parseOpen(e.t, r.body)
	return p.SID, e.handler(p.SID)
}

// dial opens a WebSocket with query q.
func (e *env) dial(q string) (*websocket.Conn, error) {
	ws, res, err := websocket.DefaultDialer.Dial(e.ws+"?"+q, nil)
	if res != nil && res.Body != nil {
		res.Body.Close()
	}
	if err == nil {
		e.t.Cleanup(func() { ws.Close() })
	}
	return ws, err
}

func (e *env) mustDial(q string) *websocket.Conn {
	e.t.Helper()
	ws, err := e.dial(q)
	if err != nil {
		e.t.Fatalf("dial %s: %v", q, err)
	}
	return ws
}

// openWS runs a WebSocket handshake.
func (e *env) openWS() (*websocket.Conn, string, *testHandler) {
	e.t.Helper()
	ws := e.mustDial("EIO=4&transport=websocket")
	mt, data := readWS(e.t, ws)
	if mt != websocket.TextMessage {
		e.t.Fatalf("open packet in a %d frame", mt)
	}
	p := parseOpen(e.t, data)
	return ws, p.SID, e.handler(p.SID)
}

// readWS reads one message.
func readWS(t *testing.T, ws *websocket.Conn) (int, string) {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	mt, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatalf("reading WebSocket: %v", err)
	}
	return mt, string(b)
}

// readText reads one text message and checks it.
func readText(t *testing.T, ws *websocket.Conn, want string) {
	t.Helper()
	mt, got := readWS(t, ws)
	if mt != websocket.TextMessage || got != want {
		t.Fatalf("read (%d) %q, want text %q", mt, got, want)
	}
}

func writeText(t *testing.T, ws *websocket.Conn, s string) {
	t.Helper()
	if err := ws.WriteMessage(websocket.TextMessage, []byte(s)); err != nil {
		t.Fatalf("writing %q: %v", s, err)
	}
}

// expectWSClosed reads until the connection ends and returns the error,
// failing on any further data message.
func expectWSClosed(t *testing.T, ws *websocket.Conn) error {
	t.Helper()
	_ = ws.SetReadDeadline(time.Now().Add(waitTimeout))
	for {
		mt, b, err := ws.ReadMessage()
		if err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("WebSocket still open: %v", err)
			}
			return err
		}
		t.Fatalf("unexpected message (%d) %q before close", mt, b)
	}
}

// errorBody is the reference server's JSON error for code.
func errorBody(code int) string {
	msg, _ := json.Marshal(errorMessages[code])
	return `{"code":` + string(rune('0'+code)) + `,"message":` + string(msg) + `}`
}

// expectError checks an Engine.IO error answer exactly.
func expectError(t *testing.T, r response, status, code int) {
	t.Helper()
	if r.status != status || r.body != errorBody(code) {
		t.Fatalf("got %d %q, want %d %q", r.status, r.body, status, errorBody(code))
	}
	if ct := r.header.Get("Content-Type"); ct != "application/json" {
		t.Fatalf("error Content-Type %q, want application/json", ct)
	}
}
