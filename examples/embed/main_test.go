package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// start runs the program on a free port and returns its address; the server
// is shut down (and run's error checked) when the test ends.
func start(t *testing.T) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- run(ctx, "127.0.0.1:0", "plugins", ready) }()
	var addr string
	select {
	case a, ok := <-ready:
		if !ok {
			t.Fatal("ready closed without an address")
		}
		addr = a
	case err := <-done:
		cancel()
		t.Fatalf("run: %v", err)
	case <-time.After(30 * time.Second):
		cancel()
		t.Fatal("server not ready")
	}
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("run: %v", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("run did not return after cancel")
		}
	})
	return addr
}

// client is a minimal Socket.IO v5 client over WebSocket.
type client struct {
	t  *testing.T
	ws *websocket.Conn
}

func dial(t *testing.T, addr string) *client {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ws.Close() })
	c := &client{t: t, ws: ws}
	if open := c.read(); !strings.HasPrefix(open, "0{") {
		t.Fatalf("open packet: %q", open)
	}
	return c
}

func (c *client) send(msg string) {
	c.t.Helper()
	if err := c.ws.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		c.t.Fatal(err)
	}
}

// read returns the next text message, answering pings on the way.
func (c *client) read() string {
	c.t.Helper()
	for {
		_ = c.ws.SetReadDeadline(time.Now().Add(30 * time.Second))
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.t.Fatal(err)
		}
		if s := string(b); s == "2" {
			c.send("3")
		} else {
			return s
		}
	}
}

// connect joins the main namespace with auth and returns the socket id.
func (c *client) connect(auth string) string {
	c.t.Helper()
	c.send("40" + auth)
	msg := c.read()
	if !strings.HasPrefix(msg, `40{"sid":"`) {
		c.t.Fatalf("connect answer: %q", msg)
	}
	rest := strings.TrimPrefix(msg, `40{"sid":"`)
	return rest[:strings.IndexByte(rest, '"')]
}

func TestHello(t *testing.T) {
	addr := start(t)
	res, err := http.Get("http://" + addr + "/hello")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "hello") {
		t.Fatalf("GET /hello: %d %q", res.StatusCode, body)
	}
}

func TestWhoami(t *testing.T) {
	addr := start(t)
	c := dial(t, addr)
	sid := c.connect(`{"token":"t"}`)
	c.send(`421["whoami"]`)
	if got, want := c.read(), `431["`+sid+`"]`; got != want {
		t.Fatalf("whoami ack: got %q, want %q", got, want)
	}
}

func TestConnectWithoutToken(t *testing.T) {
	addr := start(t)
	c := dial(t, addr)
	c.send("40")
	if got := c.read(); !strings.HasPrefix(got, `44{"message":`) {
		t.Fatalf("connect without token: %q", got)
	}
}

func TestShoutUpperCased(t *testing.T) {
	addr := start(t)
	a, b := dial(t, addr), dial(t, addr)
	a.connect(`{"token":"a"}`)
	b.connect(`{"token":"b"}`)
	for _, c := range []*client{a, b} {
		c.send(`421["hub:join","lobby"]`)
		if got := c.read(); !strings.HasPrefix(got, `431[{"ok":true`) {
			t.Fatalf("hub:join: %q", got)
		}
	}
	a.send(`42["shout","hello"]`)
	if got, want := b.read(), `42["shout","HELLO"]`; got != want {
		t.Fatalf("shout: got %q, want %q", got, want)
	}
}
