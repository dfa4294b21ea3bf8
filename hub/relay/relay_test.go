package relay_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
	"github.com/hubd/hubd/hub/relay"
)

// Default route: the sender's rooms, each recipient once, not the sender.
func TestRelayToRooms(t *testing.T) {
	w := newWorld(t, relay.Config{}, nil)
	a, b, c, d, e := w.dial("/"), w.dial("/"), w.dial("/"), w.dial("/"), w.dial("/")
	a.join("x", "y")
	b.join("x", "y") // shares two rooms with a: receives once
	c.join("y")
	d.join("z") // shares none
	// e is in no room.
	if got := a.ack("chat", "hi", map[string]any{"n": 1}); string(got.raw) != `{"ok":true}` {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/")
	want := []string{`42["chat","hi",{"n":1}]`}
	for name, p := range map[string]*peer{"b": b, "c": c} {
		if got := p.got(); !slices.Equal(got, want) {
			t.Errorf("%s received %q, want %q", name, got, want)
		}
	}
	for name, p := range map[string]*peer{"sender a": a, "d": d, "e": e} {
		if got := p.got(); len(got) != 0 {
			t.Errorf("%s received %q, want nothing", name, got)
		}
	}
}

// Without an ack the event is relayed just the same.
func TestRelayWithoutAck(t *testing.T) {
	w := newWorld(t, relay.Config{}, nil)
	a, b := w.dial("/"), w.dial("/")
	a.join("x")
	b.join("x")
	if err := a.c.Emit("/", "chat", "no ack"); err != nil {
		t.Fatal(err)
	}
	if p, err := b.c.NextEvent("/", wait); err != nil || p.Text != `42["chat","no ack"]` {
		t.Fatalf("b received %v, %v", p, err)
	}
	a.noAcks()
}

func TestRelaySenderInNoRoom(t *testing.T) {
	w := newWorld(t, relay.Config{}, nil)
	a, b := w.dial("/"), w.dial("/")
	b.join("x")
	if got := a.ack("chat", "anyone?"); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/")
	for _, p := range []*peer{a, b} {
		if got := p.got(); len(got) != 0 {
			t.Errorf("received %q, want nothing", got)
		}
	}
}

func TestRelayEcho(t *testing.T) {
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Echo: true}}}, nil)
	a, b, c := w.dial("/"), w.dial("/"), w.dial("/")
	a.join("x", "y")
	b.join("y")
	if got := a.ack("chat", 1); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	// With echo, a sender in no room still gets its own event back.
	if got := c.ack("chat", 2); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/")
	if got := a.got(); !slices.Equal(got, []string{`42["chat",1]`}) {
		t.Errorf("sender received %q, want its event once", got)
	}
	if got := b.got(); !slices.Equal(got, []string{`42["chat",1]`}) {
		t.Errorf("b received %q", got)
	}
	if got := c.got(); !slices.Equal(got, []string{`42["chat",2]`}) {
		t.Errorf("c received %q", got)
	}
}

func TestRelayToNamespace(t *testing.T) {
	cfg := relay.Config{Namespaces: []relay.Namespace{
		{Name: "/", Route: relay.RouteNamespace},
		{Name: "/echo", Route: relay.RouteNamespace, Echo: true},
	}}
	w := newWorld(t, cfg, nil)
	ps := w.dialN("/", 3)
	ps[1].join("x") // rooms do not matter
	other := w.dial("/echo")
	if got := ps[0].ack("news", "all"); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/")
	if got := ps[0].got(); len(got) != 0 {
		t.Errorf("sender received %q", got)
	}
	for _, p := range ps[1:] {
		if got := p.got(); !slices.Equal(got, []string{`42["news","all"]`}) {
			t.Errorf("received %q", got)
		}
	}
	if got := other.ack("news", "me"); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/echo")
	if got := other.got(); !slices.Equal(got, []string{`42/echo,["news","me"]`}) {
		t.Errorf("with echo the sender received %q", got)
	}
}

func TestRelayNone(t *testing.T) {
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteNone}}}, nil)
	a, b := w.dial("/"), w.dial("/")
	a.join("x")
	b.join("x")
	if got := a.ack("chat", "hi"); got.OK || got.Error != "publishing is disabled" {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/")
	if got := b.got(); len(got) != 0 {
		t.Fatalf("b received %q", got)
	}
}

func TestUnknownCommand(t *testing.T) {
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteNamespace}}}, nil)
	a, b := w.dial("/"), w.dial("/")
	for _, name := range []string{"hub:", "hub:JOIN", "hub:join2", "hub:publish"} {
		if got := a.ack(name, "x"); got.OK || string(got.raw) != `{"ok":false,"error":"unknown command"}` {
			t.Errorf("%s: ack %s", name, got.raw)
		}
	}
	w.mark("/")
	if got := b.got(); len(got) != 0 {
		t.Fatalf("a hub: command was relayed: %q", got)
	}
}

// Socket.IO's reserved names never reach the relay: the hub refuses them
// as malformed packets.
func TestReservedNamesNotRelayed(t *testing.T) {
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteNamespace}}}, nil)
	a, b := w.dial("/"), w.dial("/")
	if err := a.c.SendText(`42["disconnecting","x"]`); err != nil {
		t.Fatal(err)
	}
	if err := a.c.WaitClosed(wait); err != nil {
		t.Fatal(err)
	}
	w.mark("/")
	if got := b.got(); len(got) != 0 {
		t.Fatalf("b received %q", got)
	}
}

// A hook that renames an event to a reserved name gets it refused.
func TestRelayReservedAfterTransform(t *testing.T) {
	hooks := &hub.Hooks{Event: func(ev *hub.Event) error {
		ev.Name = "connect"
		return nil
	}}
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteNamespace}}}, hooks)
	a, b := w.dial("/"), w.dial("/")
	if got := a.ack("chat"); got.OK || got.Error != "reserved event name" {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/")
	if got := b.got(); len(got) != 0 {
		t.Fatalf("b received %q", got)
	}
}

// Events from one sender reach each recipient in the order sent.
func TestRelayOrder(t *testing.T) {
	const n = 500
	w := newWorld(t, relay.Config{}, nil)
	a, b, c := w.dial("/"), w.dial("/"), w.dial("/")
	a.join("x", "y")
	b.join("x")
	c.join("y")
	for i := range n {
		if err := a.c.Emit("/", "seq", i); err != nil {
			t.Fatal(err)
		}
	}
	for _, p := range []*peer{b, c} {
		for i := range n {
			pkt, err := p.c.NextEvent("/", wait)
			if err != nil {
				t.Fatalf("event %d: %v", i, err)
			}
			var got int
			if err := pkt.Arg(0, &got); err != nil || got != i {
				t.Fatalf("event %d is %s", i, pkt.Text)
			}
		}
	}
}

// The arguments go out byte for byte, binary attachments included.
func TestRelayBinary(t *testing.T) {
	w := newWorld(t, relay.Config{}, nil)
	a, b := w.dial("/"), w.dial("/")
	a.join("x")
	b.join("x")
	blob := []byte{0, 1, 2, 0xff, 0xfe}
	args := []any{
		"caption \u00e9\u2028\"quoted\"",
		blob,
		map[string]any{"thumb": []byte{9, 8}, "n": 1.5e300, "list": []any{nil, true, "x"}},
		json.RawMessage(`{ "spaced" :  [1, 2] }`),
	}
	payload, atts, err := testclient.EncodeArgs(append([]any{"photo"}, args...)...)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.ack("photo", args...); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	p, err := b.c.NextEvent("/", wait)
	if err != nil {
		t.Fatal(err)
	}
	if p.Type != testclient.BinaryEvent {
		t.Fatalf("type %d, want BINARY_EVENT: %s", p.Type, p.Text)
	}
	if body := p.Text[strings.IndexByte(p.Text, '['):]; body != string(payload) {
		t.Fatalf("relayed %s, sent %s", body, payload)
	}
	if len(p.Attachments) != len(atts) {
		t.Fatalf("%d attachments, want %d", len(p.Attachments), len(atts))
	}
	for i := range atts {
		if !bytes.Equal(p.Attachments[i], atts[i]) {
			t.Fatalf("attachment %d is %x, want %x", i, p.Attachments[i], atts[i])
		}
	}
}

// 100 clients in one room: each receives the event once.
func TestRelayFanOut(t *testing.T) {
	const n = 100
	w := newWorld(t, relay.Config{}, nil)
	sender := w.dial("/")
	sender.join("big", "also-big")
	ps := w.dialN("/", n)
	for _, p := range ps {
		p.join("big", "also-big")
	}
	if got := sender.ack("chat", "to all"); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/")
	for i, p := range ps {
		if got := p.got(); !slices.Equal(got, []string{`42["chat","to all"]`}) {
			t.Fatalf("client %d received %q", i, got)
		}
	}
	if got := sender.got(); len(got) != 0 {
		t.Fatalf("sender received %q", got)
	}
}

// hostHooks behave like the plugin host on the event hook, by event name.
func hostHooks() *hub.Hooks {
	answer := relay.Fail
	return &hub.Hooks{Event: func(ev *hub.Event) error {
		switch ev.Name {
		case "deny":
			answer(ev, "not allowed")
			return errors.New("not allowed")
		case "drop":
			answer(ev, "dropped")
			return hub.ErrDrop
		case "reply":
			if ev.WantsAck() {
				_ = ev.Ack(map[string]any{"answer": 42})
			}
			return hub.ErrDrop
		case "reply-and-route":
			if ev.WantsAck() {
				_ = ev.Ack(map[string]any{"answer": 43})
			}
		case "transform":
			ev.Name = "transformed"
			args, err := hub.NewArgs("new", ev.Args.At(0))
			if err != nil {
				return err
			}
			ev.Args = args
		}
		return nil
	}}
}

// Every ack is answered exactly once: by the hook that ended or replied to
// the event, or by the relay.
func TestAcks(t *testing.T) {
	w := newWorld(t, relay.Config{}, hostHooks())
	a, b := w.dial("/"), w.dial("/")
	a.join("x")
	b.join("x")
	tests := []struct {
		event   string
		ack     string
		relayed string
	}{
		{"chat", `{"ok":true}`, `42["chat","p"]`},
		{"deny", `{"ok":false,"error":"not allowed"}`, ""},
		{"drop", `{"ok":false,"error":"dropped"}`, ""},
		{"reply", `{"answer":42}`, ""},
		{"reply-and-route", `{"answer":43}`, `42["reply-and-route","p"]`},
		{"transform", `{"ok":true}`, `42["transformed","new","p"]`},
	}
	for _, tc := range tests {
		t.Run(tc.event, func(t *testing.T) {
			got := a.ack(tc.event, "p")
			if string(got.raw) != tc.ack {
				t.Errorf("ack %s, want %s", got.raw, tc.ack)
			}
			a.sync()
			w.mark("/")
			var want []string
			if tc.relayed != "" {
				want = []string{tc.relayed}
			}
			if got := b.got(); !slices.Equal(got, want) {
				t.Errorf("b received %q, want %q", got, want)
			}
			if got := a.got(); len(got) != 0 {
				t.Errorf("a received %q", got)
			}
			a.noAcks() // no second answer
		})
	}
}

// A hook's route replaces the default targets.
func TestRouteOverride(t *testing.T) {
	var mu sync.Mutex
	var route func(ev *hub.Event, ids map[string]string)
	ids := make(map[string]string)
	hooks := &hub.Hooks{Event: func(ev *hub.Event) error {
		mu.Lock()
		defer mu.Unlock()
		if route != nil {
			route(ev, ids)
		}
		return nil
	}}
	w := newWorld(t, relay.Config{}, hooks)
	a, b, c, d := w.dial("/"), w.dial("/"), w.dial("/"), w.dial("/")
	mu.Lock()
	ids["a"], ids["b"], ids["c"], ids["d"] = a.id, b.id, c.id, d.id
	mu.Unlock()
	a.join("home")
	b.join("home", "red")
	c.join("red")
	d.join("red", "blue")
	peers := map[string]*peer{"a": a, "b": b, "c": c, "d": d}
	tests := []struct {
		name  string
		route func(ev *hub.Event, ids map[string]string)
		want  string // who receives, sorted
	}{
		{"rooms", func(ev *hub.Event, _ map[string]string) {
			ev.Route = &hub.Route{Rooms: []string{"red", "blue"}}
		}, "bcd"},
		{"rooms except a socket id", func(ev *hub.Event, ids map[string]string) {
			ev.Route = &hub.Route{Rooms: []string{"red"}, Except: []string{ids["c"]}}
		}, "bd"},
		{"rooms except a room", func(ev *hub.Event, _ map[string]string) {
			ev.Route = &hub.Route{Rooms: []string{"red"}, Except: []string{"blue"}}
		}, "bc"},
		{"to sender", func(ev *hub.Event, _ map[string]string) {
			ev.Route = &hub.Route{Rooms: []string{"blue"}, ToSender: ptrTrue()}
		}, "ad"},
		{"to sender only", func(ev *hub.Event, _ map[string]string) {
			ev.Route = &hub.Route{Rooms: []string{}, ToSender: ptrTrue()}
		}, "a"},
		{"nobody", func(ev *hub.Event, _ map[string]string) {
			ev.Route = &hub.Route{Rooms: []string{}}
		}, ""},
		{"sender's room without to sender", func(ev *hub.Event, _ map[string]string) {
			ev.Route = &hub.Route{Rooms: []string{"home"}}
		}, "b"},
		{"a socket id", func(ev *hub.Event, ids map[string]string) {
			ev.Route = &hub.Route{Rooms: []string{ids["c"]}}
		}, "c"},
		{"default targets except", func(ev *hub.Event, ids map[string]string) {
			ev.Route = &hub.Route{Except: []string{ids["b"]}}
		}, ""},
		{"default targets to sender", func(ev *hub.Event, _ map[string]string) {
			ev.Route = &hub.Route{ToSender: ptrTrue()}
		}, "ab"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			mu.Lock()
			route = tc.route
			mu.Unlock()
			if got := a.ack("chat", tc.name); !got.OK {
				t.Fatalf("ack %s", got.raw)
			}
			w.mark("/")
			var who string
			for _, name := range []string{"a", "b", "c", "d"} {
				got := peers[name].got()
				switch len(got) {
				case 0:
				case 1:
					who += name
				default:
					t.Errorf("%s received %q", name, got)
				}
			}
			if who != tc.want {
				t.Errorf("received by %q, want %q", who, tc.want)
			}
		})
	}
}

// A hook's route is obeyed where clients cannot publish by default; a
// route that names no rooms keeps the default, which refuses.
func TestRouteOverrideWithRouteNone(t *testing.T) {
	hooks := &hub.Hooks{Event: func(ev *hub.Event) error {
		switch ev.Name {
		case "approved":
			ev.Route = &hub.Route{Rooms: []string{"x"}}
		case "except-only":
			ev.Route = &hub.Route{Except: []string{"y"}}
		}
		return nil
	}}
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteNone}}}, hooks)
	a, b := w.dial("/"), w.dial("/")
	b.join("x")
	if got := a.ack("approved", 1); !got.OK {
		t.Fatalf("approved: ack %s", got.raw)
	}
	if got := a.ack("except-only", 2); got.OK || got.Error != "publishing is disabled" {
		t.Fatalf("except-only: ack %s", got.raw)
	}
	w.mark("/")
	if got := b.got(); !slices.Equal(got, []string{`42["approved",1]`}) {
		t.Fatalf("b received %q", got)
	}
}

// Every configured namespace relays; patterns match whole names; other
// namespaces, "/" included when not configured, are refused as the hub
// refuses unknown ones.
func TestNamespaces(t *testing.T) {
	cfg := relay.Config{Namespaces: []relay.Namespace{
		{Name: "/chat"},
		{Pattern: `/team-\d+`, Route: relay.RouteNamespace},
	}}
	w := newWorld(t, cfg, nil)
	for _, nsp := range []string{"/", "/other", "/team-x", "/team-1/sub", "/xteam-1", "/chatroom"} {
		c, err := testclient.Dial(w.url, "/socket.io/")
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Connect(nsp, nil)
		var refused *testclient.ConnectRefused
		if !errors.As(err, &refused) || string(refused.Payload) != `{"message":"Invalid namespace"}` {
			t.Errorf("connect %s: %v, want Invalid namespace", nsp, err)
		}
		c.Close()
	}
	a, b := w.dial("/team-7"), w.dial("/team-7")
	other := w.dial("/team-8")
	if got := a.ack("hello", 7); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/team-7")
	w.mark("/team-8")
	if got := b.got(); !slices.Equal(got, []string{`42/team-7,["hello",7]`}) {
		t.Errorf("b received %q", got)
	}
	if got := other.got(); len(got) != 0 {
		t.Errorf("another child received %q", got)
	}
	c, d := w.dial("/chat"), w.dial("/chat")
	c.join("r")
	d.join("r")
	if got := c.ack("hello", "chat"); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	if p, err := d.c.NextEvent("/chat", wait); err != nil || p.Text != `42/chat,["hello","chat"]` {
		t.Fatalf("d received %v, %v", p, err)
	}
}

// A pattern that matches "/" lets clients into the main namespace.
func TestPatternMatchingMain(t *testing.T) {
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Pattern: `/.*`, Route: relay.RouteNamespace}}}, nil)
	a, b := w.dial("/"), w.dial("/")
	c := w.dial("/anything")
	if got := a.ack("hi"); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	w.mark("/")
	if got := b.got(); !slices.Equal(got, []string{`42["hi"]`}) {
		t.Errorf("b received %q", got)
	}
	if got := c.ack("hub:join", "r"); !got.OK {
		t.Fatalf("join in a child: %s", got.raw)
	}
}

// Listeners after the relay still see the event; a middleware before it
// can stop it.
func TestMiddlewareOrder(t *testing.T) {
	srv := hub.New(hub.Options{})
	seen := make(chan string, 10)
	srv.Of("/").OnConnection(func(s *hub.Socket) {
		s.Use(func(ev *hub.Event) error {
			if ev.Name == "blocked" {
				_ = ev.Ack(map[string]any{"ok": false, "error": "blocked by the program"})
				return hub.ErrDrop
			}
			return nil
		})
	})
	if err := relay.Attach(srv, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteNamespace}}}); err != nil {
		t.Fatal(err)
	}
	srv.Of("/").OnConnection(func(s *hub.Socket) {
		s.On("chat", func(ev *hub.Event) { seen <- fmt.Sprintf("chat acked=%v", ev.Acked()) })
	})
	w := serve(t, srv)
	a, b := w.dial("/"), w.dial("/")
	if got := a.ack("blocked"); got.Error != "blocked by the program" {
		t.Fatalf("blocked: ack %s", got.raw)
	}
	if got := a.ack("chat"); !got.OK {
		t.Fatalf("chat: ack %s", got.raw)
	}
	w.mark("/")
	if got := b.got(); !slices.Equal(got, []string{`42["chat"]`}) {
		t.Fatalf("b received %q", got)
	}
	if got := <-seen; got != "chat acked=true" {
		t.Fatalf("listener saw %q", got)
	}
}

// The relay works over long-polling too.
func TestRelayPolling(t *testing.T) {
	w := newWorld(t, relay.Config{}, nil)
	c, err := testclient.DialOptions(w.url, "/socket.io/", testclient.Options{Polling: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	id, err := c.Connect("/", nil)
	if err != nil {
		t.Fatal(err)
	}
	a := &peer{t: t, c: c, nsp: "/", id: id}
	b := w.dial("/")
	a.join("x")
	b.join("x")
	if got := a.ack("chat", []byte{1, 2, 3}); !got.OK {
		t.Fatalf("ack %s", got.raw)
	}
	p, err := b.c.NextEvent("/", wait)
	if err != nil || len(p.Attachments) != 1 || !bytes.Equal(p.Attachments[0], []byte{1, 2, 3}) {
		t.Fatalf("b received %v, %v", p, err)
	}
}

// downAdapter is a cluster adapter whose broker is down: local delivery
// works, the other nodes cannot be reached.
type downAdapter struct{ hub.LocalAdapter }

func (a downAdapter) Broadcast(p *hub.Packet, o hub.BroadcastOptions) error {
	_ = a.LocalAdapter.Broadcast(p, o)
	return fmt.Errorf("test broker down: %w", hub.ErrUnavailable)
}

// With the other nodes unreachable, the relay still delivers on this node
// and the sender's ack says the event went no further.
func TestRelayClusterUnavailable(t *testing.T) {
	w := newWorldOpts(t, hub.Options{Adapter: func(_ *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
		return downAdapter{local}, nil
	}}, relay.Config{}, nil)
	a, b := w.dial("/"), w.dial("/")
	a.join("x")
	b.join("x")
	got := a.ack("chat", "hi")
	if got.OK || !strings.Contains(got.Error, "this node's clients only") {
		t.Errorf("ack %s, want a failure saying only this node's clients got it", got.raw)
	}
	if p, err := b.c.WaitEvent("/", "chat", wait); err != nil || p.Text != `42["chat","hi"]` {
		t.Errorf("b: %v %v, want the event", p, err)
	}
}
