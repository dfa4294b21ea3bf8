package redisadapter_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/nodeproc"
	"github.com/hubd/hubd/internal/tcpproxy"
)

// streamsPeer is a Node socket.io 4.8 server with
// @socket.io/redis-streams-adapter 0.3 and connection state recovery
// (testdata/node/streams_peer.cjs), driven by commands on its stdin.
type streamsPeer struct {
	*nodeproc.Proc
	url, addr   string
	events      chan json.RawMessage // server-side emits it received
	connections chan peerConnection
}

// peerConnection is a socket that connected to the Node peer.
type peerConnection struct {
	ID        string
	Recovered bool
	Rooms     []string
	Data      json.RawMessage
}

func startStreamsPeer(t testing.TB, so redisadapter.StreamsOptions) *streamsPeer {
	t.Helper()
	dir := nodeDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@socket.io", "redis-streams-adapter")); err != nil {
		t.Fatalf("the Node peer's packages are missing: run `npm ci` in %s (make test does)", dir)
	}
	p := &streamsPeer{events: make(chan json.RawMessage, 64), connections: make(chan peerConnection, 64)}
	ready := make(chan int, 1)
	env := []string{"REDIS_URL=" + redisURL, "STREAM=" + so.StreamName, "PREFIX=" + so.ChannelPrefix,
		"SESSION_PREFIX=" + so.SessionKeyPrefix, "SHARDED=" + strconv.FormatBool(so.Sharded)}
	p.Proc = nodeproc.Start(t, dir, "streams_peer.cjs", env, func(line []byte) {
		var n struct {
			Ready      int             `json:"ready"`
			Event      json.RawMessage `json:"event"`
			Connection *peerConnection `json:"connection"`
			Log        string          `json:"log"`
		}
		switch {
		case line == nil:
			close(ready)
		case json.Unmarshal(line, &n) != nil:
		case n.Ready != 0:
			ready <- n.Ready
		case n.Log != "":
			fmt.Fprintln(os.Stderr, "node peer:", n.Log)
		case n.Event != nil:
			p.events <- line
		case n.Connection != nil:
			p.connections <- *n.Connection
		}
	})
	select {
	case port, ok := <-ready:
		if !ok {
			t.Fatal("the Node peer exited before listening")
		}
		p.addr = "127.0.0.1:" + strconv.Itoa(port)
		p.url = "http://" + p.addr
	case <-time.After(wait):
		t.Fatal("the Node peer did not start")
	}
	return p
}

// dialPeer connects a client to the Node peer, in rooms, with data.
func dialPeer(t testing.TB, p *streamsPeer, rooms []string, data any) (*testclient.Client, string) {
	t.Helper()
	c, err := testclient.Dial(p.url, "/socket.io/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	id, err := c.Connect("/", map[string]any{"rooms": rooms, "data": data})
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

// mixedStreamsCluster starts a hub node and a Node peer on one Redis,
// and waits until they count each other and the peer reads the stream
// (Node starts reading at "$", once its reader connects).
func mixedStreamsCluster(t *testing.T, sharded bool, setup func(*hub.Server)) (*recoveryNode, *streamsPeer, redisadapter.StreamsOptions) {
	t.Helper()
	so := streamsOptions(testKey(t), sharded)
	n := startRecoveryNode(t, so, hub.RecoveryOptions{MaxDisconnectionDuration: time.Minute}, setup)
	p := startStreamsPeer(t, so)
	waitNodes(t, n.node, "/", 2)
	var count int
	p.Must(map[string]any{"op": "count"}, &count)
	if count != 2 {
		t.Fatalf("the Node peer counts %d nodes, want 2", count)
	}
	probe, _ := dialPeer(t, p, nil, nil)
	for {
		if err := n.srv.Of("/").Emit("warm-up"); err != nil {
			t.Fatal(err)
		}
		if _, err := probe.WaitEvent("/", "warm-up", 200*time.Millisecond); err == nil {
			break
		}
		select {
		case <-probe.Done():
			t.Fatal("the probe client of the Node peer was disconnected")
		default:
		}
	}
	probe.Close()
	return n, p, so
}

// withPubSub runs test on plain and on sharded pub/sub.
func withPubSub(t *testing.T, test func(*testing.T, bool)) {
	t.Run("pubsub", func(t *testing.T) { test(t, false) })
	t.Run("sharded", func(t *testing.T) { test(t, true) })
}

// Broadcasts cross between hub and Node both ways, rooms, exceptions and
// binary intact; a broadcast carries the same offset, its entry id, to
// the clients of both.
func TestStreamsMixedClusterBroadcasts(t *testing.T) {
	withPubSub(t, func(t *testing.T, sharded bool) {
		n, p, _ := mixedStreamsCluster(t, sharded, nil)
		blob := []byte{0xde, 0xad, 0, 0xbe, 0xef}
		gR, gRID := dial(t, n.node, "/")
		gRX, gRXID := dial(t, n.node, "/")
		gX, gXID := dial(t, n.node, "/")
		joinRooms(t, n.node, "/", gRID, "r")
		joinRooms(t, n.node, "/", gRXID, "r", "x")
		joinRooms(t, n.node, "/", gXID, "x")
		nR, _ := dialPeer(t, p, []string{"r"}, nil)
		nRX, nRXID := dialPeer(t, p, []string{"r", "x"}, nil)

		// Node → hub: to r except x, binary inside.
		p.Must(map[string]any{"op": "emit", "rooms": []string{"r"}, "except": []string{"x"}, "event": "from-node",
			"args": []any{"s", 7, 2.5, bin(blob), map[string]any{"nested": bin(blob[:2]), "list": []any{true, nil}}}}, nil)
		got := expectEvent(t, gR, "/", "from-node")
		checkArgs(t, got, blob)
		onNode := expectEvent(t, nR, "/", "from-node")
		if a, b := lastOffset(t, got), lastOffset(t, onNode); a != b {
			t.Errorf("offsets of one broadcast: %s on hub, %s on Node", a, b)
		}
		p.Must(map[string]any{"op": "emit", "event": "sentinel"}, nil)
		expectNone(t, gRX, "/", "from-node", "sentinel")
		expectNone(t, gX, "/", "from-node", "sentinel")
		expectNone(t, nRX, "/", "from-node", "sentinel")

		// hub → Node: the same the other way.
		err := n.srv.To("r").Except("x").Emit("from-go", "s", 7, 2.5, blob, map[string]any{"nested": blob[:2], "list": []any{true, nil}})
		if err != nil {
			t.Fatal(err)
		}
		onNode = expectEvent(t, nR, "/", "from-go")
		checkArgs(t, onNode, blob)
		got = expectEvent(t, gR, "/", "from-go")
		if a, b := lastOffset(t, got), lastOffset(t, onNode); a != b {
			t.Errorf("offsets of one broadcast: %s on hub, %s on Node", a, b)
		}
		_ = n.srv.Of("/").Emit("sentinel2")
		expectNone(t, nRX, "/", "from-go", "sentinel2")
		expectNone(t, gRX, "/", "from-go", "sentinel2")

		// Several rooms, JSON only, from Node; a socket id from hub.
		p.Must(map[string]any{"op": "emit", "rooms": []string{"r", "x"}, "event": "both", "args": []any{"é\n\"q\""}}, nil)
		for _, c := range []*testclient.Client{gR, gRX, gX, nR, nRX} {
			if pk := expectEvent(t, c, "/", "both"); pk.Str(0) != "é\n\"q\"" {
				t.Errorf("text argument %q", pk.Str(0))
			}
		}
		if err := n.srv.To(nRXID).Emit("direct", 1); err != nil {
			t.Fatal(err)
		}
		expectEvent(t, nRX, "/", "direct")
	})
}

// FetchSockets, Rooms, SocketsJoin, SocketsLeave and DisconnectSockets
// work both ways.
func TestStreamsMixedClusterRemoteSockets(t *testing.T) {
	withPubSub(t, func(t *testing.T, sharded bool) {
		n, p, _ := mixedStreamsCluster(t, sharded, nil)
		_, gid := dial(t, n.node, "/")
		joinRooms(t, n.node, "/", gid, "team")
		n.srv.Of("/").Socket(gid).SetData(map[string]any{"user": "gopher"})
		_, nid := dialPeer(t, p, []string{"team"}, map[string]any{"user": "nodejs"})

		var fromNode []struct {
			ID        string
			Rooms     []string
			Data      map[string]any
			Handshake struct {
				Query  map[string]any
				Issued float64
			}
		}
		p.Must(map[string]any{"op": "fetch", "rooms": []string{"team"}}, &fromNode)
		found := false
		for _, s := range fromNode {
			if s.ID == gid {
				found = true
				if !slices.Contains(s.Rooms, "team") || s.Data["user"] != "gopher" || s.Handshake.Query["EIO"] != "4" || s.Handshake.Issued == 0 {
					t.Errorf("hub's socket seen from Node: %+v", s)
				}
			}
		}
		if !found || len(fromNode) != 2 {
			t.Fatalf("Node's fetchSockets = %+v, want hub's %s and its own", fromNode, gid)
		}

		ctx := context.Background()
		all, err := n.srv.In("team").FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var remote *hub.RemoteSocket
		for _, r := range all {
			if r.ID == nid {
				remote = r
			}
		}
		if remote == nil || len(all) != 2 || string(remote.Data) != `{"user":"nodejs"}` || !slices.Contains(remote.Rooms, "team") {
			t.Fatalf("FetchSockets from Go = %d sockets, Node's %+v", len(all), remote)
		}
		if rooms, err := n.srv.Of("/").Rooms(ctx); err != nil || !slices.Contains(rooms, nid) || !slices.Contains(rooms, "team") {
			t.Errorf("Rooms from Go = %v (%v), want Node's socket's too", rooms, err)
		}

		nodeRooms := func() []string {
			var r struct{ Rooms []string }
			if p.Call(map[string]any{"op": "socket", "socket": nid}, &r) != nil {
				return nil
			}
			return r.Rooms
		}
		p.Must(map[string]any{"op": "join", "rooms": []string{gid}, "join": []string{"from-node"}}, nil)
		waitFor(t, func() bool { return slices.Contains(n.srv.Of("/").Socket(gid).Rooms(), "from-node") }, "join from Node")
		p.Must(map[string]any{"op": "leave", "rooms": []string{gid}, "leave": []string{"team"}}, nil)
		waitFor(t, func() bool { return !n.srv.Of("/").Socket(gid).In("team") }, "leave from Node")
		if err := remote.Join("from-go"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { return slices.Contains(nodeRooms(), "from-go") }, "join from Go")
		if err := remote.Leave("team"); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool { r := nodeRooms(); return r != nil && !slices.Contains(r, "team") }, "leave from Go")
		if err := remote.Disconnect(false); err != nil {
			t.Fatal(err)
		}
		waitFor(t, func() bool {
			var r json.RawMessage
			return p.Call(map[string]any{"op": "socket", "socket": nid}, &r) == nil && string(r) == "null"
		}, "disconnect from Go")
		p.Must(map[string]any{"op": "disconnect", "rooms": []string{gid}}, nil)
		waitFor(t, func() bool { return n.srv.Of("/").Socket(gid) == nil }, "disconnect from Node")
	})
}

// Server-side emits, with and without acks, both ways.
func TestStreamsMixedClusterServerSideEmit(t *testing.T) {
	withPubSub(t, func(t *testing.T, sharded bool) {
		got := make(chan string, 4)
		n, p, _ := mixedStreamsCluster(t, sharded, func(s *hub.Server) {
			s.Of("/").OnServerSideEmit("greet", func(e *hub.ServerEvent) {
				var who string
				_ = e.Args.Bind(&who)
				got <- who
				if e.WantsAck() {
					_ = e.Ack(map[string]any{"from": "go", "echo": who, "bin": []byte{1, 2}})
				}
			})
		})
		p.Must(map[string]any{"op": "serverSideEmit", "event": "greet", "args": []any{"plain"}}, nil)
		if who := <-got; who != "plain" {
			t.Errorf("Go received %q", who)
		}
		var acks []map[string]any
		p.Must(map[string]any{"op": "serverSideEmit", "event": "greet", "args": []any{"asking"}, "ack": true}, &acks)
		if len(acks) != 1 || acks[0]["from"] != "go" || acks[0]["echo"] != "asking" {
			t.Errorf("Node's serverSideEmitWithAck answers = %v", acks)
		} else if b, _ := acks[0]["bin"].(map[string]any); b["$bin"] != base64.StdEncoding.EncodeToString([]byte{1, 2}) {
			t.Errorf("binary in the answer: %v", acks[0]["bin"])
		}
		<-got

		if err := n.srv.Of("/").ServerSideEmit("greet", "hello-node", []byte("b")); err != nil {
			t.Fatal(err)
		}
		select {
		case ev := <-p.events:
			if !strings.Contains(string(ev), `"hello-node",{"$bin":"Yg=="}`) {
				t.Errorf("Node received %s", ev)
			}
		case <-time.After(wait):
			t.Fatal("Node received no server-side emit")
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		answers, err := n.srv.Of("/").ServerSideEmitWithAck(ctx, "greet", "ack-please")
		if err != nil {
			t.Fatal(err)
		}
		var a struct{ From, Echo string }
		if len(answers) != 1 || answers[0].Bind(&a) != nil || a.From != "node" || a.Echo != "ack-please" {
			t.Fatalf("Node's answers = %v", answers)
		}
		<-p.events
	})
}

// Broadcasts with acks, both ways, answers with binary intact.
func TestStreamsMixedClusterBroadcastAcks(t *testing.T) {
	withPubSub(t, func(t *testing.T, sharded bool) {
		n, p, _ := mixedStreamsCluster(t, sharded, nil)
		answer := func(c *testclient.Client, name string) {
			go func() {
				for {
					pk, err := c.WaitEvent("/", "q", wait)
					if err != nil {
						return
					}
					_ = c.Ack("/", pk.ID, map[string]any{"by": name, "bin": []byte(name)})
				}
			}()
		}
		gc, gid := dial(t, n.node, "/")
		joinRooms(t, n.node, "/", gid, "acks")
		answer(gc, "go-client")
		nc, _ := dialPeer(t, p, []string{"acks"}, nil)
		answer(nc, "node-client")
		want := []string{"go-client", "node-client"}

		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		res, err := n.srv.To("acks").Timeout(wait).EmitWithAck(ctx, "q")
		if err != nil {
			t.Fatalf("from Go: %v (%d answers)", err, len(res))
		}
		var by []string
		for _, r := range res {
			vals, _ := r.Values()
			m, _ := vals[0].(map[string]any)
			b, _ := m["bin"].([]byte)
			if string(b) != m["by"] {
				t.Errorf("answer %s: binary %q", r.JSON(), b)
			}
			by = append(by, fmt.Sprint(m["by"]))
		}
		slices.Sort(by)
		if !slices.Equal(by, want) {
			t.Errorf("answers from Go's broadcast: %v, want %v", by, want)
		}

		var fromNode []struct {
			By  string
			Bin map[string]string
		}
		p.Must(map[string]any{"op": "emitWithAck", "rooms": []string{"acks"}, "event": "q"}, &fromNode)
		by = by[:0]
		for _, a := range fromNode {
			raw, _ := base64.StdEncoding.DecodeString(a.Bin["$bin"])
			if string(raw) != a.By {
				t.Errorf("Node got binary %q from %s", raw, a.By)
			}
			by = append(by, a.By)
		}
		slices.Sort(by)
		if !slices.Equal(by, want) {
			t.Errorf("answers from Node's broadcast: %v, want %v", by, want)
		}
	})
}

// A client recovers across implementations, each way: its session and
// offset, written by one, are taken by the other, which replays what the
// client missed, emitted by both, once and in order.
func TestStreamsMixedClusterRecovery(t *testing.T) {
	// emitGap emits the gap events alternately from hub and Node, each in
	// the stream before the next, and returns what the client must get.
	emitGap := func(t *testing.T, n *recoveryNode, p *streamsPeer, so redisadapter.StreamsOptions, room, id string) []string {
		t.Helper()
		rdb := testRedis(t, redisURL)
		ctx := context.Background()
		length := func() int64 { l, _ := rdb.XLen(ctx, so.StreamName).Result(); return l }
		emits := []func() error{
			func() error { return n.srv.To(room).Emit("gap", 1) },
			func() error {
				return p.Call(map[string]any{"op": "emit", "rooms": []string{room}, "event": "gap", "args": []any{2}}, nil)
			},
			func() error { return n.srv.To(room).Emit("gap", 3, []byte("bin")) },
			func() error {
				return p.Call(map[string]any{"op": "emit", "rooms": []string{room}, "event": "gap", "args": []any{4, bin([]byte("bin"))}}, nil)
			},
			func() error { return n.srv.To(id).Emit("gap", 5) },
			func() error {
				return p.Call(map[string]any{"op": "emit", "rooms": []string{"elsewhere"}, "event": "other"}, nil)
			},
			func() error { return n.srv.Except(room).Emit("other") },
			func() error {
				return p.Call(map[string]any{"op": "emit", "rooms": []string{room}, "event": "gap", "args": []any{6}}, nil)
			},
		}
		for _, emit := range emits {
			before := length()
			if err := emit(); err != nil {
				t.Fatal(err)
			}
			waitFor(t, func() bool { return length() == before+1 }, "the event to be added")
		}
		return []string{"gap 1", "gap 2", "gap 3", "gap 4", "gap 5", "gap 6"}
	}
	checkGap := func(t *testing.T, c *sioClient, want []string) {
		t.Helper()
		names, offsets := c.events("before")
		want = append(append([]string{"before 0"}, want...), "after 7")
		if !slices.Equal(names, want) {
			t.Fatalf("the client got %v, want %v", names, want)
		}
		for i := 1; i < len(offsets); i++ {
			if !offsetLess(offsets[i-1], offsets[i]) {
				t.Fatalf("offsets %v out of order", offsets)
			}
		}
		for _, o := range c.seen {
			if args, _ := o["args"].([]any); o["event"] == "gap" && (args[0] == float64(3) || args[0] == float64(4)) {
				if b, _ := args[1].(map[string]any); b["$bin"] != "Ymlu" {
					t.Fatalf("binary argument replayed as %v", args[1])
				}
			}
		}
	}

	t.Run("node-to-hub", func(t *testing.T) {
		n, p, so := mixedStreamsCluster(t, false, nil)
		rdb := testRedis(t, redisURL)
		proxy := tcpproxy.Start(t, p.addr)
		c := startSIOClient(t, "http://"+proxy.Addr(), map[string]any{"room": "R", "data": map[string]any{"user": "on-node"}})
		first := c.next("connect")
		id, pid := first["id"].(string), first["pid"].(string)
		c.next("joined")
		if err := n.srv.To("R").Emit("before", 0); err != nil {
			t.Fatal(err)
		}
		c.nextEvent("before")
		c.Must(map[string]any{"op": "cut"}, nil)
		c.next("disconnect")
		kept := waitSession(t, rdb, so, pid, "Node to keep the session", func(v redisadapter.SessionView) bool { return v.SID == id })
		if kept.Live || kept.Owner != "" {
			t.Fatalf("Node's record has hubd's fields: %+v", kept)
		}
		want := emitGap(t, n, p, so, "R", id)
		waitFor(t, func() bool {
			last, err := rdb.XRevRangeN(context.Background(), so.StreamName, "+", "-", 1).Result()
			return err == nil && n.store("/").Position() == last[0].ID
		}, "hub to read the gap")

		proxy.Point(n.addr)
		c.Must(map[string]any{"op": "reconnect"}, nil)
		again := c.next("connect")
		if again["recovered"] != true || again["id"] != id {
			t.Fatalf("reconnect to hub: %v, want recovered with id %s", again, id)
		}
		s := n.srv.Of("/").Socket(id)
		if s == nil || !s.In("R") {
			t.Fatalf("hub's socket %v", s)
		}
		if raw, _ := s.Data().(json.RawMessage); string(raw) != `{"user":"on-node"}` {
			t.Fatalf("hub's socket data %s", s.Data())
		}
		if err := n.srv.To("R").Emit("after", 7); err != nil {
			t.Fatal(err)
		}
		c.nextEvent("after")
		checkGap(t, c, want)
	})

	t.Run("hub-to-node", func(t *testing.T) {
		n, p, so := mixedStreamsCluster(t, false, nil)
		rdb := testRedis(t, redisURL)
		proxy := tcpproxy.Start(t, n.addr)
		c := startSIOClient(t, "http://"+proxy.Addr(), map[string]any{"room": "R", "data": map[string]any{"user": "on-hub"}})
		first := c.next("connect")
		id, pid := first["id"].(string), first["pid"].(string)
		c.next("joined")
		p.Must(map[string]any{"op": "emit", "rooms": []string{"R"}, "event": "before", "args": []any{0}}, nil)
		c.nextEvent("before")
		c.Must(map[string]any{"op": "cut"}, nil)
		c.next("disconnect")
		n.waitGone(t, id)
		waitSession(t, rdb, so, pid, "hub to keep the session", persisted)
		want := emitGap(t, n, p, so, "R", id)

		proxy.Point(p.addr)
		c.Must(map[string]any{"op": "reconnect"}, nil)
		again := c.next("connect")
		if again["recovered"] != true || again["id"] != id {
			t.Fatalf("reconnect to Node: %v, want recovered with id %s", again, id)
		}
		var onNode struct {
			Rooms     []string
			Data      map[string]any
			Recovered bool
		}
		p.Must(map[string]any{"op": "socket", "socket": id}, &onNode)
		if !onNode.Recovered || !slices.Contains(onNode.Rooms, "R") || onNode.Data["user"] != "on-hub" {
			t.Fatalf("Node's socket: %+v", onNode)
		}
		p.Must(map[string]any{"op": "emit", "rooms": []string{"R"}, "event": "after", "args": []any{7}}, nil)
		c.nextEvent("after")
		checkGap(t, c, want)
	})
}
