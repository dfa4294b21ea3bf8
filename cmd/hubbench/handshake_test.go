package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// TestHandshakerRun runs the lean connect client against a minimal
// Engine.IO server built on gorilla: it must pass gorilla's handshake
// checks, send a masked CONNECT and accept the reply.
func TestHandshakerRun(t *testing.T) {
	t.Parallel()
	got := make(chan string, 1)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		up := websocket.Upgrader{}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		_ = c.WriteMessage(websocket.TextMessage, []byte(`0{"sid":"x","upgrades":[],"pingInterval":25000,"pingTimeout":20000,"maxPayload":1000000}`))
		_, msg, err := c.ReadMessage()
		if err != nil {
			return
		}
		got <- string(msg)
		_ = c.WriteMessage(websocket.TextMessage, []byte(`2`)) // a ping first
		_ = c.WriteMessage(websocket.TextMessage, []byte(`40{"sid":"y"}`))
		_, _, _ = c.ReadMessage()
	}))
	defer srv.Close()
	h, err := newHandshaker("ws"+strings.TrimPrefix(srv.URL, "http")+"/socket.io/?EIO=4&transport=websocket", []byte(`{"k":1}`), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.run(context.Background()); err != nil {
		t.Fatal(err)
	}
	if m := <-got; m != `40{"k":1}` {
		t.Fatalf("server read %q", m)
	}
}

func TestCheckUpgradeResponse(t *testing.T) {
	t.Parallel()
	key := []byte("dGhlIHNhbXBsZSBub25jZQ==")
	cases := []struct {
		head string
		ok   bool
	}{
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nsec-websocket-accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n", true},
		{"HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA=\r\n", false},
		{"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n", false},
		{"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n", false},
	}
	for _, tc := range cases {
		if err := checkUpgradeResponse([]byte(tc.head), key); (err == nil) != tc.ok {
			t.Errorf("%q: err %v", tc.head, err)
		}
	}
}
