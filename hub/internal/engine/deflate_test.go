package engine

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

func TestNegotiateDeflate(t *testing.T) {
	t.Parallel()
	const (
		plain = deflateResponse
		w15   = deflateResponse15
	)
	for _, tc := range []struct {
		offers []string
		want   string
	}{
		{nil, ""},
		{[]string{""}, ""},
		{[]string{"permessage-deflate"}, plain},
		{[]string{"Permessage-Deflate"}, plain},
		// What ws and Chromium offer.
		{[]string{"permessage-deflate; client_max_window_bits"}, plain},
		// What gorilla offers.
		{[]string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, plain},
		{[]string{"permessage-deflate;client_max_window_bits=10;server_no_context_takeover"}, plain},
		{[]string{`permessage-deflate; client_max_window_bits="12"`}, plain},
		{[]string{`permessage-deflate; client_max_window_bits="1\5"`}, plain},
		{[]string{"permessage-deflate; server_max_window_bits=15"}, w15},
		{[]string{`permessage-deflate; server_max_window_bits="15"`}, w15},
		// A window the compressor cannot keep to: declined, the next
		// offer taken.
		{[]string{"permessage-deflate; server_max_window_bits=10, permessage-deflate"}, plain},
		{[]string{"permessage-deflate; server_max_window_bits=10"}, ""},
		// Declined offers (RFC 7692, 5): unknown, repeated, bad values.
		{[]string{"permessage-deflate; foo"}, ""},
		{[]string{"permessage-deflate; server_no_context_takeover; server_no_context_takeover"}, ""},
		{[]string{"permessage-deflate; client_max_window_bits; client_max_window_bits=9"}, ""},
		{[]string{"permessage-deflate; server_no_context_takeover=1"}, ""},
		{[]string{"permessage-deflate; client_no_context_takeover=x"}, ""},
		{[]string{"permessage-deflate; server_max_window_bits"}, ""},
		{[]string{"permessage-deflate; server_max_window_bits=16"}, ""},
		{[]string{"permessage-deflate; client_max_window_bits=7"}, ""},
		{[]string{"permessage-deflate; client_max_window_bits=015"}, ""},
		{[]string{"permessage-deflate; client_max_window_bits=1a"}, ""},
		{[]string{"permessage-deflate; client_max_window_bits=100000000000000000000"}, ""},
		{[]string{`permessage-deflate; client_max_window_bits="123"`}, ""},
		{[]string{"permessage-deflate; foo, permessage-deflate; client_max_window_bits"}, plain},
		// Other extensions are passed over.
		{[]string{"x-webkit-deflate-frame, permessage-deflate"}, plain},
		{[]string{"foo; bar=baz; qux=\"a b\"", "permessage-deflate"}, ""}, // a quoted value must be a token
		{[]string{"foo; bar=\"a\\\"b\""}, ""},
		{[]string{"foo; bar=baz", "permessage-deflate"}, plain},
		{[]string{"foo", "permessage-deflate; server_max_window_bits=15", "permessage-deflate"}, w15},
		{[]string{" , permessage-deflate ,"}, plain},
		// Malformed lists decline everything.
		{[]string{"permessage-deflate; "}, ""},
		{[]string{"permessage-deflate;; client_max_window_bits"}, ""},
		{[]string{"permessage-deflate client_max_window_bits"}, ""},
		{[]string{"permessage-deflate; client_max_window_bits="}, ""},
		{[]string{`permessage-deflate; client_max_window_bits="15`}, ""},
		{[]string{`permessage-deflate; client_max_window_bits=""`}, ""},
		{[]string{"permessage-deflate", "@"}, ""},
		{[]string{"permessage-deflate; a=b=c"}, ""},
	} {
		h := http.Header{"Sec-Websocket-Extensions": tc.offers}
		if got := negotiateDeflate(h); got != tc.want {
			t.Errorf("%q: answered %q, want %q", tc.offers, got, tc.want)
		}
	}
}

// deflateDialer offers permessage-deflate as gorilla does (both
// no_context_takeover parameters) and compresses what it writes.
var deflateDialer = &websocket.Dialer{EnableCompression: true, HandshakeTimeout: waitTimeout}

func (e *env) dialDeflate() (*websocket.Conn, *http.Response, string, *testHandler) {
	e.t.Helper()
	ws, res, err := deflateDialer.Dial(e.ws+"?EIO=4&transport=websocket", nil)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	res.Body.Close()
	e.t.Cleanup(func() { ws.Close() })
	_, data := readWS(e.t, ws)
	p := parseOpen(e.t, data)
	return ws, res, p.SID, e.handler(p.SID)
}

// chatMessage is a Socket.IO event of about n bytes of JSON, as a chat
// sends them.
func chatMessage(n int) []byte {
	var b strings.Builder
	b.WriteString(`2["chat",{"room":"general","messages":[`)
	for i := 0; b.Len() < n-3; i++ {
		if i > 0 {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, `{"id":%d,"user":"user%d","text":"hello there, this is message number %d in the room","ts":%d}`, 1000+i, i%7, i, 1733550000000+int64(i)*137)
	}
	b.WriteString(`]}]`)
	return []byte(b.String())
}

// TestDeflateEcho: with compression on, a client that offers it gets the
// extension, and messages both ways from the threshold up travel
// compressed; smaller ones do not.
func TestDeflateEcho(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PerMessageDeflate: &Deflate{}})
	ws, res, _, h := e.dialDeflate()
	if got := res.Header.Get("Sec-WebSocket-Extensions"); got != deflateResponse {
		t.Fatalf("extension answer %q, want %q", got, deflateResponse)
	}
	d := e.srv.deflate
	big := "4" + string(chatMessage(2048))
	writeText(t, ws, big)
	if m := h.nextMsg(t); m.data != big[1:] {
		t.Fatalf("server read %d bytes, want %d", len(m.data), len(big)-1)
	}
	readText(t, ws, big)
	if r, s := d.received.Load(), d.sent.Load(); r != 1 || s != 1 {
		t.Fatalf("%d compressed messages received and %d sent, want 1 and 1", r, s)
	}
	writeText(t, ws, "4small")
	readText(t, ws, "4small")
	if s := d.sent.Load(); s != 1 {
		t.Fatalf("%d compressed messages sent after a small one, want still 1", s)
	}
	// Binary, compressed both ways (gorilla compresses every message).
	bin := bytes.Repeat([]byte{1, 2, 3, 4, 5, 6, 7, 8}, 512)
	if err := ws.WriteMessage(websocket.BinaryMessage, bin); err != nil {
		t.Fatal(err)
	}
	mt, got := readWS(t, ws)
	if mt != websocket.BinaryMessage || got != string(bin) {
		t.Fatalf("binary echo: type %d, %d bytes", mt, len(got))
	}
	h.nextMsg(t)
	h.nextMsg(t)
	if r, s := d.received.Load(), d.sent.Load(); r != 3 || s != 2 {
		t.Fatalf("%d compressed messages received and %d sent, want 3 and 2", r, s)
	}
}

// TestDeflateOff: a server without compression answers no offer and
// refuses a compressed frame as a protocol error, as RFC 6455 has it for
// an extension bit nothing negotiated.
func TestDeflateOff(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, res, _, h := e.dialDeflate()
	if got := res.Header.Get("Sec-WebSocket-Extensions"); got != "" {
		t.Fatalf("extension answer %q with compression off", got)
	}
	writeText(t, ws, "4"+string(chatMessage(2048)))
	readWS(t, ws)
	if _, err := ws.NetConn().Write(compressedFrame(opText, []byte("4hello"))); err != nil {
		t.Fatal(err)
	}
	h.expectClose(t, ReasonTransportError)
}

// TestDeflateUpgrade: a polling session that upgrades negotiates on its
// upgrade's handshake, and what is queued afterwards is compressed.
func TestDeflateUpgrade(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PerMessageDeflate: &Deflate{}})
	sid, h := e.openPolling()
	ws, res, err := deflateDialer.Dial(e.ws+"?EIO=4&transport=websocket&sid="+sid, nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	defer ws.Close()
	if got := res.Header.Get("Sec-WebSocket-Extensions"); got != deflateResponse {
		t.Fatalf("upgrade's extension answer %q", got)
	}
	writeText(t, ws, "2probe")
	readText(t, ws, "3probe")
	writeText(t, ws, "5")
	waitFor(t, "the upgrade", func() bool { return e.conn(sid).Transport() == "websocket" })
	big := "4" + string(chatMessage(4096))
	h.c.Send([]Frame{{Data: []byte(big)}}, false)
	readText(t, ws, big)
	if s := e.srv.deflate.sent.Load(); s != 1 {
		t.Fatalf("%d compressed messages sent, want 1", s)
	}
}

// TestDeflateShared: frames sent to many sessions with SendShared are
// compressed once, however many sessions write them, and each gets the
// same bytes; a session without compression gets them as they are.
func TestDeflateShared(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PerMessageDeflate: &Deflate{}})
	const n = 20
	clients := make([]*rawClient, n)
	conns := make([]*Conn, n)
	for i := range clients {
		clients[i] = dialRaw(t, e, "permessage-deflate; client_max_window_bits")
		conns[i] = e.conn(clients[i].sid)
	}
	msg := Text(4, chatMessage(2048))
	small := Text(4, []byte("hi"))
	frames := []Frame{msg, small}
	var z Deflated
	for _, c := range conns {
		c.SendShared(frames, &z, false)
	}
	var first []byte
	for _, rc := range clients {
		f := rc.next(t)
		if !f.rsv1 || f.op != opText {
			t.Fatalf("first frame: rsv1 %v, opcode %d; want a compressed text frame", f.rsv1, f.op)
		}
		if got := inflateAll(t, f.payload); !bytes.Equal(got, msg.Data) {
			t.Fatalf("inflated %d bytes, want the %d sent", len(got), len(msg.Data))
		}
		if len(f.payload) > len(msg.Data)/3 {
			t.Fatalf("%d bytes compressed to %d", len(msg.Data), len(f.payload))
		}
		if first == nil {
			first = f.payload
		} else if !bytes.Equal(first, f.payload) {
			t.Fatal("sessions got different compressed bytes")
		}
		if f := rc.next(t); f.rsv1 || string(f.payload) != "4hi" {
			t.Fatalf("small frame: rsv1 %v, %q", f.rsv1, f.payload)
		}
	}
	d := e.srv.deflate
	if c, s := d.compressions.Load(), d.sent.Load(); c != 1 || s != n {
		t.Fatalf("%d compressions for %d compressed frames sent, want 1 for %d", c, s, n)
	}
	// A session that did not negotiate compression gets the frames as
	// they are.
	plain := dialRaw(t, e, "")
	e.conn(plain.sid).SendShared(frames, &z, false)
	if f := plain.next(t); f.rsv1 || !bytes.Equal(f.payload, msg.Data) {
		t.Fatalf("without the extension: rsv1 %v, %d bytes", f.rsv1, len(f.payload))
	}
}

// TestDeflateIncompressible: a payload that deflate does not shrink goes
// out as it is, without RSV1.
func TestDeflateIncompressible(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PerMessageDeflate: &Deflate{Threshold: 1}})
	rc := dialRaw(t, e, "permessage-deflate")
	noise := make([]byte, 4096)
	var x uint64 = 88172645463325252
	for i := range noise {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		noise[i] = byte(x)
	}
	e.conn(rc.sid).Send([]Frame{{Data: noise, Binary: true}}, false)
	f := rc.next(t)
	if f.rsv1 || f.op != opBinary || !bytes.Equal(f.payload, noise) {
		t.Fatalf("rsv1 %v, opcode %d, %d bytes; want the noise uncompressed", f.rsv1, f.op, len(f.payload))
	}
}

// TestDeflateHostile: what a client may not do with compression: RSV1 on a
// control or continuation frame, RSV2 or RSV3, data that does not inflate,
// a message that inflates past the limit.
func TestDeflateHostile(t *testing.T) {
	t.Parallel()
	const limit = 100_000
	e := newEnv(t, Config{PerMessageDeflate: &Deflate{}, MaxPayload: limit})
	withBits := func(b []byte, bits byte) []byte { b[0] |= bits; return b }
	bomb := deflateAll(t, make([]byte, 10<<20)) // 10 MB of zeros, 10 KB compressed
	for _, tc := range []struct {
		name   string
		frames []byte
		code   int // the close code the client gets; 0: the connection just ends
		reason string
	}{
		{"RSV1 on a ping", withBits(clientFrame(true, opPing, nil), rsv1Bit), 0, ReasonTransportError},
		{"RSV1 on a close", withBits(clientFrame(true, opClose, nil), rsv1Bit), 0, ReasonTransportError},
		{"RSV1 on a continuation", append(compressedFrameFin(false, opText, []byte("4a")), withBits(clientFrame(true, 0, []byte("b")), rsv1Bit)...), 0, ReasonTransportError},
		{"RSV2", withBits(clientFrame(true, opText, []byte("4a")), 0x20), 0, ReasonTransportError},
		{"RSV3 with RSV1", withBits(compressedFrame(opText, []byte("4a")), 0x10), 0, ReasonTransportError},
		{"not deflate", withBits(clientFrame(true, opText, []byte{0xff, 0xff, 0xff, 0xff}), rsv1Bit), websocket.CloseInvalidFramePayloadData, ReasonTransportError},
		{"a bomb", withBits(clientFrame(true, opText, bomb), rsv1Bit), websocket.CloseMessageTooBig, ReasonTransportClose},
		{"one byte over the limit", compressedFrame(opText, bytes.Repeat([]byte("4"), limit+1)), websocket.CloseMessageTooBig, ReasonTransportClose},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := e.with(t)
			ws, _, _, h := e.dialDeflate()
			if _, err := ws.NetConn().Write(tc.frames); err != nil {
				t.Fatal(err)
			}
			err := expectWSClosed(t, ws)
			if tc.code != 0 && !websocket.IsCloseError(err, tc.code) {
				t.Fatalf("closed with %v, want %d", err, tc.code)
			}
			h.expectClose(t, tc.reason)
		})
	}
	// At the limit, and over several frames: accepted.
	ws, _, _, h := e.dialDeflate()
	at := bytes.Repeat([]byte("4"), limit)
	z := deflateAll(t, at)
	in := append(withBits(clientFrame(false, opText, z[:10]), rsv1Bit), clientFrame(true, 0, z[10:])...)
	if _, err := ws.NetConn().Write(in); err != nil {
		t.Fatal(err)
	}
	if m := h.nextMsg(t); len(m.data) != limit-1 {
		t.Fatalf("got %d bytes, want %d", len(m.data), limit-1)
	}
	if n := e.srv.PanicsRecovered(); n != 0 {
		t.Fatalf("%d panics", n)
	}
}

// TestInflateBomb: a small message that inflates to far more than the
// limit costs about twice the limit, not what it would inflate to.
func TestInflateBomb(t *testing.T) {
	const limit = 256 << 10
	bomb := deflateAll(t, make([]byte, 16<<20))
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err := inflate(bomb, limit)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, errTooBig) {
		t.Fatalf("inflate: %v, want errTooBig", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 3*limit {
		t.Fatalf("inflating a %d-byte bomb of 16 MB with a 256 KB limit allocated %d bytes", len(bomb), n)
	}
}

// TestInflatersPooled: inflating many messages on many goroutines reuses
// the inflaters and leaves no goroutine behind.
func TestInflateConcurrent(t *testing.T) {
	t.Parallel()
	msg := chatMessage(8192)
	z := deflateAll(t, msg)
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				got, err := inflate(z, 1<<20)
				if err != nil || !bytes.Equal(got, msg) {
					t.Errorf("inflate: %v, %d bytes", err, len(got))
					return
				}
			}
		})
	}
	wg.Wait()
}

// compressedFrame is a final client frame with RSV1 whose payload is data
// compressed as RFC 7692 has it.
func compressedFrame(op byte, data []byte) []byte { return compressedFrameFin(true, op, data) }

func compressedFrameFin(fin bool, op byte, data []byte) []byte {
	b := clientFrame(fin, op, deflateNoTail(data))
	b[0] |= rsv1Bit
	return b
}

// deflateNoTail compresses p as a permessage-deflate message.
func deflateNoTail(p []byte) []byte {
	var out bytes.Buffer
	w, _ := flate.NewWriter(&out, flate.BestCompression)
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(out.Bytes(), []byte{0, 0, 0xff, 0xff})
}

func deflateAll(t testing.TB, p []byte) []byte {
	t.Helper()
	return deflateNoTail(p)
}

func inflateAll(t testing.TB, z []byte) []byte {
	t.Helper()
	r := flate.NewReader(io.MultiReader(bytes.NewReader(z), bytes.NewReader(inflateTail)))
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatalf("inflating: %v", err)
	}
	return b
}

// rawClient is a WebSocket client that shows the frames as they come:
// their RSV1 bit and their payload as sent.
type rawClient struct {
	nc  net.Conn
	br  *bufio.Reader
	sid string
}

type rawFrame struct {
	fin, rsv1 bool
	op        byte
	payload   []byte
}

// dialRaw opens a session over WebSocket offering extensions, and checks
// that permessage-deflate was accepted when offered.
func dialRaw(t testing.TB, e *env, extensions string) *rawClient {
	t.Helper()
	nc, err := net.Dial("tcp", strings.TrimPrefix(e.ts.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	req := "GET /engine.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		t.Fatal(err)
	}
	c := &rawClient{nc: nc, br: bufio.NewReader(nc)}
	_ = nc.SetReadDeadline(time.Now().Add(waitTimeout))
	res, err := http.ReadResponse(c.br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("status %d", res.StatusCode)
	}
	if got := res.Header.Get("Sec-WebSocket-Extensions"); strings.HasPrefix(extensions, "permessage-deflate") != (got != "") {
		t.Fatalf("offered %q, answered %q", extensions, got)
	}
	f := c.next(t)
	if f.rsv1 {
		f.payload = inflateAll(t, f.payload)
	}
	var open struct{ SID string }
	if err := json.Unmarshal(bytes.TrimPrefix(f.payload, []byte("0")), &open); err != nil || open.SID == "" {
		t.Fatalf("open packet %q: %v", f.payload, err)
	}
	c.sid = open.SID
	return c
}

// next reads one frame.
func (c *rawClient) next(t testing.TB) rawFrame {
	t.Helper()
	_ = c.nc.SetReadDeadline(time.Now().Add(waitTimeout))
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var b [2]byte
		_, _ = io.ReadFull(c.br, b[:])
		n = uint64(binary.BigEndian.Uint16(b[:]))
	case 127:
		var b [8]byte
		_, _ = io.ReadFull(c.br, b[:])
		n = binary.BigEndian.Uint64(b[:])
	}
	f := rawFrame{fin: h[0]&0x80 != 0, rsv1: h[0]&rsv1Bit != 0, op: h[0] & 0x0f, payload: make([]byte, n)}
	if _, err := io.ReadFull(c.br, f.payload); err != nil {
		t.Fatalf("reading a frame's %d bytes: %v", n, err)
	}
	return f
}

// FuzzInflate holds inflate to the standard library's inflater: the same
// message when it inflates within the limit, errTooBig as soon as it
// inflates past it, errBadDeflate when the data is not deflate.
func FuzzInflate(f *testing.F) {
	for _, seed := range [][]byte{
		nil,
		{0x00},
		deflateNoTail([]byte("4hello")),
		deflateNoTail(chatMessage(3000)),
		deflateNoTail(make([]byte, 70_000)), // a bomb for a small limit
		append(deflateNoTail([]byte("4a")), 0xff, 0xff), // garbage after the message
		{0x03, 0x00}, // a final empty block
		{0x01, 0x03, 0x00, 0xfc, 0xff, 'a', 'b', 'c'}, // a stored block
		{0x01, 0x03, 0x00, 0xfc, 0xfe, 'a', 'b', 'c'}, // its length check broken
		{0xff, 0xff, 0xff, 0xff},
		{0x06}, // a reserved block type
	} {
		f.Add(seed, uint16(100))
		f.Add(seed, uint16(60_000))
	}
	f.Fuzz(func(t *testing.T, z []byte, limit uint16) {
		got, err := inflate(z, int64(limit))
		ref, rerr := io.ReadAll(io.LimitReader(flate.NewReader(io.MultiReader(bytes.NewReader(z), bytes.NewReader(inflateTail))), int64(limit)+1))
		switch {
		case len(ref) > int(limit):
			if !errors.Is(err, errTooBig) {
				t.Fatalf("inflates to more than %d bytes: got %d bytes, %v", limit, len(got), err)
			}
		case rerr != nil:
			if !errors.Is(err, errBadDeflate) {
				t.Fatalf("the reference failed (%v); got %d bytes, %v", rerr, len(got), err)
			}
		case err != nil || !bytes.Equal(got, ref):
			t.Fatalf("got %d bytes, %v; want %d bytes", len(got), err, len(ref))
		}
	})
}

// FuzzDeflateRoundTrip: what the server compresses, a client inflates to
// the same bytes.
func FuzzDeflateRoundTrip(f *testing.F) {
	f.Add([]byte("4hello"))
	f.Add(chatMessage(3000))
	f.Add(make([]byte, 5000))
	d := newDeflater(&Deflate{})
	f.Fuzz(func(t *testing.T, p []byte) {
		z := d.deflate(p)
		if z == nil {
			return // not smaller: sent as it is
		}
		if got := inflateAll(t, z); !bytes.Equal(got, p) {
			t.Fatalf("round trip of %d bytes gave %d", len(p), len(got))
		}
	})
}

// FuzzNegotiateDeflate: any header gets one of the answers, or none.
func FuzzNegotiateDeflate(f *testing.F) {
	for _, s := range []string{
		"permessage-deflate; client_max_window_bits",
		"permessage-deflate; server_max_window_bits=\"15\", x; y=z",
		"permessage-deflate; server_no_context_takeover; server_no_context_takeover",
		"a;b=\"\\",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		switch got := negotiateDeflate(http.Header{"Sec-Websocket-Extensions": {s}}); got {
		case "", deflateResponse, deflateResponse15:
		default:
			t.Fatalf("answered %q", got)
		}
	})
}

// BenchmarkDeflate is the cost of compressing a 2 KB JSON message (once
// per broadcast) and of inflating it (once per compressed message a client
// sends).
func BenchmarkDeflate(b *testing.B) {
	msg := chatMessage(2048)
	d := newDeflater(&Deflate{})
	b.Run("compress", func(b *testing.B) {
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		var z []byte
		for b.Loop() {
			z = d.deflate(msg)
		}
		b.ReportMetric(float64(len(z)), "compressed-B")
	})
	b.Run("inflate", func(b *testing.B) {
		z := d.deflate(msg)
		b.SetBytes(int64(len(msg)))
		b.ReportAllocs()
		for b.Loop() {
			if _, err := inflate(z, 1<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzWSFramesDeflate feeds arbitrary bytes to the frame reader of a
// connection that negotiated compression: it must not panic, never return
// a message over the limit (inflated or not), and fail only with its own
// errors or the input's end (FuzzInflate checks what inflating returns).
func FuzzWSFramesDeflate(f *testing.F) {
	for _, s := range fuzzFrameSeeds() {
		f.Add(s.in, s.limit, byte(0))
	}
	f.Add(compressedFrame(opText, []byte("4hello")), uint16(100), byte(0))
	f.Add(compressedFrame(opText, make([]byte, 10_000)), uint16(1000), byte(3))
	f.Add(append(compressedFrameFin(false, opBinary, chatMessage(3000)), clientFrame(true, 0, nil)...), uint16(5000), byte(1))
	rsv := clientFrame(true, opText, []byte{0xff, 0xff})
	rsv[0] |= rsv1Bit
	f.Add(rsv, uint16(100), byte(0))
	d := newDeflater(&Deflate{})
	f.Fuzz(func(t *testing.T, in []byte, limit uint16, piece byte) {
		w := newWSConn(&readerConn{r: &pieceReader{b: in, n: int(piece) + 1}}, int64(limit))
		w.deflate = d
		for {
			_, data, err := w.next()
			if err != nil {
				switch {
				case errors.Is(err, errProtocol), errors.Is(err, errTooBig), errors.Is(err, errPeerClosed), errors.Is(err, errBadDeflate):
				case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
				default:
					t.Fatalf("error %v is none of the reader's", err)
				}
				return
			}
			if len(data) > int(limit) {
				t.Fatalf("a %d-byte message passed the %d-byte limit", len(data), limit)
			}
		}
	})
}

// TestDeflateNoGoroutineLeak ends compressing sessions every way the
// compression adds (a bomb, bad data, RSV1 where it may not be) and the
// ordinary ways, and checks that the goroutine count comes back to where
// it was. It does not run in parallel.
func TestDeflateNoGoroutineLeak(t *testing.T) {
	const limit = 100_000
	e := newEnv(t, Config{PerMessageDeflate: &Deflate{}, MaxPayload: limit})
	settle := func() {
		e.ts.Client().CloseIdleConnections()
		waitFor(t, "an empty table", func() bool { return e.srv.Len() == 0 })
	}
	rsv1Ping := clientFrame(true, opPing, nil)
	rsv1Ping[0] |= rsv1Bit
	bad := clientFrame(true, opText, []byte{0xff, 0xff, 0xff})
	bad[0] |= rsv1Bit
	big := "4" + string(chatMessage(4096))
	ends := []func(){
		func() { // an echo both ways compressed, then the client closes
			ws, _, _, h := e.dialDeflate()
			writeText(t, ws, big)
			readText(t, ws, big)
			ws.Close()
			h.waitClose(t)
		},
		func() { // the server closes
			ws, _, _, h := e.dialDeflate()
			writeText(t, ws, big)
			readText(t, ws, big)
			h.c.Close()
			expectWSClosed(t, ws)
			h.waitClose(t)
		},
		func() { // a bomb
			ws, _, _, h := e.dialDeflate()
			_, _ = ws.NetConn().Write(compressedFrame(opText, make([]byte, 4*limit)))
			expectWSClosed(t, ws)
			h.waitClose(t)
		},
		func() { // data that does not inflate
			ws, _, _, h := e.dialDeflate()
			_, _ = ws.NetConn().Write(bad)
			expectWSClosed(t, ws)
			h.waitClose(t)
		},
		func() { // RSV1 on a ping
			ws, _, _, h := e.dialDeflate()
			_, _ = ws.NetConn().Write(rsv1Ping)
			expectWSClosed(t, ws)
			h.waitClose(t)
		},
	}
	// Warm up, then measure.
	for _, end := range ends {
		end()
	}
	settle()
	base := runtime.NumGoroutine()
	for range 4 {
		for _, end := range ends {
			end()
		}
	}
	settle()
	deadline := time.Now().Add(waitTimeout)
	for runtime.NumGoroutine() > base {
		if time.Now().After(deadline) {
			t.Fatalf("%d goroutines, %d before", runtime.NumGoroutine(), base)
		}
		e.ts.Client().CloseIdleConnections()
		time.Sleep(5 * time.Millisecond)
	}
}
