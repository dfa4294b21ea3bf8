package redisadapter_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	neturl "net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/testredis"
)

// The tests on a Redis Cluster share one of three primaries with a replica
// each, started by the first that needs it and stopped by TestMain
// (stopRedisCluster); a test that kills nodes starts its own.
var (
	sharedCluster   *testredis.Cluster
	sharedClusterMu sync.Mutex
)

// redisCluster returns the package's Redis Cluster, started if need be.
func redisCluster(t testing.TB) *testredis.Cluster {
	t.Helper()
	sharedClusterMu.Lock()
	defer sharedClusterMu.Unlock()
	if sharedCluster == nil {
		rc, err := testredis.StartCluster(3, 1)
		if err != nil {
			t.Fatalf("the Redis Cluster tests run a cluster of their own and could not start one: %v", err)
		}
		sharedCluster = rc
	}
	return sharedCluster
}

// stopRedisCluster stops the package's Redis Cluster, if it was started.
func stopRedisCluster() {
	sharedClusterMu.Lock()
	defer sharedClusterMu.Unlock()
	if sharedCluster != nil {
		sharedCluster.Stop()
		sharedCluster = nil
	}
}

// ownRedisCluster starts a Redis Cluster for one test, stopped when it
// ends.
func ownRedisCluster(t testing.TB) *testredis.Cluster {
	t.Helper()
	rc, err := testredis.StartCluster(3, 1)
	if err != nil {
		t.Fatalf("this test runs a Redis Cluster of its own and could not start one: %v", err)
	}
	t.Cleanup(rc.Stop)
	return rc
}

// joinRedisCluster links a node to the Redis Cluster rc under key, with a
// client made by redisadapter.NewClient from the cluster's URL; the link
// and the client close when the test ends, or before with the returned
// function.
func joinRedisCluster(t testing.TB, o redisadapter.Options, rc *testredis.Cluster, key string) (*redisadapter.Cluster, func() error) {
	t.Helper()
	rdb, err := redisadapter.NewClient(rc.URL())
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := rdb.(*redis.ClusterClient); !ok {
		t.Fatalf("NewClient(%s) made a %T, want a *redis.ClusterClient", rc.URL(), rdb)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	o.Key, o.Logger = key, slog.New(slog.DiscardHandler)
	if o.RequestsTimeout == 0 {
		o.RequestsTimeout = requestsTimeout
	}
	cluster, err := redisadapter.New(ctx, rdb, o)
	if err != nil {
		rdb.Close()
		t.Fatal(err)
	}
	closeBoth := sync.OnceValue(func() error {
		err := cluster.Close()
		rdb.Close()
		return err
	})
	t.Cleanup(func() { _ = closeBoth() })
	return cluster, closeBoth
}

// clusterFlavour is o on the Redis Cluster rc, as a flavour of the
// cross-node table.
func clusterFlavour(o redisadapter.Options, rc *testredis.Cluster) adaptertest.Flavour {
	f := adaptertest.Flavour{LocalRooms: o.Sharded, ErrClosed: redisadapter.ErrClosed}
	if o.Sharded {
		f.WaitRooms = func(t testing.TB, key string, nodes int, rooms ...string) {
			waitShardSubscribers(t, rc, key, nodes, rooms...)
		}
	}
	f.Join = func(t testing.TB, key string) adaptertest.Link {
		c, closeBoth := joinRedisCluster(t, o, rc, key)
		return adaptertest.Link{Adapter: c.Adapter, Close: closeBoth}
	}
	return f
}

// waitShardSubscribers waits until at least want nodes listen on the
// channel of each room of namespace "/", on the primary that owns it.
func waitShardSubscribers(t testing.TB, rc *testredis.Cluster, key string, want int, rooms ...string) {
	t.Helper()
	rdb := rc.Client()
	defer rdb.Close()
	for _, r := range rooms {
		ch := key + "#/#" + r + "#"
		var n int64
		adaptertest.WaitFor(t, func() bool {
			n = shardSubscribers(rdb, ch)
			return n >= int64(want)
		}, fmt.Sprintf("%d nodes on %s", want, ch))
	}
}

// shardSubscribers is SHARDNUMSUB of ch on the primary that owns it.
func shardSubscribers(rdb *redis.ClusterClient, ch string) int64 {
	ctx := context.Background()
	node, err := rdb.MasterForKey(ctx, ch)
	if err != nil {
		return -1
	}
	res, err := node.PubSubShardNumSub(ctx, ch).Result()
	if err != nil {
		return -1
	}
	return res[ch]
}

// TestCrossNodeOnRedisCluster runs the cross-node table against the
// classic and the sharded flavours on a Redis Cluster of three primaries.
func TestCrossNodeOnRedisCluster(t *testing.T) {
	bothFlavours(t, func(t *testing.T, o redisadapter.Options) {
		adaptertest.Run(t, clusterFlavour(o, redisCluster(t)))
	})
}

// roomsOnEveryPrimary returns rooms whose channels (for key, in namespace
// "/") live on different primaries, at least one on each.
func roomsOnEveryPrimary(t *testing.T, rc *testredis.Cluster, key string) []string {
	t.Helper()
	rdb := rc.Client()
	defer rdb.Close()
	owners := make(map[string]string)
	var rooms []string
	for i := 0; len(owners) < 3 && i < 1000; i++ {
		room := fmt.Sprintf("room-%d", i)
		node, err := rdb.MasterForKey(context.Background(), key+"#/#"+room+"#")
		if err != nil {
			t.Fatal(err)
		}
		if addr := node.Options().Addr; owners[addr] == "" {
			owners[addr] = room
			rooms = append(rooms, room)
		}
	}
	if len(rooms) != 3 {
		t.Fatalf("rooms on %d primaries, want 3", len(rooms))
	}
	return rooms
}

// Each flavour spreads over the three primaries: three nodes count each
// other (summed over the nodes in the classic flavour), and broadcasts to
// rooms whose channels live on each primary reach every member; in the
// sharded flavour, each room's channel is subscribed on its own primary.
func TestRoomsOnEveryPrimary(t *testing.T) {
	bothFlavours(t, func(t *testing.T, o redisadapter.Options) {
		rc := redisCluster(t)
		key := testKey(t)
		f := clusterFlavour(o, rc)
		a := adaptertest.Start(t, f, key, nil)
		b := adaptertest.Start(t, f, key, nil)
		c := adaptertest.Start(t, f, key, nil)
		for _, n := range []*adaptertest.Node{a, b, c} {
			adaptertest.WaitNodes(t, n.Server, "/", 3)
		}
		rooms := roomsOnEveryPrimary(t, rc, key)
		cb, idb := adaptertest.Dial(t, b.URL, "/")
		adaptertest.JoinRooms(t, b.Server, "/", idb, rooms...)
		cc, idc := adaptertest.Dial(t, c.URL, "/")
		adaptertest.JoinRooms(t, c.Server, "/", idc, rooms...)
		if o.Sharded {
			waitShardSubscribers(t, rc, key, 2, rooms...)
		}
		for _, r := range rooms {
			if err := a.Server.To(r).Emit("to-" + r); err != nil {
				t.Fatal(err)
			}
			adaptertest.ExpectEvent(t, cb, "/", "to-"+r)
			adaptertest.ExpectEvent(t, cc, "/", "to-"+r)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		sockets, err := a.Server.FetchSockets(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, s := range sockets {
			ids = append(ids, s.ID)
		}
		slices.Sort(ids)
		want := []string{idb, idc}
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("FetchSockets = %v, want %v", ids, want)
		}
	})
}

// A node's Ready says nil while the cluster is whole.
func TestReadyOnRedisCluster(t *testing.T) {
	bothFlavours(t, func(t *testing.T, o redisadapter.Options) {
		rc := redisCluster(t)
		c, _ := joinRedisCluster(t, o, rc, testKey(t))
		srv, _ := adaptertest.Serve(t, hub.Options{Adapter: c.Adapter}, nil)
		adaptertest.WaitNodes(t, srv, "/", 1)
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		if err := c.Ready(ctx); err != nil {
			t.Fatalf("Ready = %v", err)
		}
		c.Close()
		if err := c.Ready(ctx); !errors.Is(err, redisadapter.ErrClosed) {
			t.Fatalf("Ready after Close = %v, want ErrClosed", err)
		}
	})
}

func TestNewClient(t *testing.T) {
	for _, c := range []struct {
		url     string
		cluster bool
		addrs   []string
		err     bool
	}{
		{url: "redis://127.0.0.1:6379", addrs: []string{"127.0.0.1:6379"}},
		{url: "redis://user:secret@10.0.0.1:6380/2", addrs: []string{"10.0.0.1:6380"}},
		{url: "rediss://10.0.0.1", addrs: []string{"10.0.0.1:6379"}},
		{url: "redis://h1:7000?addr=h2:7001&addr=h3:7002", cluster: true, addrs: []string{"h1:7000", "h2:7001", "h3:7002"}},
		{url: "redis-cluster://h1:7000", cluster: true, addrs: []string{"h1:7000"}},
		{url: "rediss-cluster://user:secret@h1:7000?addr=h2:7001&dial_timeout=2s", cluster: true, addrs: []string{"h1:7000", "h2:7001"}},
		{url: "http://h1:7000", err: true},
		{url: "redis://h1:7000?nosuchoption=1", err: true},
		{url: "redis-cluster://h1:7000?addr=h2:7001&nosuchoption=1", err: true},
		{url: "redis://user:secret@h1:notaport", err: true},
		{url: "redis-cluster://user:secret@h1:7000?addr=h2:7001&nosuchoption=1", err: true},
		{url: "::", err: true},
	} {
		rdb, err := redisadapter.NewClient(c.url)
		if c.err {
			if err == nil {
				rdb.Close()
				t.Errorf("NewClient(%q) accepted it", c.url)
			} else if strings.Contains(err.Error(), "secret") {
				t.Errorf("NewClient(%q) = %v: the error shows the password", c.url, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("NewClient(%q): %v", c.url, err)
			continue
		}
		switch r := rdb.(type) {
		case *redis.ClusterClient:
			if !c.cluster || !slices.Equal(r.Options().Addrs, c.addrs) {
				t.Errorf("NewClient(%q) = cluster of %v, want cluster %v of %v", c.url, r.Options().Addrs, c.cluster, c.addrs)
			}
		case *redis.Client:
			if c.cluster || r.Options().Addr != c.addrs[0] {
				t.Errorf("NewClient(%q) = one server at %s, want cluster %v of %v", c.url, r.Options().Addr, c.cluster, c.addrs)
			}
		default:
			t.Errorf("NewClient(%q) = %T", c.url, rdb)
		}
		rdb.Close()
	}
}

// In the sharded flavour, a room's channel follows its slot to another
// primary: Redis unsubscribes the channel's subscribers on the old owner
// when the slot moves, and the node subscribes again on the new one. The
// test has a cluster of its own: after the move a primary serves two
// ranges of slots, which node-redis 4.7 counts as two primaries (Node's
// adapter then counts its nodes twice).
func TestShardedChannelFollowsItsSlot(t *testing.T) {
	rc := ownRedisCluster(t)
	key := testKey(t)
	f := clusterFlavour(redisadapter.Options{Sharded: true}, rc)
	a := adaptertest.Start(t, f, key, nil)
	b := adaptertest.Start(t, f, key, nil)
	adaptertest.WaitNodes(t, a.Server, "/", 2)
	cb, idb := adaptertest.Dial(t, b.URL, "/")
	adaptertest.JoinRooms(t, b.Server, "/", idb, "moving")
	waitShardSubscribers(t, rc, key, 1, "moving")
	if err := a.Server.To("moving").Emit("before"); err != nil {
		t.Fatal(err)
	}
	adaptertest.ExpectEvent(t, cb, "/", "before")

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ch := key + "#/#moving#"
	rdb := rc.Client()
	defer rdb.Close()
	slot, err := rdb.ClusterKeySlot(ctx, ch).Result()
	if err != nil {
		t.Fatal(err)
	}
	from, err := rc.PrimaryOf(ctx, ch)
	if err != nil {
		t.Fatal(err)
	}
	nodes, err := testredis.Nodes(ctx, from)
	if err != nil {
		t.Fatal(err)
	}
	to := ""
	for _, n := range nodes {
		if n.Primary && !n.Failed && len(n.Slots) > 0 && n.Addr != from {
			to = n.Addr
		}
	}
	if err := rc.MoveSlot(ctx, int(slot), to); err != nil {
		t.Fatal(err)
	}
	t.Logf("moved slot %d of %s from %s to %s", slot, ch, from, to)
	waitShardSubscribers(t, rc, key, 1, "moving")
	if err := a.Server.To("moving").Emit("after"); err != nil {
		t.Fatal(err)
	}
	adaptertest.ExpectEvent(t, cb, "/", "after")
}

// In the classic flavour, ServerCount counts the subscribers of the
// request channel on every node, a replica's too: a client of classic
// pub/sub may subscribe on any node.
func TestServerCountSumsEveryNode(t *testing.T) {
	rc := redisCluster(t)
	key := testKey(t)
	c, _ := joinRedisCluster(t, redisadapter.Options{}, rc, key)
	srv, _ := adaptertest.Serve(t, hub.Options{Adapter: c.Adapter}, nil)
	adaptertest.WaitNodes(t, srv, "/", 1)

	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	nodes, err := testredis.Nodes(ctx, rc.Addrs[0])
	if err != nil {
		t.Fatal(err)
	}
	// A subscriber on one replica and one on each primary.
	var on []string
	for _, n := range nodes {
		if !n.Failed && (n.Primary && len(n.Slots) > 0 || !n.Primary && len(on) == 0) {
			on = append(on, n.Addr)
		}
	}
	for _, addr := range on {
		rdb := redis.NewClient(&redis.Options{Addr: addr})
		defer rdb.Close()
		ps := rdb.Subscribe(ctx, key+"-request#/#")
		defer ps.Close()
		if _, err := ps.Receive(ctx); err != nil {
			t.Fatal(err)
		}
	}
	adaptertest.WaitNodes(t, srv, "/", 1+len(on))
}

// FuzzNewClient: whatever the URL, NewClient returns a client or an error
// that does not show the URL's password.
func FuzzNewClient(f *testing.F) {
	for _, s := range []string{
		"redis://127.0.0.1:6379", "rediss://u:secret@h:1/2?dial_timeout=1s",
		"redis://h1:7000?addr=h2:7001&addr=h3:7002", "redis-cluster://u:secret@h1:7000",
		"rediss-cluster://h?addr=", "redis://u:secret@h:notaport", "redis://[::1]:6379", "%", "",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, url string) {
		rdb, err := redisadapter.NewClient(url)
		if err != nil {
			// Only the password says "secret", once.
			u, perr := neturl.Parse(url)
			if perr == nil && u.User != nil && strings.Count(url, "secret") == 1 {
				if p, _ := u.User.Password(); p == "secret" && strings.Contains(err.Error(), "secret") {
					t.Fatalf("NewClient(%q) = %v: the error shows the password", url, err)
				}
			}
			return
		}
		rdb.Close()
	})
}

// clusterStreamsFlavour is the streams flavour (on sharded pub/sub when
// sharded) on the Redis Cluster rc, as a flavour of the cross-node table;
// tweak, if given, changes its options.
func clusterStreamsFlavour(sharded bool, rc *testredis.Cluster, tweak ...func(*redisadapter.StreamsOptions)) adaptertest.Flavour {
	f := adaptertest.Flavour{ErrClosed: redisadapter.ErrClosed}
	f.Join = func(t testing.TB, key string) adaptertest.Link {
		rdb, err := redisadapter.NewClient(rc.URL())
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), wait)
		defer cancel()
		so := streamsOptions(key, sharded)
		for _, f := range tweak {
			f(&so)
		}
		streams, err := redisadapter.NewStreams(ctx, rdb, so)
		if err != nil {
			rdb.Close()
			t.Fatal(err)
		}
		closeBoth := sync.OnceValue(func() error {
			err := streams.Close()
			rdb.Close()
			return err
		})
		t.Cleanup(func() { _ = closeBoth() })
		return adaptertest.Link{
			Adapter: streams.Adapter,
			Options: func(h *hub.Options) { h.ConnectionStateRecovery = &hub.RecoveryOptions{} },
			Close:   closeBoth,
		}
	}
	return f
}

// TestStreamsCrossNodeOnRedisCluster runs the cross-node table against
// the streams flavour on a Redis Cluster of three primaries.
func TestStreamsCrossNodeOnRedisCluster(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(map[bool]string{false: "streams", true: "streams-sharded"}[sharded], func(t *testing.T) {
			adaptertest.Run(t, clusterStreamsFlavour(sharded, redisCluster(t)))
		})
	}
}

// On a Redis Cluster, the streams flavour recovers a client on another
// node: its session, kept in the cluster, and the broadcasts it missed,
// read back from its namespace's stream; a live session is not taken
// while its node is alive (the liveness check counts the node's channel
// over the cluster).
func TestStreamsRecoveryOnRedisCluster(t *testing.T) {
	for _, sharded := range []bool{false, true} {
		t.Run(map[bool]string{false: "streams", true: "streams-sharded"}[sharded], func(t *testing.T) {
			testStreamsRecoveryOnRedisCluster(t, sharded)
		})
	}
}

func testStreamsRecoveryOnRedisCluster(t *testing.T, sharded bool) {
	rc := redisCluster(t)
	key := testKey(t)
	so := streamsOptions(key, sharded)
	f := clusterStreamsFlavour(sharded, rc)
	a := adaptertest.Start(t, f, key, nil)
	b := adaptertest.Start(t, f, key, nil)
	adaptertest.WaitNodes(t, a.Server, "/", 2)
	rdb := rc.Client()
	defer rdb.Close()
	session := func(pid string) (redisadapter.SessionView, bool) {
		val, err := rdb.Get(context.Background(), so.SessionKeyPrefix+pid).Result()
		if err != nil {
			return redisadapter.SessionView{}, false
		}
		v, err := redisadapter.ReadSessionForTest(val)
		return v, err == nil
	}
	connect := func(url string, auth any) (*testclient.Client, testclient.Reply) {
		c, err := testclient.Dial(url, "/socket.io/")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		r, err := c.ConnectReply("/", auth)
		if err != nil || r.PID == "" {
			t.Fatalf("connect: %+v, %v", r, err)
		}
		return c, r
	}

	c, r := connect(a.URL, nil)
	adaptertest.JoinRooms(t, a.Server, "/", r.SID, "room")
	adaptertest.WaitFor(t, func() bool {
		v, ok := session(r.PID)
		return ok && v.Live && slices.Contains(v.Rooms, "room")
	}, "the session to be tracked")
	// Alive on A: B does not hand it out.
	if _, thief := connect(b.URL, map[string]any{"pid": r.PID, "offset": ""}); thief.SID == r.SID {
		t.Fatalf("B recovered the session of a socket still connected to A")
	}
	watcher, wid := adaptertest.Dial(t, b.URL, "/")
	adaptertest.JoinRooms(t, b.Server, "/", wid, "room")
	if err := b.Server.To("room").Emit("first"); err != nil {
		t.Fatal(err)
	}
	off := lastOffset(t, adaptertest.ExpectEvent(t, c, "/", "first"))
	c.Close()
	adaptertest.WaitFor(t, func() bool {
		v, ok := session(r.PID)
		return ok && !v.Live
	}, "the session to be kept")

	for i := 1; i <= 2; i++ {
		if err := b.Server.To("room").Emit("missed", i); err != nil {
			t.Fatal(err)
		}
	}
	adaptertest.ExpectEvent(t, watcher, "/", "first")
	adaptertest.ExpectEvent(t, watcher, "/", "missed")
	adaptertest.ExpectEvent(t, watcher, "/", "missed") // B has read them

	c2, back := connect(b.URL, map[string]any{"pid": r.PID, "offset": off})
	if back.SID != r.SID {
		t.Fatalf("reconnect to B: socket %s, want %s recovered", back.SID, r.SID)
	}
	for i := 1; i <= 2; i++ {
		var n int
		if p := adaptertest.ExpectEvent(t, c2, "/", "missed"); p.Arg(0, &n) != nil || n != i {
			t.Fatalf("replayed %s, want missed %d", p.Text, i)
		}
	}
}
