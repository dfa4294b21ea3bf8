package redisadapter_test

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/adaptertest"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/internal/testredis"
)

// failoverRequestsTimeout is the RequestsTimeout of the failover test's
// nodes, and the Timeout of its FetchSockets: short, so that requests cut
// by the failover end within the test.
const failoverRequestsTimeout = 3 * time.Second

// tickLog records the sequence numbers of the "tick" events a client
// receives.
type tickLog struct {
	mu   sync.Mutex
	seen map[int]bool
	max  int
	more chan struct{} // receives after each tick, without blocking
}

func logTicks(c *testclient.Client) *tickLog {
	l := &tickLog{seen: make(map[int]bool), more: make(chan struct{}, 1)}
	go func() {
		for {
			p, err := c.WaitEvent("/", "tick", time.Minute)
			if err != nil {
				return
			}
			var n int
			if p.Arg(0, &n) != nil {
				continue
			}
			l.mu.Lock()
			l.seen[n] = true
			l.max = max(l.max, n)
			l.mu.Unlock()
			select {
			case l.more <- struct{}{}:
			default:
			}
		}
	}()
	return l
}

// waitFor waits until the log holds n.
func (l *tickLog) waitFor(t *testing.T, n int, who string) {
	t.Helper()
	adaptertest.WaitFor(t, func() bool {
		l.mu.Lock()
		defer l.mu.Unlock()
		return l.seen[n]
	}, fmt.Sprintf("tick %d at %s", n, who))
}

// missing lists the ticks of [from, to] the log lacks.
func (l *tickLog) missing(from, to int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for n := from; n <= to; n++ {
		if !l.seen[n] {
			out = append(out, n)
		}
	}
	return out
}

// ranges writes sorted numbers as ranges ("3-7, 9").
func ranges(ns []int) string {
	sort.Ints(ns)
	s := ""
	for i := 0; i < len(ns); {
		j := i
		for j+1 < len(ns) && ns[j+1] == ns[j]+1 {
			j++
		}
		if s != "" {
			s += ", "
		}
		if i == j {
			s += fmt.Sprint(ns[i])
		} else {
			s += fmt.Sprintf("%d-%d", ns[i], ns[j])
		}
		i = j + 1
	}
	return s
}

// inFlight is a request made during the failover.
type inFlight struct {
	what     string
	launched time.Time
	done     chan error
}

// TestFailoverDuringTraffic kills, with SIGKILL, a primary a flavour
// depends on while a node broadcasts to three, and waits for its replica
// to take over: in the classic flavour, the one every node publishes
// through, then the one most nodes subscribe on; in the sharded flavour,
// the one that holds the namespace's main channel. No node is restarted:
// broadcasts reach the other nodes again, nothing is lost once every node
// is Ready, the publishing node's own client gets every broadcast
// throughout, and requests made across the cut end (with an answer or an
// error) by their timeout.
func TestFailoverDuringTraffic(t *testing.T) {
	t.Run("classic", func(t *testing.T) {
		testFailoverDuringTraffic(t, pubsubLink(redisadapter.Options{}), publishPrimary)
	})
	t.Run("classic-subscribers", func(t *testing.T) {
		testFailoverDuringTraffic(t, pubsubLink(redisadapter.Options{}), subscriberPrimary)
	})
	t.Run("sharded", func(t *testing.T) {
		testFailoverDuringTraffic(t, pubsubLink(redisadapter.Options{Sharded: true}), mainChannelPrimary)
	})
	t.Run("streams", func(t *testing.T) { testFailoverDuringTraffic(t, streamsLink, streamPrimary) })
}

// A victim chooses the primary to kill in the cluster of key.
type victim func(ctx context.Context, rc *testredis.Cluster, key string) (string, error)

// publishPrimary is the primary the classic flavour publishes through,
// the one that owns the slot of the key.
func publishPrimary(ctx context.Context, rc *testredis.Cluster, key string) (string, error) {
	return rc.PrimaryOf(ctx, key)
}

// readyLink is a node's link to the cluster, as the failover test uses
// it: a *redisadapter.Cluster or a *redisadapter.Streams.
type readyLink interface {
	Adapter(nsp *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error)
	Ready(ctx context.Context) error
}

// A linker links a node to the Redis Cluster rc under key, its requests
// timing out after timeout.
type linker func(t *testing.T, rc *testredis.Cluster, key string, timeout time.Duration) readyLink

// pubsubLink links nodes with a Cluster of options o.
func pubsubLink(o redisadapter.Options) linker {
	return func(t *testing.T, rc *testredis.Cluster, key string, timeout time.Duration) readyLink {
		o.RequestsTimeout = timeout
		c, _ := joinRedisCluster(t, o, rc, key)
		return c
	}
}

// streamsLink links nodes with a Streams.
func streamsLink(t *testing.T, rc *testredis.Cluster, key string, timeout time.Duration) readyLink {
	rdb, err := redisadapter.NewClient(rc.URL())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	so := streamsOptions(key, false)
	so.RequestsTimeout = timeout
	s, err := redisadapter.NewStreams(ctx, rdb, so)
	if err != nil {
		rdb.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		s.Close()
		rdb.Close()
	})
	return s
}

// streamPrimary is the primary of the streams flavour's stream.
func streamPrimary(ctx context.Context, rc *testredis.Cluster, key string) (string, error) {
	return rc.PrimaryOf(ctx, streamsOptions(key, false).StreamName)
}

// mainChannelPrimary is the primary of the sharded flavour's main
// channel of namespace "/".
func mainChannelPrimary(ctx context.Context, rc *testredis.Cluster, key string) (string, error) {
	return rc.PrimaryOf(ctx, key+"#/#")
}

// subscriberPrimary is the primary with the most subscribers of the
// classic flavour's request channel of namespace "/".
func subscriberPrimary(ctx context.Context, rc *testredis.Cluster, key string) (string, error) {
	rdb := rc.Client()
	defer rdb.Close()
	ch := key + "-request#/#"
	var mu sync.Mutex
	best, most := "", int64(0)
	err := rdb.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		res, err := node.PubSubNumSub(ctx, ch).Result()
		if err != nil {
			return err
		}
		mu.Lock()
		defer mu.Unlock()
		if res[ch] > most {
			best, most = node.Options().Addr, res[ch]
		}
		return nil
	})
	if err == nil && best == "" {
		err = errors.New("no primary has a subscriber")
	}
	return best, err
}

func testFailoverDuringTraffic(t *testing.T, link linker, choose victim) {
	rc := ownRedisCluster(t)
	key := testKey(t)
	links := make([]readyLink, 3)
	servers := make([]*hub.Server, 3)
	logs := make([]*tickLog, 3)
	for i := range servers {
		links[i] = link(t, rc, key, failoverRequestsTimeout)
		srv, url := adaptertest.Serve(t, hub.Options{Adapter: links[i].Adapter}, func(s *hub.Server) {
			s.Of("/").OnServerSideEmit("ping", func(e *hub.ServerEvent) {
				if e.WantsAck() {
					_ = e.Ack("pong")
				}
			})
		})
		servers[i] = srv
		c, _ := adaptertest.Dial(t, url, "/")
		logs[i] = logTicks(c)
	}
	for _, srv := range servers {
		adaptertest.WaitNodes(t, srv, "/", 3)
	}

	// Node 0 broadcasts tick 1, 2, 3... until told to stop.
	var published atomic.Int64
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		pace := time.NewTicker(5 * time.Millisecond)
		defer pace.Stop()
		for n := 1; ; n++ {
			_ = servers[0].Emit("tick", n) // local delivery happens even when it fails
			published.Store(int64(n))
			select {
			case <-stop:
				return
			case <-pace.C:
			}
		}
	}()
	defer func() {
		select {
		case <-stop:
		default:
			close(stop)
		}
		<-stopped
	}()
	logs[1].waitFor(t, 20, "node 1")
	logs[2].waitFor(t, 20, "node 2")

	// Requests from node 1, every 100ms, from before the kill until every
	// node is Ready again.
	var requests []*inFlight
	var reqMu sync.Mutex
	reqStop, reqStopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(reqStopped)
		for i := 0; ; i++ {
			r := &inFlight{launched: time.Now(), done: make(chan error, 1)}
			if i%2 == 0 {
				r.what = "FetchSockets"
				go func() {
					_, err := servers[1].Of("/").Timeout(failoverRequestsTimeout).FetchSockets(context.Background())
					r.done <- err
				}()
			} else {
				r.what = "ServerSideEmitWithAck"
				go func() {
					_, err := servers[1].Of("/").ServerSideEmitWithAck(context.Background(), "ping")
					r.done <- err
				}()
			}
			reqMu.Lock()
			requests = append(requests, r)
			reqMu.Unlock()
			select {
			case <-reqStop:
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	addr, err := choose(ctx, rc, key)
	if err != nil {
		t.Fatal(err)
	}
	if pub, _ := publishPrimary(ctx, rc, key); pub != addr {
		t.Logf("%s is not the primary of the key's slot (%s)", addr, pub)
	}
	cut := int(published.Load())
	if err := rc.Kill(addr); err != nil {
		t.Fatal(err)
	}
	t.Logf("killed primary %s after tick %d", addr, cut)
	// Every node says, for /readyz, that it is cut off.
	for i, l := range links {
		var err error
		adaptertest.WaitFor(t, func() bool {
			err = l.Ready(ctx)
			return err != nil
		}, fmt.Sprintf("node %d to say it is not Ready", i))
		if !errors.Is(err, redisadapter.ErrUnavailable) {
			t.Errorf("node %d: Ready = %v, want an error wrapping ErrUnavailable", i, err)
		}
		t.Logf("node %d: Ready = %v", i, err)
	}

	if err := rc.WaitHealthy(ctx, 3); err != nil {
		t.Fatal(err)
	}
	failedOver := int(published.Load())
	t.Logf("its replica took over by tick %d", failedOver)
	for i, l := range links {
		var last error
		deadline := time.Now().Add(time.Minute)
		for last = l.Ready(ctx); last != nil; last = l.Ready(ctx) {
			if time.Now().After(deadline) {
				t.Fatalf("node %d not Ready a minute after the failover: %v", i, last)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	for _, srv := range servers {
		adaptertest.WaitNodes(t, srv, "/", 3)
	}
	close(reqStop)
	<-reqStopped
	resumed := int(published.Load()) + 1
	t.Logf("every node Ready from tick %d", resumed)

	// Traffic goes on, then stops.
	logs[1].waitFor(t, resumed+100, "node 1")
	logs[2].waitFor(t, resumed+100, "node 2")
	close(stop)
	<-stopped
	last := int(published.Load())
	for i, l := range logs {
		l.waitFor(t, last, fmt.Sprintf("node %d", i))
	}

	if miss := logs[0].missing(1, last); len(miss) > 0 {
		t.Errorf("the publishing node's own client missed ticks %s: local delivery must never stop", ranges(miss))
	}
	for i := 1; i < 3; i++ {
		if miss := logs[i].missing(resumed, last); len(miss) > 0 {
			t.Errorf("node %d missed ticks %s after every node was Ready (from %d)", i, ranges(miss), resumed)
		}
		lost := logs[i].missing(1, resumed-1)
		t.Logf("node %d: lost %d of %d ticks across the cut (%s); got all %d after it", i, len(lost), resumed-1, ranges(lost), last-resumed+1)
	}

	// Every request ended, with an answer or an error, by its timeout
	// and a generous margin.
	answered, failed := 0, map[string]int{}
	for _, r := range requests {
		select {
		case err := <-r.done:
			if err == nil {
				answered++
				continue
			}
			if !errors.Is(err, hub.ErrUnavailable) && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, hub.ErrTimeout) {
				t.Errorf("%s failed with %v, which says neither unreachable nor timeout", r.what, err)
			}
			failed[r.what+": "+err.Error()]++
		case <-time.After(time.Until(r.launched.Add(failoverRequestsTimeout + adaptertest.Wait))):
			t.Fatalf("%s made during the failover did not return within its timeout (%v) and %v", r.what, failoverRequestsTimeout, adaptertest.Wait)
		}
	}
	t.Logf("%d requests across the cut: %d answered, %d failed", len(requests), answered, len(requests)-answered)
	for msg, n := range failed {
		t.Logf("  %d× %s", n, msg)
	}
}
