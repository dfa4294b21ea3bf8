package natsadapter_test

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
	"github.com/hubd/hubd/internal/testnats"
)

// The NATS server dies and comes back while one node broadcasts to a room
// with members on both nodes. The nodes are not restarted:
//
//   - the sending node's own client gets every tick, in order, throughout
//     (local delivery never waits for NATS);
//   - a request in flight when the server dies ends at its timeout, and
//     one made while the node is cut off fails at once with
//     hub.ErrUnavailable;
//   - across the cut, the other node's client may miss ticks: those the
//     server carried when it died, and those the sender's client flushed
//     from its reconnect buffer before the receiver had subscribed again
//     (NATS core delivers at most once);
//   - once the receiver has a tick sent after both nodes reconnected, it
//     gets every later one, in order, and the nodes count each other and
//     answer requests again, in the namespaces made while cut off too.
func TestNATSRestartDuringTraffic(t *testing.T) {
	ns, err := testnats.Start(0)
	if err != nil {
		t.Fatalf("starting nats-server: %v (install it: apt-get install nats-server)", err)
	}
	defer ns.Stop()

	cluster := adaptertest.ClusterName(t)
	o := natsadapter.Options{
		RequestsTimeout: 2 * time.Second,
		NATSOptions:     []nats.Option{nats.ReconnectWait(50 * time.Millisecond), nats.ReconnectJitter(0, 0)},
	}
	linkA := connect(t, ns.URL, cluster, o)
	linkB := connect(t, ns.URL, cluster, o)
	srvA, urlA := adaptertest.Serve(t, hub.Options{Adapter: linkA.Adapter}, nil)
	srvB, urlB := adaptertest.Serve(t, hub.Options{Adapter: linkB.Adapter}, func(s *hub.Server) {
		s.Of("/").OnServerSideEmit("hold", func(*hub.ServerEvent) {}) // never answers
	})
	adaptertest.WaitNodes(t, srvA, "/", 2)
	ca, ida := adaptertest.Dial(t, urlA, "/")
	adaptertest.JoinRooms(t, srvA, "/", ida, "r")
	cb, idb := adaptertest.Dial(t, urlB, "/")
	adaptertest.JoinRooms(t, srvB, "/", idb, "r")

	// The receiver: every tick a's client gets, in arrival order.
	var mu sync.Mutex
	var got []int
	var lastA atomic.Int64
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		for {
			p, err := ca.NextEvent("/", adaptertest.Wait)
			if err != nil {
				t.Errorf("receiver: %v", err)
				return
			}
			if p.Event == "end" {
				return
			}
			var n int
			if err := p.Arg(0, &n); err != nil {
				t.Errorf("receiver: %s: %v", p.Text, err)
				return
			}
			mu.Lock()
			got = append(got, n)
			mu.Unlock()
			lastA.Store(int64(n))
		}
	}()

	// The sender: b broadcasts tick i to the room, then waits for its own
	// client to get it before the next.
	var sent atomic.Int64
	// paused holds the sender once the cut has been seen with traffic:
	// what it sends while the server is down waits in the client's
	// reconnect buffer (megabytes), and the other node would otherwise
	// have to work through all of it before the first tick sent after the
	// reconnect, longer than any wait on a loaded machine.
	var paused atomic.Bool
	stop := make(chan struct{})
	senderDone := make(chan struct{})
	go func() {
		defer close(senderDone)
		for i := 1; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			for paused.Load() {
				time.Sleep(time.Millisecond)
			}
			// While the server is down, a broadcast reaches this node and
			// says the others could not be: once the client's reconnect
			// buffer is full (how soon depends on the machine's speed).
			if err := srvB.To("r").Emit("tick", i); err != nil && !errors.Is(err, hub.ErrUnavailable) {
				t.Errorf("tick %d: Emit: %v", i, err)
			}
			p, err := cb.WaitEvent("/", "tick", adaptertest.Wait)
			var n int
			if err != nil || p.Arg(0, &n) != nil || n != i {
				t.Errorf("local delivery of tick %d: got %v (%v)", i, p, err)
				return
			}
			sent.Store(int64(i))
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-senderDone
	}()

	adaptertest.WaitFor(t, func() bool { return lastA.Load() >= 20 }, "20 ticks across nodes before the cut")

	// A request in flight when the server dies: b never answers it.
	held := make(chan error, 1)
	go func() {
		_, err := srvA.Of("/").ServerSideEmitWithAck(context.Background(), "hold")
		held <- err
	}()

	ns.Kill()
	beforeCut := lastA.Load()
	adaptertest.WaitFor(t, func() bool { return !linkA.Healthy() && !linkB.Healthy() }, "both nodes to see the cut")
	if _, err := srvA.FetchSockets(context.Background()); !errors.Is(err, hub.ErrUnavailable) {
		t.Errorf("FetchSockets while cut off: err = %v, want hub.ErrUnavailable", err)
	}
	// Namespaces made while cut off join the cluster once reconnected.
	srvA.Of("/late")
	srvB.Of("/late")
	atCut := sent.Load()
	adaptertest.WaitFor(t, func() bool { return sent.Load() >= atCut+50 }, "50 local ticks while the server is down")
	paused.Store(true)
	select {
	case err := <-held:
		if !errors.Is(err, hub.ErrTimeout) && !errors.Is(err, hub.ErrUnavailable) {
			t.Errorf("the request in flight at the cut ended with %v, want a timeout", err)
		}
	case <-time.After(adaptertest.Wait):
		t.Fatal("the request in flight at the cut did not end")
	}

	if err := ns.Restart(); err != nil {
		t.Fatal(err)
	}
	adaptertest.WaitFor(t, func() bool { return linkA.Healthy() && linkB.Healthy() }, "both nodes to reconnect")
	paused.Store(false)
	reconnected := sent.Load()
	adaptertest.WaitFor(t, func() bool { return lastA.Load() > reconnected }, "a tick sent after the reconnect to cross nodes")
	resumed := lastA.Load()
	adaptertest.WaitFor(t, func() bool { return sent.Load() >= resumed+100 }, "100 more ticks")
	close(stop)
	<-senderDone
	if err := srvB.To("r").Emit("end"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-readerDone:
	case <-time.After(adaptertest.Wait):
		t.Fatal("the receiver did not get the end")
	}

	last := int(sent.Load())
	mu.Lock()
	defer mu.Unlock()
	seen := map[int]bool{}
	prev := 0
	for _, n := range got {
		if n <= prev {
			t.Errorf("tick %d after %d: out of order or twice", n, prev)
		}
		prev = n
		seen[n] = true
	}
	for i := 1; i <= int(beforeCut); i++ {
		if !seen[i] {
			t.Errorf("tick %d, sent before the cut, was lost", i)
		}
	}
	for i := int(resumed); i <= last; i++ {
		if !seen[i] {
			t.Errorf("tick %d, sent after the nodes reconnected, was lost", i)
		}
	}
	lost := 0
	for i := int(beforeCut) + 1; i < int(resumed); i++ {
		if !seen[i] {
			lost++
		}
	}
	t.Logf("%d ticks sent, %d before the cut, %d of the %d around the cut lost, none after tick %d",
		last, beforeCut, lost, int(resumed)-int(beforeCut)-1, resumed)
	adaptertest.WaitNodes(t, srvA, "/", 2)
	adaptertest.WaitNodes(t, srvB, "/", 2)
	adaptertest.WaitNodes(t, srvA, "/late", 2)
	late, _ := adaptertest.Dial(t, urlA, "/late")
	if err := srvB.Of("/late").Emit("late"); err != nil {
		t.Fatal(err)
	}
	adaptertest.ExpectEvent(t, late, "/late", "late")
	all, err := srvA.FetchSockets(context.Background())
	if err != nil || len(all) != 2 {
		t.Errorf("FetchSockets after the reconnect: %d sockets, %v; want 2", len(all), err)
	}
}
