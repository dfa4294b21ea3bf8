// Command conformance serves what the official Engine.IO v4 and Socket.IO v5
// protocol test suites expect (see CONFORMANCE.md at the repository root):
// an Engine.IO echo server at /engine.io/ and a Socket.IO server at
// /socket.io/, both with pingInterval 300ms, pingTimeout 200ms and a
// maxPayload of 1,000,000 bytes.
package main

import (
	"flag"
	"log"
	"net/http"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/engine"
)

func main() {
	addr := flag.String("addr", "localhost:3000", "listen address")
	flag.Parse()

	mux := http.NewServeMux()
	mux.Handle("/engine.io/", echoServer())
	mux.Handle("/socket.io/", socketServer())
	log.Printf("conformance server on %s", *addr)
	log.Fatal(http.ListenAndServe(*addr, mux))
}

// echoServer is the Engine.IO suite's server: every message comes back as
// it came, text as text and binary as binary.
func echoServer() *engine.Server {
	return engine.NewServer(engine.Config{
		PingInterval: 300 * time.Millisecond,
		PingTimeout:  200 * time.Millisecond,
		MaxPayload:   1_000_000,
		CORS:         &engine.CORS{Origins: []string{"*"}},
		OnConnection: func(c *engine.Conn, _ *http.Request) {
			c.SetHandler(echo{c})
		},
	})
}

type echo struct{ c *engine.Conn }

func (e echo) OnMessage(data []byte, binary bool) {
	f := engine.Frame{Data: data, Binary: binary}
	if !binary {
		f = engine.Text(4, data)
	}
	e.c.Send([]engine.Frame{f}, false)
}

func (echo) OnClose(string) {}

// socketServer is the Socket.IO suite's server: "auth" echoes the CONNECT
// payload on "/" and "/custom", "message" comes back as "message-back" and
// "message-with-ack" is acknowledged with its own arguments.
func socketServer() *hub.Server {
	s := hub.New(hub.Options{
		PingInterval:   300 * time.Millisecond,
		PingTimeout:    200 * time.Millisecond,
		ConnectTimeout: time.Second,
		MaxPayload:     1_000_000,
		CORS:           &hub.CORS{Origins: []string{"*"}},
	})
	s.OnConnection(func(sock *hub.Socket) {
		_ = sock.Emit("auth", sock.Handshake().Auth)
		sock.On("message", func(ev *hub.Event) {
			_ = sock.Emit("message-back", ev.Args)
		})
		sock.On("message-with-ack", func(ev *hub.Event) {
			_ = ev.Ack(ev.Args)
		})
	})
	s.Of("/custom").OnConnection(func(sock *hub.Socket) {
		_ = sock.Emit("auth", sock.Handshake().Auth)
	})
	return s
}
