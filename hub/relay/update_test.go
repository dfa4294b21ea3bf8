package relay_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

// Update reaches the sockets connected already, on named and pattern
// namespaces alike, from their next event on.
func TestUpdate(t *testing.T) {
	namespaces := func(main, team relay.Namespace) []relay.Namespace {
		main.Name, team.Pattern = "/", `/team-\d+`
		return []relay.Namespace{main, team}
	}
	w, r := newRelayWorld(t, relay.Config{Namespaces: namespaces(relay.Namespace{}, relay.Namespace{})})
	a, b, c := w.dial("/"), w.dial("/"), w.dial("/")
	a.join("x")
	b.join("x")
	// c is in no room.
	t1, t2 := w.dial("/team-1"), w.dial("/team-1")

	// send has from emit event and reports who received it.
	send := func(from *peer, peers map[string]*peer) (ack reply, got map[string]bool) {
		t.Helper()
		ack = from.ack("chat", "hi")
		w.mark(from.nsp)
		got = make(map[string]bool)
		for name, p := range peers {
			if n := len(p.got()); n > 0 {
				got[name] = true
			}
		}
		return ack, got
	}
	main := map[string]*peer{"a": a, "b": b, "c": c}
	team := map[string]*peer{"t1": t1, "t2": t2}
	check := func(when string, from *peer, peers map[string]*peer, wantAck string, want ...string) {
		t.Helper()
		ack, got := send(from, peers)
		if string(ack.raw) != wantAck {
			t.Errorf("%s: ack %s, want %s", when, ack.raw, wantAck)
		}
		for name := range peers {
			if got[name] != slices.Contains(want, name) {
				t.Errorf("%s: %s received the event: %v, want %v", when, name, got[name], !got[name])
			}
		}
	}
	check("at start", a, main, `{"ok":true}`, "b")
	check("at start", t1, team, `{"ok":true}`) // t1 is in no room

	if err := r.Update(relay.Config{Namespaces: namespaces(
		relay.Namespace{Route: relay.RouteNamespace, Echo: true},
		relay.Namespace{Route: relay.RouteNamespace},
	)}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	check("route namespace, echo", a, main, `{"ok":true}`, "a", "b", "c")
	check("pattern, route namespace", t1, team, `{"ok":true}`, "t2")
	t3 := w.dial("/team-1") // connected after the Update
	check("pattern, socket connected after", t3, map[string]*peer{"t1": t1, "t2": t2, "t3": t3}, `{"ok":true}`, "t1", "t2")

	if err := r.Update(relay.Config{
		Namespaces:  namespaces(relay.Namespace{Route: relay.RouteNone}, relay.Namespace{}),
		MaxRoomName: 3,
	}); err != nil {
		t.Fatalf("Update: %v", err)
	}
	check("route none", a, main, `{"ok":false,"error":"publishing is disabled"}`)
	check("pattern back to rooms", t1, team, `{"ok":true}`)
	if got := a.ack("hub:join", "abcd"); got.Error != "room name is longer than 3 bytes" {
		t.Errorf("join after MaxRoomName 3: %s", got.raw)
	}

	// A zero Config is the defaults: "/" alone, which this relay lacks.
	if err := r.Update(relay.Config{}); !errors.Is(err, relay.ErrNamespacesChanged) {
		t.Errorf("Update to the zero Config: %v, want ErrNamespacesChanged", err)
	}
}

// An Update that cannot be put in force changes nothing.
func TestUpdateRefused(t *testing.T) {
	start := []relay.Namespace{{Name: "/"}, {Pattern: `/a-\d+`}, {Pattern: `/b-\d+`}}
	w, r := newRelayWorld(t, relay.Config{Namespaces: start})
	tests := []struct {
		name       string
		namespaces []relay.Namespace
		maxRoom    int
		want       string
	}{
		{"invalid", []relay.Namespace{{Name: "/", Route: "everyone"}, start[1], start[2]}, -1, `max_room_name is -1`},
		{"added", append(slices.Clone(start), relay.Namespace{Name: "/new"}), 0, "3 attached"},
		{"removed", start[:2], 0, "2 given, 3 attached"},
		{"reordered", []relay.Namespace{start[0], start[2], start[1]}, 0, `namespaces[1] is pattern "/b-\\d+", attached as pattern "/a-\\d+"`},
		{"renamed", []relay.Namespace{{Name: "/main"}, start[1], start[2]}, 0, `namespaces[0] is name "/main", attached as name "/"`},
	}
	for _, tc := range tests {
		err := r.Update(relay.Config{Namespaces: tc.namespaces, MaxRoomName: tc.maxRoom})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: Update returned %v, want an error with %q", tc.name, err, tc.want)
		}
		if tc.name != "invalid" && !errors.Is(err, relay.ErrNamespacesChanged) {
			t.Errorf("%s: %v is not ErrNamespacesChanged", tc.name, err)
		}
	}
	// The start's configuration is in force.
	a, b := w.dial("/"), w.dial("/")
	a.join("x")
	b.join("x")
	if got := a.ack("chat"); !got.OK {
		t.Fatalf("after refused updates: %s", got.raw)
	}
	w.mark("/")
	if got := b.got(); len(got) != 1 {
		t.Fatalf("after refused updates b received %q", got)
	}
	// Same namespaces, "" and "rooms" alike: accepted.
	if err := r.Update(relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteRooms}, start[1], start[2]}}); err != nil {
		t.Fatalf("Update with the start's namespaces: %v", err)
	}
}

// Events that race with Updates are each handled with one configuration,
// old or new, never part of each: under config A the sender and the
// observer both receive an event (route namespace, echo); under B neither
// does (route rooms, the sender in no room, no echo). A mix of route and
// echo would give one of them the event without the other.
func TestUpdateConcurrent(t *testing.T) {
	cfgA := relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteNamespace, Echo: true}}, Logger: quiet}
	cfgB := relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteRooms}}, Logger: quiet}
	w, r := newRelayWorld(t, cfgA)
	const senders, events = 4, 100
	from := w.dialN("/", senders)
	observer := w.dial("/")

	stop := make(chan struct{})
	updated := make(chan int)
	go func() {
		n := 0
		for {
			select {
			case <-stop:
				updated <- n
				return
			default:
			}
			cfg := cfgB
			if n%2 == 1 {
				cfg = cfgA
			}
			if err := r.Update(cfg); err != nil {
				t.Errorf("Update: %v", err)
			}
			n++
		}
	}()
	var wg sync.WaitGroup
	for i, p := range from {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range events {
				pkt, err := p.c.EmitWithAck("/", "chat", fmt.Sprintf("%d-%d", i, j))
				if err != nil {
					t.Errorf("sender %d, event %d: %v", i, j, err)
					return
				}
				if pkt.Text != fmt.Sprintf(`43%d[{"ok":true}]`, pkt.ID) {
					t.Errorf("sender %d, event %d: ack %s", i, j, pkt.Text)
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	t.Logf("%d updates during %d events", <-updated, senders*events)
	if t.Failed() {
		return
	}

	w.mark("/")
	// received[p] holds the payloads p received.
	received := func(p *peer) map[string]bool {
		got := make(map[string]bool)
		for _, pkt := range p.before() {
			got[pkt.Str(0)] = true
		}
		return got
	}
	seen := received(observer)
	for i, p := range from {
		own := received(p)
		for j := range events {
			payload := fmt.Sprintf("%d-%d", i, j)
			if own[payload] != seen[payload] {
				t.Errorf("event %s: the sender received it %v, the observer %v", payload, own[payload], seen[payload])
			}
		}
	}
}

// Fail answers {ok: false, error} once, only when the client asked for an
// ack, and a hook that uses it keeps the relay from answering again.
func TestFail(t *testing.T) {
	hooks := &hub.Hooks{Event: func(ev *hub.Event) error {
		switch ev.Name {
		case "refused":
			relay.Fail(ev, "not here")
			return hub.ErrDrop
		case "answered":
			_ = ev.Ack("first")
			relay.Fail(ev, "second")
		case "failed-then-relayed":
			relay.Fail(ev, "relayed anyway")
		}
		return nil
	}}
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteNamespace}}}, hooks)
	a, b := w.dial("/"), w.dial("/")
	if got := a.ack("refused"); string(got.raw) != `{"ok":false,"error":"not here"}` {
		t.Errorf("refused: ack %s", got.raw)
	}
	pkt, err := a.c.EmitWithAck("/", "answered")
	if err != nil || pkt.Text != fmt.Sprintf(`43%d["first"]`, pkt.ID) {
		t.Errorf("answered: ack %v, %v", pkt, err)
	}
	if got := a.ack("failed-then-relayed"); string(got.raw) != `{"ok":false,"error":"relayed anyway"}` {
		t.Errorf("failed-then-relayed: ack %s", got.raw)
	}
	if err := a.c.Emit("/", "refused"); err != nil {
		t.Fatal(err)
	}
	a.sync()
	a.noAcks()
	w.mark("/")
	if got := b.got(); !slices.Equal(got, []string{`42["answered"]`, `42["failed-then-relayed"]`}) {
		t.Errorf("b received %q", got)
	}
}
