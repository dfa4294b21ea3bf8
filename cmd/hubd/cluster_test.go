package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/nodeproc"
	"github.com/hubd/hubd/internal/testnats"
	"github.com/hubd/hubd/internal/testredis"
)

// clients drives real socket.io-client sockets (testdata/clients.cjs).
type clients struct {
	*nodeproc.Proc
}

func startClients(t *testing.T) *clients {
	t.Helper()
	modules, err := filepath.Abs("../../hub/testdata/client/node_modules")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(modules, "socket.io-client", "package.json")); err != nil {
		t.Fatalf("socket.io-client is not installed in %s: run `make test`, which runs npm ci there", modules)
	}
	return &clients{nodeproc.Start(t, "testdata", "clients.cjs", []string{"NODE_PATH=" + modules}, nil)}
}

// connect connects socket name to the hubd at addr and returns its id.
func (c *clients) connect(name, addr string) string {
	var id string
	c.Must(map[string]any{"op": "connect", "name": name, "url": "http://" + addr}, &id)
	return id
}

// ack emits an event and returns the ack's first argument.
func (c *clients) ack(name, event string, args ...any) map[string]any {
	var r map[string]any
	c.Must(map[string]any{"op": "emit", "name": name, "event": event, "args": args}, &r)
	return r
}

// until returns the names of the events name received up to and
// including the next event called last.
func (c *clients) until(name, last string) []string {
	var evs [][]json.RawMessage
	c.Must(map[string]any{"op": "until", "name": name, "event": last}, &evs)
	var names []string
	for _, e := range evs {
		var n string
		_ = json.Unmarshal(e[0], &n)
		names = append(names, n)
	}
	return names
}

// api calls hubd's HTTP API at addr.
func api(t *testing.T, addr, method, path, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer cluster-key")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// TestCluster runs two hubd processes on one Redis: the relay, the HTTP
// API and the remote-socket endpoints work across them, driven by the real
// socket.io-client.
// TestCluster runs two hubd nodes on each kind of cluster adapter: Redis
// pub/sub, sharded or not, on one Redis and on a Redis Cluster of three
// primaries (given by its redis-cluster:// URL), and NATS.
func TestCluster(t *testing.T) {
	for _, kind := range []string{"redis", "redis-sharded", "redis-cluster", "redis-cluster-sharded", "nats"} {
		t.Run(kind, func(t *testing.T) { testCluster(t, kind) })
	}
}

func testCluster(t *testing.T, kind string) {
	sharded := strings.HasSuffix(kind, "-sharded")
	find := testredis.Find
	switch {
	case kind == "nats":
		find = testnats.Find
	case strings.HasPrefix(kind, "redis-cluster"):
		find = func() (string, func(), error) {
			rc, err := testredis.StartCluster(3, 0)
			if err != nil {
				return "", func() {}, err
			}
			return "redis-cluster://" + rc.Addrs[0], rc.Stop, nil
		}
	}
	url, stop, err := find()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	dir := t.TempDir()
	conf := filepath.Join(dir, "hubd.json")
	key := fmt.Sprintf("hubd-cluster-test-%d", time.Now().UnixNano())
	adapter := map[string]any{"type": "redis", "url": url, "key": key, "sharded": sharded}
	if kind == "nats" {
		adapter = map[string]any{"type": "nats", "nats_url": url, "key": key}
	}
	raw, _ := json.Marshal(map[string]any{
		"namespaces": []any{map[string]any{"name": "/"}},
		"api":        map[string]any{"key": "cluster-key"},
		"adapter":    adapter,
	})
	if err := os.WriteFile(conf, raw, 0o600); err != nil {
		t.Fatal(err)
	}
	a := start(t, "-config", conf, "-listen", "127.0.0.1:0")
	b := start(t, "-config", conf, "-listen", "127.0.0.1:0")
	c := startClients(t)
	if code, body := get(t, "http://"+a.addr+"/readyz"); code != 200 || body != "ready\nadapter: up" {
		t.Errorf("/readyz: %d %q, want 200 \"ready\\nadapter: up\"", code, body)
	}

	a1 := c.connect("a1", a.addr)
	b1 := c.connect("b1", b.addr)
	b2 := c.connect("b2", b.addr)
	for _, n := range []string{"a1", "b1", "b2"} {
		if r := c.ack(n, "hub:join", "room"); r["ok"] != true {
			t.Fatalf("%s hub:join: %v", n, r)
		}
	}
	if r := c.ack("b2", "hub:join", "vip"); r["ok"] != true {
		t.Fatalf("b2 hub:join vip: %v", r)
	}
	if sharded {
		// A node subscribes to a room's own channel a moment after the
		// room's first local member joins.
		rdb, err := redisadapter.NewClient(url)
		if err != nil {
			t.Fatal(err)
		}
		defer rdb.Close()
		ch := key + "#/#room#"
		waitCluster(t, func() bool {
			n, err := rdb.PubSubShardNumSub(context.Background(), ch).Result()
			return err == nil && n[ch] == 2
		}, "both nodes to subscribe to the room's channel")
	}

	// A client on B relays to its rooms: A's client receives, the sender
	// does not, and B's other client receives once.
	if r := c.ack("b1", "chat", "hello from B"); r["ok"] != true {
		t.Fatalf("chat ack: %v", r)
	}
	if got := c.until("a1", "chat"); !slices.Equal(got, []string{"chat"}) {
		t.Errorf("a1 received %v", got)
	}
	if got := c.until("b2", "chat"); !slices.Equal(got, []string{"chat"}) {
		t.Errorf("b2 received %v", got)
	}

	// The HTTP API of either node: to the room except vip, then a mark
	// (what one node sends arrives in order everywhere).
	for _, d := range []*daemon{a, b} {
		if code, body := api(t, d.addr, "POST", "/api/emit", `{"rooms":"room","except":"vip","event":"news","args":[1]}`); code != 200 {
			t.Fatalf("emit on %s: %d %s", d.addr, code, body)
		}
		if code, body := api(t, d.addr, "POST", "/api/emit", `{"rooms":"room","event":"mark"}`); code != 200 {
			t.Fatalf("emit on %s: %d %s", d.addr, code, body)
		}
		for name, want := range map[string][]string{
			"a1": {"news", "mark"}, "b1": {"news", "mark"}, "b2": {"mark"},
		} {
			if got := c.until(name, "mark"); !slices.Equal(got, want) {
				t.Errorf("emit on %s: %s received %v, want %v", d.addr, name, got, want)
			}
		}
	}

	// The sockets and rooms of both nodes, from either.
	var socks struct {
		Sockets []struct {
			ID    string
			Rooms []string
		}
	}
	code, body := api(t, a.addr, "GET", "/api/sockets?room=room", "")
	if code != 200 || json.Unmarshal([]byte(body), &socks) != nil {
		t.Fatalf("sockets on A: %d %s", code, body)
	}
	var ids []string
	for _, s := range socks.Sockets {
		ids = append(ids, s.ID)
		if s.ID == b2 && !slices.Equal(s.Rooms, []string{"room", "vip"}) {
			t.Errorf("b2's rooms seen from A: %v", s.Rooms)
		}
	}
	want := []string{a1, b1, b2}
	slices.Sort(want)
	if !slices.Equal(ids, want) {
		t.Errorf("sockets of room seen from A: %v, want %v", ids, want)
	}
	if code, body := api(t, a.addr, "GET", "/api/rooms", ""); code != 200 || !strings.Contains(body, `"rooms":["room","vip"]`) {
		t.Errorf("rooms seen from A: %d %s", code, body)
	}

	// A socket on B disconnected through A's API.
	if code, body := api(t, a.addr, "POST", "/api/disconnect", fmt.Sprintf(`{"id":%q}`, b2)); code != 200 {
		t.Fatalf("disconnect of b2 on A: %d %s", code, body)
	}
	var reason string
	c.Must(map[string]any{"op": "disconnected", "name": "b2"}, &reason)
	if reason != "io server disconnect" {
		t.Errorf("b2's disconnect reason %q", reason)
	}
	waitCluster(t, func() bool {
		_, body := api(t, b.addr, "GET", "/api/sockets?room=room", "")
		return strings.Count(body, `"id"`) == 2 && !strings.Contains(body, b2)
	}, "b2 to be gone from the room, seen from B")
	if code, body := api(t, a.addr, "POST", "/api/disconnect", fmt.Sprintf(`{"id":%q}`, b2)); code != 404 {
		t.Errorf("disconnect of a gone socket: %d %s, want 404", code, body)
	}
}

// TestDaemonReadinessFollowsTheAdapter: /readyz says whether the adapter
// reaches NATS; with adapter.readiness "require" it answers 503 while
// NATS is down, and 200 again once hubd has reconnected by itself.
func TestDaemonReadinessFollowsTheAdapter(t *testing.T) {
	srv, err := testnats.Start(0)
	if err != nil {
		t.Fatalf("%v (install nats-server: apt-get install nats-server)", err)
	}
	t.Cleanup(srv.Stop)
	dir := t.TempDir()
	conf := writeFile(t, dir, "hubd.json", fmt.Sprintf(`{"listen": "127.0.0.1:0",
		"adapter": {"type": "nats", "nats_url": %q, "key": "hubd-ready-test", "readiness": "require"}}`, srv.URL))
	report := writeFile(t, dir, "report.json", fmt.Sprintf(`{"listen": "127.0.0.1:0",
		"adapter": {"type": "nats", "nats_url": %q, "key": "hubd-ready-test"}}`, srv.URL))
	d := start(t, "-config", conf)
	r := start(t, "-config", report)
	for _, x := range []*daemon{d, r} {
		if code, body := get(t, "http://"+x.addr+"/readyz"); code != 200 || body != "ready\nadapter: up" {
			t.Fatalf("/readyz with NATS up: %d %q", code, body)
		}
	}
	srv.Kill()
	waitCluster(t, func() bool {
		code, body := get(t, "http://"+d.addr+"/readyz")
		return code == 503 && strings.HasPrefix(body, "not ready\nadapter: down")
	}, "/readyz to answer 503 with NATS down (readiness require)")
	waitCluster(t, func() bool {
		code, body := get(t, "http://"+r.addr+"/readyz")
		return code == 200 && strings.HasPrefix(body, "ready\nadapter: down")
	}, "/readyz to report the adapter down with 200 (readiness report)")
	if err := srv.Restart(); err != nil {
		t.Fatal(err)
	}
	waitCluster(t, func() bool {
		code, body := get(t, "http://"+d.addr+"/readyz")
		return code == 200 && body == "ready\nadapter: up"
	}, "/readyz to answer 200 once hubd reconnected to NATS")
}

func waitCluster(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAdapterConfig(t *testing.T) {
	dir := t.TempDir()
	f := writeFile(t, dir, "hubd.json", `{"adapter": {"type": "redis", "url": "redis://:pw@10.0.0.5:6380/2", "key": "app", "sharded": true, "subscription_mode": "static", "requests_timeout": "2s"}}`)
	cfg, err := Load([]string{"-config", f}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	a := cfg.Adapter
	if a.Type != "redis" || a.URL != "redis://:pw@10.0.0.5:6380/2" || a.Key != "app" || !a.Sharded ||
		a.SubscriptionMode != "static" || time.Duration(a.RequestsTimeout) != 2*time.Second {
		t.Errorf("adapter = %+v", a)
	}
	// The environment and flags choose it too.
	cfg, err = Load([]string{"-redis-url", "redis://127.0.0.1:7000"}, env(map[string]string{"HUBD_ADAPTER": "redis"}), io.Discard)
	if err != nil || cfg.Adapter.Type != "redis" || cfg.Adapter.URL != "redis://127.0.0.1:7000" || cfg.Adapter.Key != "socket.io" {
		t.Errorf("adapter from env and flag = %+v (%v)", cfg.Adapter, err)
	}
	// Without one, hubd needs no external service.
	cfg, _ = Load(nil, env(nil), io.Discard)
	if cfg.Adapter.Type != "memory" {
		t.Errorf("default adapter %q", cfg.Adapter.Type)
	}

	f = writeFile(t, dir, "bad.json", `{"adapter": {"type": "redis", "url": "http://nope", "key": "", "subscription_mode": "sometimes", "requests_timeout": "-1s"}}`)
	_, err = Load([]string{"-config", f}, env(nil), io.Discard)
	var ce *ConfigError
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a ConfigError", err)
	}
	all := strings.Join(ce.Problems, "\n")
	for _, w := range []string{`adapter.url "http://nope"`, "adapter.key: empty", `adapter.subscription_mode "sometimes"`, "adapter.requests_timeout"} {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in:\n%s", w, all)
		}
	}
	f = writeFile(t, dir, "bad2.json", `{"adapter": {"type": "kafka"}}`)
	if _, err := Load([]string{"-config", f}, env(nil), io.Discard); err == nil || !strings.Contains(err.Error(), `adapter.type "kafka": it must be memory, redis, redis-streams or nats`) {
		t.Errorf("unknown type: %v", err)
	}

	// A Redis Cluster, by URL.
	for _, u := range []string{"redis-cluster://127.0.0.1:7000", "redis://127.0.0.1:7000?addr=127.0.0.1:7001&addr=127.0.0.1:7002"} {
		if _, err := Load([]string{"-adapter", "redis", "-redis-url", u}, env(nil), io.Discard); err != nil {
			t.Errorf("Redis Cluster URL %s: %v", u, err)
		}
	}

	// NATS: from the file, the environment and the flags.
	f = writeFile(t, dir, "nats.json", `{"adapter": {"type": "nats", "nats_url": "nats://10.0.0.7:4222, nats://10.0.0.8:4222", "nats_credentials_file": "/etc/hubd/nats.creds", "key": "app.rt"}}`)
	cfg, err = Load([]string{"-config", f}, env(nil), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	o := cfg.Adapter.natsOptions()
	if !slices.Equal(o.URLs, []string{"nats://10.0.0.7:4222", "nats://10.0.0.8:4222"}) || o.CredentialsFile != "/etc/hubd/nats.creds" ||
		o.SubjectPrefix != "app.rt" || o.RequestsTimeout != 5*time.Second {
		t.Errorf("nats options = %+v", o)
	}
	cfg, err = Load([]string{"-adapter", "nats"}, env(map[string]string{"HUBD_NATS_URL": "nats://10.0.0.9:4222"}), io.Discard)
	if err != nil || cfg.Adapter.NATSURL != "nats://10.0.0.9:4222" {
		t.Errorf("nats from env = %+v (%v)", cfg.Adapter, err)
	}
	cfg, err = Load([]string{"-adapter", "nats", "-nats-url", "nats://10.0.0.10:4222"}, env(map[string]string{"HUBD_NATS_URL": "nats://10.0.0.9:4222"}), io.Discard)
	if err != nil || cfg.Adapter.NATSURL != "nats://10.0.0.10:4222" {
		t.Errorf("nats from the flag = %+v (%v)", cfg.Adapter, err)
	}
	f = writeFile(t, dir, "badnats.json", `{"adapter": {"type": "nats", "nats_url": "nats://a:1,", "key": "has space", "sharded": true, "readiness": "maybe"}, "recovery": {}}`)
	_, err = Load([]string{"-config", f}, env(nil), io.Discard)
	if !errors.As(err, &ce) {
		t.Fatalf("err = %v, want a ConfigError", err)
	}
	all = strings.Join(ce.Problems, "\n")
	for _, w := range []string{"empty URL", "has space", "adapter.sharded and adapter.subscription_mode are for type redis", `adapter.readiness "maybe"`, "recovery: adapter nats keeps no sessions"} {
		if !strings.Contains(all, w) {
			t.Errorf("missing %q in:\n%s", w, all)
		}
	}
}

// A Redis that does not answer at start stops hubd with a clear message
// and the runtime exit code, the password kept out of it.
func TestDaemonRedisUnreachable(t *testing.T) {
	addr := freePort(t) // nothing listens there
	code, stderr := runToExit(t, "-listen", "127.0.0.1:0", "-adapter", "redis", "-redis-url", "redis://:secret@"+addr)
	if code != 1 || !strings.Contains(stderr, "adapter: redis://:xxxxx@"+addr) || !strings.Contains(stderr, "cannot reach Redis") {
		t.Fatalf("exit %d, stderr:\n%s", code, stderr)
	}
	if strings.Contains(stderr, "secret") {
		t.Errorf("the password is in the message:\n%s", stderr)
	}
}

// TestMixedClusterWithNode: a hubd node and a Node socket.io 4.8 server
// with @socket.io/redis-adapter 8.3 on one Redis. A socket.io-client on
// hubd and one on Node share a room: what one relays the other receives,
// and each server's broadcasts reach both.
func TestMixedClusterWithNode(t *testing.T) {
	url, stop, err := testredis.Find()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	peerDir, err := filepath.Abs("../../hub/redisadapter/testdata/node")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(peerDir, "node_modules", "@socket.io", "redis-adapter")); err != nil {
		t.Fatalf("the Node peer's packages are missing in %s: run `make test`, which runs npm ci there", peerDir)
	}
	key := fmt.Sprintf("hubd-mixed-test-%d", time.Now().UnixNano())
	conf := writeFile(t, t.TempDir(), "hubd.json", fmt.Sprintf(`{"api": {"key": "cluster-key"},
		"adapter": {"type": "redis", "url": %q, "key": %q}}`, url, key))
	h := start(t, "-config", conf, "-listen", "127.0.0.1:0")
	ready := make(chan string, 1)
	peer := nodeproc.Start(t, peerDir, "peer.cjs", []string{"REDIS_URL=" + url, "KEY=" + key}, func(line []byte) {
		var n struct{ Ready int }
		if json.Unmarshal(line, &n) == nil && n.Ready != 0 {
			ready <- fmt.Sprintf("127.0.0.1:%d", n.Ready)
		}
	})
	var nodeAddr string
	select {
	case nodeAddr = <-ready:
	case <-time.After(30 * time.Second):
		t.Fatal("the Node server did not start")
	}
	waitCluster(t, func() bool {
		var n int
		return peer.Call(map[string]any{"op": "count"}, &n) == nil && n == 2
	}, "the Node server to count two nodes")

	c := startClients(t)
	c.connect("h", h.addr)
	if r := c.ack("h", "hub:join", "room"); r["ok"] != true {
		t.Fatalf("hub:join: %v", r)
	}
	var nid string
	c.Must(map[string]any{"op": "connect", "name": "n", "url": "http://" + nodeAddr, "auth": map[string]any{"rooms": []string{"room"}}}, &nid)

	// A client of hubd relays to its room: the Node server's client gets it.
	if r := c.ack("h", "chat", "from a hubd client"); r["ok"] != true {
		t.Fatalf("chat: %v", r)
	}
	if got := c.until("n", "chat"); !slices.Equal(got, []string{"chat"}) {
		t.Errorf("the Node client received %v", got)
	}
	// The Node server broadcasts to the room: hubd's client gets it.
	peer.Must(map[string]any{"op": "emit", "rooms": []string{"room"}, "event": "from-node", "args": []any{1}}, nil)
	for _, name := range []string{"h", "n"} {
		if got := c.until(name, "from-node"); !slices.Equal(got, []string{"from-node"}) {
			t.Errorf("%s received %v", name, got)
		}
	}
	// hubd's HTTP API, except the Node client: only hubd's client.
	if code, body := api(t, h.addr, "POST", "/api/emit", fmt.Sprintf(`{"rooms":"room","except":%q,"event":"news"}`, nid)); code != 200 {
		t.Fatalf("emit: %d %s", code, body)
	}
	if code, body := api(t, h.addr, "POST", "/api/emit", `{"rooms":"room","event":"mark"}`); code != 200 {
		t.Fatalf("emit: %d %s", code, body)
	}
	if got := c.until("n", "mark"); !slices.Equal(got, []string{"mark"}) {
		t.Errorf("the Node client received %v, want only the mark", got)
	}
	if got := c.until("h", "mark"); !slices.Equal(got, []string{"news", "mark"}) {
		t.Errorf("the hubd client received %v", got)
	}
	// hubd's API lists the Node server's socket.
	if code, body := api(t, h.addr, "GET", "/api/sockets?room=room", ""); code != 200 || !strings.Contains(body, nid) {
		t.Errorf("sockets of room seen from hubd: %d %s, want the Node client %s", code, body, nid)
	}
}
