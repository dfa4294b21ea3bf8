package redisadapter_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/testredis"
)

// counter counts the "tick" events a client receives.
func counter(c *testclient.Client) *atomic.Int64 {
	var n atomic.Int64
	go func() {
		for {
			if _, err := c.WaitEvent("/", "tick", time.Minute); err != nil {
				return
			}
			n.Add(1)
		}
	}()
	return &n
}

func grows(t *testing.T, n *atomic.Int64, what string) {
	t.Helper()
	from := n.Load()
	waitFor(t, func() bool { return n.Load() > from+5 }, what)
}

func TestRedisRestartDuringTraffic(t *testing.T) { allFlavours(t, testRedisRestartDuringTraffic) }

func testRedisRestartDuringTraffic(t *testing.T, o redisadapter.Options) {
	rs, err := testredis.Start(0)
	if err != nil {
		t.Fatalf("this test runs its own redis-server and could not start one: %v (apt-get install redis-server)", err)
	}
	defer func() { rs.Stop() }()
	key := testKey(t)
	a := newNode(t, o, rs.URL, key, nil)
	b := newNode(t, o, rs.URL, key, nil)
	waitNodes(t, a, "/", 2)

	ca, ida := dial(t, a, "/")
	joinRooms(t, a, "/", ida, "live")
	cb, idb := dial(t, b, "/")
	joinRooms(t, b, "/", idb, "live")
	waitRoomChannels(t, o, rs.URL, key, 2, "live")
	onA, onB := counter(ca), counter(cb)

	// Node B publishes to the room all along.
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(5 * time.Millisecond):
			}
			_ = b.srv.To("live").Emit("tick", i)
		}
	}()
	grows(t, onA, "cross-node delivery before the outage")

	rs.Stop()
	waitFor(t, func() bool { return !a.cluster.Healthy() && !b.cluster.Healthy() }, "both nodes to notice the outage")

	// Local delivery goes on; B's broadcasts say the other nodes were not
	// reached; requests to other nodes fail at once.
	grows(t, onB, "local delivery during the outage")
	if err := b.srv.To("live").Emit("tick", -1); !errors.Is(err, redisadapter.ErrUnavailable) {
		t.Errorf("Emit during the outage: %v, want ErrUnavailable", err)
	}
	start := time.Now()
	_, err = a.srv.Of("/").FetchSockets(context.Background())
	if !errors.Is(err, redisadapter.ErrUnavailable) {
		t.Errorf("FetchSockets during the outage: %v, want ErrUnavailable", err)
	}
	_, err = a.srv.Of("/").ServerSideEmitWithAck(context.Background(), "x")
	if !errors.Is(err, redisadapter.ErrUnavailable) {
		t.Errorf("ServerSideEmitWithAck during the outage: %v, want ErrUnavailable", err)
	}
	// Failing at once, not after waiting out RequestsTimeout.
	if d := time.Since(start); d >= requestsTimeout {
		t.Errorf("requests took %v to fail during the outage (RequestsTimeout %v)", d, requestsTimeout)
	}
	fromA := onA.Load()

	// Redis comes back on the same port: the nodes reconnect, subscribe
	// again and cross-node delivery resumes.
	rs2, err := testredis.Start(rs.Port)
	if err != nil {
		t.Fatal(err)
	}
	rs = rs2
	waitFor(t, func() bool { return a.cluster.Healthy() && b.cluster.Healthy() }, "both nodes to reconnect")
	waitFor(t, func() bool { return onA.Load() > fromA+5 }, "cross-node delivery after the outage")
	waitNodes(t, a, "/", 2)
	socks, err := a.srv.Of("/").FetchSockets(context.Background())
	if err != nil || len(socks) != 2 {
		t.Errorf("FetchSockets after the outage: %d sockets (%v), want 2", len(socks), err)
	}
}
