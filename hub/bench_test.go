package hub

import (
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// benchConn is a WebSocket client that joins "/" and then reads and
// discards everything until closed.
type benchConn struct {
	ws   *websocket.Conn
	id   string
	done chan struct{}
}

func benchDial(tb testing.TB, url string) *benchConn {
	tb.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		tb.Fatalf("open: %q %v", open, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		tb.Fatal(err)
	}
	_, reply, err := ws.ReadMessage()
	const prefix = `40{"sid":"`
	if err != nil || !strings.HasPrefix(string(reply), prefix) {
		tb.Fatalf("connect: %q %v", reply, err)
	}
	c := &benchConn{ws: ws, id: string(reply[len(prefix) : len(prefix)+20]), done: make(chan struct{})}
	// Drain below the WebSocket framing, so that the reader allocates
	// nothing per message and the allocations counted are the server's.
	// The benchmark server pings once an hour: nothing needs an answer.
	go func() {
		defer close(c.done)
		_, _ = io.Copy(io.Discard, ws.NetConn())
	}()
	return c
}

func (c *benchConn) close() {
	_ = c.ws.Close()
	<-c.done
}

// benchServer starts a server with n drained WebSocket clients, all in room
// "room".
func benchServer(b *testing.B, n int) (*Server, []*benchConn) {
	return benchServerOpts(b, n, Options{})
}

// benchServerOpts is benchServer with options (the pings are made rare).
func benchServerOpts(b *testing.B, n int, opts Options) (*Server, []*benchConn) {
	b.Helper()
	opts.PingInterval, opts.PingTimeout = time.Hour, time.Hour
	srv := New(opts)
	ts := httptest.NewServer(srv)
	conns := make([]*benchConn, n)
	for i := range conns {
		conns[i] = benchDialParser(b, ts.URL, opts.Parser)
	}
	nsp := srv.Of("/")
	deadline := time.Now().Add(10 * time.Second)
	for nsp.Len() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d of %d sockets connected", nsp.Len(), n)
		}
		time.Sleep(time.Millisecond)
	}
	if err := srv.SocketsJoin("room"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, c := range conns {
			c.close()
		}
		srv.Close()
		ts.Close()
	})
	return srv, conns
}

// BenchmarkBroadcastRoom broadcasts one event to a room of 1000 local
// sockets whose WebSocket connections are drained by idle readers.
// "prepared" queues an already encoded packet through the adapter; "emit"
// encodes the arguments too, as To(room).Emit does.
func BenchmarkBroadcastRoom(b *testing.B) {
	const n = 1000
	srv, _ := benchServer(b, n)
	nsp := srv.Of("/")
	args, err := NewArgs(map[string]any{"user": "ann", "text": "hello, room"})
	if err != nil {
		b.Fatal(err)
	}
	b.Run("prepared", func(b *testing.B) {
		p := NewPacket("/", "chat", args)
		opts := BroadcastOptions{Rooms: []string{"room"}}
		b.ReportAllocs()
		for b.Loop() {
			_ = nsp.adapter.Broadcast(p, opts)
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/recipient")
	})
	b.Run("emit", func(b *testing.B) {
		op := srv.To("room")
		b.ReportAllocs()
		for b.Loop() {
			_ = op.Emit("chat", "ann", "hello, room")
		}
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/recipient")
	})
	if nsp.Len() != n {
		b.Fatalf("%d sockets left of %d: some fell behind", nsp.Len(), n)
	}
}

// BenchmarkNewArgs encodes typical event arguments.
func BenchmarkNewArgs(b *testing.B) {
	msg := map[string]any{"user": "ann", "text": "hello <world> \"quoted\"", "ts": 1719999999, "tags": []any{"a", "b"}}
	bin := make([]byte, 1024)
	for _, bc := range []struct {
		name string
		args []any
	}{
		{"strings", []any{"room-1", "hello, world"}},
		{"map", []any{msg}},
		{"binary", []any{"file.png", bin, map[string]any{"thumb": bin[:64]}}},
		{"struct", []any{struct {
			User string `json:"user"`
			N    int    `json:"n"`
		}{"ann", 3}}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := NewArgs(bc.args...); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkDecodeEvent measures an incoming event from the Engine.IO
// message to the listener: decode, dispatch, Bind, and the wait for the
// listener, which runs on the socket's runner goroutine. (The engine hands
// the client the Socket.IO packet without the Engine.IO "4".)
func BenchmarkDecodeEvent(b *testing.B) {
	srv, conns := benchServer(b, 1)
	s := srv.Of("/").Socket(conns[0].id)
	type chat struct {
		User string `json:"user"`
		Text string `json:"text"`
	}
	// Each listener reports what it bound; the benchmark reads it after
	// the receive, never while the runner may write it.
	chats := make(chan chat, 1)
	s.On("chat", func(ev *Event) {
		var got chat
		_ = ev.Args.Bind(&got)
		chats <- got
	})
	files := make(chan int, 1)
	s.On("file", func(ev *Event) {
		var bin []byte
		_ = ev.Args.Bind(nil, &bin)
		files <- len(bin)
	})
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	b.Run("text", func(b *testing.B) {
		msg := []byte(`2["chat",{"user":"ann","text":"hello, \"world\""}]`)
		b.ReportAllocs()
		for b.Loop() {
			s.client.OnMessage(msg, false)
			if got := received(b, chats, timer); got.Text != `hello, "world"` {
				b.Fatalf("got %+v", got)
			}
		}
	})
	b.Run("binary", func(b *testing.B) {
		text := []byte(`51-["file","a.bin",{"_placeholder":true,"num":0}]`)
		data := make([]byte, 1024)
		b.ReportAllocs()
		for b.Loop() {
			s.client.OnMessage(text, false)
			s.client.OnMessage(data, true)
			if n := received(b, files, timer); n != len(data) {
				b.Fatalf("got %d bytes", n)
			}
		}
	})
}

// received returns what a listener sent on ch, failing the benchmark after
// 10 s. The timer is reused, so that the wait allocates nothing.
func received[T any](b *testing.B, ch <-chan T, timer *time.Timer) T {
	b.Helper()
	timer.Reset(10 * time.Second)
	select {
	case v := <-ch:
		return v
	case <-timer.C:
		b.Fatal("the listener did not run within 10 s")
		panic("unreachable")
	}
}
