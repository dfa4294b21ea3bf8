package redisadapter_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/nodeproc"
)

// nodePeer is a Node socket.io 4.8 server of testdata/node, driven by
// commands on its stdin: peer.cjs, with @socket.io/redis-adapter 8.3, or
// streams_peer.cjs, with @socket.io/redis-streams-adapter 0.3 and
// connection state recovery.
type nodePeer struct {
	*nodeproc.Proc
	url, addr string
	events    chan json.RawMessage // server-side emits it received
}

// startNodePeer starts peer.cjs, a node of key's cluster in o's flavour.
func startNodePeer(t testing.TB, key string, o redisadapter.Options) *nodePeer {
	t.Helper()
	return startPeer(t, "peer.cjs", "redis-adapter", "REDIS_URL="+redisURL, "KEY="+key, "SHARDED="+strconv.FormatBool(o.Sharded))
}

// startPeer runs script, which needs the package @socket.io/<pkg>, with
// env, and waits until it listens.
func startPeer(t testing.TB, script, pkg string, env ...string) *nodePeer {
	t.Helper()
	dir := nodeDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "@socket.io", pkg)); err != nil {
		t.Fatalf("the Node peer's packages are missing: run `npm ci` in %s (make test does)", dir)
	}
	p := &nodePeer{events: make(chan json.RawMessage, 64)}
	ready := make(chan int, 1)
	p.Proc = nodeproc.Start(t, dir, script, env, func(line []byte) {
		var n struct {
			Ready int             `json:"ready"`
			Event json.RawMessage `json:"event"`
			Log   string          `json:"log"`
			Fatal string          `json:"fatal"`
		}
		switch {
		case line == nil:
			close(ready)
		case json.Unmarshal(line, &n) != nil:
		case n.Ready != 0:
			ready <- n.Ready
		case n.Fatal != "" || n.Log != "":
			fmt.Fprintln(os.Stderr, "node peer:", n.Fatal+n.Log)
		case n.Event != nil:
			p.events <- line
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
func dialPeer(t testing.TB, p *nodePeer, rooms []string, data any) (*testclient.Client, string) {
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

func bin(b []byte) map[string]any {
	return map[string]any{"$bin": base64.StdEncoding.EncodeToString(b)}
}

// mixedCluster starts a hub node (setup runs before it takes
// connections) and a Node peer of o's flavour on one Redis, and waits
// until they count each other.
func mixedCluster(t *testing.T, o redisadapter.Options, setup func(*hub.Server)) (*node, *nodePeer) {
	if isStreams(o) {
		n, p, _ := mixedStreamsCluster(t, o.Sharded, setup)
		return n.node, p
	}
	key := testKey(t)
	n := newNode(t, o, redisURL, key, setup)
	p := startNodePeer(t, key, o)
	waitNodes(t, n, "/", 2)
	var count int
	p.Must(map[string]any{"op": "count"}, &count)
	if count != 2 {
		t.Fatalf("the Node peer counts %d nodes, want 2", count)
	}
	return n, p
}

// Broadcasts cross between hub and Node both ways, rooms, exceptions,
// binary and text intact; in the streams flavour, a broadcast carries the
// same offset, its entry id, to the clients of both.
func TestMixedClusterBroadcasts(t *testing.T) { allFlavours(t, testMixedClusterBroadcasts) }

func testMixedClusterBroadcasts(t *testing.T, o redisadapter.Options) {
	n, p := mixedCluster(t, o, nil)
	blob := []byte{0xde, 0xad, 0, 0xbe, 0xef}
	sameOffset := func(onHub, onNode *testclient.Packet) {
		t.Helper()
		if !isStreams(o) {
			return
		}
		if a, b := lastOffset(t, onHub), lastOffset(t, onNode); a != b {
			t.Errorf("offsets of one broadcast: %s on hub, %s on Node", a, b)
		}
	}

	// Clients on both servers: in r, in r and x, in x only.
	gR, gRID := dial(t, n, "/")
	gRX, gRXID := dial(t, n, "/")
	gX, gXID := dial(t, n, "/")
	joinRooms(t, n, "/", gRID, "r")
	joinRooms(t, n, "/", gRXID, "r", "x")
	joinRooms(t, n, "/", gXID, "x")
	nR, _ := dialPeer(t, p, []string{"r"}, nil)
	nRX, nRXID := dialPeer(t, p, []string{"r", "x"}, nil)
	waitRoomChannels(t, o, redisURL, n.key, 2, "r", "x")

	// Node → hub: to r except x, binary inside.
	p.Must(map[string]any{"op": "emit", "rooms": []string{"r"}, "except": []string{"x"}, "event": "from-node",
		"args": []any{"s", 7, 2.5, bin(blob), map[string]any{"nested": bin(blob[:2]), "list": []any{true, nil}}}}, nil)
	got := expectEvent(t, gR, "/", "from-node")
	checkArgs(t, got, blob)
	sameOffset(got, expectEvent(t, nR, "/", "from-node"))
	p.Must(map[string]any{"op": "emit", "event": "sentinel"}, nil)
	expectNone(t, gRX, "/", "from-node", "sentinel")
	expectNone(t, gX, "/", "from-node", "sentinel")
	expectNone(t, nRX, "/", "from-node", "sentinel")

	// hub → Node: the same the other way.
	err := n.srv.To("r").Except("x").Emit("from-go", "s", 7, 2.5, blob, map[string]any{"nested": blob[:2], "list": []any{true, nil}})
	if err != nil {
		t.Fatal(err)
	}
	onNode := expectEvent(t, nR, "/", "from-go")
	checkArgs(t, onNode, blob)
	sameOffset(expectEvent(t, gR, "/", "from-go"), onNode)
	_ = n.srv.Of("/").Emit("sentinel2")
	expectNone(t, nRX, "/", "from-go", "sentinel2")
	expectNone(t, gRX, "/", "from-go", "sentinel2")

	// Several rooms from Node (the main channel), JSON only, and a socket
	// id from Go (its own channel, filtered by Node on the room).
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
}

// checkArgs checks the arguments "s", 7, 2.5, blob, {nested: blob[:2],
// list: [true, null]} as a client received them.
func checkArgs(t *testing.T, p *testclient.Packet, blob []byte) {
	t.Helper()
	var s string
	var i, f float64
	var b []byte
	if p.Arg(0, &s); s != "s" {
		t.Errorf("arg 0 = %q in %s", s, p.Text)
	}
	if p.Arg(1, &i); i != 7 {
		t.Errorf("arg 1 = %v in %s", i, p.Text)
	}
	if p.Arg(2, &f); f != 2.5 {
		t.Errorf("arg 2 = %v in %s", f, p.Text)
	}
	if err := p.Arg(3, &b); err != nil || !bytes.Equal(b, blob) {
		t.Errorf("arg 3 = %v (%v), want %x as binary; %s", b, err, blob, p.Text)
	}
	var obj struct {
		Nested json.RawMessage
		List   []any
	}
	if err := p.Arg(4, &obj); err != nil {
		t.Fatalf("arg 4: %v", err)
	}
	var ph struct {
		Placeholder bool `json:"_placeholder"`
		Num         int  `json:"num"`
	}
	if json.Unmarshal(obj.Nested, &ph); !ph.Placeholder || ph.Num >= len(p.Attachments) || !bytes.Equal(p.Attachments[ph.Num], blob[:2]) {
		t.Errorf("nested binary = %s with %d attachments", obj.Nested, len(p.Attachments))
	}
	if len(obj.List) != 2 || obj.List[0] != true || obj.List[1] != nil {
		t.Errorf("list = %v", obj.List)
	}
}

// FetchSockets, Rooms, SocketsJoin, SocketsLeave and DisconnectSockets
// work both ways.
func TestMixedClusterFetchSockets(t *testing.T) { allFlavours(t, testMixedClusterFetchSockets) }

func testMixedClusterFetchSockets(t *testing.T, o redisadapter.Options) {
	n, p := mixedCluster(t, o, nil)
	_, gid := dial(t, n, "/")
	joinRooms(t, n, "/", gid, "team")
	n.srv.Of("/").Socket(gid).SetData(map[string]any{"user": "gopher"})
	_, bare := dial(t, n, "/") // no data: Node tools read {} (null crashed the admin UI)
	joinRooms(t, n, "/", bare, "team")
	_, nid := dialPeer(t, p, []string{"team"}, map[string]any{"user": "nodejs"})

	// From Node: sees hub's socket with its rooms, data and handshake.
	var fromNode []struct {
		ID        string
		Rooms     []string
		Data      map[string]any
		Handshake struct {
			Headers map[string]any
			Query   map[string]any
			Issued  float64
			Address string
		}
	}
	p.Must(map[string]any{"op": "fetch", "rooms": []string{"team"}}, &fromNode)
	var found bool
	for _, s := range fromNode {
		if s.ID == bare && s.Data == nil {
			t.Errorf("data of a socket without data seen from Node: null, want {}")
		}
		if s.ID != gid {
			continue
		}
		found = true
		if !slices.Contains(s.Rooms, "team") || !slices.Contains(s.Rooms, gid) {
			t.Errorf("rooms seen from Node = %v", s.Rooms)
		}
		if s.Data["user"] != "gopher" {
			t.Errorf("data seen from Node = %v", s.Data)
		}
		if s.Handshake.Issued == 0 || s.Handshake.Query["EIO"] != "4" || s.Handshake.Headers["host"] == nil {
			t.Errorf("handshake seen from Node = %+v", s.Handshake)
		}
	}
	if !found || len(fromNode) != 3 {
		t.Fatalf("Node's fetchSockets = %+v, want hub's %s and its own", fromNode, gid)
	}

	// From Go: sees Node's socket.
	all, err := n.srv.In("team").FetchSockets(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var remote *hub.RemoteSocket
	for _, r := range all {
		if r.ID == nid {
			remote = r
		}
	}
	if remote == nil || len(all) != 3 {
		t.Fatalf("FetchSockets = %d sockets, want hub's two and Node's %s", len(all), nid)
	}
	if !slices.Contains(remote.Rooms, "team") || string(remote.Data) != `{"user":"nodejs"}` {
		t.Errorf("Node's socket seen from Go: rooms %v data %s", remote.Rooms, remote.Data)
	}
	if remote.Handshake.Query().Get("EIO") != "4" || remote.Handshake.Host == "" || remote.Handshake.Issued == 0 {
		t.Errorf("Node's handshake seen from Go = %+v", remote.Handshake)
	}
	// Rooms across nodes: Go's asks every node (the streams flavour,
	// through FetchSockets) but in the sharded flavour, which, as Node's
	// sharded adapter, has no request for it; Node's allRooms is the
	// classic adapter's alone.
	if !o.Sharded || isStreams(o) {
		goRooms, err := n.srv.Of("/").Rooms(context.Background())
		if err != nil || !slices.Contains(goRooms, nid) || !slices.Contains(goRooms, "team") {
			t.Errorf("Go's Rooms = %v (%v), want Node's socket room %s too", goRooms, err, nid)
		}
	}
	if !o.Sharded && !isStreams(o) {
		var rooms []string
		p.Must(map[string]any{"op": "allRooms"}, &rooms)
		if !slices.Contains(rooms, gid) || !slices.Contains(rooms, "team") {
			t.Errorf("Node's allRooms = %v, want hub's rooms too", rooms)
		}
	}

	// Join, leave and disconnect both ways.
	nodeRooms := func() ([]string, error) { // nil once the socket is gone
		var r []string
		err := p.Call(map[string]any{"op": "localRooms", "socket": nid}, &r)
		return r, err
	}
	p.Must(map[string]any{"op": "join", "rooms": []string{gid}, "join": []string{"from-node"}}, nil)
	waitFor(t, func() bool { return slices.Contains(n.srv.Of("/").Socket(gid).Rooms(), "from-node") }, "join from Node")
	p.Must(map[string]any{"op": "leave", "rooms": []string{gid}, "leave": []string{"team"}}, nil)
	waitFor(t, func() bool { return !n.srv.Of("/").Socket(gid).In("team") }, "leave from Node")
	if err := remote.Join("from-go"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { r, err := nodeRooms(); return err == nil && slices.Contains(r, "from-go") }, "join from Go")
	if err := remote.Leave("team"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { r, err := nodeRooms(); return err == nil && r != nil && !slices.Contains(r, "team") }, "leave from Go")
	if err := remote.Disconnect(false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, func() bool { r, err := nodeRooms(); return err == nil && r == nil }, "disconnect from Go")
	p.Must(map[string]any{"op": "disconnect", "rooms": []string{gid}}, nil)
	waitFor(t, func() bool { return n.srv.Of("/").Socket(gid) == nil }, "disconnect from Node")
}

// Server-side emits, with and without acks, both ways; in the streams
// flavour, whose messages are msgpack, binary crosses too.
func TestMixedClusterServerSideEmit(t *testing.T) { allFlavours(t, testMixedClusterServerSideEmit) }

func testMixedClusterServerSideEmit(t *testing.T, o redisadapter.Options) {
	binary := isStreams(o)
	got := make(chan string, 4)
	n, p := mixedCluster(t, o, func(s *hub.Server) {
		s.Of("/").OnServerSideEmit("greet", func(e *hub.ServerEvent) {
			var who string
			_ = e.Args.Bind(&who)
			got <- who
			if e.WantsAck() {
				answer := map[string]any{"from": "go", "echo": who}
				if binary {
					answer["bin"] = []byte{1, 2}
				}
				_ = e.Ack(answer)
			}
		})
	})

	// Node → Go, without and with an ack.
	p.Must(map[string]any{"op": "serverSideEmit", "event": "greet", "args": []any{"plain"}}, nil)
	if who := <-got; who != "plain" {
		t.Errorf("Go received %q", who)
	}
	var acks []map[string]any
	p.Must(map[string]any{"op": "serverSideEmit", "event": "greet", "args": []any{"asking"}, "ack": true}, &acks)
	if len(acks) != 1 || acks[0]["from"] != "go" || acks[0]["echo"] != "asking" {
		t.Errorf("Node's serverSideEmitWithAck answers = %v", acks)
	} else if b, _ := acks[0]["bin"].(map[string]any); binary && b["$bin"] != base64.StdEncoding.EncodeToString([]byte{1, 2}) {
		t.Errorf("binary in the answer: %v", acks[0]["bin"])
	}
	<-got

	// Go → Node, without and with an ack.
	args, want := []any{"hello-node"}, `"hello-node"`
	if binary {
		args, want = []any{"hello-node", []byte("b")}, `"hello-node",{"$bin":"Yg=="}`
	}
	if err := n.srv.Of("/").ServerSideEmit("greet", args...); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-p.events:
		if !bytes.Contains(ev, []byte(want)) {
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
	if len(answers) != 1 {
		t.Fatalf("%d answers, want Node's one", len(answers))
	}
	var a struct{ From, Echo string }
	if err := answers[0].Bind(&a); err != nil || a.From != "node" || a.Echo != "ack-please" {
		t.Errorf("Node's answer = %s (%v)", answers[0].JSON(), err)
	}
	<-p.events
}

// Broadcasts with acks, both ways, answers with binary intact.
func TestMixedClusterBroadcastAcks(t *testing.T) { allFlavours(t, testMixedClusterBroadcastAcks) }

func testMixedClusterBroadcastAcks(t *testing.T, o redisadapter.Options) {
	n, p := mixedCluster(t, o, nil)
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
	gc, gid := dial(t, n, "/")
	joinRooms(t, n, "/", gid, "acks")
	answer(gc, "go-client")
	nc, _ := dialPeer(t, p, []string{"acks"}, nil)
	answer(nc, "node-client")

	want := []string{"go-client", "node-client"}
	// From Go: both clients answer, the Node one's binary intact.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	res, err := n.srv.To("acks").Timeout(wait).EmitWithAck(ctx, "q")
	if err != nil {
		t.Fatalf("from Go: %v (%d answers)", err, len(res))
	}
	var by []string
	for _, r := range res {
		var a struct{ By string }
		_ = r.Bind(&a)
		var b []byte
		vals, _ := r.Values()
		if m, ok := vals[0].(map[string]any); ok {
			b, _ = m["bin"].([]byte)
		}
		if string(b) != a.By {
			t.Errorf("answer %s: binary %q, want %q", r.JSON(), b, a.By)
		}
		by = append(by, a.By)
	}
	slices.Sort(by)
	if !slices.Equal(by, want) {
		t.Errorf("answers from Go's broadcast: %v, want %v", by, want)
	}

	// From Node.
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
}
