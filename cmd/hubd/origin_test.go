package main

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub"
)

// originDial opens a WebSocket Engine.IO connection from origin ("" for
// none) and returns the HTTP status of the answer (101 when accepted).
func originDial(t *testing.T, addr, origin string) int {
	t.Helper()
	h := http.Header{}
	if origin != "" {
		h.Set("Origin", origin)
	}
	d := websocket.Dialer{HandshakeTimeout: 10 * time.Second}
	c, res, err := d.Dial("ws://"+addr+"/socket.io/?EIO=4&transport=websocket", h)
	if err == nil {
		defer c.Close()
		if _, open, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(open), "0{") {
			t.Fatalf("origin %q: open packet %q, %v", origin, open, err)
		}
		return res.StatusCode
	}
	if res == nil {
		t.Fatalf("origin %q: %v", origin, err)
	}
	return res.StatusCode
}

// pollStatus is the status of a polling handshake from origin.
func pollStatus(t *testing.T, addr, origin string) int {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+addr+"/socket.io/?EIO=4&transport=polling", nil)
	req.Header.Set("Origin", origin)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	_ = res.Body.Close()
	return res.StatusCode
}

// TestDaemonAllowedOrigins: with socketio.allowed_origins set and CORS
// off, a browser from another origin is refused with 403 on both
// transports; a listed origin and a client without Origin connect. By
// default (neither list set) any origin connects, as with Node's server.
func TestDaemonAllowedOrigins(t *testing.T) {
	cfgFile := writeFile(t, t.TempDir(), "hubd.json", `{"listen": "127.0.0.1:0",
		"socketio": {"allowed_origins": ["https://App.example/"]}}`)
	d := start(t, "-config", cfgFile)
	for origin, want := range map[string]int{"": 101, "https://app.example": 101, "https://evil.example": 403, "null": 403} {
		if got := originDial(t, d.addr, origin); got != want {
			t.Errorf("websocket from %q: %d, want %d", origin, got, want)
		}
	}
	for origin, want := range map[string]int{"https://app.example": 200, "https://evil.example": 403} {
		if got := pollStatus(t, d.addr, origin); got != want {
			t.Errorf("polling from %q: %d, want %d", origin, got, want)
		}
	}
	if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if code := d.wait(t); code != 0 {
		t.Fatalf("exit code %d:\n%s", code, d.stderr)
	}

	open := start(t, "-listen", "127.0.0.1:0")
	if got := originDial(t, open.addr, "https://evil.example"); got != 101 {
		t.Errorf("default: websocket from another origin: %d, want 101", got)
	}
}

// TestReloadAllowedOrigins: a reload sets, changes and clears
// allowed_origins while hubd runs.
func TestReloadAllowedOrigins(t *testing.T) {
	cfg := Defaults()
	l := newLive(cfg, nil, slog.New(slog.DiscardHandler), new(slog.LevelVar))
	srv := hub.New(l.hubOptions())
	l.srv = srv
	t.Cleanup(func() { _ = srv.Close() })
	h := l.wrapHub(srv)
	refused := func(transport, origin string) bool {
		req := httptest.NewRequest("GET", "/socket.io/?EIO=4&transport="+transport, nil)
		req.Header.Set("Origin", origin)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code == http.StatusForbidden
	}
	check := func(when string, want map[string]bool) {
		t.Helper()
		for o, ref := range want {
			for _, tr := range []string{"polling", "websocket"} {
				if got := refused(tr, o); got != ref {
					t.Errorf("%s: %s from %s refused %v, want %v", when, tr, o, got, ref)
				}
			}
		}
	}
	check("at start", map[string]bool{"https://a.example": false, "https://b.example": false})
	next := cfg
	next.SocketIO.AllowedOrigins = []string{"https://a.example"}
	l.apply(context.Background(), next)
	check("after reload", map[string]bool{"https://a.example": false, "https://b.example": true})
	next.SocketIO.AllowedOrigins = nil
	l.apply(context.Background(), next)
	check("cleared", map[string]bool{"https://a.example": false, "https://b.example": false})
}
