package hub

import (
	"bytes"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// dispatchBench is a server with one WebSocket client in "/" whose socket
// has the listeners of the dispatch benchmarks.
type dispatchBench struct {
	ws   *websocket.Conn
	s    *Socket
	seen chan struct{} // one receive per event the "note" listener ran
}

func newDispatchBench(b *testing.B) *dispatchBench {
	b.Helper()
	srv := New(Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	sockets := make(chan *Socket, 1)
	d := &dispatchBench{seen: make(chan struct{}, 1)}
	srv.OnConnection(func(s *Socket) {
		s.On("note", func(*Event) { d.seen <- struct{}{} })
		s.On("call", func(ev *Event) { _ = ev.Ack("ok") })
		sockets <- s
	})
	ts := httptest.NewServer(srv)
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
	if _, reply, err := ws.ReadMessage(); err != nil || !bytes.HasPrefix(reply, []byte("40{")) {
		b.Fatalf("connect: %q %v", reply, err)
	}
	select {
	case d.s = <-sockets:
	case <-time.After(10 * time.Second):
		b.Fatal("no socket after 10 s")
	}
	d.ws = ws
	b.Cleanup(func() {
		_ = ws.Close()
		_ = srv.Close()
		ts.Close()
	})
	return d
}

func (d *dispatchBench) wait(b *testing.B) {
	select {
	case <-d.seen:
	case <-time.After(10 * time.Second):
		b.Fatal("the listener did not run within 10 s")
	}
}

// BenchmarkDispatch measures an incoming event from its arrival to its
// listener, the cost the handler execution model adds or saves:
//
//   - onmessage: the decoded Engine.IO message handed to the client, as the
//     engine's reader does, and the wait for the listener;
//   - websocket: one event at a time through a real connection, waiting for
//     the listener before sending the next;
//   - pipelined: events sent back to back, the listener waited for each;
//   - ack: one event at a time whose listener acks, waiting for the ack at
//     the client (the listener's reply written back).
func BenchmarkDispatch(b *testing.B) {
	b.Run("onmessage", func(b *testing.B) {
		d := newDispatchBench(b)
		msg := []byte(`2["note",{"user":"ann","text":"hello"}]`)
		b.ReportAllocs()
		for b.Loop() {
			d.s.client.OnMessage(msg, false)
			d.wait(b)
		}
	})
	b.Run("websocket", func(b *testing.B) {
		d := newDispatchBench(b)
		msg := []byte(`42["note",{"user":"ann","text":"hello"}]`)
		for b.Loop() {
			if err := d.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				b.Fatal(err)
			}
			d.wait(b)
		}
	})
	b.Run("pipelined", func(b *testing.B) {
		d := newDispatchBench(b)
		msg := []byte(`42["note",{"user":"ann","text":"hello"}]`)
		n := b.N
		errs := make(chan error, 1)
		b.ResetTimer()
		go func() {
			for range n {
				if err := d.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
					errs <- err
					return
				}
			}
			errs <- nil
		}()
		for range n {
			d.wait(b)
		}
		if err := <-errs; err != nil {
			b.Fatal(err)
		}
	})
	b.Run("ack", func(b *testing.B) {
		d := newDispatchBench(b)
		var msg []byte
		id := 0
		for b.Loop() {
			id++
			msg = append(msg[:0], "42"...)
			msg = strconv.AppendInt(msg, int64(id), 10)
			msg = append(msg, `["call"]`...)
			if err := d.ws.WriteMessage(websocket.TextMessage, msg); err != nil {
				b.Fatal(err)
			}
			_, reply, err := d.ws.ReadMessage()
			if err != nil || !bytes.HasPrefix(reply, []byte("43")) {
				b.Fatalf("ack: %q %v", reply, err)
			}
		}
	})
}
