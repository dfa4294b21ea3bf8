package redisadapter_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/redisadapter"
)

// holdProxy is a TCP proxy to Redis that holds back, on the first
// connection that sends it, the data naming hold (a namespace's channels in
// a SUBSCRIBE) until the test releases it; everything else passes at once.
type holdProxy struct {
	ln      net.Listener
	target  string
	hold    string
	held    chan struct{} // closed when the data is held
	release chan struct{} // closed by the test
	once    sync.Once
	wg      sync.WaitGroup

	mu    sync.Mutex
	conns []net.Conn
}

func startHoldProxy(t *testing.T, target, hold string) *holdProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &holdProxy{ln: ln, target: target, hold: hold, held: make(chan struct{}), release: make(chan struct{})}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

func (p *holdProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		r, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, r)
		p.mu.Unlock()
		p.wg.Add(2)
		go func() {
			defer p.wg.Done()
			_, _ = io.Copy(c, r)
			c.Close()
		}()
		go func() {
			defer p.wg.Done()
			defer r.Close()
			buf := make([]byte, 64<<10)
			for {
				n, err := c.Read(buf)
				if n > 0 {
					if strings.Contains(string(buf[:n]), p.hold) {
						first := false
						p.once.Do(func() { first = true })
						if first {
							close(p.held)
							<-p.release
						}
					}
					if _, werr := r.Write(buf[:n]); werr != nil {
						return
					}
				}
				if err != nil {
					return
				}
			}
		}()
	}
}

// close stops the proxy; a hold not yet released is released, and none
// starts after.
func (p *holdProxy) close() {
	p.ln.Close()
	p.once.Do(func() {})
	select {
	case <-p.release:
	default:
		close(p.release)
	}
	p.mu.Lock()
	for _, c := range p.conns {
		c.Close()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// proxiedNode is a hub server whose cluster reaches Redis through p, with
// dynamic namespaces /doc-*.
func proxiedNode(t *testing.T, o redisadapter.Options, p *holdProxy, requestsTimeout time.Duration) (*hub.Server, string) {
	t.Helper()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	opt.Addr = p.ln.Addr().String()
	opt.MaxRetries = 1
	rdb := redis.NewClient(opt)
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	o.Key, o.RequestsTimeout, o.Logger = testKey(t), requestsTimeout, slog.New(slog.DiscardHandler)
	cluster, err := redisadapter.New(ctx, rdb, o)
	if err != nil {
		t.Fatal(err)
	}
	srv := hub.New(hub.Options{Adapter: cluster.Adapter, Logger: slog.New(slog.DiscardHandler)})
	srv.OfPattern(regexp.MustCompile(`^/doc-`))
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
		cluster.Close()
		rdb.Close()
	})
	return srv, ts.URL
}

func dialURL(t *testing.T, url string) *testclient.Client {
	t.Helper()
	c, err := testclient.Dial(url, "/socket.io/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type connectResult struct {
	id  string
	err error
}

func connectAsync(c *testclient.Client, nsp string) chan connectResult {
	ch := make(chan connectResult, 1)
	go func() {
		id, err := c.Connect(nsp, nil)
		ch <- connectResult{id, err}
	}()
	return ch
}

func waitHeld(t *testing.T, p *holdProxy) {
	t.Helper()
	select {
	case <-p.held:
	case <-time.After(wait):
		t.Fatal("the namespace's SUBSCRIBE never reached the proxy")
	}
}

// While a dynamic namespace's adapter waits for Redis to confirm its
// SUBSCRIBE (the proxy holds it), a connect to another namespace
// completes; the held connect completes once Redis has confirmed.
func TestSlowSubscribeStallsOnlyItsNamespace(t *testing.T) {
	bothFlavours(t, testSlowSubscribeStallsOnlyItsNamespace)
}

func testSlowSubscribeStallsOnlyItsNamespace(t *testing.T, o redisadapter.Options) {
	p := startHoldProxy(t, redisAddr(t), "#/doc-slow#")
	_, url := proxiedNode(t, o, p, 30*time.Second)
	slow := connectAsync(dialURL(t, url), "/doc-slow")
	waitHeld(t, p)
	other := dialURL(t, url)
	if _, err := other.Connect("/", nil); err != nil {
		t.Fatalf("connect to / while /doc-slow subscribes: %v", err)
	}
	select {
	case r := <-slow:
		t.Fatalf("the connect to /doc-slow completed before Redis confirmed its subscription: %+v", r)
	default:
	}
	close(p.release)
	select {
	case r := <-slow:
		if r.err != nil {
			t.Fatalf("connect to /doc-slow after the release: %v", r.err)
		}
	case <-time.After(wait):
		t.Fatal("the connect to /doc-slow did not complete after Redis confirmed")
	}
}

// When Redis does not confirm in time, the factory fails: the client gets
// a connect_error, no namespace is made, and a later connect succeeds.
func TestSubscribeFailureRefusesConnect(t *testing.T) {
	bothFlavours(t, testSubscribeFailureRefusesConnect)
}

func testSubscribeFailureRefusesConnect(t *testing.T, o redisadapter.Options) {
	p := startHoldProxy(t, redisAddr(t), "#/doc-late#")
	// The first connect waits this out; the later one, unheld, must
	// subscribe within it on a loaded machine.
	srv, url := proxiedNode(t, o, p, 3*time.Second)
	c := dialURL(t, url)
	_, err := c.Connect("/doc-late", nil)
	var refused *testclient.ConnectRefused
	if !errors.As(err, &refused) || refused.Message != "Namespace unavailable, try again later" {
		t.Fatalf("connect while Redis does not confirm: %v, want a connect_error", err)
	}
	if srv.Namespace("/doc-late") != nil {
		t.Fatal("the namespace was made though its adapter failed")
	}
	close(p.release)
	if _, err := c.Connect("/doc-late", nil); err != nil {
		t.Fatalf("a later connect: %v", err)
	}
	n := srv.Namespace("/doc-late")
	if n == nil {
		t.Fatal("no namespace after a successful connect")
	}
	// The namespace is on the cluster: it counts the node.
	ctx, cancel := context.WithTimeout(context.Background(), wait)
	defer cancel()
	if got, err := n.Adapter().ServerCount(ctx); err != nil || got != 1 {
		t.Fatalf("ServerCount = %d, %v; want 1", got, err)
	}
}

// redisAddr is the host:port of the test Redis.
func redisAddr(t *testing.T) string {
	t.Helper()
	opt, err := redis.ParseURL(redisURL)
	if err != nil {
		t.Fatal(err)
	}
	return opt.Addr
}
