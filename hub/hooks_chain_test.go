package hub_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hubd/hubd/hub"
)

// ChainHooks runs the sets in order: Connect and Event stop at the first
// error (ErrDrop included), Join passes the rooms along, Leave and
// Disconnect run every set's; nil sets and nil fields are skipped.
func TestChainHooks(t *testing.T) {
	var calls []string
	refuse := errors.New("refused by b")
	a := &hub.Hooks{
		Connect: func(*hub.Socket) error { calls = append(calls, "a connect"); return nil },
		Join: func(_ *hub.Socket, rooms []string) ([]string, error) {
			calls = append(calls, "a join")
			return append(rooms, "from-a"), nil
		},
		Event: func(ev *hub.Event) error {
			calls = append(calls, "a event "+ev.Name)
			if ev.Name == "secret" {
				return hub.ErrDrop
			}
			ev.Name = "renamed-by-a"
			return nil
		},
		Disconnect: func(*hub.Socket, hub.DisconnectReason) { calls = append(calls, "a disconnect") },
	}
	b := &hub.Hooks{
		Connect: func(*hub.Socket) error { calls = append(calls, "b connect"); return refuse },
		Join: func(_ *hub.Socket, rooms []string) ([]string, error) {
			calls = append(calls, "b join "+strings.Join(rooms, ","))
			if slices.Contains(rooms, "forbidden") {
				return nil, refuse
			}
			return append(rooms, "from-b"), nil
		},
		Leave:      func(_ *hub.Socket, rooms []string) { calls = append(calls, "b leave "+strings.Join(rooms, ",")) },
		Event:      func(ev *hub.Event) error { calls = append(calls, "b event "+ev.Name); return nil },
		Disconnect: func(*hub.Socket, hub.DisconnectReason) { calls = append(calls, "b disconnect") },
	}
	c := &hub.Hooks{
		Connect: func(*hub.Socket) error { calls = append(calls, "c connect"); return nil },
		Leave:   func(_ *hub.Socket, rooms []string) { calls = append(calls, "c leave "+strings.Join(rooms, ",")) },
	}
	h := hub.ChainHooks(nil, a, b, &hub.Hooks{}, c)
	expect := func(what string, want ...string) {
		t.Helper()
		if !slices.Equal(calls, want) {
			t.Errorf("%s: calls\n %q\nwant\n %q", what, calls, want)
		}
		calls = nil
	}

	if err := h.Connect(nil); err != refuse {
		t.Errorf("Connect = %v, want b's error", err)
	}
	expect("connect", "a connect", "b connect")

	rooms, err := h.Join(nil, []string{"r"})
	if err != nil || !slices.Equal(rooms, []string{"r", "from-a", "from-b"}) {
		t.Errorf("Join = %q, %v", rooms, err)
	}
	expect("join", "a join", "b join r,from-a")
	if rooms, err := h.Join(nil, []string{"forbidden"}); err != refuse || rooms != nil {
		t.Errorf("refused Join = %q, %v", rooms, err)
	}
	expect("refused join", "a join", "b join forbidden,from-a")

	h.Leave(nil, []string{"r"})
	expect("leave", "b leave r", "c leave r")

	ev := &hub.Event{Name: "chat"}
	if err := h.Event(ev); err != nil || ev.Name != "renamed-by-a" {
		t.Errorf("Event = %v, name %q", err, ev.Name)
	}
	expect("event", "a event chat", "b event renamed-by-a")
	if err := h.Event(&hub.Event{Name: "secret"}); err != hub.ErrDrop {
		t.Errorf("dropped Event = %v, want ErrDrop", err)
	}
	expect("dropped event", "a event secret")

	h.Disconnect(nil, hub.ReasonClientNamespaceDisconnect)
	expect("disconnect", "a disconnect", "b disconnect")

	// A kind no set has stays nil; no set at all is nil; one set is itself.
	if only := hub.ChainHooks(c, nil, &hub.Hooks{Leave: c.Leave}); only.Join != nil || only.Event != nil || only.Disconnect != nil {
		t.Error("a kind no set has is not nil")
	}
	if hub.ChainHooks() != nil || hub.ChainHooks(nil, nil) != nil {
		t.Error("ChainHooks of no set is not nil")
	}
	if hub.ChainHooks(nil, a) != a {
		t.Error("ChainHooks of one set is not that set")
	}
}

// Installed on a server, the chained Join hooks decide together which
// rooms a socket joins.
func TestChainHooksOnServer(t *testing.T) {
	srv, url := roomServer(t, hub.Options{})
	add := func(room string) *hub.Hooks {
		return &hub.Hooks{Join: func(_ *hub.Socket, rooms []string) ([]string, error) {
			return append(rooms, room), nil
		}}
	}
	srv.SetHooks(hub.ChainHooks(add("first"), add("second")))
	c := hubDial(t, url)
	id := roomConnect(t, c, nil)
	call(t, c, "/", "join", "asked")
	s := hubSocket(t, srv.Of("/"), id)
	want := []string{"asked", "first", "second", id}
	slices.Sort(want)
	if got := s.Rooms(); !slices.Equal(got, want) {
		t.Errorf("rooms %q, want %q", got, want)
	}
}
