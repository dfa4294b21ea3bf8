package redisadapter_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/redisadapter"
)

const wait = 5 * time.Second

// redisURL is the Redis the tests use: REDIS_URL, else 127.0.0.1:6379 when
// it answers, else a redis-server the tests start on a free port.
var redisURL string

func TestMain(m *testing.M) {
	stop, err := findRedis()
	if err != nil {
		fmt.Fprintln(os.Stderr, "redisadapter tests:", err)
		os.Exit(2)
	}
	code := m.Run()
	stop()
	os.Exit(code)
}

func findRedis() (stop func(), err error) {
	stop = func() {}
	if u := os.Getenv("REDIS_URL"); u != "" {
		redisURL = u
		return stop, ping(u)
	}
	if ping("redis://127.0.0.1:6379") == nil {
		redisURL = "redis://127.0.0.1:6379"
		return stop, nil
	}
	srv, err := startRedis("")
	if err != nil {
		return stop, fmt.Errorf("no Redis at 127.0.0.1:6379 and none could be started (%v); "+
			"install Redis (apt-get install redis-server) or set REDIS_URL", err)
	}
	redisURL = srv.url
	return srv.stop, nil
}

func ping(u string) error {
	opt, err := redis.ParseURL(u)
	if err != nil {
		return err
	}
	opt.MaxRetries = -1
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	return rdb.Ping(ctx).Err()
}

// redisServer is a redis-server process of the tests' own.
type redisServer struct {
	port int
	url  string
	dir  string
	cmd  *exec.Cmd
}

// startRedis starts redis-server, on port when it is not empty, else on a
// free port.
func startRedis(port string) (*redisServer, error) {
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		return nil, err
	}
	if port == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		port = strconv.Itoa(l.Addr().(*net.TCPAddr).Port)
		l.Close()
	}
	dir, err := os.MkdirTemp("", "hubd-redis-")
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir)
	cmd.Stdout, cmd.Stderr = nil, nil
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	p, _ := strconv.Atoi(port)
	s := &redisServer{port: p, url: "redis://127.0.0.1:" + port, dir: dir, cmd: cmd}
	deadline := time.Now().Add(5 * time.Second)
	for ping(s.url) != nil {
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("redis-server on port %s did not answer", port)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return s, nil
}

func (s *redisServer) stop() {
	_ = s.cmd.Process.Kill()
	_, _ = s.cmd.Process.Wait()
	os.RemoveAll(s.dir)
}

// testKey is a channel prefix of the test's own, so that tests and runs
// sharing one Redis do not see each other.
func testKey(t testing.TB) string {
	return "hubdtest-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
}

// node is a hub server on the cluster.
type node struct {
	srv     *hub.Server
	url     string
	cluster *redisadapter.Cluster
	key     string
}

// newNode starts a hub server whose namespaces share Redis at url under
// key. setup runs before the server takes connections.
func newNode(t testing.TB, o redisadapter.Options, url, key string, setup func(*hub.Server)) *node {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = 1
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	o.Key, o.RequestsTimeout, o.Logger = key, 2*time.Second, slog.New(slog.DiscardHandler)
	cluster, err := redisadapter.New(ctx, rdb, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := hub.New(hub.Options{Adapter: cluster.Adapter})
	if setup != nil {
		setup(srv)
	}
	ts := httptest.NewServer(srv)
	n := &node{srv: srv, url: ts.URL, cluster: cluster, key: key}
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
		cluster.Close()
		rdb.Close()
	})
	return n
}

// waitNodes waits until the namespace counts want nodes.
func waitNodes(t testing.TB, n *node, nsp string, want int) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for {
		got, err := n.srv.Of(nsp).Adapter().ServerCount(context.Background())
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ServerCount of %s = %d (%v), want %d", nsp, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// dial connects a client to nsp of n and returns it with its socket id.
func dial(t testing.TB, n *node, nsp string) (*testclient.Client, string) {
	t.Helper()
	c, err := testclient.Dial(n.url, "/socket.io/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	id, err := c.Connect(nsp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

// joinRooms makes the local socket id of n join rooms and waits until it
// has.
func joinRooms(t testing.TB, n *node, nsp, id string, rooms ...string) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for n.srv.Of(nsp).Socket(id) == nil {
		if time.Now().After(deadline) {
			t.Fatalf("socket %s not registered", id)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := n.srv.Of(nsp).Socket(id).Join(rooms...); err != nil {
		t.Fatal(err)
	}
}

// expectEvent waits for event on c and returns it.
func expectEvent(t testing.TB, c *testclient.Client, nsp, event string) *testclient.Packet {
	t.Helper()
	p, err := c.WaitEvent(nsp, event, wait)
	if err != nil {
		t.Fatalf("waiting for %q: %v", event, err)
	}
	return p
}

// expectNone checks that c receives no event named event before a sentinel
// event (sent by the caller after the one that must not arrive).
func expectNone(t testing.TB, c *testclient.Client, nsp, event, sentinel string) {
	t.Helper()
	for {
		p, err := c.NextEvent(nsp, wait)
		if err != nil {
			t.Fatalf("waiting for %q: %v", sentinel, err)
		}
		if p.Event == event {
			t.Fatalf("received %s, which was not addressed to this client", p.Text)
		}
		if p.Event == sentinel {
			return
		}
	}
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

// waitRoomChannels waits, in the sharded flavour, until want nodes listen
// on each room's own channel: nodes subscribe to it when a room gets its
// first local member, a moment after the join.
func waitRoomChannels(t testing.TB, o redisadapter.Options, url, key string, want int, rooms ...string) {
	t.Helper()
	if !o.Sharded {
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
