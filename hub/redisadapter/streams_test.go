package redisadapter_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/testredis"
)

// streamsMarker, as Options.SubscriptionMode, makes newNode start a node
// of the streams flavour (Options.Sharded choosing sharded pub/sub), so
// that the shared tests, written for Options, run against it too.
const streamsMarker = "test-streams-flavour"

func isStreams(o redisadapter.Options) bool { return o.SubscriptionMode == streamsMarker }

// streamsFlavours runs test with the streams flavour, on plain and on
// sharded pub/sub.
func streamsFlavours(t *testing.T, test func(*testing.T, redisadapter.Options)) {
	t.Run("streams", func(t *testing.T) { test(t, redisadapter.Options{SubscriptionMode: streamsMarker}) })
	t.Run("streams-sharded", func(t *testing.T) {
		test(t, redisadapter.Options{SubscriptionMode: streamsMarker, Sharded: true})
	})
}

// streamsOptions are the StreamsOptions of a test's cluster: its stream,
// channels and session keys are its own.
func streamsOptions(key string, sharded bool) redisadapter.StreamsOptions {
	return redisadapter.StreamsOptions{
		StreamName:       key + "-stream",
		ChannelPrefix:    key,
		SessionKeyPrefix: key + ":session:",
		Sharded:          sharded,
		RequestsTimeout:  requestsTimeout,
		Logger:           slog.New(slog.DiscardHandler),
	}
}

// apiKey is the key of the nodes' HTTP API (hub/httpapi, under /api/).
const apiKey = "test-key"

// newStreamsNode is newNode for the streams flavour: a server with
// connection state recovery on, so that its broadcasts carry offsets.
func newStreamsNode(t testing.TB, o redisadapter.Options, url, key string, setup func(*hub.Server)) *node {
	t.Helper()
	n, _ := startStreamsNode(t, streamsOptions(key, o.Sharded), url, hub.Options{ConnectionStateRecovery: &hub.RecoveryOptions{}}, setup)
	n.key = key
	return n
}

// startStreamsNode starts a hub server with opts whose adapter is a
// Streams with so on the Redis at url; it serves the HTTP API too.
func startStreamsNode(t testing.TB, so redisadapter.StreamsOptions, url string, opts hub.Options, setup func(*hub.Server)) (*node, *redisadapter.Streams) {
	t.Helper()
	streams := joinStreams(t, so, url)
	opts.Adapter = streams.Adapter
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	srv := hub.New(opts)
	if setup != nil {
		setup(srv)
	}
	api, err := httpapi.New(srv, httpapi.Config{Key: apiKey})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.Handle("/socket.io/", srv)
	mux.Handle(httpapi.DefaultPrefix, api)
	ts := httptest.NewServer(mux)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
		streams.Close()
	})
	return &node{srv: srv, url: ts.URL, cluster: streams, key: so.ChannelPrefix}, streams
}

// joinStreams links a node to the Redis at url with so; its stream and
// sessions are deleted when the test ends.
func joinStreams(t testing.TB, so redisadapter.StreamsOptions, url string) *redisadapter.Streams {
	t.Helper()
	rdb := testRedis(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	streams, err := redisadapter.NewStreams(ctx, rdb, so)
	if err != nil {
		t.Fatal(err)
	}
	forgetKeys(t, url, so)
	t.Cleanup(func() { streams.Close() })
	return streams
}

// joinStreamsFlavour is joinStreams as a link of the cross-node table,
// on a server with connection state recovery on (see newStreamsNode).
func joinStreamsFlavour(t testing.TB, o redisadapter.Options, url, key string) adaptertest.Link {
	s := joinStreams(t, streamsOptions(key, o.Sharded), url)
	return adaptertest.Link{
		Adapter: s.Adapter,
		Options: func(h *hub.Options) { h.ConnectionStateRecovery = &hub.RecoveryOptions{} },
		Close:   s.Close,
	}
}

// testRedis is a client of the Redis at url, closed when the test ends.
func testRedis(t testing.TB, url string) *redis.Client {
	t.Helper()
	opt, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	opt.MaxRetries = 1
	rdb := redis.NewClient(opt)
	t.Cleanup(func() { rdb.Close() })
	return rdb
}

// forgetKeys deletes, when the test ends, the stream and the sessions a
// test's nodes wrote (once per test and options).
func forgetKeys(t testing.TB, url string, so redisadapter.StreamsOptions) {
	t.Cleanup(func() {
		opt, err := redis.ParseURL(url)
		if err != nil || testredis.Ping(url) != nil {
			return // a test's own Redis, stopped
		}
		rdb := redis.NewClient(opt)
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		keys, _ := rdb.Keys(ctx, so.SessionKeyPrefix+"*").Result()
		keys = append(keys, so.StreamName)
		for i := range max(so.StreamCount, 1) {
			keys = append(keys, fmt.Sprintf("%s-%d", so.StreamName, i), fmt.Sprintf("%s--%d", so.StreamName, i))
		}
		_ = rdb.Del(ctx, keys...).Err()
	})
}

// Every node delivers a namespace's broadcasts in the stream's order, its
// own included: clients on two nodes, with two nodes broadcasting at once,
// see the same sequence, each event once, and each with its entry id as
// offset, the same on both nodes.
func TestStreamsOrderIsTheStreams(t *testing.T) {
	streamsFlavours(t, func(t *testing.T, o redisadapter.Options) {
		a, b := twoNodes(t, o)
		ca, ida := dial(t, a, "/")
		joinRooms(t, a, "/", ida, "r")
		cb, idb := dial(t, b, "/")
		joinRooms(t, b, "/", idb, "r")
		const each = 200
		var wg sync.WaitGroup
		for name, n := range map[string]*node{"a": a, "b": b} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range each {
					if err := n.srv.To("r").Emit("seq", name, i); err != nil {
						t.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		seen := func(c *testclient.Client) []string {
			var out []string
			for len(out) < 2*each {
				p, err := c.NextEvent("/", wait)
				if err != nil {
					t.Fatalf("after %d events: %v", len(out), err)
				}
				var from string
				var i float64
				var offset string
				_ = p.Arg(0, &from)
				_ = p.Arg(1, &i)
				if err := p.Arg(2, &offset); err != nil || offset == "" {
					t.Fatalf("event %s without an offset", p.Text)
				}
				out = append(out, fmt.Sprintf("%s %v %s", from, i, offset))
			}
			return out
		}
		onA, onB := seen(ca), seen(cb)
		// Nothing more: a sentinel sent after everything arrives next.
		_ = a.srv.To("r").Emit("end")
		expectNone(t, ca, "/", "seq", "end")
		expectNone(t, cb, "/", "seq", "end")
		if !slices.Equal(onA, onB) {
			t.Fatalf("node a's client saw %d events, node b's %d, in orders that differ (or with other offsets):\n%v\n%v", len(onA), len(onB), onA, onB)
		}
		next := map[string]int{}
		for _, s := range onA {
			var from, offset string
			var i int
			if _, err := fmt.Sscan(s, &from, &i, &offset); err != nil {
				t.Fatal(err)
			}
			if i != next[from] {
				t.Fatalf("from %s: %v, want %v", from, i, next[from])
			}
			next[from]++
		}
	})
}

// Without connection state recovery, broadcasts carry no offset; with
// it, volatile ones carry none either.
func TestStreamsOffsetsOnlyWhereRecoveryCovers(t *testing.T) {
	key := testKey(t)
	plain, _ := startStreamsNode(t, streamsOptions(key, false), redisURL, hub.Options{}, nil)
	rec := newStreamsNode(t, redisadapter.Options{SubscriptionMode: streamsMarker}, redisURL, key, nil)
	waitNodes(t, rec, "/", 2)
	cp, _ := dial(t, plain, "/")
	cr, _ := dial(t, rec, "/")
	_ = rec.srv.Of("/").Emit("e", 1)
	if p := expectEvent(t, cp, "/", "e"); len(p.Args) != 1 {
		t.Errorf("without recovery: %s, want no offset", p.Text)
	}
	if p := expectEvent(t, cr, "/", "e"); len(p.Args) != 2 {
		t.Errorf("with recovery: %s, want an offset", p.Text)
	}
	_ = rec.srv.Of("/").Volatile().Emit("v", 2)
	if p := expectEvent(t, cr, "/", "v"); len(p.Args) != 1 {
		t.Errorf("volatile: %s, want no offset", p.Text)
	}
}

// Namespaces spread over several streams as Node spreads them: each
// reaches the other node through its own stream.
func TestStreamsStreamCount(t *testing.T) {
	key := testKey(t)
	so := streamsOptions(key, false)
	so.StreamCount = 3
	nsps := []string{"/", "/chat", "/news", "/x"}
	setup := func(s *hub.Server) {
		for _, n := range nsps {
			s.Of(n)
		}
	}
	a, _ := startStreamsNode(t, so, redisURL, hub.Options{ConnectionStateRecovery: &hub.RecoveryOptions{}}, setup)
	b, _ := startStreamsNode(t, so, redisURL, hub.Options{ConnectionStateRecovery: &hub.RecoveryOptions{}}, setup)
	rdb := testRedis(t, redisURL)
	for _, nsp := range nsps {
		waitNodes(t, a, nsp, 2)
		c, _ := dial(t, a, nsp)
		if err := b.srv.Of(nsp).Emit("hello", nsp); err != nil {
			t.Fatal(err)
		}
		p := expectEvent(t, c, nsp, "hello")
		var offset string
		_ = p.Arg(1, &offset)
		stream := so.StreamName + "-" + fmt.Sprint(javaHashForTest(nsp)%3)
		if n, err := rdb.XRange(context.Background(), stream, offset, offset).Result(); err != nil || len(n) != 1 {
			t.Errorf("%s: offset %s not in %s (%v)", nsp, offset, stream, err)
		}
	}
}

// javaHashForTest is Node's hashCode, written again so that the test
// checks the adapter against it.
func javaHashForTest(s string) int32 {
	var h int32
	for _, u := range []rune(s) { // ASCII names: one code unit each
		h = 31*h + u
	}
	return h
}

// Entries that are not what a node writes (no namespace, a type that is
// not a number, data that is neither JSON nor base64 msgpack, a broadcast
// without opts, strings that are not UTF-8) are skipped, and the reader
// goes on.
func TestStreamsMalformedEntriesAreIgnored(t *testing.T) {
	key := testKey(t)
	so := streamsOptions(key, false)
	a, _ := startStreamsNode(t, so, redisURL, hub.Options{ConnectionStateRecovery: &hub.RecoveryOptions{}}, nil)
	c, id := dial(t, a, "/")
	joinRooms(t, a, "/", id, "r")
	rdb := testRedis(t, redisURL)
	ctx := context.Background()
	good := `{"packet":{"type":2,"data":["EV","ARG"],"nsp":"/"},"opts":{"rooms":[],"except":[],"flags":{}}}`
	add := func(fields ...string) {
		t.Helper()
		if err := rdb.XAdd(ctx, &redis.XAddArgs{Stream: so.StreamName, Values: fields}).Err(); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range [][]string{
		{"uid", "x", "type", "3", "data", good},                                                              // no namespace
		{"uid", "x", "nsp", "/", "type", "three", "data", good},                                              // a type that is no number
		{"uid", "x", "nsp", "/", "type", "3", "data", "{"},                                                   // broken JSON
		{"uid", "x", "nsp", "/", "type", "3", "data", "!!notbase64"},                                         // neither
		{"uid", "x", "nsp", "/", "type", "3", "data", "kQ=="},                                                // msgpack, not a map
		{"uid", "x", "nsp", "/", "type", "3", "data", `{"packet":{"type":2,"data":["EV","ARG"],"nsp":"/"}}`}, // no opts
		{"uid", "x", "nsp", "/", "type", "3", "data", strings.Replace(good, "ARG", "\xff\xfe", 1)},           // not UTF-8
		{"uid", "x", "nsp", "/", "type", "4", "data", `{"opts":7,"rooms":["x"]}`},                            // a join without opts
		{"uid", "x", "nsp", "/", "type", "6", "data", `{"close":true}`},                                      // a disconnect of no one
		{"uid", "x", "nsp", "/", "type", "99"},
	} {
		add(f...)
	}
	add("uid", "x", "nsp", "/", "type", "3", "data", strings.Replace(good, "EV", "still-fine", 1))
	expectNone(t, c, "/", "EV", "still-fine")
	if a.srv.Of("/").Socket(id) == nil || slices.Contains(a.srv.Of("/").Socket(id).Rooms(), "x") {
		t.Fatal("a malformed entry reached the socket")
	}
}
