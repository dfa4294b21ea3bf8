package hub_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

func namespaceNames(srv *hub.Server) []string {
	var names []string
	for _, n := range srv.Namespaces() {
		names = append(names, n.Name())
	}
	return names
}

// Connects to dynamic namespaces that are refused (by a server, parent or
// namespace middleware, or the connect hook) leave no child behind, with
// or without cleanup: one client could otherwise create namespaces without
// end.
func TestRefusedConnectsLeaveNoChild(t *testing.T) {
	for _, cleanup := range []bool{false, true} {
		t.Run(fmt.Sprintf("cleanup=%v", cleanup), func(t *testing.T) {
			// ConnectBurst: one connection sends them all (TestConnectFlood
			// tests the bound).
			srv, url := hubServer(t, hub.Options{CleanupEmptyChildNamespaces: cleanup, ConnectBurst: -1})
			srv.Of("/static")
			parent := srv.OfPattern(regexp.MustCompile(`^/team-`))
			refuse := func(by string) func(*hub.Socket) error {
				return func(s *hub.Socket) error {
					if strings.Contains(s.Namespace().Name(), "-"+by+"-") {
						return errors.New("refused by " + by)
					}
					return nil
				}
			}
			srv.Use(refuse("server"))
			parent.Use(refuse("parent"))
			srv.SetHooks(&hub.Hooks{Connect: refuse("hook")})
			c := hubDial(t, url)
			const n = 200
			for i := range n {
				by := []string{"server", "parent", "hook"}[i%3]
				name := fmt.Sprintf("/team-%s-%d", by, i)
				_, err := c.Connect(name, nil)
				var refused *testclient.ConnectRefused
				if !errors.As(err, &refused) || refused.Message != "refused by "+by {
					t.Fatalf("connect %s: %v", name, err)
				}
			}
			if got := namespaceNames(srv); !slices.Equal(got, []string{"/", "/static"}) {
				t.Errorf("after %d refused connects: %d namespaces %q", n, len(got), got[:min(len(got), 5)])
			}
			if ch := parent.Children(); len(ch) != 0 {
				t.Errorf("parent has %d children", len(ch))
			}
			// An allowed connect still makes its child, and the client
			// that was refused so often is still connected.
			hubConnect(t, c, "/team-ok", nil)
			if got := namespaceNames(srv); !slices.Equal(got, []string{"/", "/static", "/team-ok"}) {
				t.Errorf("after an allowed connect: %q", got)
			}
		})
	}
}

// A child that sockets joined stays after a refused connect when cleanup
// is off (as in the reference), and is dropped with cleanup on.
func TestRefusedConnectToJoinedChild(t *testing.T) {
	for _, cleanup := range []bool{false, true} {
		srv, url := hubServer(t, hub.Options{CleanupEmptyChildNamespaces: cleanup})
		parent := srv.OfPattern(regexp.MustCompile(`^/room-`))
		var refuse atomic.Bool
		parent.Use(func(*hub.Socket) error {
			if refuse.Load() {
				return errors.New("no")
			}
			return nil
		})
		c := hubDial(t, url)
		hubConnect(t, c, "/room-a", nil)
		child := parent.Children()[0]
		refuse.Store(true)
		if err := c.Disconnect("/room-a"); err != nil {
			t.Fatal(err)
		}
		waitUntil(t, func() bool { return child.Len() == 0 }, "socket gone")
		if _, err := c.Connect("/room-a", nil); err == nil {
			t.Fatal("connect succeeded")
		}
		if kept := srv.Namespace("/room-a") != nil; kept == cleanup {
			t.Errorf("cleanup=%v: child kept %v", cleanup, kept)
		}
	}
}

// closeWatcher is an adapter that calls back when it is made and closed;
// both callbacks take the server's lock (Namespaces), so running either
// under that lock would deadlock.
type closeWatcher struct {
	hub.Adapter
	onClose func()
}

func (a closeWatcher) Close() error {
	a.onClose()
	return a.Adapter.Close()
}

// A child's adapter is made and closed outside the server's lock: a
// cluster adapter subscribes and unsubscribes over the network, which must
// not stop every other client's connect.
func TestChildAdapterOutsideServerLock(t *testing.T) {
	var server atomic.Pointer[hub.Server] // set once New has returned
	var made, closed strLog
	srv, url := hubServer(t, hub.Options{
		CleanupEmptyChildNamespaces: true,
		Adapter: func(n *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
			if s := server.Load(); s != nil {
				_ = s.Namespaces()
			}
			made.add(n.Name())
			return closeWatcher{Adapter: local, onClose: func() {
				_ = server.Load().Namespaces()
				closed.add(n.Name())
			}}, nil
		},
	})
	server.Store(srv)
	parent := srv.OfPattern(regexp.MustCompile(`^/doc-`))
	parent.Use(func(s *hub.Socket) error {
		if s.Namespace().Name() == "/doc-denied" {
			return errors.New("no")
		}
		return nil
	})
	c := hubDial(t, url)
	if _, err := c.Connect("/doc-denied", nil); err == nil {
		t.Fatal("connect succeeded")
	}
	hubConnect(t, c, "/doc-1", nil)
	if err := c.Disconnect("/doc-1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return len(closed.get()) == 2 }, "both adapters closed (closed %q)", closed.get())
	if got := made.get(); !slices.Equal(got, []string{"/", "/doc-denied", "/doc-1"}) {
		t.Errorf("adapters made for %q", got)
	}
}

// MaxChildNamespaces bounds the children that exist at once: past it, a
// new child is refused as an unknown namespace, existing ones still take
// clients, and a dropped child frees its place. Refused connects take no
// place. MaxChildNamespaceName bounds a new child's name.
func TestMaxChildNamespaces(t *testing.T) {
	srv, url := hubServer(t, hub.Options{MaxChildNamespaces: 3, CleanupEmptyChildNamespaces: true})
	var matched atomic.Int32
	parent := srv.OfFunc(func(name string, _ json.RawMessage) bool {
		matched.Add(1)
		return strings.HasPrefix(name, "/g-")
	})
	parent.Use(func(s *hub.Socket) error {
		if strings.HasPrefix(s.Namespace().Name(), "/g-denied") {
			return errors.New("no")
		}
		return nil
	})
	c := hubDial(t, url)
	for i := range 50 {
		if _, err := c.Connect(fmt.Sprintf("/g-denied-%d", i), nil); err == nil {
			t.Fatal("connect succeeded")
		}
	}
	for _, name := range []string{"/g-1", "/g-2", "/g-3"} {
		hubConnect(t, c, name, nil)
	}
	invalid := func(name string) {
		t.Helper()
		_, err := c.Connect(name, nil)
		var refused *testclient.ConnectRefused
		if !errors.As(err, &refused) || refused.Message != "Invalid namespace" {
			t.Errorf("connect %s: %v, want Invalid namespace", name, err)
		}
	}
	invalid("/g-4")
	other := hubDial(t, url)
	hubConnect(t, other, "/g-2", nil) // an existing child
	if err := c.Disconnect("/g-1"); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, func() bool { return srv.Namespace("/g-1") == nil }, "/g-1 dropped")
	hubConnect(t, c, "/g-4", nil)

	srv2, url2 := hubServer(t, hub.Options{})
	if o := srv2.Options(); o.MaxChildNamespaces != hub.DefaultMaxChildNamespaces || o.MaxChildNamespaceName != 256 {
		t.Errorf("defaults: %d children, names of %d bytes", o.MaxChildNamespaces, o.MaxChildNamespaceName)
	}
	srv2.OfFunc(func(name string, _ json.RawMessage) bool { matched.Add(1); return true })
	c2 := hubDial(t, url2)
	matched.Store(0)
	long := "/" + strings.Repeat("x", 256)
	_, err := c2.Connect(long, nil)
	if err == nil || matched.Load() != 0 {
		t.Errorf("a %d-byte name: %v, matcher ran %d times", len(long), err, matched.Load())
	}
	hubConnect(t, c2, long[:256], nil)
}

// A client connecting to a child while its last socket leaves ends up in
// the child the server knows, whatever the interleaving; when it leaves in
// turn, the child is dropped.
func TestCleanupRaceConnectWhileLastLeaves(t *testing.T) {
	srv, url := hubServer(t, hub.Options{CleanupEmptyChildNamespaces: true})
	parent := srv.OfPattern(regexp.MustCompile(`^/game-`))
	const rounds = 30
	for i := range rounds {
		name := fmt.Sprintf("/game-%d", i%3)
		leaving := hubDial(t, url)
		hubConnect(t, leaving, name, nil)
		coming := hubDial(t, url)
		var wg sync.WaitGroup
		var id string
		var err error
		wg.Add(2)
		go func() { defer wg.Done(); leaving.Close() }()
		go func() { defer wg.Done(); id, err = coming.Connect(name, nil) }()
		wg.Wait()
		if err != nil {
			t.Fatalf("round %d: %v", i, err)
		}
		n := srv.Namespace(name)
		if n == nil {
			t.Fatalf("round %d: %s was dropped under a connected socket", i, name)
		}
		hubSocket(t, n, id)
		if ch := parent.Children(); !slices.Contains(ch, n) {
			t.Fatalf("round %d: the parent does not know %s", i, name)
		}
		coming.Close()
		waitUntil(t, func() bool { return srv.Namespace(name) == nil }, "round %d: %s dropped", i, name)
	}
	if ch := parent.Children(); len(ch) != 0 {
		t.Errorf("%d children left", len(ch))
	}
}

// TestConnectFlood: one connection sending thousands of namespace CONNECTs
// (one polling POST of 5,000) is closed once it is past
// Options.ConnectBurst, so the middlewares and hooks run at most about that
// many times for it (fewer when the connection closes before the socket's
// runner reaches a CONNECT: those skip their middlewares), no namespace
// stays behind, and a client that connects to a few namespaces is not
// affected.
func TestConnectFlood(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var calls atomic.Int64
	parent := srv.OfPattern(regexp.MustCompile(`^/team-[0-9]+$`))
	parent.Use(func(*hub.Socket) error {
		calls.Add(1)
		return errors.New("teams are closed")
	})

	var b strings.Builder
	for i := range 5000 {
		if i > 0 {
			b.WriteByte(0x1e)
		}
		fmt.Fprintf(&b, "40/team-%d,", i)
	}
	start := time.Now() // the connection's bucket starts full after this
	p := newPollSession(t, url)
	if res, err := p.hc.Post(p.url+"&sid="+p.sid, "text/plain;charset=UTF-8", strings.NewReader(b.String())); err == nil {
		res.Body.Close()
	}
	waitUntil(t, func() bool { return srv.Connections() == 0 }, "the flooding connection is closed")
	elapsed := time.Since(start) // the connection lived no longer
	// The CONNECTs that got in run on their sockets' runners, maybe after
	// the connection closed: wait until no namespace is left behind.
	waitUntil(t, func() bool { return len(srv.Namespaces()) == 1 }, "no namespace but / is left")
	// The bucket holds 100 and refills at 10 a second while the POST is
	// read: at most that many got in during the connection's life (and a
	// margin for rounding), nowhere near 5,000.
	limit := 100 + int64(10*elapsed.Seconds()) + 20
	if n := calls.Load(); n > limit {
		t.Errorf("the middleware ran %d times in %v, want at most ConnectBurst (100) + 10/s (%d)", n, elapsed, limit)
	}

	// A client connecting to a few namespaces stays connected.
	srv.Of("/a")
	srv.Of("/b")
	c := hubDial(t, url)
	for _, nsp := range []string{"/", "/a", "/b"} {
		hubConnect(t, c, nsp, nil)
	}
	if err := c.Emit("/b", "still here"); err != nil {
		t.Fatal(err)
	}
	if srv.Connections() != 1 {
		t.Fatalf("%d connections, want the well-behaved one", srv.Connections())
	}
}
