package redisadapter_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
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

// wait bounds every wait for an event (adaptertest.Wait).
const wait = adaptertest.Wait

// requestsTimeout is the nodes' Options.RequestsTimeout: no test waits it
// out, so it is long enough for a loaded machine's nodes to answer.
const requestsTimeout = 10 * time.Second

// redisURL is the Redis the tests use (see testredis.Find).
var redisURL string

func TestMain(m *testing.M) {
	if os.Getenv(testNodeEnv) != "" {
		os.Exit(runTestNode()) // a node of its own process (streams_node_test.go)
	}
	url, stop, err := testredis.Find()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisadapter tests:", err)
		os.Exit(2)
	}
	redisURL = url
	code := m.Run()
	stop()
	stopRedisCluster()
	os.Exit(code)
}

// testKey is a channel prefix of the test's own, so that tests and runs
// sharing one Redis do not see each other.
func testKey(t testing.TB) string { return adaptertest.ClusterName(t) }

// node is a hub server on the cluster.
type node struct {
	srv     *hub.Server
	url     string
	cluster clusterLink
	key     string
}

// clusterLink is a node's link to Redis: a *redisadapter.Cluster, or a
// *redisadapter.Streams in the streams flavour (streams_test.go).
type clusterLink interface {
	Healthy() bool
	Dropped() int64
	Close() error
}

// newNode starts a hub server whose namespaces share Redis at url under
// key. setup runs before the server takes connections.
func newNode(t testing.TB, o redisadapter.Options, url, key string, setup func(*hub.Server)) *node {
	t.Helper()
	if isStreams(o) {
		return newStreamsNode(t, o, url, key, setup)
	}
	cluster := joinCluster(t, o, url, key)
	srv, surl := adaptertest.Serve(t, hub.Options{Adapter: cluster.Adapter}, setup)
	return &node{srv: srv, url: surl, cluster: cluster, key: key}
}

// joinCluster links a node to the Redis at url under key with the classic
// or the sharded adapter; the link closes when the test ends.
func joinCluster(t testing.TB, o redisadapter.Options, url, key string) *redisadapter.Cluster {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = 1
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	o.Key, o.RequestsTimeout, o.Logger = key, requestsTimeout, slog.New(slog.DiscardHandler)
	cluster, err := redisadapter.New(ctx, rdb, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cluster.Close()
		rdb.Close()
	})
	return cluster
}

// flavour is o as a flavour of the cross-node table (adaptertest.Run).
func flavour(o redisadapter.Options) adaptertest.Flavour {
	f := adaptertest.Flavour{
		WaitRooms: func(t testing.TB, key string, nodes int, rooms ...string) {
			waitRoomChannels(t, o, redisURL, key, nodes, rooms...)
		},
		LocalRooms: o.Sharded,
		ErrClosed:  redisadapter.ErrClosed,
	}
	f.Join = func(t testing.TB, key string) adaptertest.Link {
		if isStreams(o) {
			return joinStreamsFlavour(t, o, redisURL, key)
		}
		c := joinCluster(t, o, redisURL, key)
		return adaptertest.Link{Adapter: c.Adapter, Close: c.Close}
	}
	return f
}

// waitNodes waits until the namespace counts want nodes.
func waitNodes(t testing.TB, n *node, nsp string, want int) {
	t.Helper()
	adaptertest.WaitNodes(t, n.srv, nsp, want)
}

// dial connects a client to nsp of n and returns it with its socket id.
func dial(t testing.TB, n *node, nsp string) (*testclient.Client, string) {
	t.Helper()
	return adaptertest.Dial(t, n.url, nsp)
}

// joinRooms makes the local socket id of n join rooms and waits until it
// has.
func joinRooms(t testing.TB, n *node, nsp, id string, rooms ...string) {
	t.Helper()
	adaptertest.JoinRooms(t, n.srv, nsp, id, rooms...)
}

// expectEvent waits for event on c and returns it.
func expectEvent(t testing.TB, c *testclient.Client, nsp, event string) *testclient.Packet {
	t.Helper()
	return adaptertest.ExpectEvent(t, c, nsp, event)
}

// expectNone checks that c receives no event named event before a sentinel
// event (sent by the caller after the one that must not arrive).
func expectNone(t testing.TB, c *testclient.Client, nsp, event, sentinel string) {
	t.Helper()
	adaptertest.ExpectNone(t, c, nsp, event, sentinel)
}

// waitFor waits until cond holds.
func waitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	adaptertest.WaitFor(t, cond, what)
}

var nodeDir = sync.OnceValue(func() string {
	abs, _ := filepath.Abs("testdata/node")
	return abs
})

// bothFlavours runs test with the classic adapter and with the sharded one.
func bothFlavours(t *testing.T, test func(*testing.T, redisadapter.Options)) {
	t.Run("classic", func(t *testing.T) { test(t, redisadapter.Options{}) })
	t.Run("sharded", func(t *testing.T) { test(t, redisadapter.Options{Sharded: true}) })
}

// allFlavours runs test with the classic and the sharded adapters
// (bothFlavours), then with the streams flavour (streamsFlavours): the
// behaviour they all share.
func allFlavours(t *testing.T, test func(*testing.T, redisadapter.Options)) {
	bothFlavours(t, test)
	streamsFlavours(t, test)
}

// waitRoomChannels waits, in the sharded flavour, until want nodes listen
// on each room's own channel: nodes subscribe to it when a room gets its
// first local member, a moment after the join.
func waitRoomChannels(t testing.TB, o redisadapter.Options, url, key string, want int, rooms ...string) {
	t.Helper()
	if !o.Sharded || isStreams(o) {
		return
	}
	opt, _ := redis.ParseURL(url)
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	for _, r := range rooms {
		ch := key + "#/#" + r + "#"
		deadline := time.Now().Add(wait)
		for {
			n, err := rdb.PubSubShardNumSub(context.Background(), ch).Result()
			if err == nil && n[ch] >= int64(want) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%d nodes subscribed to %s, want %d", n[ch], ch, want)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// twoNodes starts two nodes of a new cluster and waits until they count
// each other.
func twoNodes(t testing.TB, o redisadapter.Options) (a, b *node) {
	t.Helper()
	key := testKey(t)
	a = newNode(t, o, redisURL, key, nil)
	b = newNode(t, o, redisURL, key, nil)
	waitNodes(t, a, "/", 2)
	return a, b
}
