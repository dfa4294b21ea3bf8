package redisadapter_test

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/redisadapter"
)

func TestBroadcastAcrossNodes(t *testing.T) { allFlavours(t, testBroadcastAcrossNodes) }

func testBroadcastAcrossNodes(t *testing.T, o redisadapter.Options) {
	a, b := twoNodes(t, o)
	key := a.key

	ca, ida := dial(t, a, "/")
	joinRooms(t, a, "/", ida, "r1")
	ca2, ida2 := dial(t, a, "/")
	joinRooms(t, a, "/", ida2, "r1", "r2")
	cb, idb := dial(t, b, "/")
	joinRooms(t, b, "/", idb, "r2")
	waitRoomChannels(t, o, redisURL, key, 1, "r1", "r2")

	// To one room from the other node, binary intact.
	blob := []byte{0, 1, 2, 250, 255}
	if err := b.srv.To("r1").Emit("to-r1", "text", 42, blob, map[string]any{"k": []any{1.5, true, nil}}); err != nil {
		t.Fatal(err)
	}
	p := expectEvent(t, ca, "/", "to-r1")
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
	expectEvent(t, ca2, "/", "to-r1")

	// Several rooms with except: a socket in r1 and r2 receives once, the
	// excepted socket nothing.
	if err := b.srv.Of("/").To("r1", "r2").Except(ida).Emit("multi", 1); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, ca2, "/", "multi")
	expectEvent(t, cb, "/", "multi")
	_ = a.srv.Of("/").Emit("sentinel")
	expectNone(t, ca, "/", "multi", "sentinel")
	expectNone(t, ca2, "/", "multi", "sentinel")

	// To a socket id on the other node.
	if err := a.srv.To(idb).Emit("private", "x"); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, cb, "/", "private")

	// Local stays on the node.
	if err := b.srv.Of("/").Local().Emit("local-only"); err != nil {
		t.Fatal(err)
	}
	_ = b.srv.Of("/").Emit("sentinel2")
	expectNone(t, ca, "/", "local-only", "sentinel2")
	expectEvent(t, cb, "/", "local-only")
}

func TestBroadcastAcksAcrossNodes(t *testing.T) { allFlavours(t, testBroadcastAcksAcrossNodes) }

func testBroadcastAcksAcrossNodes(t *testing.T, o redisadapter.Options) {
	a, b := twoNodes(t, o)

	clients := 0
	remote := map[string]bool{}
	for _, n := range []*node{a, b, b} {
		c, id := dial(t, n, "/")
		joinRooms(t, n, "/", id, "acked")
		clients++
		remote[id] = n == b
		go func() {
			for {
				p, err := c.WaitEvent("/", "question", wait)
				if err != nil {
					return
				}
				_ = c.Ack("/", p.ID, id, "second arg")
			}
		}()
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	got, err := a.srv.Of("/").To("acked").Timeout(wait).EmitWithAck(ctx, "question", 1)
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
	dial(t, b, "/") // in no room
	c, id := dial(t, b, "/")
	joinRooms(t, b, "/", id, "acked")
	_ = c
	// Long enough for the answering clients, on both nodes, to beat it on
	// a loaded machine.
	got, err = a.srv.Of("/").To("acked").Timeout(3*time.Second).EmitWithAck(ctx, "question", 2)
	if !errors.Is(err, hub.ErrTimeout) {
		t.Fatalf("err = %v, want a timeout", err)
	}
	if len(got) != clients {
		t.Errorf("%d answers before the timeout, want %d", len(got), clients)
	}
}

func TestRemoteSocketsAcrossNodes(t *testing.T) { allFlavours(t, testRemoteSocketsAcrossNodes) }

func testRemoteSocketsAcrossNodes(t *testing.T, o redisadapter.Options) {
	a, b := twoNodes(t, o)

	_, ida := dial(t, a, "/")
	joinRooms(t, a, "/", ida, "team")
	cb, idb := dial(t, b, "/")
	joinRooms(t, b, "/", idb, "team")
	b.srv.Of("/").Socket(idb).SetData(map[string]any{"user": "bob"})

	ctx := context.Background()
	all, err := a.srv.In("team").FetchSockets(ctx)
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
	expectEvent(t, cb, "/", "hello-remote")
	if err := remote.Join("extra"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return slices.Contains(b.srv.Of("/").Socket(idb).Rooms(), "extra") }, "remote join")
	if err := a.srv.Of("/").In("extra").SocketsLeave("team"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return !slices.Contains(b.srv.Of("/").Socket(idb).Rooms(), "team") }, "remote leave")

	// Rooms across nodes (the sharded flavour, as Node's, knows only its
	// own).
	rooms, err := a.srv.Of("/").Rooms(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want = []string{"team", "extra", ida, idb}
	if o.Sharded {
		want = []string{"team", ida}
	}
	for _, r := range want {
		if !slices.Contains(rooms, r) {
			t.Errorf("Rooms() = %v, missing %s", rooms, r)
		}
	}

	// Disconnect from the other node.
	if err := a.srv.Of("/").In("extra").DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return b.srv.Of("/").Socket(idb) == nil }, "remote disconnect")
	if a.srv.Of("/").Socket(ida) == nil {
		t.Error("the socket not in the room was disconnected too")
	}
}

func TestServerSideEmitAcrossNodes(t *testing.T) { allFlavours(t, testServerSideEmitAcrossNodes) }

func testServerSideEmitAcrossNodes(t *testing.T, o redisadapter.Options) {
	key := testKey(t)
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
	a := newNode(t, o, redisURL, key, answering("a"))
	newNode(t, o, redisURL, key, answering("b"))
	newNode(t, o, redisURL, key, answering("c"))
	waitNodes(t, a, "/", 3)

	if err := a.srv.Of("/").ServerSideEmit("ping", "no-ack"); err != nil {
		t.Fatal(err)
	}
	seen := []string{<-got, <-got}
	slices.Sort(seen)
	if !slices.Equal(seen, []string{"b:no-ack", "c:no-ack"}) {
		t.Errorf("received %v; the sender must not receive its own", seen)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	acks, err := a.srv.Of("/").ServerSideEmitWithAck(ctx, "ping", "ack")
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

func TestNodeThatLeavesIsNotCounted(t *testing.T) { allFlavours(t, testNodeThatLeavesIsNotCounted) }

func testNodeThatLeavesIsNotCounted(t *testing.T, o redisadapter.Options) {
	a, b := twoNodes(t, o)
	b.srv.Close()
	b.cluster.Close()
	waitNodes(t, a, "/", 1)
	// Requests no longer wait for it: one that did would end at
	// RequestsTimeout with a "timeout reached" error.
	if _, err := a.srv.Of("/").FetchSockets(context.Background()); err != nil {
		t.Fatal(err)
	}
}

func TestNamespacesAreSeparate(t *testing.T) { allFlavours(t, testNamespacesAreSeparate) }

func testNamespacesAreSeparate(t *testing.T, o redisadapter.Options) {
	key := testKey(t)
	a := newNode(t, o, redisURL, key, func(s *hub.Server) { s.Of("/chat") })
	b := newNode(t, o, redisURL, key, func(s *hub.Server) { s.Of("/chat") })
	waitNodes(t, a, "/chat", 2)
	croot, _ := dial(t, a, "/")
	cchat, _ := dial(t, a, "/chat")
	_ = b.srv.Of("/chat").Emit("in-chat", 1)
	expectEvent(t, cchat, "/chat", "in-chat")
	_ = a.srv.Of("/").Emit("sentinel")
	expectNone(t, croot, "/", "in-chat", "sentinel")
}

func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestMalformedMessagesAreIgnored(t *testing.T) { bothFlavours(t, testMalformedMessagesAreIgnored) }

func testMalformedMessagesAreIgnored(t *testing.T, o redisadapter.Options) {
	a, b := twoNodes(t, o)
	key := a.key
	c, id := dial(t, a, "/")
	joinRooms(t, a, "/", id, "r")

	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	for _, ch := range []string{key + "#/#", key + "#/#r#", key + "-request#/#", key + "-response#/#"} {
		for _, payload := range []string{"", "\xc1", "{", `{"type":5}`, `{"type":"x","requestId":1}`, "\x93\xa1x\xc0\xc0",
			"\x93\xa1x\x82\xa4type\x02\xa4data\x91\x01\xc0", `{"uid":"x","type":6,"data":"not-a-list"}`, `{"uid":"x","type":4,"opts":7}`,
			"\x93\xa1x\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x91\xa4gone\xc0"} { // an event with no opts
			if err := rdb.Publish(ctx, ch, payload).Err(); err != nil {
				t.Fatal(err)
			}
		}
	}
	// The nodes still work.
	if err := b.srv.To("r").Emit("still-fine"); err != nil {
		t.Fatal(err)
	}
	// "gone" (a broadcast without opts) must not have reached anyone.
	expectNone(t, c, "/", "gone", "still-fine")
	if a.srv.Of("/").Socket(id) == nil {
		t.Fatal("a malformed request disconnected the socket")
	}
}

func TestInvalidUTF8MessagesAreDropped(t *testing.T) {
	bothFlavours(t, testInvalidUTF8MessagesAreDropped)
}

// A broadcast from Redis whose strings are not UTF-8 (a hostile Redis
// user, a broken peer) is dropped whole: sent on, it would reach WebSocket
// clients in text frames, which they drop the connection over. The same
// messages with valid strings are delivered, so what is dropped is dropped
// for its bytes alone.
func testInvalidUTF8MessagesAreDropped(t *testing.T, o redisadapter.Options) {
	a := newNode(t, o, redisURL, testKey(t), nil)
	c, id := dial(t, a, "/")

	// Each message broadcasts the event EV with the argument ARG to every
	// socket of "/".
	messages := []string{
		// A Node peer's classic broadcast [uid, packet, opts].
		"\x93\xa1x\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa2EV\xa3ARG\x80",
		// The same, the string as a map key.
		"\x93\xa1x\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa2EV\x81\xa3ARG\x01\x80",
	}
	if o.Sharded {
		messages = []string{
			// {uid, nsp, type: broadcast, data: {packet, opts}}, in JSON and in msgpack.
			`{"uid":"x","nsp":"/","type":3,"data":{"packet":{"type":2,"nsp":"/","data":["EV","ARG"]},"opts":{"rooms":[],"except":[],"flags":{}}}}`,
			"\x84\xa3uid\xa1x\xa3nsp\xa1/\xa4type\x03\xa4data\x82\xa6packet\x83\xa4type\x02\xa3nsp\xa1/\xa4data\x92\xa2EV\xa3ARG\xa4opts\x80",
		}
	}
	rdb := redis.NewClient(func() *redis.Options { opt, _ := redis.ParseURL(redisURL); return opt }())
	defer rdb.Close()
	publish := func(msg string) {
		t.Helper()
		ctx := context.Background()
		var err error
		if o.Sharded {
			err = rdb.SPublish(ctx, a.key+"#/#", msg).Err()
		} else {
			err = rdb.Publish(ctx, a.key+"#/#", msg).Err()
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, m := range messages {
		publish(strings.NewReplacer("EV", "ok", "ARG", "abc").Replace(m))
		if p := expectEvent(t, c, "/", "ok"); p.Str(0) != "abc" && p.Text != `42["ok",{"abc":1}]` {
			t.Fatalf("control message delivered as %s", p.Text)
		}
		// Bad strings of the same length as the good ones, so that the
		// msgpack lengths still hold.
		for _, bad := range []string{"\xff\xff\xff", "a\xe2\x82", "\xed\xa0\x80"} {
			publish(strings.NewReplacer("EV", "ev", "ARG", bad).Replace(m))
		}
		publish(strings.NewReplacer("EV", "\xc0\xaf", "ARG", "abc").Replace(m))
		// Messages are handled in order: what did not come before this
		// one will not come.
		publish(strings.NewReplacer("EV", "zz", "ARG", "abc").Replace(m))
		for {
			p, err := c.NextEvent("/", wait)
			if err != nil {
				t.Fatalf("waiting for the last message: %v", err)
			}
			if p.Event == "zz" {
				break
			}
			t.Errorf("a message with invalid UTF-8 was delivered as %q", p.Text)
		}
	}
	select {
	case <-c.Done():
		t.Fatalf("the client was disconnected: %v", c.Err())
	default:
	}
	if a.srv.Of("/").Socket(id) == nil {
		t.Fatal("the socket is gone")
	}
}

func TestShardedRoomChannelsFollowMembership(t *testing.T) {
	o := redisadapter.Options{Sharded: true}
	key := testKey(t)
	a := newNode(t, o, redisURL, key, nil)
	_, id := dial(t, a, "/")
	joinRooms(t, a, "/", id, "room-a")
	waitRoomChannels(t, o, redisURL, key, 1, "room-a")

	opt, _ := redis.ParseURL(redisURL)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	count := func(ch string) int64 {
		n, _ := rdb.PubSubShardNumSub(context.Background(), ch).Result()
		return n[ch]
	}
	// A socket's own room has no channel in the dynamic mode: Node sends
	// one-socket broadcasts on the main channel.
	if n := count(key + "#/#" + id + "#"); n != 0 {
		t.Errorf("%d subscribers on the socket id's channel, want 0", n)
	}
	if err := a.srv.Of("/").Socket(id).Leave("room-a"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { return count(key+"#/#room-a#") == 0 }, "the empty room's channel to be unsubscribed")
}

// After the servers and their clusters close, no goroutine of theirs is
// left: not the subscriber, the publisher, a namespace's subscription
// keeper, the streams' readers and session writer, or a pending request's
// timer.
func TestNoGoroutineLeftAfterClose(t *testing.T) {
	allFlavours(t, func(t *testing.T, o redisadapter.Options) {
		before := runtime.NumGoroutine()
		func() {
			a, b := twoNodes(t, o)
			c, id := dial(t, a, "/")
			joinRooms(t, a, "/", id, "r")
			waitRoomChannels(t, o, redisURL, a.key, 1, "r")
			_ = b.srv.To("r").Emit("x")
			expectEvent(t, c, "/", "x")
			_ = a.srv.To("r").Emit("y") // in the streams flavour, delivered by a's reader
			expectEvent(t, c, "/", "y")
			if _, err := a.srv.Of("/").FetchSockets(context.Background()); err != nil {
				t.Fatal(err)
			}
			c.Close()
			for _, n := range []*node{a, b} {
				n.srv.Close()
				n.cluster.Close()
			}
		}()
		deadline := time.Now().Add(wait)
		for runtime.NumGoroutine() > before+2 { // the test's own helpers may linger a moment
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
}

// A 512 KiB binary value and a 512 KiB string cross nodes intact (in the
// streams flavour, through the stream: base64 msgpack and JSON).
func TestLargePayloadsAcrossNodes(t *testing.T) {
	allFlavours(t, func(t *testing.T, o redisadapter.Options) {
		a, b := twoNodes(t, o)
		c, id := dial(t, a, "/")
		joinRooms(t, a, "/", id, "big")
		waitRoomChannels(t, o, redisURL, a.key, 1, "big")
		blob := make([]byte, 512<<10)
		for i := range blob {
			blob[i] = byte(i * 7)
		}
		text := strings.Repeat("é", 256<<10)
		if err := b.srv.To("big").Emit("large", blob, text); err != nil {
			t.Fatal(err)
		}
		if err := b.srv.To("big").Emit("large-text", text); err != nil {
			t.Fatal(err)
		}
		p := expectEvent(t, c, "/", "large")
		var gotBlob []byte
		var gotText string
		if err := p.Arg(0, &gotBlob); err != nil || !bytes.Equal(gotBlob, blob) {
			t.Errorf("binary: %d bytes (%v), want %d intact", len(gotBlob), err, len(blob))
		}
		if err := p.Arg(1, &gotText); err != nil || gotText != text {
			t.Errorf("text: %d bytes (%v), want %d intact", len(gotText), err, len(text))
		}
		p = expectEvent(t, c, "/", "large-text")
		if err := p.Arg(0, &gotText); err != nil || gotText != text {
			t.Errorf("text alone: %d bytes (%v), want %d intact", len(gotText), err, len(text))
		}
	})
}
