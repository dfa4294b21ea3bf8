package redisadapter_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/nodeproc"
	"github.com/hubd/hubd/internal/tcpproxy"
)

// sioClient is the official socket.io-client 4.8 in a Node process
// (testdata/node/streams_client.mjs), through recoveries.
type sioClient struct {
	*nodeproc.Proc
	t    *testing.T
	obs  chan map[string]any
	seen []map[string]any
}

func startSIOClient(t *testing.T, url string, params map[string]any) *sioClient {
	t.Helper()
	dir := nodeDir()
	if _, err := os.Stat(filepath.Join(dir, "node_modules", "socket.io-client")); err != nil {
		t.Fatalf("the Node client's packages are missing: run `npm ci` in %s (make test does)", dir)
	}
	raw, _ := json.Marshal(params)
	c := &sioClient{t: t, obs: make(chan map[string]any, 1<<16)}
	env := []string{"SIO_URL=" + url, "SIO_PARAMS=" + string(raw)}
	c.Proc = nodeproc.Start(t, dir, "streams_client.mjs", env, func(line []byte) {
		if line == nil {
			close(c.obs)
			return
		}
		var o map[string]any
		if json.Unmarshal(line, &o) == nil && o["ev"] != nil {
			c.obs <- o
		}
	})
	return c
}

// next returns the next observation ev, keeping every one in seen.
func (c *sioClient) next(ev string) map[string]any {
	c.t.Helper()
	timeout := time.After(wait)
	for {
		select {
		case o, ok := <-c.obs:
			if !ok {
				c.t.Fatalf("the client exited; seen %v", c.seen)
			}
			c.seen = append(c.seen, o)
			if o["ev"] == "fatal" {
				c.t.Fatalf("the client failed: %v", o["message"])
			}
			if o["ev"] == ev {
				return o
			}
		case <-timeout:
			c.t.Fatalf("no %q from the client within %v; seen %v", ev, wait, c.seen)
		}
	}
}

// nextEvent returns the next socket event called name.
func (c *sioClient) nextEvent(name string) map[string]any {
	c.t.Helper()
	for {
		if o := c.next("event"); o["event"] == name {
			return o
		}
	}
}

// events lists the events seen so far, as "name arg0" strings, with the
// offset each carried, from the first one called from on.
func (c *sioClient) events(from string) (names, offsets []string) {
	started := false
	for _, o := range c.seen {
		if o["ev"] != "event" {
			continue
		}
		if o["event"] == from {
			started = true
		}
		if !started {
			continue
		}
		args, _ := o["args"].([]any)
		first := any(nil)
		if len(args) > 0 {
			first = args[0]
		}
		names = append(names, fmt.Sprintf("%v %v", o["event"], first))
		off := ""
		if len(args) > 1 {
			off, _ = args[len(args)-1].(string)
		}
		offsets = append(offsets, off)
	}
	return names, offsets
}

// recoveryNode is a streams node with connection state recovery: its
// clients join a room with data by the event "join" (serveJoin), it tells
// when a socket is gone.
type recoveryNode struct {
	*node
	streams *redisadapter.Streams
	addr    string // host:port

	mu   sync.Mutex
	gone map[string]chan struct{}
}

func startRecoveryNode(t *testing.T, so redisadapter.StreamsOptions, ro hub.RecoveryOptions, setup func(*hub.Server)) *recoveryNode {
	t.Helper()
	rn := &recoveryNode{gone: make(map[string]chan struct{})}
	rn.node, rn.streams = startStreamsNode(t, so, redisURL, hub.Options{ConnectionStateRecovery: &ro}, func(srv *hub.Server) {
		serveJoin(srv)
		for _, nsp := range []string{"/", "/other"} {
			srv.Of(nsp).OnConnection(func(s *hub.Socket) {
				gone := make(chan struct{})
				rn.mu.Lock()
				rn.gone[s.ID()] = gone
				rn.mu.Unlock()
				s.OnDisconnect(func(hub.DisconnectReason) { close(gone) })
			})
		}
		if setup != nil {
			setup(srv)
		}
	})
	rn.addr = strings.TrimPrefix(rn.url, "http://")
	return rn
}

// waitGone waits until socket id has disconnected from the node.
func (rn *recoveryNode) waitGone(t *testing.T, id string) {
	t.Helper()
	var gone chan struct{}
	waitFor(t, func() bool {
		rn.mu.Lock()
		defer rn.mu.Unlock()
		gone = rn.gone[id]
		return gone != nil
	}, "socket "+id+" to connect")
	select {
	case <-gone:
	case <-time.After(wait):
		t.Fatalf("socket %s still connected", id)
	}
}

// store is the session store of the node's namespace nsp.
func (rn *recoveryNode) store(nsp string) hub.SessionStore {
	return rn.srv.Of(nsp).Adapter().(hub.SessionStore)
}

// waitSession waits until the session pid stored under so's prefix
// satisfies ok.
func waitSession(t *testing.T, rdb *redis.Client, so redisadapter.StreamsOptions, pid, what string, ok func(redisadapter.SessionView) bool) redisadapter.SessionView {
	t.Helper()
	var v redisadapter.SessionView
	waitFor(t, func() bool {
		val, err := rdb.Get(context.Background(), so.SessionKeyPrefix+pid).Result()
		if err != nil {
			return false
		}
		v, err = redisadapter.ReadSessionForTest(val)
		return err == nil && ok(v)
	}, what)
	return v
}

func persisted(v redisadapter.SessionView) bool { return !v.Live }

// connectSIOClient starts the real socket.io-client through a proxy to
// target (host:port), joining room R with data, and returns both once
// the client is in R, with its socket and session ids.
func connectSIOClient(t *testing.T, target string, data map[string]any) (c *sioClient, proxy *tcpproxy.Proxy, id, pid string) {
	t.Helper()
	proxy = tcpproxy.Start(t, target)
	c = startSIOClient(t, "http://"+proxy.Addr(), map[string]any{"room": "R", "data": data})
	first := c.next("connect")
	if first["recovered"] != false {
		t.Fatalf("first connect: %v", first)
	}
	id, pid = first["id"].(string), first["pid"].(string)
	if joined := c.next("joined"); !slices.Contains(toStrings(joined["rooms"]), "R") {
		t.Fatalf("joined: %v", joined)
	}
	return c, proxy, id, pid
}

// reconnectTo points the client's proxy at target (host:port) and has the
// client connect again: it must recover its socket and session ids.
func (c *sioClient) reconnectTo(proxy *tcpproxy.Proxy, target, id, pid string) {
	c.t.Helper()
	proxy.Point(target)
	c.Must(map[string]any{"op": "reconnect"}, nil)
	again := c.next("connect")
	if again["recovered"] != true || again["id"] != id || again["pid"] != pid {
		c.t.Fatalf("reconnect to %s: %v, want recovered with id %s, session %s", target, again, id, pid)
	}
}

// twoRecoveryNodes starts two nodes of a new streams cluster, with a
// recovery of a minute, and waits until they count each other; rdb is a
// client of their Redis.
func twoRecoveryNodes(t *testing.T) (a, b *recoveryNode, so redisadapter.StreamsOptions, rdb *redis.Client) {
	t.Helper()
	so = streamsOptions(testKey(t), false)
	ro := hub.RecoveryOptions{MaxDisconnectionDuration: time.Minute}
	a = startRecoveryNode(t, so, ro, nil)
	b = startRecoveryNode(t, so, ro, nil)
	waitNodes(t, a.node, "/", 2)
	return a, b, so, testRedis(t, redisURL)
}

// keptSession connects a client to nsp of node a, in room, and takes
// from it a broadcast node b sends the room, with its offset; then the
// client goes, and a keeps its session. It returns the session and that
// offset.
func keptSession(t *testing.T, rdb *redis.Client, so redisadapter.StreamsOptions, a, b *recoveryNode, nsp, room string) (testclient.Reply, string) {
	t.Helper()
	c, r := connectClient(t, a.node, nsp, nil)
	joinRooms(t, a.node, nsp, r.SID, room)
	waitSession(t, rdb, so, r.PID, "tracking", func(v redisadapter.SessionView) bool { return slices.Contains(v.Rooms, room) })
	if err := b.srv.Of(nsp).To(room).Emit("first"); err != nil {
		t.Fatal(err)
	}
	off := lastOffset(t, expectEvent(t, c, nsp, "first"))
	c.Close()
	a.waitGone(t, r.SID)
	waitSession(t, rdb, so, r.PID, "the session to be kept", persisted)
	return r, off
}

// A client served by node A loses its connection; events reach its room
// through node B meanwhile; it comes back through B: the real
// socket.io-client sees socket.recovered with the same id, gets every
// event it missed once and in order, each with its offset, and then the
// live ones; B's socket has its rooms and data.
func TestStreamsRecoveryOnAnotherNode(t *testing.T) {
	a, b, so, rdb := twoRecoveryNodes(t)

	c, proxy, id, pid := connectSIOClient(t, a.addr, map[string]any{"user": "ann", "n": 7})
	waitSession(t, rdb, so, pid, "the session to be tracked with its room and data", func(v redisadapter.SessionView) bool {
		return v.Live && slices.Contains(v.Rooms, "R") && strings.Contains(string(v.Data), `"ann"`)
	})
	if err := b.srv.To("R").Emit("before", 0); err != nil {
		t.Fatal(err)
	}
	c.nextEvent("before")

	c.Must(map[string]any{"op": "cut"}, nil)
	c.next("disconnect")
	a.waitGone(t, id)
	waitSession(t, rdb, so, pid, "the session to be kept", persisted)

	emits := []func() error{
		func() error { return b.srv.To("R").Emit("gap", 1) },
		func() error { return b.srv.To("R").Emit("gap", 2, []byte("bin")) },
		func() error { return b.srv.To(id).Emit("gap", 3) },
		func() error { return a.srv.To("R").Emit("gap", 4) }, // from the node it left
		func() error { return b.srv.To("R").Volatile().Emit("other", 0) },
		func() error { return b.srv.To("X").Emit("other", 1) },
		func() error { return b.srv.To("R").Except("R").Emit("other", 2) },
		func() error { return b.srv.Of("/other").Emit("other", 3) },
		func() error { return b.srv.To("R").Emit("gap", 5) },
	}
	for i, emit := range emits {
		if err := emit(); err != nil {
			t.Fatal(err)
		}
		// In the stream before the next: two nodes add in no set order.
		waitFor(t, func() bool {
			n, _ := rdb.XLen(context.Background(), so.StreamName).Result()
			return n == int64(2+i)
		}, "the event to be added")
	}
	// Every gap event is in the stream, and B has delivered them all, so
	// that they come back by the replay.
	waitFor(t, func() bool {
		last, err := rdb.XRevRangeN(context.Background(), so.StreamName, "+", "-", 1).Result()
		n, _ := rdb.XLen(context.Background(), so.StreamName).Result()
		return err == nil && n == int64(1+len(emits)) && b.store("/").Position() == last[0].ID
	}, "the gap events to be added and read")

	c.reconnectTo(proxy, b.addr, id, pid)
	s := b.srv.Of("/").Socket(id)
	if s == nil || !s.Recovered() || !s.In("R") || !s.In(id) {
		t.Fatalf("B's socket: %v", s)
	}
	var data map[string]any
	if raw, ok := s.Data().(json.RawMessage); !ok || json.Unmarshal(raw, &data) != nil || data["user"] != "ann" || data["n"] != float64(7) {
		t.Fatalf("B's socket data: %#v", s.Data())
	}
	if err := b.srv.To("R").Emit("after", 6); err != nil {
		t.Fatal(err)
	}
	c.nextEvent("after")

	names, offsets := c.events("before")
	want := []string{"before 0", "gap 1", "gap 2", "gap 3", "gap 4", "gap 5", "after 6"}
	if !slices.Equal(names, want) {
		t.Fatalf("the client got %v, want %v", names, want)
	}
	for i, off := range offsets {
		if off == "" || i > 0 && !offsetLess(offsets[i-1], off) {
			t.Fatalf("offsets %v: each event needs one, in increasing order", offsets)
		}
	}
	for _, o := range c.seen {
		if o["ev"] == "event" && o["event"] == "gap" {
			if args := o["args"].([]any); args[0] == float64(2) {
				if bin, _ := args[1].(map[string]any); bin["$bin"] != "Ymlu" {
					t.Fatalf("binary argument replayed as %v", args[1])
				}
			}
		}
	}
	// B now owns the session: it tracks it, live.
	b.srv.Of("/").Socket(id).SetData(map[string]any{"user": "ann", "n": 8})
	waitSession(t, rdb, so, pid, "B to track the session", func(v redisadapter.SessionView) bool {
		return v.Live && strings.Contains(string(v.Data), `"n":8`)
	})
	if st := b.srv.RecoveryStats(); st.Recovered != 1 {
		t.Errorf("B's recovery stats: %+v", st)
	}
	c.Must(map[string]any{"op": "quit"}, nil)
}

func toStrings(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, x := range list {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// offsetLess compares two stream entry ids.
func offsetLess(a, b string) bool {
	var am, as, bm, bs uint64
	fmt.Sscanf(strings.Replace(a, "-", " ", 1), "%d %d", &am, &as)
	fmt.Sscanf(strings.Replace(b, "-", " ", 1), "%d %d", &bm, &bs)
	return am < bm || am == bm && as < bs
}

// lastOffset returns the offset an event carries as its last argument.
func lastOffset(t *testing.T, p *testclient.Packet) string {
	t.Helper()
	var off string
	if len(p.Args) == 0 || p.Arg(len(p.Args)-1, &off) != nil || off == "" {
		t.Fatalf("event %s has no offset", p.Text)
	}
	return off
}

// connectClient connects a testclient to nsp of n and returns it with
// its session ids.
func connectClient(t *testing.T, n *node, nsp string, auth any) (*testclient.Client, testclient.Reply) {
	t.Helper()
	c, err := testclient.Dial(n.url, "/socket.io/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r, err := c.ConnectReply(nsp, auth)
	if err != nil {
		t.Fatal(err)
	}
	if r.PID == "" {
		t.Fatalf("no session id in %+v", r)
	}
	return c, r
}

// What a client or another node controls never gets a session it should
// not: forged and oversized ids, an offset never issued, the session of a
// socket still connected, one already taken, one of another namespace, and
// records in Redis that are not sessions, or too big. None of them crashes
// a node or consumes a session that is not the asker's.
func TestStreamsRecoveryRefusals(t *testing.T) {
	a, b, so, rdb := twoRecoveryNodes(t)
	ctx := context.Background()

	// A disconnected client's session, with an offset.
	cutClient := func(nsp string) (testclient.Reply, string) {
		t.Helper()
		return keptSession(t, rdb, so, a, b, nsp, "r")
	}
	take := func(st hub.SessionStore, pid, offset string, want error) *hub.Session {
		t.Helper()
		s, err := st.TakeSession(ctx, pid, offset)
		if want == nil && err != nil || want != nil && !errors.Is(err, want) {
			t.Fatalf("TakeSession(%.40q, %q) = %v, want %v", pid, offset, err, want)
		}
		return s
	}
	onB := b.store("/")

	// A live session: its client is connected to A.
	live, liveID := connectClient(t, a.node, "/", nil)
	waitSession(t, rdb, so, liveID.PID, "tracking", func(v redisadapter.SessionView) bool { return v.Live })
	take(onB, liveID.PID, "", hub.ErrSessionUnknown)
	take(a.store("/"), liveID.PID, "", hub.ErrSessionUnknown)
	// ... through a client too: it gets a fresh session, and the first
	// keeps its own.
	_, thief := connectClient(t, b.node, "/", map[string]any{"pid": liveID.PID, "offset": ""})
	if thief.SID == liveID.SID || thief.PID == liveID.PID {
		t.Fatalf("a second client took a live session: %+v", thief)
	}
	if err := b.srv.To(liveID.SID).Emit("still-yours"); err != nil {
		t.Fatal(err)
	}
	expectEvent(t, live, "/", "still-yours")

	// Forged and oversized ids.
	take(onB, "forged", "0-1", hub.ErrSessionUnknown)
	take(onB, strings.Repeat("p", 300), "0-1", hub.ErrSessionUnknown)

	// Records that are not sessions, or too big: nothing crashes.
	for name, val := range map[string]string{
		"junk":       "not base64 at all!",
		"not-a-map":  "kQ==",             // msgpack [ ]
		"no-pid":     "gaNzaWSkYWJjZA==", // {sid: "abcd"}
		"empty":      "",
		"huge":       strings.Repeat("A", 2<<20),
		"wrong-pid":  mustRecord(t, redisadapter.SessionView{SID: "s", PID: "someone-else"}),
		"many-rooms": mustRecord(t, redisadapter.SessionView{SID: "s", PID: "many-rooms", Rooms: manyRooms(20_000)}),
	} {
		if err := rdb.Set(ctx, so.SessionKeyPrefix+name, val, time.Minute).Err(); err != nil {
			t.Fatal(err)
		}
		take(onB, name, "", hub.ErrSessionUnknown)
	}

	// Another namespace's session: refused, and still there for its own.
	other, otherOff := cutClient("/other")
	take(onB, other.PID, otherOff, hub.ErrSessionUnknown)
	if s := take(b.store("/other"), other.PID, otherOff, nil); s.ID != other.SID {
		t.Fatalf("the /other session: %+v", s)
	}

	// An offset never issued, in every form.
	r1, off1 := cutClient("/")
	take(onB, r1.PID, "abc", hub.ErrOffsetUnknown)
	take(onB, r1.PID, off1, hub.ErrSessionUnknown) // taken once, whatever followed
	r2, off2 := cutClient("/")
	var ms, seq uint64
	fmt.Sscanf(strings.Replace(off2, "-", " ", 1), "%d %d", &ms, &seq)
	take(onB, r2.PID, fmt.Sprintf("%d-%d", ms, seq+1000), hub.ErrOffsetUnknown)
	r3, _ := cutClient("/")
	take(onB, r3.PID, "1-0", hub.ErrOffsetExpired) // before the stream's first entry
	r4, _ := cutClient("/")
	take(onB, r4.PID, "99999999999999999999999-0", hub.ErrOffsetUnknown)

	// Taken once, however many ask at once.
	r5, off5 := cutClient("/")
	var wg sync.WaitGroup
	won := make(chan *hub.Session, 4)
	for _, st := range []hub.SessionStore{onB, a.store("/"), onB, a.store("/")} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if s, err := st.TakeSession(ctx, r5.PID, off5); err == nil {
				won <- s
			} else if !errors.Is(err, hub.ErrSessionUnknown) {
				t.Errorf("TakeSession: %v", err)
			}
		}()
	}
	wg.Wait()
	close(won)
	if n := len(won); n != 1 {
		t.Fatalf("%d takers won the session, want 1", n)
	}
	take(onB, r5.PID, off5, hub.ErrSessionUnknown)

	// Through a client: a fresh session, counted.
	before := b.srv.RecoveryStats().Refused[hub.ErrSessionUnknown.Reason]
	_, fresh := connectClient(t, b.node, "/", map[string]any{"pid": "forged", "offset": off1})
	if fresh.PID == "forged" {
		t.Fatal("a forged session id was kept")
	}
	if got := b.srv.RecoveryStats().Refused[hub.ErrSessionUnknown.Reason]; got != before+1 {
		t.Errorf("unknown_session refusals: %d, want %d", got, before+1)
	}
	for _, n := range []*recoveryNode{a, b} {
		if !n.streams.Healthy() {
			t.Error("a node is unhealthy after the refusals")
		}
	}
}

func mustRecord(t *testing.T, v redisadapter.SessionView) string {
	t.Helper()
	s, err := redisadapter.WriteSessionForTest(v)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func manyRooms(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprint(i)
	}
	return out
}
