package natsadapter_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
)

// A request to a node that never answers (here a peer that subscribes and
// sends heartbeats, nothing else) ends at the requests' timeout with an error that says how
// many nodes answered and wraps hub.ErrTimeout; the node then goes on.
func TestRequestsTimeOut(t *testing.T) {
	cluster := adaptertest.ClusterName(t)
	f := flavour(natsURL, natsadapter.Options{RequestsTimeout: 300 * time.Millisecond})
	a := adaptertest.Start(t, f, cluster, nil)
	nc := rawConn(t, natsURL)
	subject := natsadapter.Subject(cluster, "/")
	ctx := context.Background()

	// A node counted from its heartbeat that no longer subscribes (it
	// crashed): the NATS server says no one would answer, and the node
	// stops counting it at once.
	if err := nc.Publish(subject, natsadapter.EncodeHeartbeat("crashed")); err != nil {
		t.Fatal(err)
	}
	adaptertest.WaitNodes(t, a.Server, "/", 2)
	if _, err := a.Server.FetchSockets(ctx); err != nil {
		t.Fatalf("FetchSockets with no other node subscribed: %v", err)
	}
	adaptertest.WaitNodes(t, a.Server, "/", 1)

	// A node that subscribes and never answers.
	if _, err := nc.SubscribeSync(subject); err != nil {
		t.Fatal(err)
	}
	if err := nc.Publish(subject, natsadapter.EncodeHeartbeat("silent")); err != nil {
		t.Fatal(err)
	}
	adaptertest.WaitNodes(t, a.Server, "/", 2)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, hub.ErrTimeout) || !strings.Contains(err.Error(), "0 of 1 nodes answered") {
			t.Errorf("%s: err = %v, want a timeout naming the nodes that answered", what, err)
		}
	}
	_, err := a.Server.FetchSockets(ctx)
	check("FetchSockets", err)
	_, err = a.Server.Of("/").Rooms(ctx)
	check("Rooms", err)
	_, err = a.Server.Of("/").ServerSideEmitWithAck(ctx, "ping")
	check("ServerSideEmitWithAck", err)
	// The caller's context ends the wait too.
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := a.Server.FetchSockets(cctx); err == nil {
		t.Error("FetchSockets with an ended context succeeded")
	}
}

// Closing a cluster with a request and a broadcast with acks pending (a
// peer that subscribes but never answers) ends both with ErrClosed, and
// leaves no goroutine of the adapter or of the NATS client behind.
func TestNoGoroutineLeftWithPendingRequests(t *testing.T) {
	before := runtime.NumGoroutine()
	cluster := adaptertest.ClusterName(t)
	func() {
		nc := rawConn(t, natsURL)
		subject := natsadapter.Subject(cluster, "/")
		peer, err := nc.SubscribeSync(subject)
		if err != nil {
			t.Fatal(err)
		}
		c, err := natsadapter.New(context.Background(), natsadapter.Options{URLs: []string{natsURL}, SubjectPrefix: cluster, RequestsTimeout: time.Hour})
		if err != nil {
			t.Fatal(err)
		}
		srv := hub.New(hub.Options{Adapter: c.Adapter})
		if err := nc.Publish(subject, natsadapter.EncodeHeartbeat("silent")); err != nil {
			t.Fatal(err)
		}
		adaptertest.WaitNodes(t, srv, "/", 2)
		fetched := make(chan error, 1)
		go func() {
			_, err := srv.FetchSockets(context.Background())
			fetched <- err
		}()
		acked := make(chan error, 1)
		if err := srv.Emit("question", hub.BroadcastAckFunc(func(_ []hub.Args, err error) { acked <- err })); err != nil {
			t.Fatal(err)
		}
		// The requests are pending once the peer has them (after the
		// node's hello).
		adaptertest.WaitFor(t, func() bool { n, _, _ := peer.Pending(); return n >= 3 }, "the peer to get the requests")
		srv.Close()
		c.Close()
		for what, ch := range map[string]chan error{"FetchSockets": fetched, "the broadcast with acks": acked} {
			select {
			case err := <-ch:
				if !errors.Is(err, natsadapter.ErrClosed) {
					t.Errorf("%s ended with %v, want ErrClosed", what, err)
				}
			case <-time.After(adaptertest.Wait):
				t.Fatalf("%s did not end when the cluster closed", what)
			}
		}
		nc.Close()
	}()
	adaptertest.WaitFor(t, func() bool { return runtime.NumGoroutine() <= before+2 }, "the goroutines to end")
}
