package host

import (
	"bytes"
	"context"
	"errors"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub"
)

// hookWait bounds every wait of the hook context tests.
const hookWait = 10 * time.Second

// slowPluginHub serves a hub whose hooks run one fake plugin, fn, with a
// 30 s timeout and chain budget, and returns its WebSocket URL.
func slowPluginHub(t *testing.T, hooks []Hook, fn func(context.Context, *Envelope) (*Decision, error)) string {
	t.Helper()
	h, rt := newTestHost(t)
	rt.set("slow", fn)
	s := spec("slow", 0, hooks...)
	s.Manifest.Timeout = Duration(30 * time.Second)
	raiseBudgets(h, 30*time.Second) // the calls wait for their socket to go
	if err := h.Load(context.Background(), []Spec{s}); err != nil {
		t.Fatal(err)
	}
	srv := hub.New(hub.Options{})
	srv.SetHooks(h.Hooks())
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = srv.Close()
		ts.Close()
	})
	return "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket"
}

// dialHub opens a raw Engine.IO WebSocket and sends CONNECT for "/".
func dialHub(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial(url, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ws.Close() })
	_ = ws.SetReadDeadline(time.Now().Add(hookWait))
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		t.Fatalf("open: %q %v", open, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		t.Fatal(err)
	}
	return ws
}

// waitCall waits for a plugin call to report on ch.
func waitCall(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(hookWait):
		t.Fatalf("%s: the plugin call did not return within %v (its timeout is 30 s)", what, hookWait)
		return nil
	}
}

// TestHookCallEndsWithItsSocket: a plugin call for a socket that
// disconnects while it runs is abandoned with the context's error, not run
// to its 30 s timeout (the fake runtime, like the process runtime, watches
// its context); the disconnect hook's call still runs with a live context.
func TestHookCallEndsWithItsSocket(t *testing.T) {
	started := make(chan struct{}, 1)
	eventDone := make(chan error, 1)
	disconnectCtx := make(chan error, 1)
	url := slowPluginHub(t, []Hook{HookEvent, HookDisconnect}, func(ctx context.Context, env *Envelope) (*Decision, error) {
		switch env.Hook {
		case HookEvent:
			started <- struct{}{}
			<-ctx.Done()
			eventDone <- ctx.Err()
			return nil, ctx.Err()
		case HookDisconnect:
			disconnectCtx <- ctx.Err()
		}
		return &Decision{}, nil
	})
	ws := dialHub(t, url)
	if _, reply, err := ws.ReadMessage(); err != nil || !bytes.HasPrefix(reply, []byte("40{")) {
		t.Fatalf("connect: %q %v", reply, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte(`42["slow"]`)); err != nil {
		t.Fatal(err)
	}
	select {
	case <-started:
	case <-time.After(hookWait):
		t.Fatal("the event hook was not called")
	}
	_ = ws.Close() // the socket goes while its event hook runs
	if err := waitCall(t, eventDone, "event hook"); !errors.Is(err, context.Canceled) {
		t.Fatalf("the event hook's call ended with %v, want context.Canceled", err)
	}
	if err := waitCall(t, disconnectCtx, "disconnect hook"); err != nil {
		t.Fatalf("the disconnect hook's context had ended (%v): its call would be abandoned", err)
	}
}

// TestConnectHookCallEndsWithItsConnection: a connect hook's call for a
// connection that closes meanwhile is abandoned too.
func TestConnectHookCallEndsWithItsConnection(t *testing.T) {
	started := make(chan struct{}, 1)
	done := make(chan error, 1)
	url := slowPluginHub(t, []Hook{HookConnect}, func(ctx context.Context, env *Envelope) (*Decision, error) {
		started <- struct{}{}
		<-ctx.Done()
		done <- ctx.Err()
		return nil, ctx.Err()
	})
	ws := dialHub(t, url)
	select {
	case <-started:
	case <-time.After(hookWait):
		t.Fatal("the connect hook was not called")
	}
	_ = ws.Close()
	if err := waitCall(t, done, "connect hook"); !errors.Is(err, context.Canceled) {
		t.Fatalf("the connect hook's call ended with %v, want context.Canceled", err)
	}
}
