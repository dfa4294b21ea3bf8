package engine

import (
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/internal/logtest"
)

// logBuffer is a log destination that tests read while the server writes.
type logBuffer = logtest.Buffer

// expectPanicLogged checks that a recovered panic with value v was logged
// at error level with its stack.
func expectPanicLogged(t *testing.T, logs *logBuffer, v string) {
	t.Helper()
	out := logs.String()
	for _, want := range []string{"level=ERROR", "panic=" + v, "stack=", "goroutine "} {
		if !strings.Contains(out, want) {
			t.Fatalf("log lacks %q:\n%s", want, out)
		}
	}
}

// waitPanics waits until the server has recovered n panics.
func waitPanics(t *testing.T, srv *Server, n uint64) {
	t.Helper()
	waitFor(t, "a recovered panic", func() bool { return srv.PanicsRecovered() >= n })
	if got := srv.PanicsRecovered(); got != n {
		t.Fatalf("%d panics recovered, want %d", got, n)
	}
}

// panicOn makes h's handler panic on the message "boom" and echo others.
func panicOn(h *testHandler) {
	h.mu.Lock()
	h.onMessage = func(h *testHandler, data []byte, binary bool) {
		if string(data) == "boom" {
			panic("boom")
		}
		h.c.Send([]Frame{echoFrame(data, binary)}, false)
	}
	h.mu.Unlock()
}

// TestPanicInHandler: a handler that panics on a message ends its own
// session, on either transport; the panic is logged with its stack and
// counted, and other sessions go on.
func TestPanicInHandler(t *testing.T) {
	t.Parallel()
	logs := new(logBuffer)
	e := newEnv(t, Config{Logger: slog.New(slog.NewTextHandler(logs, nil))})
	other, _, _ := e.openWS()

	t.Run("websocket", func(t *testing.T) {
		e := e.with(t)
		ws, _, h := e.openWS()
		panicOn(h)
		writeText(t, ws, "4boom")
		h.expectClose(t, ReasonTransportError)
		expectWSClosed(t, ws)
		waitPanics(t, e.srv, 1)
		expectPanicLogged(t, logs, "boom")
	})
	t.Run("polling", func(t *testing.T) {
		e := e.with(t)
		sid, h := e.openPolling()
		panicOn(h)
		res, err := e.ts.Client().Post(e.base+"?EIO=4&transport=polling&sid="+sid, "text/plain", strings.NewReader("4boom"))
		if err == nil {
			res.Body.Close()
			t.Fatalf("POST answered %d, want the request aborted", res.StatusCode)
		}
		h.expectClose(t, ReasonTransportError)
		expectError(t, e.get(sid), 400, codeUnknownSID)
		waitPanics(t, e.srv, 2)
	})
	writeText(t, other, "4still here")
	readText(t, other, "4still here")
}

// closePanics is a handler whose OnClose panics once it has recorded the
// close.
type closePanics struct{ *testHandler }

func (h closePanics) OnClose(reason string) {
	h.testHandler.OnClose(reason)
	panic("close: " + reason)
}

// TestPanicInOnClose: a handler's OnClose that panics, on each of the
// engine's goroutines that end a session, ends that session only.
func TestPanicInOnClose(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name   string
		cfg    Config
		end    func(t *testing.T, ws *websocket.Conn, h *testHandler)
		reason string
	}{
		{"ping timeout, on the timer", Config{PingInterval: 20 * time.Millisecond, PingTimeout: 20 * time.Millisecond},
			func(*testing.T, *websocket.Conn, *testHandler) {}, ReasonPingTimeout},
		{"hang-up, on the reader", Config{},
			func(_ *testing.T, ws *websocket.Conn, _ *testHandler) { ws.Close() }, ReasonTransportClose},
		{"over its buffer, on the closer", Config{MaxBufferedBytes: 1024},
			func(t *testing.T, _ *websocket.Conn, h *testHandler) {
				if h.c.Send([]Frame{Text(4, make([]byte, 2048))}, false) {
					t.Fatal("a frame over MaxBufferedBytes was queued")
				}
			}, ReasonTransportError},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			logs := new(logBuffer)
			tc.cfg.Logger = slog.New(slog.NewTextHandler(logs, nil))
			tc.cfg.OnConnection = func(c *Conn, _ *http.Request) { c.SetHandler(closePanics{c.handler.(*testHandler)}) }
			e := newEnv(t, tc.cfg)
			ws, _, h := e.openWS()
			tc.end(t, ws, h)
			h.expectClose(t, tc.reason)
			waitPanics(t, e.srv, 1)
			expectPanicLogged(t, logs, `"close: `+tc.reason+`"`)
			waitFor(t, "the session to leave the table", func() bool { return e.srv.Len() == 0 })
		})
	}
}
