package hub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// waitDone waits for ctx to end and checks that its cause is a disconnect.
func waitDone(t *testing.T, ctx context.Context, what string) {
	t.Helper()
	select {
	case <-ctx.Done():
	case <-time.After(testWait):
		t.Fatalf("%s: the socket's context did not end", what)
	}
	if cause := context.Cause(ctx); !errors.Is(cause, hub.ErrDisconnected) {
		t.Errorf("%s: context.Cause = %v, want an error wrapping ErrDisconnected", what, cause)
	}
}

// TestSocketContext: a socket's context lives while the socket is
// connected and ends when it disconnects, whoever ends it.
func TestSocketContext(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	sockets := make(chan *hub.Socket, 4)
	srv.OnConnection(func(s *hub.Socket) { sockets <- s })

	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	s := socketOf(t, sockets)
	ctx := s.Context()
	if ctx.Err() != nil || s.Context() != ctx {
		t.Fatal("a connected socket's context: ended, or not the same twice")
	}
	_ = c.Close()
	waitDone(t, ctx, "client closed")

	c = hubDial(t, url)
	hubConnect(t, c, "/", nil)
	s = socketOf(t, sockets)
	ctx = s.Context()
	s.Disconnect(false)
	waitDone(t, ctx, "server disconnect")
	// Asked for after the end, it is already over.
	waitDone(t, s.Context(), "after the end")

	c = hubDial(t, url)
	hubConnect(t, c, "/", nil)
	s = socketOf(t, sockets)
	ctx = s.Context()
	_ = srv.Close()
	waitDone(t, ctx, "server closed")
}

// TestRefusedSocketContext: the context a middleware sees ends when the
// connection is refused.
func TestRefusedSocketContext(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	contexts := make(chan context.Context, 1)
	srv.Use(func(s *hub.Socket) error {
		contexts <- s.Context()
		return errors.New("no")
	})
	c := hubDial(t, url)
	if _, err := c.Connect("/", nil); err == nil {
		t.Fatal("connected, want refused")
	}
	select {
	case ctx := <-contexts:
		select {
		case <-ctx.Done():
		case <-time.After(testWait):
			t.Fatal("the refused socket's context did not end")
		}
	case <-time.After(testWait):
		t.Fatal("the middleware did not run")
	}
}
