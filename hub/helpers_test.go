package hub_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// testWait bounds every wait of these tests; nothing is asserted on speed,
// and no test waits it out: it is long so that a loaded machine passes.
const testWait = 20 * time.Second

const ioPath = "/socket.io/"

// hubServer starts srv on a loopback HTTP server; both are closed when the
// test ends (after the test's clients, registered later).
func hubServer(t testing.TB, opts hub.Options) (*hub.Server, string) {
	t.Helper()
	srv := hub.New(opts)
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return srv, ts.URL
}

// hubDial opens a WebSocket client, closed when the test ends.
func hubDial(t testing.TB, url string) *testclient.Client {
	t.Helper()
	return hubDialOpts(t, url, testclient.Options{})
}

func hubDialOpts(t testing.TB, url string, o testclient.Options) *testclient.Client {
	t.Helper()
	c, err := testclient.DialOptions(url, ioPath, o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// hubConnect joins nsp and returns the socket id.
func hubConnect(t testing.TB, c *testclient.Client, nsp string, auth any) string {
	t.Helper()
	id, err := c.Connect(nsp, auth)
	if err != nil {
		t.Fatalf("connect %s: %v", nsp, err)
	}
	return id
}

// hubSocket waits until the server knows the socket id in n.
func hubSocket(t testing.TB, n *hub.Namespace, id string) *hub.Socket {
	t.Helper()
	var s *hub.Socket
	waitUntil(t, func() bool { s = n.Socket(id); return s != nil }, "socket %s registered", id)
	return s
}

// waitUntil polls cond until it holds or testWait ends.
func waitUntil(t testing.TB, cond func() bool, format string, args ...any) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for: "+format, args...)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// nextEvent returns the next event of nsp, failing the test after testWait.
func nextEvent(t testing.TB, c *testclient.Client, nsp string) *testclient.Packet {
	t.Helper()
	p, err := c.NextEvent(nsp, testWait)
	if err != nil {
		t.Fatalf("waiting for an event on %s: %v (inbox %v)", nsp, err, pktTexts(c.Pending()))
	}
	return p
}

// nextAny returns the next packet of any kind.
func nextAny(t testing.TB, c *testclient.Client) *testclient.Packet {
	t.Helper()
	p, err := c.Next(testWait)
	if err != nil {
		t.Fatalf("waiting for a packet: %v", err)
	}
	return p
}

// eventsBefore returns the names of the events of nsp that arrive before the
// event named sentinel (consumed). The server sends the sentinel after what
// is under test; one connection keeps the order, so whatever did not come
// before it will not come at all.
func eventsBefore(t testing.TB, c *testclient.Client, nsp, sentinel string) []string {
	t.Helper()
	var names []string
	for {
		p := nextEvent(t, c, nsp)
		if p.Event == sentinel {
			return names
		}
		names = append(names, p.Event)
	}
}

func pktTexts(ps []*testclient.Packet) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Text
	}
	return out
}

// strLog collects strings from many goroutines.
type strLog struct {
	mu   sync.Mutex
	list []string
}

func (r *strLog) add(s string) {
	r.mu.Lock()
	r.list = append(r.list, s)
	r.mu.Unlock()
}

func (r *strLog) get() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.list)
}

func (r *strLog) reset() {
	r.mu.Lock()
	r.list = nil
	r.mu.Unlock()
}

// waitLen waits until n strings are recorded and returns them.
func (r *strLog) waitLen(t testing.TB, n int) []string {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for len(r.get()) < n {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %d records (have %q)", n, r.get())
		}
		time.Sleep(2 * time.Millisecond)
	}
	return r.get()
}

// reasonLog records the disconnect reasons of the sockets of a namespace.
type reasonLog struct {
	mu      sync.Mutex
	by      map[string]hub.DisconnectReason
	watched map[string]bool
}

func watchReasons(n *hub.Namespace) *reasonLog {
	r := newReasonLog()
	n.OnConnection(r.attach)
	return r
}

func newReasonLog() *reasonLog {
	return &reasonLog{by: make(map[string]hub.DisconnectReason), watched: make(map[string]bool)}
}

// attach records the reason of s.
func (r *reasonLog) attach(s *hub.Socket) {
	s.OnDisconnect(func(reason hub.DisconnectReason) {
		r.mu.Lock()
		r.by[s.ID()] = reason
		r.mu.Unlock()
	})
	r.mu.Lock()
	r.watched[s.ID()] = true
	r.mu.Unlock()
}

// watching waits until the sockets ids are watched: connection listeners
// run after the CONNECT reply, so a test that disconnects a socket from
// the server side right after connecting waits for this first.
func (r *reasonLog) watching(t testing.TB, ids ...string) {
	t.Helper()
	for _, id := range ids {
		waitUntil(t, func() bool {
			r.mu.Lock()
			defer r.mu.Unlock()
			return r.watched[id]
		}, "listeners of %s", id)
	}
}

func (r *reasonLog) waitFor(t testing.TB, id string) hub.DisconnectReason {
	t.Helper()
	var reason hub.DisconnectReason
	waitUntil(t, func() bool {
		r.mu.Lock()
		defer r.mu.Unlock()
		var ok bool
		reason, ok = r.by[id]
		return ok
	}, "disconnect of %s", id)
	return reason
}

// pollSession is a long-polling session driven by hand: it polls only when
// told, so frames stay queued on the server in between.
type pollSession struct {
	t   testing.TB
	url string
	sid string
	hc  *http.Client
}

func newPollSession(t testing.TB, base string) *pollSession {
	t.Helper()
	hc := &http.Client{Transport: &http.Transport{}}
	t.Cleanup(hc.CloseIdleConnections)
	return newPollSessionWith(t, base, hc)
}

// newPollSessionWith opens a session with the HTTP client hc.
func newPollSessionWith(t testing.TB, base string, hc *http.Client) *pollSession {
	t.Helper()
	p := &pollSession{t: t, url: base + ioPath + "?EIO=4&transport=polling", hc: hc}
	body := p.get()
	const prefix = `0{"sid":"`
	if !strings.HasPrefix(body, prefix) {
		t.Fatalf("polling handshake: %q", body)
	}
	p.sid = body[len(prefix) : len(prefix)+20]
	return p
}

func (p *pollSession) get() string {
	p.t.Helper()
	u := p.url
	if p.sid != "" {
		u += "&sid=" + p.sid
	}
	resp, err := p.hc.Get(u)
	if err != nil {
		p.t.Fatalf("poll: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		p.t.Fatalf("poll: HTTP %d %s", resp.StatusCode, b)
	}
	return string(b)
}

func (p *pollSession) post(body string) {
	p.t.Helper()
	resp, err := p.hc.Post(p.url+"&sid="+p.sid, "text/plain;charset=UTF-8", bytes.NewReader([]byte(body)))
	if err != nil {
		p.t.Fatalf("post: %v", err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || string(b) != "ok" {
		p.t.Fatalf("post: HTTP %d %s", resp.StatusCode, b)
	}
}

// connect joins the main namespace and returns the socket id.
func (p *pollSession) connect() string {
	p.t.Helper()
	p.post("40")
	body := p.get()
	const prefix = `40{"sid":"`
	if !strings.HasPrefix(body, prefix) || len(body) != len(prefix)+22 {
		p.t.Fatalf("polling connect: %q", body)
	}
	return body[len(prefix) : len(prefix)+20]
}
