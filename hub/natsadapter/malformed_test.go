package natsadapter_test

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/natsadapter"
)

// rawConn is a plain NATS connection of the test's own, playing a hostile
// or broken peer.
func rawConn(t testing.TB, url string) *nats.Conn {
	t.Helper()
	nc, err := nats.Connect(url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	return nc
}

// Messages that do not parse, in any part, are dropped whole: every
// truncation of a valid broadcast, trailing bytes, lengths and counts far
// beyond the message, strings that are not UTF-8, arguments that are not a
// JSON array or point at attachments that are not there, reserved event
// names, unknown types and versions. A well-formed broadcast sent after
// them, by the same peer, is delivered: the node still works, and the
// messages before it were read and dropped.
func TestMalformedMessagesAreIgnored(t *testing.T) {
	f := flavour(natsURL, natsadapter.Options{})
	cluster := adaptertest.ClusterName(t)
	a := adaptertest.Start(t, f, cluster, nil)
	c, id := adaptertest.Dial(t, a.URL, "/")
	adaptertest.JoinRooms(t, a.Server, "/", id, "r")

	valid := natsadapter.EncodeBroadcast("peer", []string{"r"}, "gone", `["abc",{"_placeholder":true,"num":0}]`, []byte{1, 2})
	var bad [][]byte
	for i := range len(valid) {
		bad = append(bad, valid[:i])
	}
	bad = append(bad,
		append(slices.Clone(valid), 0),
		[]byte{2, 4, 4, 'p', 'e', 'e', 'r'},                                      // another version
		[]byte{1, 99, 4, 'p', 'e', 'e', 'r'},                                     // an unknown type
		[]byte{1, 4, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01}, // a length of 2^64-1
		[]byte{1, 4, 4, 'p', 'e', 'e', 'r', 0xff, 0xff, 0xff, 0xff, 0x0f},        // a count of rooms of 2^32-1
		natsadapter.EncodeBroadcast("\xff\xfe", nil, "gone", `["abc"]`),
		natsadapter.EncodeBroadcast("", nil, "gone", `["abc"]`),
		natsadapter.EncodeBroadcast("peer", []string{"r\xff"}, "gone", `["abc"]`),
		natsadapter.EncodeBroadcast("peer", nil, "gone\xc0\xaf", `["abc"]`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", `["\xed\xa0\x80"]`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", `{"not":"an array"}`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", `["unterminated`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", `[{"_placeholder":true,"num":3}]`),
		natsadapter.EncodeBroadcast("peer", nil, "gone", strings.Repeat("[", 100000)+strings.Repeat("]", 100000)),
		natsadapter.EncodeBroadcast("peer", nil, "connect", `["abc"]`),
		natsadapter.EncodeBroadcast("peer", nil, "disconnect", `["abc"]`),
		natsadapter.EncodeJoin("peer", nil, "joined\xff"),
	)
	nc := rawConn(t, natsURL)
	subject := natsadapter.Subject(cluster, "/")
	for _, b := range bad {
		if err := nc.Publish(subject, b); err != nil {
			t.Fatal(err)
		}
	}
	// A malformed request with a reply inbox gets no answer either.
	inbox := nats.NewInbox()
	answers, err := nc.SubscribeSync(inbox)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bad {
		if err := nc.PublishRequest(subject, inbox, b); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.Publish(subject, natsadapter.EncodeBroadcast("peer", []string{"r"}, "still-fine", `[1]`)); err != nil {
		t.Fatal(err)
	}
	adaptertest.ExpectNone(t, c, "/", "gone", "still-fine")
	if n, _, _ := answers.Pending(); n != 0 {
		t.Errorf("%d answers to malformed requests", n)
	}
	if rooms := a.Server.Of("/").Socket(id).Rooms(); slices.ContainsFunc(rooms, func(r string) bool { return strings.HasPrefix(r, "joined") }) {
		t.Errorf("a malformed join was applied: rooms %v", rooms)
	}
	select {
	case <-c.Done():
		t.Fatalf("the client was disconnected: %v", c.Err())
	default:
	}
}

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

// Options are checked at New, every problem reported at once.
func TestOptionsAreValidated(t *testing.T) {
	_, err := natsadapter.New(context.Background(), natsadapter.Options{
		URLs:              []string{" "},
		SubjectPrefix:     "a.*.b",
		HeartbeatInterval: time.Second,
		HeartbeatTimeout:  time.Second,
	})
	if err == nil {
		t.Fatal("New accepted bad options")
	}
	for _, want := range []string{"empty URL", "subject prefix", "heartbeat timeout"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %q", err, want)
		}
	}
	for _, p := range []string{"socket.io", "hubd", "a-b_c.d"} {
		if err := (natsadapter.Options{SubjectPrefix: p}).Validate(); err != nil {
			t.Errorf("prefix %q: %v", p, err)
		}
	}
	for _, p := range []string{".a", "a.", "a..b", "a b", ">", "a.>"} {
		if err := (natsadapter.Options{SubjectPrefix: p}).Validate(); err == nil {
			t.Errorf("prefix %q accepted", p)
		}
	}
}

// New fails, with the server it tried, when no NATS server answers.
func TestNewFailsWithoutServer(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), adaptertest.Wait)
	defer cancel()
	_, err := natsadapter.New(ctx, natsadapter.Options{URLs: []string{"nats://127.0.0.1:1"}})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v, want one naming the server", err)
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

// A node that stops sending heartbeats without saying goodbye (it
// crashed, or was cut off) is counted until HeartbeatTimeout passes, then
// forgotten; a node that comes back is counted again.
func TestSilentNodeIsForgotten(t *testing.T) {
	cluster := adaptertest.ClusterName(t)
	f := flavour(natsURL, natsadapter.Options{HeartbeatInterval: 50 * time.Millisecond, HeartbeatTimeout: 200 * time.Millisecond})
	a := adaptertest.Start(t, f, cluster, nil)
	nc := rawConn(t, natsURL)
	subject := natsadapter.Subject(cluster, "/")
	// alive sends the quiet node's heartbeats until a counts it.
	alive := func() {
		stop := make(chan struct{})
		done := make(chan struct{})
		go func() {
			defer close(done)
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for {
				_ = nc.Publish(subject, natsadapter.EncodeHeartbeat("quiet"))
				select {
				case <-stop:
					return
				case <-tick.C:
				}
			}
		}()
		adaptertest.WaitNodes(t, a.Server, "/", 2)
		close(stop)
		<-done
	}
	alive()
	adaptertest.WaitNodes(t, a.Server, "/", 1)
	alive()
}
