package hub

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub/internal/sio"
)

var benchParsers = []Parser{ParserJSON, ParserMsgpack}

// benchDialParser is benchDial for a client of parser pr.
func benchDialParser(tb testing.TB, url string, pr Parser) *benchConn {
	tb.Helper()
	if pr == ParserJSON {
		return benchDial(tb, url)
	}
	ws := benchOpen(tb, url)
	if err := ws.WriteMessage(websocket.BinaryMessage, sio.AppendMsgpackControl(nil, sio.Connect, "/", nil)); err != nil {
		tb.Fatal(err)
	}
	_, reply, err := ws.ReadMessage()
	if err != nil {
		tb.Fatal(err)
	}
	p, _, err := sio.DecodeMsgpack(reply, 0)
	var data struct{ Sid string }
	if err != nil || p.Type != sio.Connect || json.Unmarshal(p.Data, &data) != nil {
		tb.Fatalf("connect: %x %v", reply, err)
	}
	c := &benchConn{ws: ws, id: data.Sid, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		_, _ = io.Copy(io.Discard, ws.NetConn())
	}()
	return c
}

func benchOpen(tb testing.TB, url string) *websocket.Conn {
	tb.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		tb.Fatalf("open: %q %v", open, err)
	}
	return ws
}

// BenchmarkParserBroadcast broadcasts one event to a room of 1000 drained
// WebSocket clients with each parser, as To(room).Emit does: the packet
// encoded once, its bytes queued for every member. "text" carries a small
// object, "binary" the same and 1 KiB of binary.
func BenchmarkParserBroadcast(b *testing.B) {
	const n = 1000
	bin := make([]byte, 1024)
	msg := map[string]any{"user": "ann", "text": "hello, room", "ts": 1719999999}
	for _, pr := range benchParsers {
		b.Run(pr.String(), func(b *testing.B) {
			srv, _ := benchServerOpts(b, n, Options{Parser: pr})
			op := srv.To("room")
			for _, bc := range []struct {
				name string
				args []any
			}{
				{"text", []any{msg}},
				{"binary", []any{msg, bin}},
			} {
				b.Run(bc.name, func(b *testing.B) {
					b.ReportAllocs()
					for b.Loop() {
						_ = op.Emit("chat", bc.args...)
					}
					b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/recipient")
				})
			}
			if nsp := srv.Of("/"); nsp.Len() != n {
				b.Fatalf("%d sockets left of %d: some fell behind", nsp.Len(), n)
			}
		})
	}
}

// BenchmarkParserEncode is the once-per-broadcast work alone: an event's
// packet built for the wire.
func BenchmarkParserEncode(b *testing.B) {
	text, _ := NewArgs(map[string]any{"user": "ann", "text": "hello, room", "ts": 1719999999})
	binary, _ := NewArgs(map[string]any{"user": "ann"}, make([]byte, 1024))
	for _, pr := range benchParsers {
		for _, bc := range []struct {
			name string
			args Args
		}{{"text", text}, {"binary", binary}} {
			b.Run(pr.String()+"/"+bc.name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = encodeEvent(pr, "/", sio.NoID, "chat", bc.args, "")
				}
			})
		}
	}
}

// BenchmarkParserAck is one acked event at a time through a real
// WebSocket connection with each parser: the client sends it, the
// listener acks, the client reads the ack.
func BenchmarkParserAck(b *testing.B) {
	for _, pr := range benchParsers {
		b.Run(pr.String(), func(b *testing.B) {
			srv := New(Options{Parser: pr, PingInterval: time.Hour, PingTimeout: time.Hour})
			srv.OnConnection(func(s *Socket) {
				s.On("call", func(ev *Event) { _ = ev.Ack("ok", 1) })
			})
			ts := httptest.NewServer(srv)
			b.Cleanup(func() {
				_ = srv.Close()
				ts.Close()
			})
			ws := benchOpen(b, ts.URL)
			defer ws.Close()
			var call []byte
			kind := websocket.TextMessage
			if pr == ParserMsgpack {
				kind = websocket.BinaryMessage
				if err := ws.WriteMessage(kind, sio.AppendMsgpackControl(nil, sio.Connect, "/", nil)); err != nil {
					b.Fatal(err)
				}
				call = sio.AppendMsgpackEvent(nil, "/", 1, "call", []byte(`{"user":"ann","text":"hi"}`), nil, "")
			} else {
				if err := ws.WriteMessage(kind, []byte("40")); err != nil {
					b.Fatal(err)
				}
				call = []byte(`421["call",{"user":"ann","text":"hi"}]`)
			}
			if _, _, err := ws.ReadMessage(); err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if err := ws.WriteMessage(kind, call); err != nil {
					b.Fatal(err)
				}
				if _, _, err := ws.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkParserDecode is an incoming event from the Engine.IO message to
// its listener (decode, dispatch, Bind), as BenchmarkDecodeEvent, with
// each parser.
func BenchmarkParserDecode(b *testing.B) {
	for _, pr := range benchParsers {
		b.Run(pr.String(), func(b *testing.B) {
			srv := New(Options{Parser: pr, PingInterval: time.Hour, PingTimeout: time.Hour})
			ts := httptest.NewServer(srv)
			c := benchDialParser(b, ts.URL, pr)
			b.Cleanup(func() {
				c.close()
				srv.Close()
				ts.Close()
			})
			var s *Socket
			deadline := time.Now().Add(10 * time.Second)
			for s = srv.Of("/").Socket(c.id); s == nil; s = srv.Of("/").Socket(c.id) {
				if time.Now().After(deadline) {
					b.Fatal("no socket")
				}
				time.Sleep(time.Millisecond)
			}
			type chat struct {
				User string `json:"user"`
				Text string `json:"text"`
			}
			chats := make(chan chat, 1)
			s.On("chat", func(ev *Event) {
				var got chat
				_ = ev.Args.Bind(&got)
				chats <- got
			})
			msg, binary := []byte(`2["chat",{"user":"ann","text":"hello, \"world\""}]`), false
			if pr == ParserMsgpack {
				msg = sio.AppendMsgpackEvent(nil, "/", sio.NoID, "chat", []byte(`{"user":"ann","text":"hello, \"world\""}`), nil, "")
				binary = true
			}
			timer := time.NewTimer(time.Hour)
			defer timer.Stop()
			b.ReportAllocs()
			for b.Loop() {
				s.client.OnMessage(msg, binary)
				if got := received(b, chats, timer); got.Text != `hello, "world"` {
					b.Fatalf("got %+v", got)
				}
			}
		})
	}
}
