package redisadapter_test

import (
	"context"
	"encoding/json"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/redisadapter"
)

// startStreamsPeer starts streams_peer.cjs, a node of the cluster so
// configures.
func startStreamsPeer(t testing.TB, so redisadapter.StreamsOptions) *nodePeer {
	t.Helper()
	return startPeer(t, "streams_peer.cjs", "redis-streams-adapter", "REDIS_URL="+redisURL, "STREAM="+so.StreamName,
		"PREFIX="+so.ChannelPrefix, "SESSION_PREFIX="+so.SessionKeyPrefix, "SHARDED="+strconv.FormatBool(so.Sharded))
}

// mixedStreamsCluster starts a hub node and a Node peer on one Redis,
// and waits until they count each other and the peer reads the stream
// (Node starts reading at "$", once its reader connects).
func mixedStreamsCluster(t *testing.T, sharded bool, setup func(*hub.Server)) (*recoveryNode, *nodePeer, redisadapter.StreamsOptions) {
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

// A client recovers across implementations, each way: its session and
// offset, written by one, are taken by the other, which replays what the
// client missed, emitted by both, once and in order.
func TestStreamsMixedClusterRecovery(t *testing.T) {
	// emitGap emits the gap events alternately from hub and Node, each in
	// the stream before the next, and returns what the client must get.
	emitGap := func(t *testing.T, n *recoveryNode, p *nodePeer, so redisadapter.StreamsOptions, room, id string) []string {
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
		c, proxy, id, pid := connectSIOClient(t, p.addr, map[string]any{"user": "on-node"})
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

		c.reconnectTo(proxy, n.addr, id, pid)
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
		c, proxy, id, pid := connectSIOClient(t, n.addr, map[string]any{"user": "on-hub"})
		p.Must(map[string]any{"op": "emit", "rooms": []string{"R"}, "event": "before", "args": []any{0}}, nil)
		c.nextEvent("before")
		c.Must(map[string]any{"op": "cut"}, nil)
		c.next("disconnect")
		n.waitGone(t, id)
		waitSession(t, rdb, so, pid, "hub to keep the session", persisted)
		want := emitGap(t, n, p, so, "R", id)

		c.reconnectTo(proxy, p.addr, id, pid)
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
