package adminui_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/adminui"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/testredis"
	"github.com/redis/go-redis/v9"
)

var (
	redisOnce sync.Once
	redisURL  string
	redisStop = func() {}
	redisErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	redisStop()
	os.Exit(code)
}

// testRedis returns the Redis of the tests (testredis.Find), started
// once for the package.
func testRedis(t *testing.T) string {
	t.Helper()
	redisOnce.Do(func() { redisURL, redisStop, redisErr = testredis.Find() })
	if redisErr != nil {
		t.Fatal(redisErr)
	}
	return redisURL
}

// hubNode starts a hub server on the Redis cluster key, instrumented for
// the admin UI as serverID.
func hubNode(t *testing.T, url, key, serverID string) (*hub.Server, string) {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), testWait)
	defer cancel()
	cluster, err := redisadapter.New(ctx, rdb, redisadapter.Options{Key: key, RequestsTimeout: 5 * time.Second, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	srv := hub.New(hub.Options{Adapter: cluster.Adapter})
	srv.OnConnection(func(s *hub.Socket) {
		s.On("join", func(ev *hub.Event) {
			var room string
			_ = ev.Args.Bind(&room)
			_ = s.Join(room)
			_ = ev.Ack("ok")
		})
	})
	admin, err := adminui.Instrument(srv, adminui.Options{NoAuth: true, ServerID: serverID, StatsInterval: 500 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = admin.Close()
		_ = srv.Close()
		ts.Close()
		_ = cluster.Close()
		_ = rdb.Close()
	})
	return srv, ts.URL
}

// TestCluster: two hub nodes and a Node server running the admin UI's own
// instrument(), on one Redis. A UI connected to either kind of server
// lists the sockets of all three and the statistics of all three, sees a
// socket connect on another node, and its emit reaches the sockets of
// every node.
func TestCluster(t *testing.T) {
	url := testRedis(t)
	key := "adminui-" + strings.ReplaceAll(t.Name(), "/", "-") + "-" + time.Now().Format("150405.000000")
	_, hub1 := hubNode(t, url, key, "hub-1")
	_, hub2 := hubNode(t, url, key, "hub-2")
	node := startNodePeer(t, url, key, "node-1")

	clients := map[string]string{} // socket id: server
	for _, s := range []struct{ name, url string }{{"hub-1", hub1}, {"hub-2", hub2}, {"node-1", node}} {
		c := dial(t, s.url)
		id := connect(t, c, "/", nil)
		clients[id] = s.name
	}

	for _, at := range []struct{ name, url string }{{"hub-1", hub1}, {"node-1", node}} {
		t.Run("ui on "+at.name, func(t *testing.T) {
			ui := startUI(t, at.url, nil)
			ui.connected(t)
			all := socketIDs(ui.event(t, "all_sockets", func([]json.RawMessage) bool { return true })[0])
			for id, server := range clients {
				s, ok := all[id]
				if !ok {
					t.Errorf("all_sockets lacks the socket on %s: %v", server, all)
					continue
				}
				if s.Nsp != "/" || len(s.ClientID) != 12 || s.Transport != "websocket" || len(s.Rooms) == 0 || string(s.Data) != "{}" {
					t.Errorf("the socket on %s listed as %+v", server, s)
				}
			}
			seen := map[string]bool{}
			ui.wait(t, "server_stats of every server", func(l uiLine) bool {
				if l.Event == "server_stats" {
					var st stats
					if json.Unmarshal(l.Args[0], &st) == nil {
						seen[st.ServerID] = true
					}
				}
				return seen["hub-1"] && seen["hub-2"] && seen["node-1"]
			})

			// A socket connecting on hub-2 shows up live.
			late := dial(t, hub2)
			lateID := connect(t, late, "/", nil)
			ui.event(t, "socket_connected", func(args []json.RawMessage) bool { _, ok := socketIDs(args[0])[lateID]; return ok })
			_ = late.Close()
			ui.event(t, "socket_disconnected", func(args []json.RawMessage) bool { return string(args[1]) == `"`+lateID+`"` })
		})
	}

	// An emit from a UI on hub-1 reaches the sockets of every server.
	ui := startUI(t, hub1, nil)
	ui.connected(t)
	ui.event(t, "config", func([]json.RawMessage) bool { return true })
	got := make(chan string, 3)
	for _, s := range []struct{ name, url string }{{"hub-1", hub1}, {"hub-2", hub2}, {"node-1", node}} {
		c := dial(t, s.url)
		connect(t, c, "/", nil)
		if _, err := c.EmitWithAck("/", "join", "ops"); err != nil {
			t.Fatal(err)
		}
		go func() {
			if p, err := c.WaitEvent("/", "notice", testWait); err == nil && p.Str(0) == "from the UI" {
				got <- s.name
			} else {
				got <- ""
			}
		}()
	}
	ui.emit(t, "emit", "/", "ops", "notice", "from the UI")
	reached := map[string]bool{}
	for range 3 {
		reached[<-got] = true
	}
	if !reached["hub-1"] || !reached["hub-2"] || !reached["node-1"] {
		t.Fatalf("the UI's emit reached %v, want every server", reached)
	}
}

// TestRedisSessions: a session id saved by one node is known to another,
// under the key and for the time Node's RedisStore uses.
func TestRedisSessions(t *testing.T) {
	opt, err := redis.ParseURL(testRedis(t))
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	defer rdb.Close()
	ctx := context.Background()
	prefix := "adminui-test-" + time.Now().Format("150405.000000")
	a, b := &adminui.RedisSessions{Client: rdb, Prefix: prefix}, &adminui.RedisSessions{Client: rdb, Prefix: prefix}
	if err := a.Save(ctx, "0123456789abcdef"); err != nil {
		t.Fatal(err)
	}
	if ok, err := b.Exists(ctx, "0123456789abcdef"); !ok || err != nil {
		t.Fatalf("a saved session: %v %v", ok, err)
	}
	if ok, err := b.Exists(ctx, "fedcba9876543210"); ok || err != nil {
		t.Fatalf("an unknown session: %v %v", ok, err)
	}
	key := prefix + "#0123456789abcdef"
	if ttl := rdb.TTL(ctx, key).Val(); ttl < 23*time.Hour || ttl > 24*time.Hour {
		t.Errorf("%s lives %v, want a day", key, ttl)
	}
	rdb.Del(ctx, key)
}
