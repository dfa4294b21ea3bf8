package relay_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/relay"
)

// wait bounds every wait; nothing is asserted on speed, and no test waits
// it out: it is long so that a loaded machine passes.
const wait = 20 * time.Second

// world is a hub with the relay attached, served over loopback HTTP.
type world struct {
	t   testing.TB
	srv *hub.Server
	url string
}

// newWorld attaches cfg (and hooks, when not nil) to a new server; the
// server is closed when the test ends.
func newWorld(t testing.TB, cfg relay.Config, hooks *hub.Hooks) *world {
	return newWorldOpts(t, hub.Options{}, cfg, hooks)
}

func newWorldOpts(t testing.TB, opts hub.Options, cfg relay.Config, hooks *hub.Hooks) *world {
	t.Helper()
	srv := hub.New(opts)
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	if err := relay.Attach(srv, cfg); err != nil {
		t.Fatalf("Attach: %v", err)
	}
	if hooks != nil {
		srv.SetHooks(hooks)
	}
	return serve(t, srv)
}

// newRelayWorld is newWorld with the Relay New returns, for Update.
func newRelayWorld(t testing.TB, cfg relay.Config) (*world, *relay.Relay) {
	t.Helper()
	srv := hub.New(hub.Options{})
	if cfg.Logger == nil {
		cfg.Logger = quiet
	}
	r, err := relay.New(srv, cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return serve(t, srv), r
}

// quiet is the relay's logger in tests.
var quiet = slog.New(slog.NewTextHandler(io.Discard, nil))

// serve serves srv until the test ends.
func serve(t testing.TB, srv *hub.Server) *world {
	t.Helper()
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		srv.Close()
		ts.Close()
	})
	return &world{t: t, srv: srv, url: ts.URL}
}

// peer is one client connected to one namespace.
type peer struct {
	t   testing.TB
	c   *testclient.Client
	nsp string
	id  string
}

// dial connects a new client to nsp.
func (w *world) dial(nsp string) *peer {
	w.t.Helper()
	c, err := testclient.Dial(w.url, "/socket.io/")
	if err != nil {
		w.t.Fatalf("dial: %v", err)
	}
	w.t.Cleanup(func() { c.Close() })
	id, err := c.Connect(nsp, nil)
	if err != nil {
		w.t.Fatalf("connect %s: %v", nsp, err)
	}
	return &peer{t: w.t, c: c, nsp: nsp, id: id}
}

// dialN connects n clients to nsp.
func (w *world) dialN(nsp string, n int) []*peer {
	w.t.Helper()
	out := make([]*peer, n)
	for i := range out {
		out[i] = w.dial(nsp)
	}
	return out
}

// reply is an ack of the relay.
type reply struct {
	OK    bool     `json:"ok"`
	Error string   `json:"error"`
	Rooms []string `json:"rooms"`

	raw json.RawMessage
}

// ack emits event with args, waits for the ack and decodes its first
// argument.
func (p *peer) ack(event string, args ...any) reply {
	p.t.Helper()
	pkt, err := p.c.EmitWithAck(p.nsp, event, args...)
	if err != nil {
		p.t.Fatalf("%s: waiting for the ack: %v (inbox %v)", event, err, texts(p.c.Pending()))
	}
	return decodeReply(p.t, pkt)
}

func decodeReply(t testing.TB, pkt *testclient.Packet) reply {
	t.Helper()
	if len(pkt.Args) != 1 {
		t.Fatalf("ack %s: want one argument", pkt.Text)
	}
	var r reply
	if err := json.Unmarshal(pkt.Args[0], &r); err != nil {
		t.Fatalf("ack %s: %v", pkt.Text, err)
	}
	r.raw = pkt.Args[0]
	return r
}

// join runs hub:join and fails the test unless it succeeds.
func (p *peer) join(rooms ...string) []string {
	p.t.Helper()
	r := p.ack("hub:join", rooms)
	if !r.OK {
		p.t.Fatalf("hub:join %q: %s", rooms, r.raw)
	}
	return r.Rooms
}

// sync returns once the server has handled every event p sent before:
// a socket's events are handled one at a time, in order, so the ack of a
// later command proves the earlier events done (a hook may answer an ack
// before the event is relayed).
func (p *peer) sync() {
	p.t.Helper()
	if r := p.ack("hub:join", []string{}); !r.OK {
		p.t.Fatalf("sync: %s", r.raw)
	}
}

// mark sends the sentinel event to every socket of nsp. Sent after an ack
// came back, it is queued behind whatever the acked event was relayed as:
// what a client has not received before the mark it will not receive.
func (w *world) mark(nsp string) {
	w.t.Helper()
	if err := w.srv.Of(nsp).Emit("mark"); err != nil {
		w.t.Fatalf("mark: %v", err)
	}
}

// before returns the events p receives before the mark (consumed).
func (p *peer) before() []*testclient.Packet {
	p.t.Helper()
	var out []*testclient.Packet
	for {
		pkt, err := p.c.NextEvent(p.nsp, wait)
		if err != nil {
			p.t.Fatalf("waiting for the mark: %v (inbox %v)", err, texts(p.c.Pending()))
		}
		if pkt.Event == "mark" {
			return out
		}
		out = append(out, pkt)
	}
}

// got returns the texts of the events p received before the mark.
func (p *peer) got() []string {
	p.t.Helper()
	return texts(p.before())
}

// noAcks fails the test if p has an ack waiting in its inbox.
func (p *peer) noAcks() {
	p.t.Helper()
	for _, pkt := range p.c.Pending() {
		if pkt.Type == testclient.Ack || pkt.Type == testclient.BinaryAck {
			p.t.Fatalf("unexpected ack %s", pkt.Text)
		}
	}
}

func texts(ps []*testclient.Packet) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.Text
	}
	return out
}

// socket returns the server's socket of p.
func (w *world) socket(p *peer) *hub.Socket {
	w.t.Helper()
	s := w.srv.Of(p.nsp).Socket(p.id)
	if s == nil {
		w.t.Fatalf("no socket %s in %s", p.id, p.nsp)
	}
	return s
}

// roomsOf returns p's rooms as the server sees them, without its own.
func (w *world) roomsOf(p *peer) []string {
	w.t.Helper()
	return slices.DeleteFunc(w.socket(p).Rooms(), func(r string) bool { return r == p.id })
}

func ptrTrue() *bool { t := true; return &t }
