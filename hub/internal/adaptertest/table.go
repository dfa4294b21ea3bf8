package adaptertest

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// Run runs the whole table against f, each test as a subtest.
func Run(t *testing.T, f Flavour) {
	for _, c := range []struct {
		name string
		test func(*testing.T, Flavour)
	}{
		{"BroadcastAcrossNodes", BroadcastAcrossNodes},
		{"BroadcastAcksAcrossNodes", BroadcastAcksAcrossNodes},
		{"BroadcastAckEndsWhenLinkCloses", BroadcastAckEndsWhenLinkCloses},
		{"RemoteSocketsAcrossNodes", RemoteSocketsAcrossNodes},
		{"ServerSideEmitAcrossNodes", ServerSideEmitAcrossNodes},
		{"NodeThatLeavesIsNotCounted", NodeThatLeavesIsNotCounted},
		{"NamespacesAreSeparate", NamespacesAreSeparate},
		{"LargePayloadsAcrossNodes", LargePayloadsAcrossNodes},
		{"NoGoroutineLeftAfterClose", NoGoroutineLeftAfterClose},
	} {
		t.Run(c.name, func(t *testing.T) { c.test(t, f) })
	}
}

// BroadcastAcrossNodes: broadcasts to rooms, with except, to a socket id
// and local ones reach exactly their targets, binary values intact.
func BroadcastAcrossNodes(t *testing.T, f Flavour) {
	a, b := TwoNodes(t, f)

	ca, ida := Dial(t, a.URL, "/")
	JoinRooms(t, a.Server, "/", ida, "r1")
	ca2, ida2 := Dial(t, a.URL, "/")
	JoinRooms(t, a.Server, "/", ida2, "r1", "r2")
	cb, idb := Dial(t, b.URL, "/")
	JoinRooms(t, b.Server, "/", idb, "r2")
	f.waitRooms(t, a.Cluster, 1, "r1", "r2")

	// To one room from the other node, binary intact.
	blob := []byte{0, 1, 2, 250, 255}
	if err := b.Server.To("r1").Emit("to-r1", "text", 42, blob, map[string]any{"k": []any{1.5, true, nil}}); err != nil {
		t.Fatal(err)
	}
	p := ExpectEvent(t, ca, "/", "to-r1")
	var s string
	var n float64
	var bin []byte
	var obj map[string]any
	if err := p.Arg(0, &s); err != nil || s != "text" {
		t.Errorf("arg 0 = %q (%v)", s, err)
	}
	if err := p.Arg(1, &n); err != nil || n != 42 {
		t.Errorf("arg 1 = %v (%v)", n, err)
	}
	if err := p.Arg(2, &bin); err != nil || !bytes.Equal(bin, blob) {
		t.Errorf("arg 2 = %v (%v), want %v as binary", bin, err, blob)
	}
	if err := p.Arg(3, &obj); err != nil {
		t.Errorf("arg 3: %v", err)
	} else if l, _ := obj["k"].([]any); len(l) != 3 || l[0] != 1.5 || l[1] != true || l[2] != nil {
		t.Errorf("arg 3 = %v", obj)
	}
	ExpectEvent(t, ca2, "/", "to-r1")

	// Several rooms with except: a socket in r1 and r2 receives once, the
	// excepted socket nothing.
	if err := b.Server.Of("/").To("r1", "r2").Except(ida).Emit("multi", 1); err != nil {
		t.Fatal(err)
	}
	ExpectEvent(t, ca2, "/", "multi")
	ExpectEvent(t, cb, "/", "multi")
	_ = a.Server.Of("/").Emit("sentinel")
	ExpectNone(t, ca, "/", "multi", "sentinel")
	ExpectNone(t, ca2, "/", "multi", "sentinel")

	// To a socket id on the other node.
	if err := a.Server.To(idb).Emit("private", "x"); err != nil {
		t.Fatal(err)
	}
	ExpectEvent(t, cb, "/", "private")

	// Local stays on the node.
	if err := b.Server.Of("/").Local().Emit("local-only"); err != nil {
		t.Fatal(err)
	}
	_ = b.Server.Of("/").Emit("sentinel2")
	ExpectNone(t, ca, "/", "local-only", "sentinel2")
	ExpectEvent(t, cb, "/", "local-only")
}

// BroadcastAcksAcrossNodes: a broadcast with acks gathers the answers of
// every node's sockets; a timeout ends the wait with what came.
func BroadcastAcksAcrossNodes(t *testing.T, f Flavour) {
	a, b := TwoNodes(t, f)

	clients := 0
	remote := map[string]bool{}
	for _, n := range []*Node{a, b, b} {
		c, id := Dial(t, n.URL, "/")
		JoinRooms(t, n.Server, "/", id, "acked")
		clients++
		remote[id] = n == b
		go func() {
			for {
				p, err := c.WaitEvent("/", "question", Wait)
				if err != nil {
					return
				}
				_ = c.Ack("/", p.ID, id, "second arg")
			}
		}()
	}
	f.waitRooms(t, a.Cluster, 2, "acked")
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	got, err := a.Server.Of("/").To("acked").Timeout(Wait).EmitWithAck(ctx, "question", 1)
	if err != nil {
		t.Fatalf("EmitWithAck: %v (%d answers)", err, len(got))
	}
	if len(got) != clients {
		t.Fatalf("%d answers, want %d", len(got), clients)
	}
	answered := map[string]bool{}
	for _, r := range got {
		var id string
		if err := r.Bind(&id); err != nil {
			t.Errorf("answer %s: %v", r.JSON(), err)
		}
		answered[id] = true
		if remote[id] && r.Len() != 1 {
			t.Errorf("answer %s: only the first argument crosses nodes, as in Node", r.JSON())
		}
	}
	if len(answered) != clients {
		t.Errorf("answers from %v, want one from each of %v", answered, remote)
	}

	// A client that does not answer: the timeout ends the wait with what
	// came.
	Dial(t, b.URL, "/") // in no room
	_, id := Dial(t, b.URL, "/")
	JoinRooms(t, b.Server, "/", id, "acked")
	// Long enough for the answering clients, on both nodes, to beat it on
	// a loaded machine.
	got, err = a.Server.Of("/").To("acked").Timeout(3*time.Second).EmitWithAck(ctx, "question", 2)
	if !errors.Is(err, hub.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if len(got) != clients {
		t.Errorf("%d answers before the timeout, want %d", len(got), clients)
	}
}

// BroadcastAckEndsWhenLinkCloses: a broadcast with acks and no timeout
// that waits for another node's socket (which never answers) ends when
// the node's link closes, with the flavour's ErrClosed, instead of
// waiting for ever.
func BroadcastAckEndsWhenLinkCloses(t *testing.T, f Flavour) {
	a, b := TwoNodes(t, f)
	silent, _ := Dial(t, b.URL, "/") // never answers acks

	type result struct {
		answers []hub.Args
		err     error
	}
	done := make(chan result, 1)
	err := a.Server.Emit("question", hub.BroadcastAckFunc(func(r []hub.Args, err error) {
		done <- result{r, err}
	}))
	if err != nil {
		t.Fatal(err)
	}
	ExpectEvent(t, silent, "/", "question")
	select {
	case r := <-done:
		t.Fatalf("the broadcast ended before its target answered: %v", r.err)
	default:
	}
	if err := a.Link.Close(); err != nil {
		t.Fatal(err)
	}
	select {
	case r := <-done:
		if !errors.Is(r.err, f.ErrClosed) || len(r.answers) != 0 {
			t.Fatalf("broadcast ended with %d answers, %v; want none and %v", len(r.answers), r.err, f.ErrClosed)
		}
	case <-time.After(Wait):
		t.Fatal("the broadcast did not end when the link closed")
	}
}

// RemoteSocketsAcrossNodes: FetchSockets describes the other node's
// sockets, whose methods act there; rooms are listed across nodes; a
// disconnect reaches the other node.
func RemoteSocketsAcrossNodes(t *testing.T, f Flavour) {
	a, b := TwoNodes(t, f)

	_, ida := Dial(t, a.URL, "/")
	JoinRooms(t, a.Server, "/", ida, "team")
	cb, idb := Dial(t, b.URL, "/")
	JoinRooms(t, b.Server, "/", idb, "team")
	b.Server.Of("/").Socket(idb).SetData(map[string]any{"user": "bob"})

	ctx := context.Background()
	all, err := a.Server.In("team").FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := []string{}
	var remote *hub.RemoteSocket
	for _, r := range all {
		ids = append(ids, r.ID)
		if r.ID == idb {
			remote = r
		}
	}
	slices.Sort(ids)
	want := []string{ida, idb}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Fatalf("FetchSockets ids = %v, want %v", ids, want)
	}
	if remote == nil || !slices.Contains(remote.Rooms, "team") || !slices.Contains(remote.Rooms, idb) {
		t.Fatalf("remote socket = %+v, want rooms team and its id", remote)
	}
	if string(remote.Data) != `{"user":"bob"}` {
		t.Errorf("remote data = %s", remote.Data)
	}
	if remote.Handshake.Issued == 0 || remote.Handshake.Headers.Get("Upgrade") == "" {
		t.Errorf("remote handshake = %+v", remote.Handshake)
	}

	// A remote socket's methods act on the other node.
	if err := remote.Emit("hello-remote", 1); err != nil {
		t.Fatal(err)
	}
	ExpectEvent(t, cb, "/", "hello-remote")
	if err := remote.Join("extra"); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, func() bool { return slices.Contains(b.Server.Of("/").Socket(idb).Rooms(), "extra") }, "remote join")
	f.waitRooms(t, a.Cluster, 1, "extra")
	if err := a.Server.Of("/").In("extra").SocketsLeave("team"); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, func() bool { return !slices.Contains(b.Server.Of("/").Socket(idb).Rooms(), "team") }, "remote leave")

	// Rooms across nodes (unless the flavour, as Node's sharded adapter,
	// knows only its own).
	rooms, err := a.Server.Of("/").Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"team", "extra", ida, idb}
	if f.LocalRooms {
		want = []string{"team", ida}
	}
	for _, r := range want {
		if !slices.Contains(rooms, r) {
			t.Errorf("Rooms() = %v, missing %s", rooms, r)
		}
	}

	// Disconnect from the other node.
	if err := a.Server.Of("/").In("extra").DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	WaitFor(t, func() bool { return b.Server.Of("/").Socket(idb) == nil }, "remote disconnect")
	if a.Server.Of("/").Socket(ida) == nil {
		t.Error("the socket not in the room was disconnected too")
	}
}

// ServerSideEmitAcrossNodes: an event reaches every other node, not the
// sender; with acks, one answer comes from each.
func ServerSideEmitAcrossNodes(t *testing.T, f Flavour) {
	cluster := ClusterName(t)
	got := make(chan string, 4)
	answering := func(name string) func(*hub.Server) {
		return func(s *hub.Server) {
			s.Of("/").OnServerSideEmit("ping", func(e *hub.ServerEvent) {
				var v string
				_ = e.Args.Bind(&v)
				got <- name + ":" + v
				if e.WantsAck() {
					_ = e.Ack("pong-" + name)
				}
			})
		}
	}
	a := Start(t, f, cluster, answering("a"))
	Start(t, f, cluster, answering("b"))
	Start(t, f, cluster, answering("c"))
	WaitNodes(t, a.Server, "/", 3)

	if err := a.Server.Of("/").ServerSideEmit("ping", "no-ack"); err != nil {
		t.Fatal(err)
	}
	seen := []string{<-got, <-got}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"b:no-ack", "c:no-ack"}) {
		t.Errorf("received %v; the sender must not receive its own", seen)
	}
	ctx, cancel := context.WithTimeout(context.Background(), Wait)
	defer cancel()
	acks, err := a.Server.Of("/").ServerSideEmitWithAck(ctx, "ping", "ack")
	if err != nil {
		t.Fatal(err)
	}
	var answers []string
	for _, r := range acks {
		var s string
		_ = r.Bind(&s)
		answers = append(answers, s)
	}
	slices.Sort(answers)
	if !slices.Equal(answers, []string{"pong-b", "pong-c"}) {
		t.Errorf("answers = %v", answers)
	}
}

// NodeThatLeavesIsNotCounted: once a node's link closes, the others stop
// counting it and their requests stop waiting for it.
func NodeThatLeavesIsNotCounted(t *testing.T, f Flavour) {
	a, b := TwoNodes(t, f)
	b.Server.Close()
	_ = b.Link.Close()
	WaitNodes(t, a.Server, "/", 1)
	// Requests no longer wait for it: one that did would end at the
	// requests' timeout with an error.
	if _, err := a.Server.Of("/").FetchSockets(context.Background()); err != nil {
		t.Fatal(err)
	}
}

// NamespacesAreSeparate: a broadcast in one namespace reaches no other.
func NamespacesAreSeparate(t *testing.T, f Flavour) {
	cluster := ClusterName(t)
	a := Start(t, f, cluster, func(s *hub.Server) { s.Of("/chat") })
	b := Start(t, f, cluster, func(s *hub.Server) { s.Of("/chat") })
	WaitNodes(t, a.Server, "/chat", 2)
	croot, _ := Dial(t, a.URL, "/")
	cchat, _ := Dial(t, a.URL, "/chat")
	_ = b.Server.Of("/chat").Emit("in-chat", 1)
	ExpectEvent(t, cchat, "/chat", "in-chat")
	_ = a.Server.Of("/").Emit("sentinel")
	ExpectNone(t, croot, "/", "in-chat", "sentinel")
}

// LargePayloadsAcrossNodes: a 512 KiB binary value and a 512 KiB string
// cross nodes intact.
func LargePayloadsAcrossNodes(t *testing.T, f Flavour) {
	a, b := TwoNodes(t, f)
	c, id := Dial(t, a.URL, "/")
	JoinRooms(t, a.Server, "/", id, "big")
	f.waitRooms(t, a.Cluster, 1, "big")
	blob := make([]byte, 512<<10)
	for i := range blob {
		blob[i] = byte(i * 7)
	}
	text := strings.Repeat("é", 256<<10)
	if err := b.Server.To("big").Emit("large", blob, text); err != nil {
		t.Fatal(err)
	}
	if err := b.Server.To("big").Emit("large-text", text); err != nil {
		t.Fatal(err)
	}
	p := ExpectEvent(t, c, "/", "large")
	var gotBlob []byte
	var gotText string
	if err := p.Arg(0, &gotBlob); err != nil || !bytes.Equal(gotBlob, blob) {
		t.Errorf("binary: %d bytes (%v), want %d intact", len(gotBlob), err, len(blob))
	}
	if err := p.Arg(1, &gotText); err != nil || gotText != text {
		t.Errorf("text: %d bytes (%v), want %d intact", len(gotText), err, len(text))
	}
	p = ExpectEvent(t, c, "/", "large-text")
	if err := p.Arg(0, &gotText); err != nil || gotText != text {
		t.Errorf("text alone: %d bytes (%v), want %d intact", len(gotText), err, len(text))
	}
}

// NoGoroutineLeftAfterClose: after the servers and their links close, no
// goroutine of theirs is left (subscribers, publishers, readers, a
// pending request's timer).
func NoGoroutineLeftAfterClose(t *testing.T, f Flavour) {
	before := runtime.NumGoroutine()
	func() {
		a, b := TwoNodes(t, f)
		c, id := Dial(t, a.URL, "/")
		JoinRooms(t, a.Server, "/", id, "r")
		f.waitRooms(t, a.Cluster, 1, "r")
		_ = b.Server.To("r").Emit("x")
		ExpectEvent(t, c, "/", "x")
		_ = a.Server.To("r").Emit("y")
		ExpectEvent(t, c, "/", "y")
		if _, err := a.Server.Of("/").FetchSockets(context.Background()); err != nil {
			t.Fatal(err)
		}
		c.Close()
		for _, n := range []*Node{a, b} {
			n.Server.Close()
			_ = n.Link.Close()
		}
	}()
	deadline := time.Now().Add(Wait)
	for runtime.NumGoroutine() > before+2 { // the test's own helpers may linger a moment
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}
