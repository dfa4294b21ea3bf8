package adminui_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/adminui"
)

// fanoutServer starts a server with n WebSocket clients in room "room",
// each drained by a reader that discards what arrives, instrumented for
// the admin UI when instrument is set (development mode, the mode that
// reports the most) with no UI connected.
func fanoutServer(b *testing.B, n int, instrument bool) *hub.Server {
	b.Helper()
	srv := hub.New(hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	if instrument {
		a, err := adminui.Instrument(srv, adminui.Options{NoAuth: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = a.Close() })
	}
	ts := httptest.NewServer(srv)
	var conns []*websocket.Conn
	done := make(chan struct{}, n)
	for range n {
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
			b.Fatalf("open: %q %v", open, err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			b.Fatal(err)
		}
		if _, reply, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(reply), "40{") {
			b.Fatalf("connect: %q %v", reply, err)
		}
		go func() {
			_, _ = io.Copy(io.Discard, ws.NetConn())
			done <- struct{}{}
		}()
		conns = append(conns, ws)
	}
	main := srv.Of("/")
	for main.Len() < n {
		time.Sleep(time.Millisecond)
	}
	if err := srv.SocketsJoin("room"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, ws := range conns {
			_ = ws.Close()
		}
		for range conns {
			<-done
		}
		_ = srv.Close()
		ts.Close()
	})
	return srv
}

// BenchmarkFanout broadcasts one event to a room of 1000 sockets on a
// server without the admin UI ("off") and on one instrumented for it with
// no UI connected ("on"), in alternating rounds (off, on, off#01, on#01...)
// so that a machine's changing load weighs on both alike.
func BenchmarkFanout(b *testing.B) {
	const n, rounds = 1000, 8
	servers := map[string]*hub.Server{"off": fanoutServer(b, n, false), "on": fanoutServer(b, n, true)}
	for range rounds {
		for _, name := range []string{"off", "on"} {
			op := servers[name].To("room")
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = op.Emit("chat", "ann", "hello, room")
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/recipient")
			})
		}
	}
}
