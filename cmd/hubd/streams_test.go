package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/testredis"
)

// TestStreamsAdapterConfig: adapter redis-streams from the file, the
// environment or a flag, its settings given to the adapter, and every
// problem reported with its key.
func TestStreamsAdapterConfig(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "hubd.json", `{"adapter": {"type": "redis-streams", "url": "redis://:pw@10.0.0.5:6380/2", "key": "app",
		"sharded": true, "requests_timeout": "2s", "stream_name": "app-stream", "stream_count": 4, "max_len": 500,
		"session_key_prefix": "app:session:"}, "recovery": {}}`)
	cfg, err := Load([]string{"-config", f}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	got := cfg.Adapter.streamsOptions()
	want := redisadapter.StreamsOptions{StreamName: "app-stream", StreamCount: 4, ChannelPrefix: "app", Sharded: true,
		MaxLen: 500, SessionKeyPrefix: "app:session:", RequestsTimeout: 2 * time.Second}
	if got != want {
		t.Errorf("streams options %+v, want %+v", got, want)
	}
	// The defaults are Node's @socket.io/redis-streams-adapter's.
	cfg, err = Load([]string{"-adapter", "redis-streams"}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	want = redisadapter.StreamsOptions{StreamName: "socket.io", StreamCount: 1, ChannelPrefix: "socket.io", MaxLen: 10_000,
		SessionKeyPrefix: "sio:session:", RequestsTimeout: 5 * time.Second}
	if got := cfg.Adapter.streamsOptions(); got != want {
		t.Errorf("default streams options %+v, want %+v", got, want)
	}
	cfg, err = Load([]string{"-recovery", "1m"}, env(map[string]string{"HUBD_ADAPTER": "redis-streams"}), io.Discard)
	if err != nil || cfg.Adapter.Type != "redis-streams" || cfg.Recovery == nil {
		t.Errorf("redis-streams from the environment, recovery from a flag: %+v %v (%v)", cfg.Adapter, cfg.Recovery, err)
	}

	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"values", `{"adapter": {"type": "redis-streams", "url": "http://nope", "key": "", "requests_timeout": "0s",
			"stream_name": "", "stream_count": 0, "max_len": -1, "session_key_prefix": ""}}`,
			[]string{`adapter.url "http://nope"`, "adapter.key: empty", "adapter.requests_timeout 0s", "adapter.stream_name: empty",
				"adapter.stream_count 0: it must be from 1 to 1024", "adapter.max_len -1", "adapter.session_key_prefix: empty"}},
		{"too many streams", `{"adapter": {"type": "redis-streams", "stream_count": 1025}}`, []string{"adapter.stream_count 1025"}},
		{"subscription mode", `{"adapter": {"type": "redis-streams", "sharded": true, "subscription_mode": "static"}}`,
			[]string{"adapter.subscription_mode is for type redis"}},
		{"streams settings on pub/sub", `{"adapter": {"type": "redis", "stream_name": "s", "max_len": 5}}`,
			[]string{"adapter.stream_name, max_len: for type redis-streams only"}},
		{"streams settings alone", `{"adapter": {"session_key_prefix": "x:", "stream_count": 2}}`,
			[]string{"adapter.stream_count, session_key_prefix: for type redis-streams only"}},
		{"unknown type", `{"adapter": {"type": "streams"}}`, []string{`adapter.type "streams": it must be memory, redis, redis-streams or nats`}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := Load([]string{"-config", writeFile(t, t.TempDir(), "c.json", c.file)}, env(nil), io.Discard)
			wantProblems(t, c.name, err, c.want)
		})
	}
}

// A Redis that does not answer at start stops hubd with adapter
// redis-streams as with redis: a clear message, exit code 1, no password.
func TestDaemonStreamsRedisUnreachable(t *testing.T) {
	addr := freePort(t) // nothing listens there
	code, stderr := runToExit(t, "-listen", "127.0.0.1:0", "-adapter", "redis-streams", "-redis-url", "redis://:secret@"+addr)
	if code != 1 || !strings.Contains(stderr, "adapter: redis://:xxxxx@"+addr) || !strings.Contains(stderr, "cannot reach Redis") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "secret") {
		t.Errorf("the password is in the message:\n%s", stderr)
	}
}

// TestDaemonStreamsCluster runs two hubd processes with adapter
// redis-streams and recovery on one Redis: a client's relay on one node
// reaches a client of the other, /readyz and the adapter's metrics say
// both are up, and when the first node dies (SIGKILL, no goodbye) its
// client reconnects to the second and gets its socket back, with what was
// published while it was away.
func TestDaemonStreamsCluster(t *testing.T) {
	url, stop, err := testredis.Find()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { _ = rdb.Close() })
	ctx := context.Background()

	name := fmt.Sprintf("hubd-streams-test-%d", time.Now().UnixNano())
	prefix := name + ":session:"
	t.Cleanup(func() {
		keys, _ := rdb.Keys(ctx, prefix+"*").Result()
		_ = rdb.Del(ctx, append(keys, name)...).Err()
	})
	conf := writeFile(t, t.TempDir(), "hubd.json", fmt.Sprintf(`{"api": {"key": "k"}, "recovery": {"duration": "1m"},
		"adapter": {"type": "redis-streams", "url": %q, "key": %q, "stream_name": %q, "session_key_prefix": %q}}`,
		url, name, name, prefix))
	a := start(t, "-config", conf, "-listen", "127.0.0.1:0")
	b := start(t, "-config", conf, "-listen", "127.0.0.1:0")
	nspChannel := name + "#/#"
	waitCluster(t, func() bool {
		n, err := rdb.PubSubNumSub(ctx, nspChannel).Result()
		return err == nil && n[nspChannel] == 2
	}, "both nodes to subscribe to the namespace's channel")
	for _, d := range []*daemon{a, b} {
		if code, body := get(t, "http://"+d.addr+"/readyz"); code != 200 {
			t.Errorf("/readyz on %s: %d %s", d.addr, code, body)
		}
		_, body := get(t, "http://"+d.addr+"/metrics")
		if v, ok := metricValue(t, body, "hubd_adapter_up"); !ok || v != 1 {
			t.Errorf("hubd_adapter_up on %s = %v (found %v), want 1", d.addr, v, ok)
		}
		if v, ok := metricValue(t, body, "hubd_adapter_dropped_total"); !ok || v != 0 {
			t.Errorf("hubd_adapter_dropped_total on %s = %v (found %v), want 0", d.addr, v, ok)
		}
	}

	ca, _, ans := dialSIO(t, a.addr, "")
	sa := parseSession(t, ans)
	cb, _, _ := dialSIO(t, b.addr, "")
	for _, c := range []*websocket.Conn{ca, cb} {
		if _, ack := emitAck(t, c, "1", `["hub:join","lobby"]`); ack != `431[{"ok":true,"rooms":["lobby"]}]` {
			t.Fatalf("join: %s", ack)
		}
	}
	if _, ack := emitAck(t, cb, "2", `["chat","hello"]`); ack != `432[{"ok":true}]` {
		t.Fatalf("chat: %s", ack)
	}
	n, args, offset := eventOffset(t, nextMsg(t, ca))
	if n != "chat" || len(args) != 1 || string(args[0]) != `"hello"` {
		t.Fatalf("the client on A got %s %s from B", n, args)
	}

	// A keeps its connected sockets' sessions in Redis; then it dies.
	waitCluster(t, func() bool { return rdb.Exists(ctx, prefix+sa.PID).Val() == 1 }, "A to keep the session in Redis")
	if err := a.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	a.wait(t)
	waitCluster(t, func() bool {
		n, err := rdb.PubSubNumSub(ctx, nspChannel).Result()
		return err == nil && n[nspChannel] == 1
	}, "Redis to see A go")

	// Published on B while the client is away; B's own client getting it
	// says it is in the stream.
	if code := apiEmit(t, b.addr, "k", "news"); code != 200 {
		t.Fatalf("api emit: %d", code)
	}
	if n, _, _ := eventOffset(t, nextMsg(t, cb)); n != "news" {
		t.Fatalf("the client on B got %s, want the news", n)
	}

	_, missed, ans := dialSIO(t, b.addr, `{"pid":"`+sa.PID+`","offset":"`+offset+`"}`)
	if s := parseSession(t, ans); s != sa {
		t.Fatalf("back on B with %+v, want the socket %+v it had on A", s, sa)
	}
	if len(missed) != 1 {
		t.Fatalf("missed %q, want the news", missed)
	}
	if n, _, _ := eventOffset(t, missed[0]); n != "news" {
		t.Errorf("missed %s, want the news", missed[0])
	}
	recoveryMetrics(t, b, 1, 1, nil)
}
