package relay_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

// With presence on, a room's other members hear of each socket that joins
// it with hub:join, leaves it with hub:leave or disconnects, with the
// socket's data; the socket itself, and sockets of other rooms, hear
// nothing, and rooms already joined or never joined are not announced.
func TestPresence(t *testing.T) {
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Presence: true}}}, nil)
	w.srv.Use(func(s *hub.Socket) error {
		s.SetData(map[string]any{"name": "user" + fmt.Sprint(len(s.ID()))})
		return nil
	})
	a, b, c := w.dial("/"), w.dial("/"), w.dial("/")
	a.join("lobby")
	c.join("elsewhere")
	b.join("lobby", "elsewhere")
	b.join("lobby")         // already in: no second notice
	b.ack("hub:leave", "x") // never joined: no notice
	b.ack("hub:leave", "elsewhere")
	w.mark("/")
	joinedLobby := fmt.Sprintf(`42["hub:joined",{"room":"lobby","id":"%s","data":{"name":"user%d"}}]`, b.id, len(b.id))
	joinedElsewhere := fmt.Sprintf(`42["hub:joined",{"room":"elsewhere","id":"%s","data":{"name":"user%d"}}]`, b.id, len(b.id))
	leftElsewhere := fmt.Sprintf(`42["hub:left",{"room":"elsewhere","id":"%s","data":{"name":"user%d"}}]`, b.id, len(b.id))
	if got, want := a.got(), []string{joinedLobby}; !slices.Equal(got, want) {
		t.Errorf("a received %q, want %q", got, want)
	}
	if got, want := c.got(), []string{joinedElsewhere, leftElsewhere}; !slices.Equal(got, want) {
		t.Errorf("c received %q, want %q", got, want)
	}
	if got := b.got(); len(got) != 0 {
		t.Errorf("b, the one joining, received %q", got)
	}

	// A disconnect is a leave of every room.
	if err := b.c.Close(); err != nil {
		t.Fatal(err)
	}
	pkt, err := a.c.WaitEvent("/", relay.EventLeft, wait)
	if err != nil {
		t.Fatalf("a waiting for b's leave: %v", err)
	}
	want := fmt.Sprintf(`42["hub:left",{"room":"lobby","id":"%s","data":{"name":"user%d"}}]`, b.id, len(b.id))
	if pkt.Text != want {
		t.Errorf("a received %s, want %s", pkt.Text, want)
	}
	w.mark("/")
	if got := c.got(); len(got) != 0 {
		t.Errorf("c, no longer sharing a room with b, received %q", got)
	}
}

// Without presence (the default) nothing is announced.
func TestPresenceOff(t *testing.T) {
	w := newWorld(t, relay.Config{}, nil)
	a, b := w.dial("/"), w.dial("/")
	a.join("lobby")
	b.join("lobby")
	b.ack("hub:leave", "lobby")
	w.mark("/")
	if got := a.got(); len(got) != 0 {
		t.Errorf("a received %q, want nothing", got)
	}
}

// AnnounceLeft gives the presence notice for rooms left otherwise than by
// hub:leave, where presence is on, and nothing where it is off.
func TestAnnounceLeft(t *testing.T) {
	srv := hub.New(hub.Options{})
	r, err := relay.New(srv, relay.Config{Logger: quiet, Namespaces: []relay.Namespace{
		{Name: "/", Presence: true}, {Pattern: `/quiet-\d+`}}})
	if err != nil {
		t.Fatal(err)
	}
	w := serve(t, srv)
	a, b := w.dial("/"), w.dial("/")
	a.join("lobby")
	b.join("lobby")
	bs := srv.Of("/").Socket(b.id)
	if bs == nil {
		t.Fatal("b's socket is not found")
	}
	_ = bs.Leave("lobby")
	r.AnnounceLeft(bs, []string{"lobby"})
	pkt, err := a.c.WaitEvent("/", relay.EventLeft, wait)
	if err != nil {
		t.Fatalf("a waiting for b's leave: %v", err)
	}
	if want := fmt.Sprintf(`42["hub:left",{"room":"lobby","id":"%s","data":null}]`, b.id); pkt.Text != want {
		t.Errorf("a received %s, want %s", pkt.Text, want)
	}

	q1, q2 := w.dial("/quiet-1"), w.dial("/quiet-1")
	q1.join("r")
	q2.join("r")
	qs := srv.Of("/quiet-1").Socket(q2.id)
	_ = qs.Leave("r")
	r.AnnounceLeft(qs, []string{"r"})
	w.mark("/quiet-1")
	if got := q1.got(); len(got) != 0 {
		t.Errorf("q1, without presence, received %q", got)
	}
}
