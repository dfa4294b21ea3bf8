package hub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// TestEmitWithAckForgetsEndedContext: an EmitWithAck whose context ends
// takes its entry out of the socket's ack table (and stops its timer), so
// that a client that never answers does not make the table grow; an answer
// that comes afterwards is dropped.
func TestEmitWithAckForgetsEndedContext(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	sockets := make(chan *hub.Socket, 1)
	srv.OnConnection(func(s *hub.Socket) { sockets <- s })
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	s := socketOf(t, sockets)

	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	const n = 10_000
	for i := range n {
		ctx := cancelled
		e := s.Emitter()
		switch i % 100 {
		case 0:
			// A context that ends while the emit waits.
			var stop context.CancelFunc
			ctx, stop = context.WithTimeout(context.Background(), time.Millisecond)
			defer stop()
		case 1, 2, 3:
			e = s.Timeout(time.Hour)
		}
		_, err := e.EmitWithAck(ctx, "question", i)
		if !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("emit %d: %v, want the context's error", i, err)
		}
	}
	if got := s.PendingAcks(); got != 0 {
		t.Fatalf("%d entries left in the ack table after %d emits whose contexts ended, want 0", got, n)
	}

	// A late answer finds no entry and changes nothing.
	p, err := c.WaitEvent("/", "question", testWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ack("/", p.ID, "late"); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() {
		_, err := s.Timeout(testWait).EmitWithAck(context.Background(), "final")
		done <- err
	}()
	p, err = c.WaitEvent("/", "final", testWait)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ack("/", p.ID, "ok"); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("the last emit: %v", err)
		}
	case <-time.After(2 * testWait):
		t.Fatal("the last emit got no answer")
	}
	if got := s.PendingAcks(); got != 0 {
		t.Fatalf("%d entries left in the ack table, want 0", got)
	}
}
