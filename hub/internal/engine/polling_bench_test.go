package engine

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// benchEcho answers every message with the same message.
type benchEcho struct{ c *Conn }

func (h *benchEcho) OnMessage(data []byte, binary bool) {
	h.c.Send([]Frame{echoFrame(data, binary)}, false)
}
func (h *benchEcho) OnClose(string) {}

// BenchmarkPollingRoundTrip measures the engine's long-polling path without
// the network: a POST of two messages, decoded and echoed, then the GET that
// carries the echoes, both served in-process. revision 3 frames the same
// messages as socket.io-client 2.x does.
func BenchmarkPollingRoundTrip(b *testing.B) {
	for _, rev := range []struct {
		name, eio, body, want string
	}{
		{"eio4", "4", "4hello, room\x1e4{\"user\":\"ann\"}", "4hello, room\x1e4{\"user\":\"ann\"}"},
		{"eio3", "3", "12:4hello, room15:4{\"user\":\"ann\"}", "12:4hello, room15:4{\"user\":\"ann\"}"},
	} {
		b.Run(rev.name, func(b *testing.B) {
			srv := NewServer(Config{
				AllowEIO3:    true,
				PingInterval: time.Hour, PingTimeout: time.Hour,
				CompressThreshold: -1,
				OnConnection:      func(c *Conn, _ *http.Request) { c.SetHandler(&benchEcho{c}) },
			})
			b.Cleanup(srv.CloseAll)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, httptest.NewRequest("GET", "/engine.io/?EIO="+rev.eio+"&transport=polling", nil))
			body := w.Body.String()
			sid := body[strings.Index(body, `"sid":"`)+7:]
			sid = sid[:strings.IndexByte(sid, '"')]
			q := "/engine.io/?EIO=" + rev.eio + "&transport=polling&sid=" + sid
			b.ReportAllocs()
			for b.Loop() {
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, httptest.NewRequest("POST", q, strings.NewReader(rev.body)))
				if w.Code != 200 {
					b.Fatalf("POST: %d %q", w.Code, w.Body)
				}
				w = httptest.NewRecorder()
				srv.ServeHTTP(w, httptest.NewRequest("GET", q, nil))
				if w.Body.String() != rev.want {
					b.Fatalf("GET: %q, want %q", w.Body, rev.want)
				}
			}
		})
	}
}
