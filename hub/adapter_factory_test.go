package hub_test

import (
	"errors"
	"log/slog"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/internal/logtest"
)

// logBuffer is a slog destination the test can read while the server
// writes.
type logBuffer = logtest.Buffer

// A dynamic child whose adapter factory fails is not made: the client gets
// a connect_error saying so (the factory's error stays in the log), and a
// later connect tries again and succeeds.
func TestAdapterFactoryFailureRefusesConnect(t *testing.T) {
	var logs logBuffer
	var fail atomic.Bool
	fail.Store(true)
	srv, url := hubServer(t, hub.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Adapter: func(n *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
			if n.Name() == "/doc-1" && fail.Load() {
				return nil, errors.New("test broker at 10.0.0.1 down")
			}
			return local, nil
		},
	})
	srv.OfPattern(regexp.MustCompile(`^/doc-`))
	c := hubDial(t, url)
	_, err := c.Connect("/doc-1", nil)
	var refused *testclient.ConnectRefused
	if !errors.As(err, &refused) || refused.Message != "Namespace unavailable, try again later" {
		t.Fatalf("connect while the factory fails: %v, want a connect_error saying the namespace is unavailable", err)
	}
	if strings.Contains(string(refused.Payload), "10.0.0.1") {
		t.Errorf("the connect_error shows the factory's error: %s", refused.Payload)
	}
	if got := logs.String(); !strings.Contains(got, "test broker at 10.0.0.1 down") || !strings.Contains(got, "/doc-1") {
		t.Errorf("the factory's error is not logged with the namespace; log:\n%s", got)
	}
	if srv.Namespace("/doc-1") != nil {
		t.Fatal("the child was made though its adapter failed")
	}
	// The connection stays usable, and other namespaces with it.
	hubConnect(t, c, "/", nil)
	fail.Store(false)
	hubConnect(t, c, "/doc-1", nil)
	if srv.Namespace("/doc-1") == nil {
		t.Fatal("the child is missing after a connect succeeded")
	}
}

// Of cannot refuse: when the factory fails, the namespace is made with the
// in-memory adapter and the error is logged.
func TestAdapterFactoryFailureOf(t *testing.T) {
	var logs logBuffer
	srv, _ := hubServer(t, hub.Options{
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		Adapter: func(n *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
			if n.Name() == "/named" {
				return nil, errors.New("test broker down")
			}
			return local, nil
		},
	})
	n := srv.Of("named")
	if n == nil || n.Name() != "/named" || srv.Namespace("/named") != n {
		t.Fatalf("Of returned %v", n)
	}
	if _, ok := n.Adapter().(*hub.MemoryAdapter); !ok {
		t.Errorf("adapter %T, want the in-memory one", n.Adapter())
	}
	if got := logs.String(); !strings.Contains(got, "test broker down") {
		t.Errorf("the factory's error is not logged; log:\n%s", got)
	}
}

// A factory that takes its time (a cluster adapter subscribing) holds up
// the connects to its own namespace only: a connect to another namespace
// completes meanwhile, and a second client of the same namespace waits for
// the same adapter instead of making a second one.
func TestSlowAdapterFactoryStallsOnlyItsNamespace(t *testing.T) {
	entered := make(chan struct{})
	release := make(chan struct{})
	var made atomic.Int32
	srv, url := hubServer(t, hub.Options{
		Adapter: func(n *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
			if n.Name() == "/doc-slow" {
				made.Add(1)
				close(entered)
				select {
				case <-release:
				case <-time.After(testWait):
					return nil, errors.New("the test never released the factory")
				}
			}
			return local, nil
		},
	})
	srv.OfPattern(regexp.MustCompile(`^/doc-`))
	type result struct {
		id  string
		err error
	}
	slowConnect := func(c *testclient.Client) chan result {
		ch := make(chan result, 1)
		go func() {
			id, err := c.Connect("/doc-slow", nil)
			ch <- result{id, err}
		}()
		return ch
	}
	first := slowConnect(hubDial(t, url))
	select {
	case <-entered:
	case <-time.After(testWait):
		t.Fatal("the factory was not called")
	}
	second := slowConnect(hubDial(t, url))
	// While the factory is stuck, other namespaces connect.
	other := hubDial(t, url)
	hubConnect(t, other, "/", nil)
	hubConnect(t, other, "/doc-fast", nil)
	select {
	case r := <-first:
		t.Fatalf("the connect to the namespace being made completed before its adapter: %+v", r)
	default:
	}
	close(release)
	for _, ch := range []chan result{first, second} {
		select {
		case r := <-ch:
			if r.err != nil {
				t.Fatalf("connect to /doc-slow: %v", r.err)
			}
		case <-time.After(testWait):
			t.Fatal("a connect to /doc-slow did not complete after the factory returned")
		}
	}
	if n := made.Load(); n != 1 {
		t.Errorf("the factory made %d adapters for one namespace, want 1", n)
	}
	if n := srv.Namespace("/doc-slow"); n == nil || n.Len() != 2 {
		t.Errorf("namespace /doc-slow: %v", n)
	}
}
