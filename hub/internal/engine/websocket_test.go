package engine

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestWebSocketEcho(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, _, h := e.openWS()
	for _, tc := range []struct {
		name     string
		mt       int
		in       string
		msg      msg
		wantMT   int
		wantData string
	}{
		{"text", websocket.TextMessage, "4hello", msg{"hello", false}, websocket.TextMessage, "4hello"},
		{"empty text", websocket.TextMessage, "4", msg{"", false}, websocket.TextMessage, "4"},
		{"utf-8", websocket.TextMessage, "4é😀", msg{"é😀", false}, websocket.TextMessage, "4é😀"},
		{"binary", websocket.BinaryMessage, "\x01\x02\x03", msg{"\x01\x02\x03", true}, websocket.BinaryMessage, "\x01\x02\x03"},
		{"binary that looks like text", websocket.BinaryMessage, "4hi", msg{"4hi", true}, websocket.BinaryMessage, "4hi"},
		{"empty binary", websocket.BinaryMessage, "", msg{"", true}, websocket.BinaryMessage, ""},
		{"base64 text frame", websocket.TextMessage, "bAQIDBA==", msg{"\x01\x02\x03\x04", true}, websocket.BinaryMessage, "\x01\x02\x03\x04"},
	} {
		if err := ws.WriteMessage(tc.mt, []byte(tc.in)); err != nil {
			t.Fatal(err)
		}
		if m := h.nextMsg(t); m != tc.msg {
			t.Fatalf("%s: handler got %+v, want %+v", tc.name, m, tc.msg)
		}
		mt, data := readWS(t, ws)
		if mt != tc.wantMT || data != tc.wantData {
			t.Fatalf("%s: echo (%d) %q, want (%d) %q", tc.name, mt, data, tc.wantMT, tc.wantData)
		}
	}
	// Pongs and noops from the client are not messages.
	writeText(t, ws, "3")
	writeText(t, ws, "6")
	writeText(t, ws, "4after")
	if m := h.nextMsg(t); m.data != "after" {
		t.Fatalf("handler got %+v", m)
	}
	readText(t, ws, "4after")
}

func TestWebSocketInvalidPacket(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   string
	}{
		{"unknown type", "abc"},
		{"type 7", "7"},
		{"empty frame", ""},
		{"bad base64", "b!!"},
		{"non-UTF-8", "4\xff"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			ws, sid, h := e.openWS()
			writeText(t, ws, tc.in)
			h.expectClose(t, ReasonParseError)
			expectWSClosed(t, ws)
			if e.conn(sid) != nil {
				t.Fatal("closed session still in the table")
			}
		})
	}
}

func TestWebSocketMaxPayload(t *testing.T) {
	t.Parallel()
	const limit = 100
	for _, tc := range []struct {
		name   string
		mt     int
		size   int
		closes bool
	}{
		{"text at the limit", websocket.TextMessage, limit, false},
		{"binary at the limit", websocket.BinaryMessage, limit, false},
		{"text over", websocket.TextMessage, limit + 1, true},
		{"binary over", websocket.BinaryMessage, limit + 1, true},
		{"far over", websocket.BinaryMessage, 1 << 20, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{MaxPayload: limit})
			ws, _, h := e.openWS()
			data := "4" + strings.Repeat("x", tc.size-1)
			if err := ws.WriteMessage(tc.mt, []byte(data)); err != nil {
				t.Fatal(err)
			}
			if !tc.closes {
				if _, got := readWS(t, ws); len(got) != tc.size {
					t.Fatalf("echo of %d bytes, want %d", len(got), tc.size)
				}
				return
			}
			err := expectWSClosed(t, ws)
			if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
				t.Fatalf("connection ended with %v, want close 1009", err)
			}
			h.expectClose(t, ReasonTransportClose)
			select {
			case m := <-h.msgs:
				t.Fatalf("oversize message of %d bytes delivered", len(m.data))
			default:
			}
		})
	}
}

func TestWebSocketClientCloses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		close func(ws *websocket.Conn) error
	}{
		{"close packet", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.TextMessage, []byte("1"))
		}},
		{"close frame", func(ws *websocket.Conn) error {
			return ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""))
		}},
		{"connection dropped", func(ws *websocket.Conn) error { return ws.NetConn().Close() }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, Config{})
			ws, sid, h := e.openWS()
			if err := tc.close(ws); err != nil {
				t.Fatal(err)
			}
			h.expectClose(t, ReasonTransportClose)
			waitFor(t, "the session to leave the table", func() bool { return e.conn(sid) == nil })
			if h.c.Send([]Frame{Text(4, []byte("x"))}, false) {
				t.Fatal("Send on a closed session succeeded")
			}
		})
	}
}

// TestWebSocketPing: a ping control frame gets its pong through the
// session's writer, in order with the data frames, never concurrently.
func TestWebSocketPing(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, _, h := e.openWS()

	var mu sync.Mutex
	var pongs []string
	ws.SetPongHandler(func(s string) error {
		mu.Lock()
		pongs = append(pongs, s)
		mu.Unlock()
		return nil
	})
	if err := ws.WriteControl(websocket.PingMessage, []byte("hey"), time.Now().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	writeText(t, ws, "4x")
	readText(t, ws, "4x") // the pong was queued first, so it has been read
	mu.Lock()
	got := fmt.Sprint(pongs)
	mu.Unlock()
	if got != "[hey]" {
		t.Fatalf("pongs %s, want [hey]", got)
	}

	// Pings while the server streams data: every frame arrives intact.
	const frames, pings = 2000, 200
	go func() {
		payload := bytes.Repeat([]byte("y"), 300)
		for i := 0; i < frames; i++ {
			h.c.Send([]Frame{Text(4, append(strconv.AppendInt(nil, int64(i), 10), payload...))}, false)
		}
	}()
	done := make(chan error, 1)
	go func() {
		for i := 0; i < pings; i++ {
			if err := ws.WriteControl(websocket.PingMessage, []byte(strconv.Itoa(i)), time.Now().Add(time.Second)); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	for i := 0; i < frames; i++ {
		_, data := readWS(t, ws)
		if want := "4" + strconv.Itoa(i); !strings.HasPrefix(data, want+"y") {
			t.Fatalf("frame %d: %.20q", i, data)
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	// The last pongs may still be on their way: a final echo follows them.
	writeText(t, ws, "4end")
	readText(t, ws, "4end")
	mu.Lock()
	defer mu.Unlock()
	if len(pongs) != pings+1 {
		t.Fatalf("%d pongs, want %d", len(pongs), pings+1)
	}
	for i, p := range pongs[1:] {
		if p != strconv.Itoa(i) {
			t.Fatalf("pong %d is %q", i, p)
		}
	}
}

// TestWebSocketOrder: frames queued by one goroutine arrive in order, all
// of them, whatever their size (batched copies and writev).
func TestWebSocketOrder(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, _, h := e.openWS()
	big := bytes.Repeat([]byte{0xab}, 70<<10)
	frame := func(i int) Frame {
		switch i % 50 {
		case 7:
			return Frame{Data: append(strconv.AppendInt(nil, int64(i), 10), big...), Binary: true}
		case 13:
			return Text(4, append(strconv.AppendInt(nil, int64(i), 10), bytes.Repeat([]byte("m"), 200)...))
		default:
			return Text(4, strconv.AppendInt(nil, int64(i), 10))
		}
	}
	const n = 5000
	go func() {
		for i := 0; i < n; {
			// Single frames and groups, as broadcasts send them.
			k := 1 + i%3
			var group []Frame
			for j := 0; j < k && i < n; j++ {
				group = append(group, frame(i))
				i++
			}
			if !h.c.Send(group, false) {
				panic("Send refused")
			}
		}
	}()
	for i := 0; i < n; i++ {
		mt, data := readWS(t, ws)
		want := frame(i)
		wantMT := websocket.TextMessage
		if want.Binary {
			wantMT = websocket.BinaryMessage
		}
		if mt != wantMT || data != string(want.Data) {
			t.Fatalf("frame %d: (%d) %.30q, want (%d) %.30q", i, mt, data, wantMT, want.Data)
		}
	}
}

// TestWebSocketConcurrentSenders: each sender's frames keep their order.
func TestWebSocketConcurrentSenders(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, _, h := e.openWS()
	const senders, each = 8, 500
	for s := 0; s < senders; s++ {
		go func() {
			for i := 0; i < each; i++ {
				h.c.Send([]Frame{Text(4, []byte(fmt.Sprintf("%d:%d", s, i)))}, false)
			}
		}()
	}
	next := make([]int, senders)
	for k := 0; k < senders*each; k++ {
		_, data := readWS(t, ws)
		var s, i int
		if _, err := fmt.Sscanf(data, "4%d:%d", &s, &i); err != nil {
			t.Fatalf("frame %q: %v", data, err)
		}
		if i != next[s] {
			t.Fatalf("sender %d: frame %d after %d", s, i, next[s]-1)
		}
		next[s]++
	}
}

// TestWebSocketNoMessageAfterClose: frames read after the session closed
// are not delivered.
func TestWebSocketNoMessageAfterClose(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxBufferedBytes: 10})
	ws, _, h := e.openWS()
	h.mu.Lock()
	h.onMessage = func(h *testHandler, data []byte, _ bool) {
		if string(data) == "big" {
			h.c.Send([]Frame{Text(4, make([]byte, 100))}, false)
			deadline := time.Now().Add(waitTimeout)
			for !h.isClosed() && time.Now().Before(deadline) {
				time.Sleep(time.Millisecond)
			}
		}
	}
	h.mu.Unlock()
	// Both frames in one write, so the server has read the second one
	// before it closes the connection.
	var buf bytes.Buffer
	for _, s := range []string{"4big", "4after"} {
		buf.Write(maskedFrame(opText, []byte(s)))
	}
	if _, err := ws.NetConn().Write(buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	h.expectClose(t, ReasonTransportError)
	if m := h.nextMsg(t); m.data != "big" {
		t.Fatalf("got %q", m.data)
	}
	// newEnv's cleanup fails the test if "after" was delivered.
}

// maskedFrame is a client frame, as the server must receive them.
func maskedFrame(op byte, data []byte) []byte { return clientFrame(true, op, data) }

// frameKey masks the tests' client frames.
var frameKey = [4]byte{1, 2, 3, 4}

// clientFrame is a masked client frame, final when fin.
func clientFrame(fin bool, op byte, data []byte) []byte {
	b := frameHeader(fin, op, uint64(len(data)))
	for i, c := range data {
		b = append(b, c^frameKey[i%4])
	}
	return b
}

// frameHeader is the header of a masked client frame announcing n payload
// bytes, whatever they are: the tests' attacks announce more than they send.
func frameHeader(fin bool, op byte, n uint64) []byte {
	b := []byte{op}
	if fin {
		b[0] |= 0x80
	}
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xffff:
		b = append(b, 0x80|126, byte(n>>8), byte(n))
	default:
		b = binary.BigEndian.AppendUint64(append(b, 0x80|127), n)
	}
	return append(b, frameKey[:]...)
}

// TestWebSocketVolatile: a volatile send is dropped while the writer is
// busy and goes out when it is idle.
func TestWebSocketVolatile(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxBufferedBytes: 64 << 20})
	ws, _, h := e.openWS()

	// More than the socket buffers hold: the writer stays busy until the
	// client reads.
	big := make([]byte, 32<<20)
	if !h.c.Send([]Frame{{Data: big, Binary: true}}, false) {
		t.Fatal("Send refused")
	}
	if h.c.Send([]Frame{Text(4, []byte("dropped"))}, true) {
		t.Fatal("volatile Send queued behind a busy writer")
	}
	if mt, data := readWS(t, ws); mt != websocket.BinaryMessage || len(data) != len(big) {
		t.Fatalf("got (%d) %d bytes", mt, len(data))
	}
	waitFor(t, "the writer to finish", func() bool {
		h.c.mu.Lock()
		defer h.c.mu.Unlock()
		return !h.c.writing
	})
	if !h.c.Send([]Frame{Text(4, []byte("kept"))}, true) {
		t.Fatal("volatile Send refused by an idle writer")
	}
	readText(t, ws, "4kept")
}

// TestWebSocketDialErrors: refused upgrades answer before the switch.
func TestWebSocketDialErrors(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{CheckOrigin: func(r *http.Request) bool { return r.Header.Get("Origin") != "https://evil.test" }})
	for _, tc := range []struct {
		name   string
		query  string
		origin string
		status int
	}{
		{"unknown sid", "EIO=4&transport=websocket&sid=nope", "", 400},
		{"no EIO", "transport=websocket", "", 400},
		{"bad origin", "EIO=4&transport=websocket", "https://evil.test", 400},
	} {
		hdr := http.Header{}
		if tc.origin != "" {
			hdr.Set("Origin", tc.origin)
		}
		_, res, err := websocket.DefaultDialer.Dial(e.ws+"?"+tc.query, hdr)
		if !errors.Is(err, websocket.ErrBadHandshake) || res == nil || res.StatusCode != tc.status {
			t.Fatalf("%s: %v, %v", tc.name, err, res)
		}
		res.Body.Close()
	}
	if e.srv.Len() != 0 {
		t.Fatal("a refused upgrade opened a session")
	}
}
