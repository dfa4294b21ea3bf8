// Package adaptertest holds the cross-node tests every cluster adapter
// must pass, whatever carries its messages: broadcasts to rooms and with
// acks, remote sockets, server-side emits, node counts, namespaces kept
// apart, large payloads and a clean close. An adapter's tests describe how
// a node joins a cluster (a Flavour) and call Run; the helpers that start
// nodes and clients are exported for the adapter's own tests too. It is for
// tests only.
package adaptertest

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// Wait bounds every wait for an event; none waits it out, and nothing is
// asserted on speed: it is long so that a loaded machine passes.
const Wait = 20 * time.Second

// Flavour is one way of linking nodes into a cluster: an adapter with its
// options, on its broker.
type Flavour struct {
	// Join links a new node to the cluster named cluster (see
	// ClusterName): nodes joined with the same name see each other, and
	// no one else. The flavour releases what Join opened when the test
	// ends.
	Join func(t testing.TB, cluster string) Link
	// WaitRooms, for a flavour whose nodes subscribe to a room's own
	// channel once a local socket joins it, waits until at least nodes
	// nodes of cluster listen for each of rooms in namespace "/". Nil
	// when a broadcast reaches every node as soon as Join returns.
	WaitRooms func(t testing.TB, cluster string, nodes int, rooms ...string)
	// LocalRooms says that Rooms lists only the asking node's rooms (as
	// Node's sharded Redis adapter does).
	LocalRooms bool
	// ErrClosed is the error a pending broadcast with acks ends with
	// when its node's link closes.
	ErrClosed error
}

// Link is a node's link to its cluster.
type Link struct {
	// Adapter is the node's hub.Options.Adapter.
	Adapter hub.AdapterFactory
	// Options, when not nil, sets what else the flavour needs in the
	// node's hub.Options (connection state recovery, say).
	Options func(*hub.Options)
	// Close takes the node out of the cluster: its adapters stop, and
	// the other nodes stop counting it.
	Close func() error
}

// Node is a hub server on a cluster.
type Node struct {
	Server  *hub.Server
	URL     string
	Link    Link
	Cluster string
}

// ClusterName returns a cluster name of the test's own, so that tests and
// runs sharing one broker do not see each other.
func ClusterName(t testing.TB) string {
	return "hubdtest-" + strings.NewReplacer("/", "-", " ", "-").Replace(t.Name()) + "-" + strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
}

// Serve starts a hub server with opts behind an HTTP test server; setup
// runs before it takes connections. Both close when the test ends.
func Serve(t testing.TB, opts hub.Options, setup func(*hub.Server)) (*hub.Server, string) {
	t.Helper()
	srv := hub.New(opts)
	if setup != nil {
		setup(srv)
	}
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return srv, ts.URL
}

// Start starts a node of f on cluster; setup runs before the node takes
// connections.
func Start(t testing.TB, f Flavour, cluster string, setup func(*hub.Server)) *Node {
	t.Helper()
	link := f.Join(t, cluster)
	opts := hub.Options{Adapter: link.Adapter}
	if link.Options != nil {
		link.Options(&opts)
	}
	srv, url := Serve(t, opts, setup)
	t.Cleanup(func() { _ = link.Close() })
	return &Node{Server: srv, URL: url, Link: link, Cluster: cluster}
}

// TwoNodes starts two nodes of a new cluster and waits until they count
// each other.
func TwoNodes(t testing.TB, f Flavour) (a, b *Node) {
	t.Helper()
	cluster := ClusterName(t)
	a = Start(t, f, cluster, nil)
	b = Start(t, f, cluster, nil)
	WaitNodes(t, a.Server, "/", 2)
	return a, b
}

// WaitNodes waits until namespace nsp of srv counts want nodes.
func WaitNodes(t testing.TB, srv *hub.Server, nsp string, want int) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for {
		got, err := srv.Of(nsp).Adapter().ServerCount(context.Background())
		if err == nil && got == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("ServerCount of %s = %d (%v), want %d", nsp, got, err, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Dial connects a client to namespace nsp of the server at url and returns
// it with its socket id; it closes when the test ends.
func Dial(t testing.TB, url, nsp string) (*testclient.Client, string) {
	t.Helper()
	c, err := testclient.Dial(url, "/socket.io/")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	id, err := c.Connect(nsp, nil)
	if err != nil {
		t.Fatal(err)
	}
	return c, id
}

// JoinRooms makes the local socket id of srv join rooms, once the server
// has registered it.
func JoinRooms(t testing.TB, srv *hub.Server, nsp, id string, rooms ...string) {
	t.Helper()
	WaitFor(t, func() bool { return srv.Of(nsp).Socket(id) != nil }, "socket "+id+" to be registered")
	if err := srv.Of(nsp).Socket(id).Join(rooms...); err != nil {
		t.Fatal(err)
	}
}

// ExpectEvent waits for event on c and returns it.
func ExpectEvent(t testing.TB, c *testclient.Client, nsp, event string) *testclient.Packet {
	t.Helper()
	p, err := c.WaitEvent(nsp, event, Wait)
	if err != nil {
		t.Fatalf("waiting for %q: %v", event, err)
	}
	return p
}

// ExpectNone checks that c receives no event named event before a
// sentinel event (sent by the caller after the one that must not arrive).
func ExpectNone(t testing.TB, c *testclient.Client, nsp, event, sentinel string) {
	t.Helper()
	for {
		p, err := c.NextEvent(nsp, Wait)
		if err != nil {
			t.Fatalf("waiting for %q: %v", sentinel, err)
		}
		if p.Event == event {
			t.Fatalf("received %s, which was not addressed to this client", p.Text)
		}
		if p.Event == sentinel {
			return
		}
	}
}

// WaitFor waits until cond holds; what names it in the failure.
func WaitFor(t testing.TB, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(Wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// waitRooms waits, for a flavour that subscribes per room, until nodes of
// cluster listen for rooms.
func (f Flavour) waitRooms(t testing.TB, cluster string, nodes int, rooms ...string) {
	t.Helper()
	if f.WaitRooms != nil {
		f.WaitRooms(t, cluster, nodes, rooms...)
	}
}
