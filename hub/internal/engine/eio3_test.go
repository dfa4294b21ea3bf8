package engine

import (
	"bytes"
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub/internal/eio"
)

// The revision 3 (socket.io-client 2.x) tests speak the protocol by hand;
// hub's TestCompatV2 runs the real client.

// openV3Polling runs a revision 3 polling handshake with extra query and
// returns the session id, its handler and the raw answer.
func (e *env) openV3Polling(extra string) (string, *testHandler, response) {
	e.t.Helper()
	r := e.request("GET", "EIO=3&transport=polling"+extra, nil)
	if r.status != 200 {
		e.t.Fatalf("handshake: %d %q", r.status, r.body)
	}
	colon := strings.IndexByte(r.body, ':')
	if colon < 0 {
		e.t.Fatalf("handshake answer %q is not a revision 3 payload", r.body)
	}
	n, err := strconv.Atoi(r.body[:colon])
	if err != nil || n != len(r.body)-colon-1 {
		e.t.Fatalf("handshake answer %q: length prefix does not match", r.body)
	}
	p := parseOpen(e.t, r.body[colon+1:])
	return p.SID, e.handler(p.SID), r
}

func (e *env) getV3(sid string) response {
	e.t.Helper()
	return e.request("GET", "EIO=3&transport=polling&sid="+sid, nil)
}

func (e *env) postV3(sid, contentType string, body []byte) response {
	e.t.Helper()
	req, err := http.NewRequest("POST", e.base+"?EIO=3&transport=polling&sid="+sid, bytes.NewReader(body))
	if err != nil {
		e.t.Fatal(err)
	}
	req.Header.Set("Content-Type", contentType)
	return e.do(req)
}

func (e *env) postV3OK(sid, body string) {
	e.t.Helper()
	if r := e.postV3(sid, "text/plain;charset=UTF-8", []byte(body)); r.status != 200 || r.body != "ok" {
		e.t.Fatalf("POST %q: %d %q, want 200 ok", body, r.status, r.body)
	}
}

// TestEIO3Refused: without AllowEIO3, a revision 3 handshake gets the
// reference's answer on both transports.
func TestEIO3Refused(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	expectError(t, e.request("GET", "EIO=3&transport=polling", nil), 400, codeUnsupportedVersion)
	if _, err := e.dial("EIO=3&transport=websocket"); err == nil {
		t.Fatal("revision 3 WebSocket accepted")
	}
	if got := errorMessages[codeUnsupportedVersion]; got != "Unsupported protocol version" {
		t.Fatalf("message %q", got)
	}
}

func TestEIO3Polling(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{AllowEIO3: true, PingInterval: time.Hour, PingTimeout: time.Hour})
	sid, h, open := e.openV3Polling("")
	if ct := open.header.Get("Content-Type"); ct != "text/plain; charset=UTF-8" {
		t.Fatalf("handshake Content-Type %q", ct)
	}
	if p := e.conn(sid).Protocol(); p != 3 {
		t.Fatalf("Protocol() = %d, want 3", p)
	}

	// Text both ways, lengths in UTF-16 code units.
	e.postV3OK(sid, "6:4hello4:4é😀")
	if m := h.nextMsg(t); m != (msg{"hello", false}) {
		t.Fatalf("got %+v", m)
	}
	if m := h.nextMsg(t); m != (msg{"é😀", false}) {
		t.Fatalf("got %+v", m)
	}
	if r := e.getV3(sid); r.body != "6:4hello4:4é😀" {
		t.Fatalf("GET %q", r.body)
	}

	// A binary message in a text payload, echoed: this client reads
	// binary payloads, so the answer is one.
	e.postV3OK(sid, "6:b4AQID")
	if m := h.nextMsg(t); m != (msg{"\x01\x02\x03", true}) {
		t.Fatalf("got %+v", m)
	}
	r := e.getV3(sid)
	if want := "\x01\x04\xff\x04\x01\x02\x03"; r.body != want || r.header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("GET %q (%s), want %q as application/octet-stream", r.body, r.header.Get("Content-Type"), want)
	}

	// A binary payload from the client.
	var body []byte
	body = eio.AppendBinaryPayloadTextV3(body, []byte("4text"))
	body = eio.AppendBinaryPayloadBinaryV3(body, []byte{0xff, 0})
	if r := e.postV3(sid, "application/octet-stream", body); r.status != 200 || r.body != "ok" {
		t.Fatalf("binary POST: %d %q", r.status, r.body)
	}
	if m := h.nextMsg(t); m != (msg{"text", false}) {
		t.Fatalf("got %+v", m)
	}
	if m := h.nextMsg(t); m != (msg{"\xff\x00", true}) {
		t.Fatalf("got %+v", m)
	}
	want := append(eio.AppendBinaryPayloadTextV3(nil, []byte("4text")), eio.AppendBinaryPayloadBinaryV3(nil, []byte{0xff, 0})...)
	if r := e.getV3(sid); r.body != string(want) {
		t.Fatalf("GET %q, want %q", r.body, want)
	}

	// The client closes.
	e.postV3OK(sid, "1:1")
	h.expectClose(t, ReasonTransportClose)
}

// TestEIO3PollingBase64: a client that asked for b64 gets binary messages
// in text form.
func TestEIO3PollingBase64(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{AllowEIO3: true, PingInterval: time.Hour, PingTimeout: time.Hour})
	sid, h, _ := e.openV3Polling("&b64=1")
	e.postV3OK(sid, "6:b4AQID2:4a")
	h.nextMsg(t)
	h.nextMsg(t)
	r := e.getV3(sid)
	if r.body != "6:b4AQID2:4a" || r.header.Get("Content-Type") != "text/plain; charset=UTF-8" {
		t.Fatalf("GET %q (%s)", r.body, r.header.Get("Content-Type"))
	}
}

// TestEIO3Heartbeat: the client pings and the server answers; a session
// that keeps pinging outlives PingInterval+PingTimeout many times, one that
// stops is timed out, and a pong from the client is an error.
func TestEIO3Heartbeat(t *testing.T) {
	t.Parallel()
	const interval, timeout = 100 * time.Millisecond, 200 * time.Millisecond
	cfg := Config{AllowEIO3: true, PingInterval: interval, PingTimeout: timeout}

	t.Run("polling", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cfg)
		sid, h, _ := e.openV3Polling("")
		// A pong alone each time: the server never pings.
		start := time.Now()
		for i := 0; i < 3 || time.Since(start) < 4*(interval+timeout); i++ {
			e.postV3OK(sid, "1:2")
			if r := e.getV3(sid); r.status != 200 || r.body != "1:3" {
				t.Fatalf("ping %d answered %d %q, want a pong", i, r.status, r.body)
			}
		}
		if h.isClosed() {
			t.Fatal("session closed although the client kept pinging")
		}
		// Then silence: the timeout ends it.
		h.expectClose(t, ReasonPingTimeout)
	})
	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cfg)
		ws := e.mustDial("EIO=3&transport=websocket")
		_, open := readWS(t, ws)
		h := e.handler(parseOpen(t, open).SID)
		start := time.Now()
		for i := 0; i < 3 || time.Since(start) < 4*(interval+timeout); i++ {
			writeText(t, ws, "2")
			readText(t, ws, "3")
		}
		if h.isClosed() {
			t.Fatal("session closed although the client kept pinging")
		}
		h.expectClose(t, ReasonPingTimeout)
	})
	t.Run("pong from the client", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, Config{AllowEIO3: true, PingInterval: time.Hour, PingTimeout: time.Hour})
		sid, h, _ := e.openV3Polling("")
		e.postV3(sid, "text/plain", []byte("1:3"))
		h.expectClose(t, ReasonTransportError)
	})
}

func TestEIO3WebSocket(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{AllowEIO3: true, PingInterval: time.Hour, PingTimeout: time.Hour})
	ws := e.mustDial("EIO=3&transport=websocket")
	mt, open := readWS(t, ws)
	if mt != websocket.TextMessage {
		t.Fatalf("open packet in a %d frame", mt)
	}
	sid := parseOpen(t, open).SID
	h := e.handler(sid)
	if p := e.conn(sid).Protocol(); p != 3 {
		t.Fatalf("Protocol() = %d, want 3", p)
	}

	writeText(t, ws, "4hi")
	readText(t, ws, "4hi")
	h.nextMsg(t)

	// Binary frames carry the message type byte both ways.
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte{4, 1, 2}); err != nil {
		t.Fatal(err)
	}
	if m := h.nextMsg(t); m != (msg{"\x01\x02", true}) {
		t.Fatalf("got %+v", m)
	}
	if mt, got := readWS(t, ws); mt != websocket.BinaryMessage || got != "\x04\x01\x02" {
		t.Fatalf("read (%d) %q, want binary 04 01 02", mt, got)
	}
	// A binary message in text form.
	writeText(t, ws, "b4AQI=")
	if m := h.nextMsg(t); m != (msg{"\x01\x02", true}) {
		t.Fatalf("got %+v", m)
	}
	readWS(t, ws)

	// A binary frame that is not a message ends the session.
	if err := ws.WriteMessage(websocket.BinaryMessage, []byte{2, 1}); err != nil {
		t.Fatal(err)
	}
	h.expectClose(t, ReasonParseError)
}

// TestEIO3Upgrade: a revision 3 polling session moves to WebSocket with the
// same probe, and keeps revision 3 framing there.
func TestEIO3Upgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{AllowEIO3: true, PingInterval: time.Hour, PingTimeout: time.Hour})
	sid, h, open := e.openV3Polling("")
	var o openPacket
	if err := json.Unmarshal([]byte(open.body[strings.IndexByte(open.body, '{'):]), &o); err != nil || len(o.Upgrades) != 1 || o.Upgrades[0] != "websocket" {
		t.Fatalf("open %q: upgrades %v", open.body, o.Upgrades)
	}

	// A request of the other revision is refused.
	expectError(t, e.get(sid), 400, codeBadRequest)

	ws := e.mustDial("EIO=3&transport=websocket&sid=" + sid)
	writeText(t, ws, "2probe")
	readText(t, ws, "3probe")
	writeText(t, ws, "5")
	waitFor(t, "the upgrade", func() bool { return e.conn(sid).Transport() == "websocket" })
	h.c.Send([]Frame{{Data: []byte{9}, Binary: true}}, false)
	if mt, got := readWS(t, ws); mt != websocket.BinaryMessage || got != "\x04\x09" {
		t.Fatalf("read (%d) %q, want binary 04 09", mt, got)
	}
	writeText(t, ws, "2")
	readText(t, ws, "3")
}

// TestEIO3HostilePayloads: a payload whose lengths lie ends the session
// with a 400 and allocates nothing for the length it claims.
func TestEIO3HostilePayloads(t *testing.T) {
	t.Parallel()
	bodies := []struct {
		contentType string
		body        []byte
	}{
		{"text/plain", []byte("99999999999999999999:4")},
		{"text/plain", []byte("9223372036854775807:4a")},
		{"text/plain", []byte("-1:4")},
		{"text/plain", []byte("3:4a")},
		{"text/plain", []byte("4")},
		{"application/octet-stream", []byte{1, 9, 9, 9, 9, 9, 9, 9, 9, 9, 0xff, 4}},
		{"application/octet-stream", []byte{0, 1, 2, 3, 4}},
		{"application/octet-stream", []byte{7, 1, 0xff, '2'}},
	}
	e := newEnv(t, Config{AllowEIO3: true, PingInterval: time.Hour, PingTimeout: time.Hour})
	for _, b := range bodies {
		sid, h, _ := e.openV3Polling("")
		r := e.postV3(sid, b.contentType, b.body)
		if r.status != 400 {
			t.Errorf("POST %q: %d %q, want 400", b.body, r.status, r.body)
		}
		h.expectClose(t, ReasonParseError)
	}
}
