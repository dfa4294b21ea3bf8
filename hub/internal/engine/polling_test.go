package engine

import (
	"context"
	"io"
	"math"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

func TestPollingEcho(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()

	r := e.post(sid, "4hello")
	if r.status != 200 || r.body != "ok" {
		t.Fatalf("POST: %d %q", r.status, r.body)
	}
	for k, v := range map[string]string{"Content-Type": "text/html", "Content-Length": "2", "Cache-Control": "no-store"} {
		if got := r.header.Get(k); got != v {
			t.Errorf("POST %s: %q, want %q", k, got, v)
		}
	}
	if m := h.nextMsg(t); m != (msg{"hello", false}) {
		t.Fatalf("handler got %+v", m)
	}
	r = e.get(sid)
	if r.status != 200 || r.body != "4hello" {
		t.Fatalf("GET: %d %q", r.status, r.body)
	}
	for k, v := range map[string]string{"Content-Type": "text/plain; charset=UTF-8", "Content-Length": "6", "Cache-Control": "no-store"} {
		if got := r.header.Get(k); got != v {
			t.Errorf("GET %s: %q, want %q", k, got, v)
		}
	}
}

// TestPollingPayloads: every packet of a POST is handed over in order, and
// the replies queued meanwhile come back together in one GET.
func TestPollingPayloads(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		body string
		msgs []msg
	}{
		{"one", "4a", []msg{{"a", false}}},
		{"several", "4a\x1e4b\x1e4c", []msg{{"a", false}, {"b", false}, {"c", false}}},
		{"empty message", "4", []msg{{"", false}}},
		{"utf-8", "4é€😀", []msg{{"é€😀", false}}},
		{"binary", "bAQIDBA==", []msg{{"\x01\x02\x03\x04", true}}},
		{"text and binary", "4hello\x1ebAQIDBA==", []msg{{"hello", false}, {"\x01\x02\x03\x04", true}}},
		{"empty binary", "b\x1e4x", []msg{{"", true}, {"x", false}}},
		{"pong and noop are not messages", "3\x1e4a\x1e6\x1e4b", []msg{{"a", false}, {"b", false}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			sid, h := e.openPolling()
			e.postOK(sid, tc.body)
			var want []string
			for _, m := range tc.msgs {
				if got := h.nextMsg(t); got != m {
					t.Fatalf("handler got %+v, want %+v", got, m)
				}
				want = append(want, string(appendPayload(nil, []Frame{echoFrame([]byte(m.data), m.binary)})))
			}
			if got, want := e.getBody(sid), strings.Join(want, "\x1e"); got != want {
				t.Fatalf("GET %q, want %q", got, want)
			}
		})
	}
}

// TestPollingGetWaits: a GET with nothing to send is held until something
// is queued, then carries all of it.
func TestPollingGetWaits(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()

	ch := e.asyncGet(sid)
	e.waitParked(sid)
	select {
	case r := <-ch:
		t.Fatalf("GET answered with nothing queued: %d %q", r.status, r.body)
	default:
	}
	h.c.Send([]Frame{Text(4, []byte("x")), {Data: []byte{0xff}, Binary: true}}, false)
	if r := recv(t, ch); r.status != 200 || r.body != "4x\x1eb/w==" {
		t.Fatalf("GET: %d %q", r.status, r.body)
	}

	// Frames queued without a GET wait for the next one.
	h.c.Send([]Frame{Text(4, []byte("1"))}, false)
	h.c.Send([]Frame{Text(4, []byte("2")), Text(4, []byte("3"))}, false)
	if got := e.getBody(sid); got != "41\x1e42\x1e43" {
		t.Fatalf("GET %q", got)
	}
}

// TestPollingDuplicateGet: a second GET is refused with 400 and ends the
// session; the first gets a close packet.
func TestPollingDuplicateGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()

	first := e.asyncGet(sid)
	e.waitParked(sid)
	// The reference answers 400 with an empty body; hubd adds its JSON error.
	expectError(t, e.get(sid), 400, 3)
	if r := recv(t, first); r.status != 200 || r.body != "1" {
		t.Fatalf("first GET: %d %q, want 200 \"1\"", r.status, r.body)
	}
	h.expectClose(t, ReasonTransportError)
	expectError(t, e.get(sid), 400, 1)
	expectError(t, e.post(sid, "4x"), 400, 1)
}

// slowPost starts a POST whose body is written by the test.
func (e *env) slowPost(sid string) (*io.PipeWriter, <-chan response) {
	pr, pw := io.Pipe()
	ch := make(chan response, 1)
	go func() {
		res, err := e.ts.Client().Post(e.base+"?EIO=4&transport=polling&sid="+sid, "text/plain;charset=UTF-8", pr)
		if err != nil {
			ch <- response{status: -1, body: err.Error()}
			return
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		ch <- response{res.StatusCode, res.Header, string(b)}
	}()
	return pw, ch
}

func (e *env) posting(sid string) bool {
	c := e.conn(sid)
	if c == nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.posting
}

// TestPollingOverlappingPost: a POST while another is being read is refused
// and ends the session; the first one, finishing late, is not dispatched.
func TestPollingOverlappingPost(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()

	pw, first := e.slowPost(sid)
	if _, err := pw.Write([]byte("4fir")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the first POST to be read", func() bool { return e.posting(sid) })
	expectError(t, e.post(sid, "4second"), 400, 3)
	h.expectClose(t, ReasonTransportError)

	_, _ = pw.Write([]byte("st"))
	pw.Close()
	expectError(t, recv(t, first), 400, 1)
	select {
	case m := <-h.msgs:
		t.Fatalf("message %+v delivered from a closed session", m)
	default:
	}
	expectError(t, e.get(sid), 400, 1)
}

// TestPollingSequentialPosts: POSTs one after the other are all fine.
func TestPollingSequentialPosts(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	var want []string
	for i := 0; i < 20; i++ {
		s := strings.Repeat("x", i)
		e.postOK(sid, "4"+s)
		if m := h.nextMsg(t); m.data != s {
			t.Fatalf("got %q", m.data)
		}
		want = append(want, "4"+s)
	}
	if got := e.getBody(sid); got != strings.Join(want, "\x1e") {
		t.Fatalf("GET %q", got)
	}
}

func TestPollingCancelledGet(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequestWithContext(ctx, "GET", e.base+"?EIO=4&transport=polling&sid="+sid, nil)
		res, err := e.ts.Client().Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	e.waitParked(sid)
	cancel()
	if err := <-done; err == nil {
		t.Fatal("cancelled GET was answered")
	}
	h.expectClose(t, ReasonTransportError)
	expectError(t, e.get(sid), 400, 1)
}

func TestPollingOctetStream(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()

	req, _ := http.NewRequest("POST", e.base+"?EIO=4&transport=polling&sid="+sid, strings.NewReader("4hello"))
	req.Header.Set("Content-Type", "application/octet-stream")
	// The reference answers 400 with an empty body; hubd adds its JSON error.
	expectError(t, e.do(req), 400, 3)
	h.expectClose(t, ReasonTransportError)
	select {
	case m := <-h.msgs:
		t.Fatalf("binary body dispatched: %+v", m)
	default:
	}
	expectError(t, e.get(sid), 400, 1)
}

// chunked hides a reader's length so the request goes out chunked.
type chunked struct{ r io.Reader }

func (c chunked) Read(p []byte) (int, error) { return c.r.Read(p) }

func TestPollingBodyLimit(t *testing.T) {
	t.Parallel()
	const limit = 100
	for _, tc := range []struct {
		name    string
		size    int
		chunked bool
		status  int
	}{
		{"at the limit", limit, false, 200},
		{"at the limit, chunked", limit, true, 200},
		{"over by one", limit + 1, false, 413},
		{"over by one, chunked", limit + 1, true, 413},
		{"far over", 1 << 20, false, 413},
		{"far over, chunked", 1 << 20, true, 413},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{MaxPayload: limit})
			sid, h := e.openPolling()
			body := "4" + strings.Repeat("a", tc.size-1)
			var rd io.Reader = strings.NewReader(body)
			if tc.chunked {
				rd = chunked{rd}
			}
			req, _ := http.NewRequest("POST", e.base+"?EIO=4&transport=polling&sid="+sid, rd)
			r := e.do(req)
			if tc.status == 413 {
				if r.status != 413 || r.body != "" {
					t.Fatalf("POST of %d bytes: %d %q, want 413 and no body", tc.size, r.status, r.body)
				}
				select {
				case m := <-h.msgs:
					t.Fatalf("oversize body dispatched: %d bytes", len(m.data))
				default:
				}
			} else {
				if r.status != 200 || r.body != "ok" {
					t.Fatalf("POST of %d bytes: %d %q", tc.size, r.status, r.body)
				}
				if got := e.getBody(sid); got != body {
					t.Fatalf("echo of %d bytes, want %d", len(got), len(body))
				}
			}
			// The session is still usable.
			e.postOK(sid, "4next")
			if got := e.getBody(sid); got != "4next" {
				t.Fatalf("GET %q", got)
			}
			if h.isClosed() {
				t.Fatal("session closed")
			}
		})
	}
}

// TestPollingHugeMaxPayload: a MaxPayload at the top of int64 once made
// the body reader's limit+1 overflow, and every body read as empty.
func TestPollingHugeMaxPayload(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxPayload: math.MaxInt64})
	sid, h := e.openPolling()
	e.postOK(sid, "4hello")
	if m := h.nextMsg(t); m.data != "hello" {
		t.Fatalf("got %q", m.data)
	}
}

// TestPollingParseError: a malformed packet ends the session with "parse
// error"; the packets before it are delivered, those after it are not.
func TestPollingParseError(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		body   string
		before []string // messages delivered first
	}{
		{"unknown type", "abc", nil},
		{"type 7", "7x", nil},
		{"empty body", "", nil},
		{"bad base64", "b!!!", nil},
		{"unpadded base64", "bAQIDBA", nil},
		{"non-UTF-8 text", "4\xff\xfe", nil},
		{"bad packet after good ones", "4a\x1e4b\x1ex\x1e4c", []string{"a", "b"}},
		{"trailing separator", "4a\x1e", []string{"a"}},
		{"empty packet", "4a\x1e\x1e4b", []string{"a"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			sid, h := e.openPolling()
			e.setupNoEcho(h)
			pending := e.asyncGet(sid)
			e.waitParked(sid)
			// The suite expects 400 (the reference answers "ok").
			expectError(t, e.post(sid, tc.body), 400, 3)
			for _, want := range tc.before {
				if m := h.nextMsg(t); m.data != want {
					t.Fatalf("got %q, want %q", m.data, want)
				}
			}
			h.expectClose(t, ReasonParseError)
			select {
			case m := <-h.msgs:
				t.Fatalf("message %q delivered after the bad packet", m.data)
			default:
			}
			if r := recv(t, pending); r.status != 200 || r.body != "1" {
				t.Fatalf("pending GET: %d %q, want \"1\"", r.status, r.body)
			}
			expectError(t, e.get(sid), 400, 1)
		})
	}
}

// setupNoEcho turns a session's echo off, so that its GETs stay parked.
func (e *env) setupNoEcho(h *testHandler) {
	h.mu.Lock()
	defer h.mu.Unlock()
	// Messages are only recorded; nothing is sent back.
	h.onMessage = func(*testHandler, []byte, bool) {}
}

// TestPollingClientPing: v4 clients must not ping.
func TestPollingClientPing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	e.postOK(sid, "4a\x1e2\x1e4b")
	if m := h.nextMsg(t); m.data != "a" {
		t.Fatalf("got %q", m.data)
	}
	h.expectClose(t, ReasonTransportError)
	select {
	case m := <-h.msgs:
		t.Fatalf("message %q delivered after the ping", m.data)
	default:
	}
	expectError(t, e.get(sid), 400, 1)
}

// TestPollingClientClose: a close packet ends the session; a pending GET
// gets a noop.
func TestPollingClientClose(t *testing.T) {
	t.Parallel()
	t.Run("GET pending", func(t *testing.T) {
		e := newEnv(t, Config{})
		sid, h := e.openPolling()
		e.setupNoEcho(h)
		pending := e.asyncGet(sid)
		e.waitParked(sid)
		e.postOK(sid, "4a\x1e1\x1e4b")
		if r := recv(t, pending); r.status != 200 || r.body != "6" {
			t.Fatalf("pending GET: %d %q, want \"6\"", r.status, r.body)
		}
		h.expectClose(t, ReasonTransportClose)
		if m := h.nextMsg(t); m.data != "a" {
			t.Fatalf("got %q", m.data)
		}
		select {
		case m := <-h.msgs:
			t.Fatalf("message %q delivered after the close packet", m.data)
		default:
		}
		expectError(t, e.get(sid), 400, 1)
		expectError(t, e.post(sid, "4x"), 400, 1)
	})
	t.Run("GET on its way", func(t *testing.T) {
		e := newEnv(t, Config{})
		sid, h := e.openPolling()
		e.postOK(sid, "1")
		h.expectClose(t, ReasonTransportClose)
		// The GET that was on its way gets the noop it would have got
		// had it arrived first; after that the session is unknown.
		if r := e.get(sid); r.status != 200 || r.body != "6" {
			t.Fatalf("racing GET: %d %q, want \"6\"", r.status, r.body)
		}
		expectError(t, e.get(sid), 400, 1)
	})
}

// TestPollingNoMessageAfterClose: once the session is closed, the rest of
// a POST is not delivered.
func TestPollingNoMessageAfterClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxBufferedBytes: 10})
	sid, h := e.openPolling()
	h.mu.Lock()
	h.onMessage = func(h *testHandler, data []byte, _ bool) {
		if string(data) == "big" {
			// Overflow the queue (closing the session from another
			// goroutine) and wait until that close is done.
			if h.c.Send([]Frame{Text(4, make([]byte, 100))}, false) {
				panic("Send over MaxBufferedBytes succeeded")
			}
			deadline := time.Now().Add(waitTimeout)
			for !h.isClosed() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
	}
	h.mu.Unlock()
	r := e.post(sid, "4big\x1e4after")
	if r.status != 200 || r.body != "ok" {
		t.Fatalf("POST: %d %q", r.status, r.body)
	}
	h.expectClose(t, ReasonTransportError)
	if m := h.nextMsg(t); m.data != "big" {
		t.Fatalf("got %q", m.data)
	}
	// newEnv's cleanup fails the test if "after" was delivered.
}

// TestPollingVolatile: a volatile send goes out only to a waiting GET.
func TestPollingVolatile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	if h.c.Send([]Frame{Text(4, []byte("lost"))}, true) {
		t.Fatal("volatile Send queued with no GET waiting")
	}
	ch := e.asyncGet(sid)
	e.waitParked(sid)
	if !h.c.Send([]Frame{Text(4, []byte("kept"))}, true) {
		t.Fatal("volatile Send refused with a GET waiting")
	}
	if r := recv(t, ch); r.body != "4kept" {
		t.Fatalf("GET %q", r.body)
	}
}

// TestPollReleasedThenPingTimeout: a parked GET released to carry a
// message, whose session then times out before the GET takes its frames,
// answers with the close packet, as the reference answers a poll waiting
// when the session closes, and never with an empty 200. The race is made
// to happen: the test hook ends the session between the release and the
// GET's taking the lock again.
func TestPollReleasedThenPingTimeout(t *testing.T) {
	t.Parallel()
	var armed sync.Once
	fire := make(chan struct{})
	e := newEnv(t, Config{PingInterval: time.Hour, PingTimeout: time.Hour, testPollWoken: func(c *Conn) {
		select {
		case <-fire:
		default:
			return
		}
		armed.Do(func() {
			// What the timeout timer does when the pong is overdue.
			c.mu.Lock()
			c.awaitingPong = true
			c.pingAt = time.Now().Add(-time.Second)
			c.mu.Unlock()
			c.onHeartbeat()
		})
	}})
	sid, h := e.openPolling()
	pending := e.asyncGet(sid)
	e.waitParked(sid)
	close(fire)
	if !h.c.Send([]Frame{Text(4, []byte("late"))}, false) {
		t.Fatal("Send refused on an open session")
	}
	h.expectClose(t, ReasonPingTimeout)
	if r := recv(t, pending); r.status != 200 || r.body != "1" {
		t.Fatalf("released GET: %d %q, want 200 \"1\" (the close packet)", r.status, r.body)
	}
	expectError(t, e.get(sid), 400, 1)
}
