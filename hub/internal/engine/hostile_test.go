package engine

import (
	"bytes"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestWSLengthOverflow: a continuation frame announcing 2^63-1 bytes after a
// one-byte first fragment once overflowed the limit check, and make panicked
// on the reader's goroutine, which ended the process. The message is too
// big: the client gets a 1009 close, its session ends, and the server goes
// on serving.
func TestWSLengthOverflow(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, _, h := e.openWS()
	attack := append(clientFrame(false, opText, []byte("4")), frameHeader(true, 0, 1<<63-1)...)
	if _, err := ws.NetConn().Write(attack); err != nil {
		t.Fatal(err)
	}
	err := expectWSClosed(t, ws)
	if !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Fatalf("closed with %v, want 1009", err)
	}
	ws.Close()
	h.expectClose(t, ReasonTransportClose)

	ws2, _, _ := e.openWS()
	writeText(t, ws2, "4still here")
	readText(t, ws2, "4still here")
	if n := e.srv.PanicsRecovered(); n != 0 {
		t.Fatalf("%d panics recovered, want none", n)
	}
}

// TestWSLengthOverflowDuringProbe: the same frames on the WebSocket of an
// upgrade end that WebSocket; the session goes on polling.
func TestWSLengthOverflowDuringProbe(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	sid, h := e.openPolling()
	ws := e.mustDial("EIO=4&transport=websocket&sid=" + sid)
	attack := append(clientFrame(false, opText, []byte("4")), frameHeader(true, 0, 1<<63-1)...)
	if _, err := ws.NetConn().Write(attack); err != nil {
		t.Fatal(err)
	}
	expectWSClosed(t, ws)
	e.postOK(sid, "4after")
	if m := h.nextMsg(t); m.data != "after" {
		t.Fatalf("got %q, want after", m.data)
	}
	if body := e.getBody(sid); body != "4after" {
		t.Fatalf("GET %q, want the echo", body)
	}
	if n := e.srv.PanicsRecovered(); n != 0 {
		t.Fatalf("%d panics recovered, want none", n)
	}
}

// TestWSReaderLimits: what the frame reader accepts and refuses, at and
// around the limit, whole and in fragments.
func TestWSReaderLimits(t *testing.T) {
	t.Parallel()
	const limit = 10_000
	long := bytes.Repeat([]byte("0123456789abcdef"), 1000)[:limit]
	frag := func(parts ...[]byte) []byte {
		var b []byte
		for i, p := range parts {
			var op byte
			if i == 0 {
				op = opText
			}
			b = append(b, clientFrame(i == len(parts)-1, op, p)...)
		}
		return b
	}
	ping := clientFrame(true, opPing, []byte("p"))
	for _, tc := range []struct {
		name  string
		input []byte
		want  []byte
		err   error
	}{
		{"one frame at the limit", clientFrame(true, opText, long), long, nil},
		{"one frame over", clientFrame(true, opText, append(long, 'x')), nil, errTooBig},
		{"fragments at the limit", frag(long[:1], long[1:4097], long[4097:9000], long[9000:]), long, nil},
		{"odd fragments and a ping", append(append(clientFrame(false, opText, long[:3]), ping...), clientFrame(true, 0, long[3:])...), long, nil},
		{"fragments over", frag(long, []byte("x")), nil, errTooBig},
		{"2^63-1 after one byte", append(clientFrame(false, opText, []byte("4")), frameHeader(true, 0, 1<<63-1)...), nil, errTooBig},
		{"2^63-1 after the limit", append(clientFrame(false, opText, long), frameHeader(true, 0, 1<<63-1)...), nil, errTooBig},
		{"64-bit length with the top bit", frameHeader(true, opText, 1<<63), nil, errProtocol},
		{"announced, not sent", frameHeader(true, opText, limit), nil, io.EOF},
		{"empty fragments", frag(nil, nil, []byte("4")), []byte("4"), nil},
	} {
		w := newWSConn(&readerConn{r: bytes.NewReader(tc.input)}, limit)
		_, data, err := w.next()
		if !errors.Is(err, tc.err) || !bytes.Equal(data, tc.want) {
			t.Errorf("%s: %d bytes, %v; want %d bytes, %v", tc.name, len(data), err, len(tc.want), tc.err)
		}
	}
}

// readerConn is a connection that reads from r.
type readerConn struct {
	noConn
	r io.Reader
}

func (c *readerConn) Read(p []byte) (int, error) { return c.r.Read(p) }

// noConn is a net.Conn whose methods other than Read do nothing.
type noConn struct{ net.Conn }

func (noConn) Write(p []byte) (int, error)      { return len(p), nil }
func (noConn) Close() error                     { return nil }
func (noConn) SetDeadline(time.Time) error      { return nil }
func (noConn) SetReadDeadline(time.Time) error  { return nil }
func (noConn) SetWriteDeadline(time.Time) error { return nil }

// heapGrowth returns how much the live heap grew while fn ran.
func heapGrowth(fn func()) int64 {
	var before, after runtime.MemStats
	liveHeap(&before)
	fn()
	liveHeap(&after)
	return int64(after.HeapAlloc) - int64(before.HeapAlloc)
}

// liveHeap reads the memory statistics after collecting twice: the second
// collection empties the pools' victim caches, which would otherwise be
// freed in the middle of a measurement.
func liveHeap(m *runtime.MemStats) {
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(m)
}

// quietHandler drops what it receives.
type quietHandler struct{}

func (quietHandler) OnMessage([]byte, bool) {}
func (quietHandler) OnClose(string)         {}

// quietServer is an engine whose sessions keep nothing, so that the heap
// tests measure the engine alone; wrap, when set, wraps its handler.
func quietServer(t *testing.T, wrap func(http.Handler) http.Handler) (*Server, *httptest.Server) {
	srv := NewServer(Config{OnConnection: func(c *Conn, _ *http.Request) { c.SetHandler(quietHandler{}) }})
	var h http.Handler = srv
	if wrap != nil {
		h = wrap(h)
	}
	ts := httptest.NewServer(h)
	t.Cleanup(func() {
		srv.CloseAll()
		ts.CloseClientConnections()
		ts.Close()
	})
	return srv, ts
}

// announced is the payload length the heap tests' headers announce: under
// the default MaxPayload, and never sent.
const announced = 999_000

// TestWSHeaderOnlyHeap: frame headers that announce almost MaxPayload and
// send nothing more hold a few kilobytes each, not what they announce,
// whether the header starts a message or continues one. Not parallel: it
// measures the heap.
func TestWSHeaderOnlyHeap(t *testing.T) {
	_, ts := quietServer(t, nil)
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/?EIO=4&transport=websocket"
	waits := make(chan struct{}, 256)
	hook := func() { waits <- struct{}{} }
	testHookReadWait.Store(&hook)
	defer testHookReadWait.Store(nil)

	const conns = 50
	outer := t
	for _, tc := range []struct {
		name   string
		header []byte
	}{
		{"single frame", frameHeader(true, opText, announced)},
		{"continuation", append(clientFrame(false, opText, []byte("4")), frameHeader(true, 0, announced)...)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var clients []*websocket.Conn
			for range conns {
				ws, res, err := websocket.DefaultDialer.Dial(url, nil)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				// Closed when the test ends, not before: sessions that
				// end would shrink the heap the next case measures.
				outer.Cleanup(func() { ws.Close() })
				readWS(t, ws) // the open packet
				clients = append(clients, ws)
			}
			grown := heapGrowth(func() {
				for _, ws := range clients {
					if _, err := ws.NetConn().Write(tc.header); err != nil {
						t.Fatal(err)
					}
				}
				waitSignals(t, waits, conns, "the server to read every header")
			})
			t.Logf("%d headers: the heap grew by %d bytes", conns, grown)
			if grown > conns*announced/10 {
				t.Fatalf("%d headers announcing %d bytes grew the heap by %d bytes", conns, announced, grown)
			}
		})
	}
}

// TestPollingSlowBodyHeap: POSTs whose Content-Length announces almost
// MaxPayload and whose body does not come hold little: the body is read
// as it arrives. Not parallel: it measures the heap.
func TestPollingSlowBodyHeap(t *testing.T) {
	reading := make(chan struct{}, 256)
	_, ts := quietServer(t, func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method == http.MethodPost {
				r.Body = &firstReadBody{ReadCloser: r.Body, first: reading}
			}
			next.ServeHTTP(w, r)
		})
	})
	const conns = 50
	var sids []string
	for range conns {
		res, err := ts.Client().Get(ts.URL + "/?EIO=4&transport=polling")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		sids = append(sids, parseOpen(t, string(b)).SID)
	}
	addr := strings.TrimPrefix(ts.URL, "http://")
	grown := heapGrowth(func() {
		for _, sid := range sids {
			nc, err := net.Dial("tcp", addr)
			if err != nil {
				t.Fatal(err)
			}
			defer nc.Close()
			req := "POST /?EIO=4&transport=polling&sid=" + sid + " HTTP/1.1\r\nHost: x\r\n" +
				"Content-Type: text/plain;charset=UTF-8\r\nContent-Length: " + strconv.Itoa(announced) + "\r\n\r\n"
			if _, err := io.WriteString(nc, req); err != nil {
				t.Fatal(err)
			}
		}
		waitSignals(t, reading, conns, "the server to start reading every body")
	})
	t.Logf("%d bodies: the heap grew by %d bytes", conns, grown)
	if grown > conns*announced/10 {
		t.Fatalf("%d bodies announcing %d bytes grew the heap by %d bytes", conns, announced, grown)
	}
}

// firstReadBody signals on first when it is first read: by then the
// server has allocated whatever it reads the body into.
type firstReadBody struct {
	io.ReadCloser
	first chan<- struct{}
	once  sync.Once
}

func (b *firstReadBody) Read(p []byte) (int, error) {
	b.once.Do(func() { b.first <- struct{}{} })
	return b.ReadCloser.Read(p)
}

// waitSignals waits for n values on ch, each within waitTimeout.
func waitSignals[T any](t *testing.T, ch <-chan T, n int, what string) {
	t.Helper()
	for range n {
		select {
		case <-ch:
		case <-time.After(waitTimeout):
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
