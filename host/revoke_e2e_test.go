package host_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
	"github.com/hubd/hubd/hub/natsadapter"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/hub/relay"
	"github.com/hubd/hubd/internal/testnats"
	"github.com/hubd/hubd/internal/testredis"
)

const revokeKey = "revoke-key"

// revokeNode is one node of the revocation tests: a hub on NATS, the
// plugin host with testdata/revoke/grants.js, the relay, the revoker and
// the HTTP API.
type revokeNode struct {
	name string
	h    *host.Host
	srv  *hub.Server
	rv   *host.Revoker
	url  string
	left atomic.Int64 // rooms left, as RevokeOptions.Left saw them
}

// grantsSpec is testdata/revoke/grants.js with config and capabilities.
func grantsSpec(t testing.TB, config string, capabilities ...string) host.Spec {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	return host.Spec{
		Manifest: host.Manifest{Name: "grants", Runtime: "js", Timeout: testTimeout, PoolSize: 2,
			Hooks: []host.Hook{host.HookConnect, host.HookJoin, host.HookEvent}, Events: []string{"kick"},
			Config: json.RawMessage(config), Capabilities: capabilities},
		Entry: filepath.Join(root, "host/testdata/revoke/grants.js"),
	}
}

// revokeAdapter links a node to a cluster: it returns the node's adapter
// factory and what closes its link.
type revokeAdapter func(t *testing.T) (hub.AdapterFactory, func())

// natsCluster is a cluster on the NATS server the tests find.
func natsCluster(t *testing.T) revokeAdapter {
	t.Helper()
	url, stop, err := testnats.Find()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	prefix := fmt.Sprintf("revoke%d", rand.Uint64())
	return func(t *testing.T) (hub.AdapterFactory, func()) {
		ctx, cancel := context.WithTimeout(t.Context(), traceWait)
		defer cancel()
		c, err := natsadapter.New(ctx, natsadapter.Options{URLs: []string{url}, SubjectPrefix: prefix,
			RequestsTimeout: traceWait, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return c.Adapter, func() { c.Close() }
	}
}

// redisCluster is a cluster on the Redis the tests find.
func redisCluster(t *testing.T) revokeAdapter {
	t.Helper()
	url, stop, err := testredis.Find()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(stop)
	key := fmt.Sprintf("revoke%d", rand.Uint64())
	return func(t *testing.T) (hub.AdapterFactory, func()) {
		rdb, err := redisadapter.NewClient(url)
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(t.Context(), traceWait)
		defer cancel()
		c, err := redisadapter.New(ctx, rdb, redisadapter.Options{Key: key, RequestsTimeout: traceWait, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return c.Adapter, func() { _ = c.Close(); _ = rdb.Close() }
	}
}

// startRevokeNode starts a node named name in cluster; it stops when the
// test ends.
func startRevokeNode(t *testing.T, cluster revokeAdapter, name string) *revokeNode {
	t.Helper()
	factory, unlink := cluster(t)
	n := &revokeNode{name: name, h: host.New(nil)}
	generousBudgets(n.h)
	n.h.Register("js", js.Runtime{})
	if err := n.h.Load(t.Context(), []host.Spec{grantsSpec(t, `{}`)}); err != nil {
		t.Fatal(err)
	}
	n.srv = hub.New(hub.Options{Adapter: factory})
	n.srv.SetHooks(n.h.Hooks())
	if err := relay.Attach(n.srv, relay.Config{}); err != nil {
		t.Fatal(err)
	}
	// A plugin may ask for one revocation, and no more for the test's
	// length.
	o := host.RevokeOptions{Node: name, Timeout: traceWait, Burst: 1, Rate: 1e-6,
		Left: func(s *hub.Socket, rooms []string) { n.left.Add(int64(len(rooms))) }}
	var err error
	if n.rv, err = n.h.ServeRevocations(n.srv, o); err != nil {
		t.Fatal(err)
	}
	api, err := httpapi.New(n.srv, httpapi.Config{Key: revokeKey, Revoke: n.rv.RevokeJSON,
		Trace: func(id string) (any, bool) { return n.h.Trace(id) }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", n.srv)
	mux.Handle("/api/", api)
	ts := httptest.NewServer(mux)
	n.url = ts.URL
	t.Cleanup(func() {
		_ = n.rv.Close()
		_ = n.srv.Close()
		ts.Close()
		unlink()
		_ = n.h.Close()
	})
	return n
}

// reload puts the grants plugin with config in force on every node.
func reload(t *testing.T, config string, nodes ...*revokeNode) { reloadWith(t, config, nil, nodes...) }

// reloadWith puts the grants plugin with config and capabilities in force
// on every node.
func reloadWith(t *testing.T, config string, capabilities []string, nodes ...*revokeNode) {
	t.Helper()
	for _, n := range nodes {
		if err := n.h.Load(t.Context(), []host.Spec{grantsSpec(t, config, capabilities...)}); err != nil {
			t.Fatal(err)
		}
	}
}

// waitServers waits until the main namespace of every node counts them
// all.
func waitServers(t *testing.T, nodes ...*revokeNode) {
	t.Helper()
	deadline := time.Now().Add(traceWait)
	for _, n := range nodes {
		for {
			got, err := n.srv.Of("/").Adapter().ServerCount(t.Context())
			if err == nil && got == len(nodes) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("node %s counts %d nodes (%v), want %d", n.name, got, err, len(nodes))
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
}

// revokeClient is testdata/revoke/client.cjs, running.
type revokeClient struct {
	stdin io.WriteCloser
	lines chan revokeLine
	seen  []revokeLine
}

type revokeLine struct {
	Kind  string          `json:"kind"`
	Who   string          `json:"who"`
	Value json.RawMessage `json:"value"`
}

func startRevokeClient(t *testing.T, urlA, urlB string) *revokeClient {
	t.Helper()
	cmd := nodeClient(t, 2*time.Minute, "host/testdata/revoke/client.cjs", urlA, urlB)
	stdin, stdout, stderr := startPiped(t, cmd)
	c := &revokeClient{stdin: stdin, lines: make(chan revokeLine, 64)}
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			var l revokeLine
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				l = revokeLine{Kind: "garbage", Value: json.RawMessage(fmt.Sprintf("%q", sc.Text()))}
			}
			c.lines <- l
		}
	}()
	t.Cleanup(func() {
		_, _ = io.WriteString(stdin, "exit\n")
		_ = stdin.Close()
		if err := cmd.Wait(); err != nil && !t.Failed() {
			t.Errorf("client: %v\n%s", err, stderr.Bytes())
		}
	})
	return c
}

// kick has the client send the plugin's "kick" event with arg, and checks
// its ack: {ok: true} when want is empty, else an error containing want.
func (c *revokeClient) kick(t *testing.T, arg, want string) {
	t.Helper()
	if _, err := io.WriteString(c.stdin, "kick "+arg+"\n"); err != nil {
		t.Fatal(err)
	}
	got := c.next(t, "kicked", "")
	var ack struct {
		OK    bool
		Error string
	}
	if err := json.Unmarshal(got, &ack); err != nil || ack.OK != (want == "") || !strings.Contains(ack.Error, want) {
		t.Fatalf("kick %s: the plugin answered %s, want %q", arg, got, want)
	}
}

// next returns the client's first line of kind (and who, when given) not
// taken yet, waiting for it if need be; the lines it passes are kept in
// seen for later calls.
func (c *revokeClient) next(t *testing.T, kind, who string) json.RawMessage {
	t.Helper()
	for i, l := range c.seen {
		if l.Kind == kind && (who == "" || l.Who == who) {
			c.seen = append(c.seen[:i:i], c.seen[i+1:]...)
			return l.Value
		}
	}
	timeout := time.After(traceWait)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("the client ended before a %s line of %q; it printed %+v", kind, who, c.seen)
			}
			if l.Kind == kind && (who == "" || l.Who == who) {
				return l.Value
			}
			c.seen = append(c.seen, l)
		case <-timeout:
			t.Fatalf("no %s line of %q from the client; it printed %+v", kind, who, c.seen)
		}
	}
}

// rooms asks every connected client for its membership.
func (c *revokeClient) rooms(t *testing.T) map[string][]string {
	t.Helper()
	if _, err := io.WriteString(c.stdin, "rooms\n"); err != nil {
		t.Fatal(err)
	}
	var out map[string][]string
	if err := json.Unmarshal(c.next(t, "rooms", ""), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// takeSeen returns and forgets the lines of kind seen so far.
func (c *revokeClient) takeSeen(kind string) []revokeLine {
	var out, rest []revokeLine
	for _, l := range c.seen {
		if l.Kind == kind {
			out = append(out, l)
		} else {
			rest = append(rest, l)
		}
	}
	c.seen = rest
	return out
}

// postRevoke posts body to the revoke endpoint at base and returns the
// status and the answer.
func postRevoke(t *testing.T, base, body string) (int, []byte) {
	t.Helper()
	return apiRequest(t, http.MethodPost, base+"/api/revoke", "Bearer "+revokeKey, body)
}

// revoke posts a revocation and returns its result.
func revoke(t *testing.T, base, body string) host.RevokeResult {
	t.Helper()
	status, b := postRevoke(t, base, body)
	var answer struct {
		OK         bool              `json:"ok"`
		Revocation host.RevokeResult `json:"revocation"`
	}
	if err := json.Unmarshal(b, &answer); status != http.StatusOK || err != nil || !answer.OK {
		t.Fatalf("POST revoke %s: %d %s (%v)", body, status, b, err)
	}
	return answer.Revocation
}

// TestRevoke: two nodes on NATS, then on Redis, the grants plugin on each,
// and the real socket.io-client — ann on node A, bob and cat on node B. Revocations
// posted to node A's API by room, by socket id and by a path in socket
// data reach the sockets of both nodes: each leaves exactly the rooms the
// join hook now refuses (the client is told, and its membership shows
// it), a connect recheck disconnects the socket the connect hook now
// refuses, and the sockets that still pass keep their grants. Each node
// answers its counts, and the trace of a revoked socket shows the
// revocation's decision.
func TestRevoke(t *testing.T) {
	for name, cluster := range map[string]func(*testing.T) revokeAdapter{"nats": natsCluster, "redis": redisCluster} {
		t.Run(name, func(t *testing.T) { revokeAcross(t, cluster(t)) })
	}
}

func revokeAcross(t *testing.T, cluster revokeAdapter) {
	a := startRevokeNode(t, cluster, "node-a")
	b := startRevokeNode(t, cluster, "node-b")
	waitServers(t, a, b)

	c := startRevokeClient(t, a.url, b.url)
	var ids struct{ Ann, Bob, Cat string }
	if err := json.Unmarshal(c.next(t, "ready", ""), &ids); err != nil {
		t.Fatal(err)
	}
	wantRooms := func(want map[string][]string) {
		t.Helper()
		if got := c.rooms(t); !reflect.DeepEqual(got, want) {
			t.Fatalf("the clients' rooms: %v, want %v", got, want)
		}
	}
	wantResult := func(got host.RevokeResult, want ...host.NodeRevocation) {
		t.Helper()
		total := host.RevokeResult{Nodes: want}
		for _, n := range want {
			total.Matched += n.Matched
			total.Left += n.Left
			total.Disconnected += n.Disconnected
		}
		if !reflect.DeepEqual(got, total) {
			t.Fatalf("revocation result:\n%s\nwant\n%s", mustJSON(t, got), mustJSON(t, total))
		}
	}
	wantRevoked := func(who, notice string) {
		t.Helper()
		if got := c.next(t, "revoked", who); compactJSON(t, got) != compactJSON(t, json.RawMessage(notice)) {
			t.Fatalf("%s was told %s, want %s", who, got, notice)
		}
	}
	wantRooms(map[string][]string{"ann": {"news", "vip"}, "bob": {"news", "vip"}, "cat": {"vip"}})

	// By room: bob's grant to vip is withdrawn; ann and cat keep theirs.
	reload(t, `{"denied": ["bob:vip"]}`, a, b)
	res := revoke(t, a.url, `{"namespace": "/", "rooms": ["vip"]}`)
	wantResult(res, host.NodeRevocation{Node: "node-a", Matched: 1}, host.NodeRevocation{Node: "node-b", Matched: 2, Left: 1})
	wantRevoked("bob", `{"rooms": ["vip"], "reason": "no grant for vip"}`)
	wantRooms(map[string][]string{"ann": {"news", "vip"}, "bob": {"news"}, "cat": {"vip"}})

	// By socket id: ann's and bob's grants to news go, but only ann is
	// named, so only ann leaves it.
	reload(t, `{"denied": ["bob:vip", "ann:news", "bob:news"]}`, a, b)
	res = revoke(t, a.url, `{"sockets": ["`+ids.Ann+`"]}`)
	wantResult(res, host.NodeRevocation{Node: "node-a", Matched: 1, Left: 1}, host.NodeRevocation{Node: "node-b"})
	wantRevoked("ann", `{"rooms": ["news"], "reason": "no grant for news"}`)
	wantRooms(map[string][]string{"ann": {"vip"}, "bob": {"news"}, "cat": {"vip"}})

	// By a path in socket data: bob, on the other node.
	res = revoke(t, a.url, `{"data": {"path": "user.sub", "equals": "bob"}}`)
	wantResult(res, host.NodeRevocation{Node: "node-a"}, host.NodeRevocation{Node: "node-b", Matched: 1, Left: 1})
	wantRevoked("bob", `{"rooms": ["news"], "reason": "no grant for news"}`)
	wantRooms(map[string][]string{"ann": {"vip"}, "bob": {}, "cat": {"vip"}})
	if got := [2]int64{a.left.Load(), b.left.Load()}; got != [2]int64{1, 2} {
		t.Fatalf("RevokeOptions.Left saw %v rooms left on nodes A and B, want [1 2]", got)
	}

	// A connect recheck: cat is banned now and is disconnected; ann,
	// selected too, still passes the connect hook and stays.
	reload(t, `{"denied": ["bob:vip", "ann:news", "bob:news"], "banned": ["cat"]}`, a, b)
	res = revoke(t, a.url, `{"rooms": ["vip"], "recheck": "connect"}`)
	wantResult(res, host.NodeRevocation{Node: "node-a", Matched: 1}, host.NodeRevocation{Node: "node-b", Matched: 1, Disconnected: 1})
	wantRevoked("cat", `{"disconnected": true, "reason": "banned"}`)
	if reason := c.next(t, "disconnect", "cat"); string(reason) != `"io server disconnect"` {
		t.Fatalf("cat's disconnect reason: %s", reason)
	}
	wantRooms(map[string][]string{"ann": {"vip"}, "bob": {}})
	if revoked := c.takeSeen("revoked"); len(revoked) > 0 {
		t.Fatalf("notices to sockets that kept their grants: %+v", revoked)
	}

	// Bob's trace, on his node, shows the revocations' decisions.
	var decisions []host.TraceRecord
	recs, _ := b.h.Trace(ids.Bob)
	for _, r := range recs {
		if r.Revocation {
			r.Time, r.Steps = time.Time{}, nil
			decisions = append(decisions, r)
		}
	}
	wantTrace := []host.TraceRecord{
		{Hook: host.HookJoin, Namespace: "/", Socket: ids.Bob, Outcome: host.Deny, Reason: "no grant for vip", Revocation: true},
		{Hook: host.HookJoin, Namespace: "/", Socket: ids.Bob, Outcome: host.Deny, Reason: "no grant for news", Revocation: true},
	}
	if !reflect.DeepEqual(decisions, wantTrace) {
		t.Fatalf("bob's revocation decisions:\n%s\nwant\n%s", mustJSON(t, decisions), mustJSON(t, wantTrace))
	}
	status, body := getTrace(t, b.url+"/api/sockets/"+ids.Bob+"/trace", "Bearer "+revokeKey)
	if status != http.StatusOK || !bytes.Contains(body, []byte(`"revocation":true`)) {
		t.Fatalf("GET bob's trace: %d %s", status, body)
	}

	// A plugin's revocation (hubd.revoke): ann, on node A, asks for bob's
	// connect grant, whom the plugin bans now, on node B.
	banned := `{"banned": ["cat", "bob"]}`
	reload(t, banned, a, b)
	kick := func(arg, want string) { t.Helper(); c.kick(t, arg, want) }
	kick(`"bob"`, `needs the "revoke" capability`)
	reloadWith(t, banned, []string{host.CapabilityRevoke}, a, b)
	kick(`{"data": {"path": "user..sub", "equals": "bob"}}`, `segment 2 of "user..sub" is empty`)
	kick(`{"rooms": ["vip"], "everything": true}`, `unknown field "everything"`)
	kick(`"bob"`, "")
	wantRevoked("bob", `{"disconnected": true, "reason": "banned"}`)
	if reason := c.next(t, "disconnect", "bob"); string(reason) != `"io server disconnect"` {
		t.Fatalf("bob's disconnect reason: %s", reason)
	}
	kick(`"ann"`, "more than 1e-06 revocations per second")
	wantRooms(map[string][]string{"ann": {"vip"}})
}

// TestRevokeFromWasm: a Wasm guest, in Go (hubd.Revoke) and in C
// (hubd_revoke), asks for a revocation from its event hook; the real
// socket.io-client sees the banned socket disconnected. Without the
// capability, with a bad revocation and past its rate, the guest gets the
// matching error.
func TestRevokeFromWasm(t *testing.T) {
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	guests := map[string]*exec.Cmd{
		"go": exec.Command("go", "build", "-buildmode=c-shared", "-o", filepath.Join(dir, "go.wasm"), "./host/testdata/revoke/wasmgo"),
		"c": exec.Command("clang", "--target=wasm32-wasi", "-O2", "-mexec-model=reactor", "-I", filepath.Join(root, "sdk/wasm/c"),
			"-Wl,--strip-debug", "-o", filepath.Join(dir, "c.wasm"), filepath.Join(root, "host/testdata/revoke/wasmc/kick.c")),
	}
	guests["go"].Env = append(os.Environ(), "GOOS=wasip1", "GOARCH=wasm", "CGO_ENABLED=0")
	wasmRT := wasm.New(wasm.WithCacheDir(t.TempDir()))
	for _, lang := range []string{"go", "c"} {
		t.Run(lang, func(t *testing.T) {
			build := guests[lang]
			build.Dir = root
			if out, err := build.CombinedOutput(); err != nil {
				t.Fatalf("building the guest (the C guest needs clang, lld and wasi-libc: bash scripts/wasm-toolchain.sh installs them): %v\n%s", err, out)
			}
			revokeFromWasm(t, wasmRT, filepath.Join(dir, lang+".wasm"))
		})
	}
}

// serveRevoking serves h's hooks, with the relay and revocations from
// plugins (burst of them each, and no more for the test's length), on a
// test server closed with the test.
func serveRevoking(t *testing.T, h *host.Host, burst int) *httptest.Server {
	t.Helper()
	srv := hub.New(hub.Options{})
	srv.SetHooks(h.Hooks())
	if err := relay.Attach(srv, relay.Config{}); err != nil {
		t.Fatal(err)
	}
	rv, err := h.ServeRevocations(srv, host.RevokeOptions{Burst: burst, Rate: 1e-6})
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = rv.Close()
		_ = srv.Close()
		ts.Close()
	})
	return ts
}

func revokeFromWasm(t *testing.T, wasmRT *wasm.Runtime, guest string) {
	h := host.New(nil)
	generousBudgets(h)
	h.Register("js", js.Runtime{})
	h.Register("wasm", wasmRT)
	t.Cleanup(func() { _ = h.Close() })
	specs := func(capabilities ...string) []host.Spec {
		grants := grantsSpec(t, `{"banned": ["bob"]}`)
		grants.Manifest.Hooks = []host.Hook{host.HookConnect, host.HookJoin}
		kick := host.Spec{Manifest: host.Manifest{Name: "kick", Runtime: "wasm", Hooks: []host.Hook{host.HookEvent},
			Events: []string{"kick"}, Timeout: testTimeout, PoolSize: 1, Capabilities: capabilities}, Entry: guest}
		return []host.Spec{grants, kick}
	}
	// The clients connect before bob is banned.
	if err := h.Load(t.Context(), []host.Spec{grantsSpec(t, `{}`)}); err != nil {
		t.Fatal(err)
	}
	ts := serveRevoking(t, h, 1)
	c := startRevokeClient(t, ts.URL, ts.URL)
	c.next(t, "ready", "")
	kick := func(arg, want string) { t.Helper(); c.kick(t, arg, want) }
	if err := h.Load(t.Context(), specs()); err != nil {
		t.Fatal(err)
	}
	kick(`"bob"`, `needs the "revoke" capability`)
	if err := h.Load(t.Context(), specs(host.CapabilityRevoke)); err != nil {
		t.Fatal(err)
	}
	kick(`{"rooms": ["vip"], "recheck": "all"}`, "bad revocation")
	kick(`"bob"`, "")
	if got := c.next(t, "revoked", "bob"); compactJSON(t, got) != `{"disconnected":true,"reason":"banned"}` {
		t.Fatalf("bob was told %s", got)
	}
	c.next(t, "disconnect", "bob")
	kick(`"cat"`, "refused (rate or queue)")
	if got := c.rooms(t); !reflect.DeepEqual(got, map[string][]string{"ann": {"news", "vip"}, "cat": {"vip"}}) {
		t.Fatalf("the clients' rooms: %v", got)
	}
}

// TestRevokeSilentNode: a node that does not serve revocations never
// answers; the revocation still runs on the nodes that do, and its result
// says that one node did not answer by the timeout.
func TestRevokeSilentNode(t *testing.T) {
	cluster := natsCluster(t)
	a := startRevokeNode(t, cluster, "node-a")
	b := startRevokeNode(t, cluster, "node-b")
	waitServers(t, a, b)
	if err := b.rv.Close(); err != nil { // node B stops listening
		t.Fatal(err)
	}
	_ = a.rv.Close()
	rv, err := a.h.ServeRevocations(a.srv, host.RevokeOptions{Node: "node-a", Timeout: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	a.rv = rv
	res, err := rv.Revoke(t.Context(), host.Revocation{Rooms: []string{"vip"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Nodes) != 1 || res.Nodes[0].Node != "node-a" || len(res.Errors) != 1 ||
		!strings.Contains(res.Errors[0], "0 other node(s) answered; the others did not within 200ms") {
		t.Fatalf("result %s: want node-a's part and an error naming the silent node", mustJSON(t, res))
	}
}
