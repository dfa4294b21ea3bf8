package hub_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// silentSockets connects n clients to "/" that never answer an ack and
// returns their sockets.
func silentSockets(t *testing.T, srv *hub.Server, url string, n int) []*hub.Socket {
	t.Helper()
	var out []*hub.Socket
	for range n {
		c := hubDial(t, url)
		out = append(out, hubSocket(t, srv.Of("/"), hubConnect(t, c, "/", nil)))
	}
	return out
}

// pendingAcks returns the entries left in the sockets' ack tables.
func pendingAcks(sockets []*hub.Socket) int {
	n := 0
	for _, s := range sockets {
		n += s.PendingAcks()
	}
	return n
}

// A broadcast with acks that times out takes its ack out of its targets'
// tables, as the reference's timer deletes it from every socket: many
// timed-out broadcasts to sockets that never answer leave nothing behind.
// So does one whose EmitWithAck's context ends first.
func TestBroadcastAckTimeoutForgetsAcks(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	sockets := silentSockets(t, srv, url, 5)
	nsp := srv.Of("/")

	t.Run("timeout", func(t *testing.T) {
		const rounds = 50
		for i := range rounds {
			ctx, cancel := context.WithTimeout(context.Background(), testWait)
			r, err := srv.Timeout(time.Millisecond).EmitWithAck(ctx, "question", i)
			cancel()
			if !errors.Is(err, hub.ErrTimeout) {
				t.Fatalf("round %d: %v, want ErrTimeout", i, err)
			}
			if len(r) != 0 {
				t.Fatalf("round %d: %d answers from sockets that never answer", i, len(r))
			}
		}
		// The callback (here EmitWithAck's) comes once the targets have
		// forgotten the ack.
		if n := pendingAcks(sockets); n != 0 {
			t.Errorf("%d acks left in the sockets' tables after %d timed-out broadcasts", n, rounds)
		}
		if n := nsp.AckBroadcasts(); n != 0 {
			t.Errorf("the adapter still tracks %d broadcasts", n)
		}
	})

	t.Run("callback", func(t *testing.T) {
		done := make(chan error, 1)
		err := srv.Timeout(time.Millisecond).Emit("question", hub.BroadcastAckFunc(func(_ []hub.Args, err error) {
			done <- err
		}))
		if err != nil {
			t.Fatal(err)
		}
		select {
		case err := <-done:
			if !errors.Is(err, hub.ErrTimeout) {
				t.Fatalf("callback got %v, want ErrTimeout", err)
			}
		case <-time.After(testWait):
			t.Fatal("no callback")
		}
		if n := pendingAcks(sockets); n != 0 {
			t.Errorf("%d acks left in the sockets' tables", n)
		}
	})

	t.Run("context", func(t *testing.T) {
		before := pendingAcks(sockets)
		ctx, cancel := context.WithCancel(context.Background())
		ended := make(chan error, 1)
		go func() {
			_, err := srv.EmitWithAck(ctx, "question") // no timeout
			ended <- err
		}()
		// Every socket has been asked before the context ends.
		waitUntil(t, func() bool { return pendingAcks(sockets) == before+len(sockets) }, "every socket asked")
		cancel()
		select {
		case err := <-ended:
			if !errors.Is(err, context.Canceled) {
				t.Fatalf("EmitWithAck: %v, want context.Canceled", err)
			}
		case <-time.After(testWait):
			t.Fatal("EmitWithAck did not return when its context ended")
		}
		if n := pendingAcks(sockets) - before; n != 0 {
			t.Errorf("%d acks left in the sockets' tables after the context ended", n)
		}
		if n := nsp.AckBroadcasts(); n != 0 {
			t.Errorf("the adapter still tracks %d broadcasts", n)
		}
	})
}

// A broadcast with acks a cluster adapter carries out for another node
// (LocalAdapter.BroadcastWithAck with a Timeout, no operator on this node)
// is forgotten by its targets when the Timeout passes.
func TestLocalBroadcastAckTimeoutForgetsAcks(t *testing.T) {
	var local hub.LocalAdapter
	srv, url := hubServer(t, hub.Options{Adapter: func(n *hub.Namespace, l hub.LocalAdapter) (hub.Adapter, error) {
		if n.Name() == "/" {
			local = l
		}
		return l, nil
	}})
	nsp := srv.Of("/")
	sockets := silentSockets(t, srv, url, 3)
	args, err := hub.NewArgs("from another node")
	if err != nil {
		t.Fatal(err)
	}
	counted := make(chan int, 1)
	opts := hub.BroadcastOptions{Flags: hub.BroadcastFlags{Timeout: time.Millisecond}}
	if err := local.BroadcastWithAck(hub.NewPacket("/", "question", args), opts,
		func(n int) { counted <- n }, func(hub.Args, error) {}); err != nil {
		t.Fatal(err)
	}
	select {
	case n := <-counted:
		if n != len(sockets) {
			t.Fatalf("counted %d targets, want %d", n, len(sockets))
		}
	case <-time.After(testWait):
		t.Fatal("BroadcastWithAck did not count its targets")
	}
	waitUntil(t, func() bool { return pendingAcks(sockets) == 0 }, "the targets forget the timed-out ack")
	waitUntil(t, func() bool { return nsp.AckBroadcasts() == 0 }, "the adapter forgets the broadcast")
}
