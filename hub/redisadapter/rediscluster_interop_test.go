package redisadapter_test

import (
	"bytes"
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/redisadapter"
)

// TestMixedClusterOnRedisCluster has a hub node and a Node socket.io
// server with @socket.io/redis-adapter 8.3 (the redis package's
// createCluster) share a Redis Cluster of three primaries, in each
// flavour: they count each other (Node sums over the primaries, hub over
// every node), broadcasts to rooms whose channels live on each primary
// cross both ways with binary intact, and FetchSockets and server-side
// emits with acks work both ways.
func TestMixedClusterOnRedisCluster(t *testing.T) {
	bothFlavours(t, testMixedClusterOnRedisCluster)
}

func testMixedClusterOnRedisCluster(t *testing.T, o redisadapter.Options) {
	rc := redisCluster(t)
	key := testKey(t)
	greeted := make(chan string, 4)
	link, _ := joinRedisCluster(t, o, rc, key)
	srv, url := adaptertest.Serve(t, hub.Options{Adapter: link.Adapter}, func(s *hub.Server) {
		s.Of("/").OnServerSideEmit("greet", func(e *hub.ServerEvent) {
			var who string
			_ = e.Args.Bind(&who)
			greeted <- who
			if e.WantsAck() {
				_ = e.Ack(map[string]any{"from": "go", "echo": who})
			}
		})
	})
	p := startPeer(t, "peer.cjs", "redis-adapter", "CLUSTER_NODES="+strings.Join(rc.Addrs, ","),
		"KEY="+key, "SHARDED="+strconv.FormatBool(o.Sharded))
	adaptertest.WaitNodes(t, srv, "/", 2)
	var count int
	p.Must(map[string]any{"op": "count"}, &count)
	if count != 2 {
		t.Fatalf("the Node peer counts %d nodes, want 2", count)
	}

	rooms := roomsOnEveryPrimary(t, rc, key)
	gc, gid := adaptertest.Dial(t, url, "/")
	adaptertest.JoinRooms(t, srv, "/", gid, rooms...)
	nc, nid := dialPeer(t, p, rooms, map[string]any{"user": "nodejs"})
	if o.Sharded {
		waitShardSubscribers(t, rc, key, 2, rooms...)
	}
	blob := []byte{0xde, 0xad, 0, 0xbe, 0xef}
	for _, r := range rooms {
		p.Must(map[string]any{"op": "emit", "rooms": []string{r}, "event": "from-node-" + r,
			"args": []any{"s", 7, 2.5, bin(blob), map[string]any{"nested": bin(blob[:2]), "list": []any{true, nil}}}}, nil)
		checkArgs(t, adaptertest.ExpectEvent(t, gc, "/", "from-node-"+r), blob)
		if err := srv.To(r).Emit("from-go-"+r, "s", 7, 2.5, blob, map[string]any{"nested": blob[:2], "list": []any{true, nil}}); err != nil {
			t.Fatal(err)
		}
		checkArgs(t, adaptertest.ExpectEvent(t, nc, "/", "from-go-"+r), blob)
	}

	// FetchSockets both ways.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	all, err := srv.In(rooms[0]).FetchSockets(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, s := range all {
		ids = append(ids, s.ID)
		if s.ID == nid && string(s.Data) != `{"user":"nodejs"}` {
			t.Errorf("Node's socket seen from Go: data %s", s.Data)
		}
	}
	if !slices.Contains(ids, nid) || !slices.Contains(ids, gid) || len(ids) != 2 {
		t.Errorf("FetchSockets from Go = %v, want %s and Node's %s", ids, gid, nid)
	}
	var fromNode []struct{ ID string }
	p.Must(map[string]any{"op": "fetch", "rooms": []string{rooms[1]}}, &fromNode)
	ids = ids[:0]
	for _, s := range fromNode {
		ids = append(ids, s.ID)
	}
	if !slices.Contains(ids, gid) || len(ids) != 2 {
		t.Errorf("fetchSockets from Node = %v, want hub's %s and its own", ids, gid)
	}

	// Server-side emits with acks both ways.
	var acks []map[string]any
	p.Must(map[string]any{"op": "serverSideEmit", "event": "greet", "args": []any{"asking"}, "ack": true}, &acks)
	if len(acks) != 1 || acks[0]["from"] != "go" || acks[0]["echo"] != "asking" {
		t.Errorf("Node's serverSideEmitWithAck answers = %v", acks)
	}
	if who := <-greeted; who != "asking" {
		t.Errorf("Go was greeted by %q", who)
	}
	answers, err := srv.Of("/").ServerSideEmitWithAck(ctx, "greet", "ack-please")
	if err != nil {
		t.Fatal(err)
	}
	var a struct{ From, Echo string }
	if len(answers) != 1 || answers[0].Bind(&a) != nil || a.From != "node" || a.Echo != "ack-please" {
		t.Errorf("answers from Node = %d, first %+v", len(answers), a)
	}
	select {
	case ev := <-p.events:
		if !bytes.Contains(ev, []byte(`"ack-please"`)) {
			t.Errorf("Node received %s", ev)
		}
	case <-time.After(wait):
		t.Fatal("Node received no server-side emit")
	}
}
