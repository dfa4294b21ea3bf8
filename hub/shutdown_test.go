package hub_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"runtime/pprof"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

const shuttingDownBody = `{"code":4,"message":"Server shutting down"}`

// expectHandshakeRefused checks that a polling and a WebSocket handshake
// get 503 with the engine's JSON error.
func expectHandshakeRefused(t *testing.T, base string) {
	t.Helper()
	res, err := http.Get(base + ioPath + "?EIO=4&transport=polling")
	if err != nil {
		t.Fatalf("polling handshake: %v", err)
	}
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || string(b) != shuttingDownBody ||
		res.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("polling handshake during shutdown: %d %q (%s), want 503 %q", res.StatusCode, b, res.Header.Get("Content-Type"), shuttingDownBody)
	}
	ws, res, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+ioPath+"?EIO=4&transport=websocket", nil)
	if err == nil {
		ws.Close()
		t.Fatal("WebSocket handshake accepted during shutdown")
	}
	if res == nil {
		t.Fatalf("WebSocket handshake during shutdown: %v, want 503", err)
	}
	b, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusServiceUnavailable || string(b) != shuttingDownBody {
		t.Fatalf("WebSocket handshake during shutdown: %d %q, want 503 %q", res.StatusCode, b, shuttingDownBody)
	}
}

// TestShutdownFlushesThenCloses: events emitted just before Shutdown reach
// a WebSocket client and a long-polling client (whose next poll carries
// them, and the one after it the close packet); the sockets end at once
// with "server shutting down" and no DISCONNECT packet; handshakes during
// the shutdown get 503; Shutdown returns nil once both connections have
// closed, with no connection and no goroutine left.
func TestShutdownFlushesThenCloses(t *testing.T) {
	srv := hub.New(hub.Options{})
	ts := httptest.NewServer(srv)
	defer ts.Close()
	reasons := watchReasons(srv.Of("/"))
	time.Sleep(10 * time.Millisecond) // let earlier tests' goroutines finish
	baseline := runtime.NumGoroutine()

	ws, err := testclient.DialOptions(ts.URL, ioPath, testclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	wsID := hubConnect(t, ws, "/", nil)
	hc := &http.Client{Transport: &http.Transport{}}
	poll := newPollSessionWith(t, ts.URL, hc)
	pollID := poll.connect()
	reasons.watching(t, wsID, pollID)

	const n = 200
	for i := range n {
		if err := srv.Emit("tick", i); err != nil {
			t.Fatal(err)
		}
	}
	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		shut <- srv.Shutdown(ctx)
	}()

	// The sockets end at once, before their connections have flushed.
	for _, id := range []string{wsID, pollID} {
		if r := reasons.waitFor(t, id); r != hub.ReasonServerShuttingDown {
			t.Errorf("socket %s: reason %q, want %q", id, r, hub.ReasonServerShuttingDown)
		}
	}
	expectHandshakeRefused(t, ts.URL)

	for i := range n {
		p, err := ws.NextEvent("/", testWait)
		if err != nil {
			t.Fatalf("WebSocket client, event %d: %v", i, err)
		}
		if p.Event != "tick" || string(p.Args[0]) != fmt.Sprint(i) {
			t.Fatalf("WebSocket client, event %d: %s %s", i, p.Event, p.Args)
		}
	}
	if err := ws.WaitClosed(testWait); err != nil {
		t.Fatal(err)
	}
	if got := pktTexts(ws.Pending()); len(got) != 0 {
		t.Errorf("WebSocket client: packets after the events: %q", got)
	}

	var bodies []string
	for {
		b := poll.get()
		if b == "1" {
			break
		}
		bodies = append(bodies, b)
		if len(bodies) > n {
			t.Fatalf("polling client: no close packet after %d polls", len(bodies))
		}
	}
	var want []string
	for i := range n {
		want = append(want, fmt.Sprintf(`42["tick",%d]`, i))
	}
	if got := strings.Join(bodies, "\x1e"); got != strings.Join(want, "\x1e") {
		t.Fatalf("polling client got %q, want the %d events and nothing else", compatTruncate(got, 300), n)
	}

	select {
	case err := <-shut:
		if err != nil {
			t.Fatalf("Shutdown = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return once every connection closed")
	}
	if c := srv.Connections(); c != 0 {
		t.Fatalf("Connections() = %d after Shutdown", c)
	}
	expectHandshakeRefused(t, ts.URL) // still refused after

	hc.CloseIdleConnections()
	http.DefaultClient.CloseIdleConnections()
	deadline := time.Now().Add(testWait)
	for runtime.NumGoroutine() > baseline {
		if time.Now().After(deadline) {
			var buf bytes.Buffer
			_ = pprof.Lookup("goroutine").WriteTo(&buf, 1)
			t.Fatalf("%d goroutines after the shutdown, %d before the clients:\n%s", runtime.NumGoroutine(), baseline, buf.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestShutdownContextEnds: a client that never comes for what is queued
// holds Shutdown only until its context ends; the connection is then
// closed at once and Shutdown returns the context's error.
func TestShutdownContextEnds(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	poll := newPollSession(t, url)
	poll.connect()
	if err := srv.Emit("never fetched"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	shut := make(chan error, 1)
	go func() { shut <- srv.Shutdown(ctx) }()
	waitUntil(t, func() bool { return srv.Of("/").Len() == 0 }, "the socket to be disconnected")
	if c := srv.Connections(); c != 1 {
		t.Fatalf("Connections() = %d while the client holds its queue, want 1", c)
	}
	cancel()
	select {
	case err := <-shut:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("Shutdown = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown did not return when its context ended")
	}
	if c := srv.Connections(); c != 0 {
		t.Fatalf("Connections() = %d after Shutdown", c)
	}
}

// TestCloseRefusesHandshakes: Close is a Shutdown without grace: it
// returns at once, with no connection left, and refuses new ones.
func TestCloseRefusesHandshakes(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	poll := newPollSession(t, url)
	poll.connect()
	ws := hubDial(t, url)
	hubConnect(t, ws, "/", nil)
	if err := srv.Close(); err != nil {
		t.Fatalf("Close = %v", err)
	}
	if c := srv.Connections(); c != 0 {
		t.Fatalf("Connections() = %d after Close", c)
	}
	if err := ws.WaitClosed(testWait); err != nil {
		t.Fatal(err)
	}
	expectHandshakeRefused(t, url)
}
