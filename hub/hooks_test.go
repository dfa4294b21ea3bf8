package hub_test

import (
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// The connect hook runs after the middlewares; its error refuses the
// socket like a middleware's, with the same CONNECT_ERROR payload.
func TestConnectHookDeny(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var rec strLog
	srv.Use(func(*hub.Socket) error { rec.add("middleware"); return nil })
	srv.OnConnection(func(*hub.Socket) { rec.add("connection") })
	srv.SetHooks(&hub.Hooks{Connect: func(s *hub.Socket) error {
		rec.add("hook")
		_ = s.Join("joined-before-refusal")
		var auth struct{ Token string }
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		switch auth.Token {
		case "plain":
			return errors.New("denied")
		case "data":
			return &hub.ConnectError{Message: "banned", Data: map[string]any{"until": "never"}}
		}
		return nil
	}})
	c := hubDial(t, url)
	for token, want := range map[string]string{
		"plain": `{"message":"denied"}`,
		"data":  `{"message":"banned","data":{"until":"never"}}`,
	} {
		_, err := c.Connect("/", map[string]string{"token": token})
		var refused *testclient.ConnectRefused
		if !errors.As(err, &refused) || string(refused.Payload) != want {
			t.Errorf("token %s: %v, want connect_error %s", token, err, want)
		}
	}
	if got := rec.get(); !slices.Equal(got, []string{"middleware", "hook", "middleware", "hook"}) {
		t.Errorf("ran %q", got)
	}
	if srv.Of("/").Len() != 0 {
		t.Errorf("Len = %d", srv.Of("/").Len())
	}
	rooms, _ := srv.Of("/").Rooms(t.Context())
	if len(rooms) != 0 {
		t.Errorf("rooms after refusals: %q", rooms)
	}
	// The connection is still usable.
	rec.reset()
	id := hubConnect(t, c, "/", map[string]string{"token": "ok"})
	if got := rec.waitLen(t, 3); !slices.Equal(got, []string{"middleware", "hook", "connection"}) {
		t.Errorf("ran %q", got)
	}
	rooms, _ = srv.Of("/").Rooms(t.Context())
	want := []string{id, "joined-before-refusal"}
	slices.Sort(want)
	if !slices.Equal(rooms, want) {
		t.Errorf("rooms = %q, want %q", rooms, want)
	}
}

// What the connect hook attaches (data, rooms) is there for the
// connection listeners and for FetchSockets; the join hook applies to the
// connect hook's joins.
func TestConnectHookDataAndRooms(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	seen := make(chan string, 1)
	srv.SetHooks(&hub.Hooks{
		Connect: func(s *hub.Socket) error {
			s.SetData(map[string]any{"user": "ann"})
			return s.Join("vip", "hook-room")
		},
		Join: func(s *hub.Socket, rooms []string) ([]string, error) {
			return append(rooms, "joined-by-hook"), nil
		},
	})
	srv.OnConnection(func(s *hub.Socket) {
		d, _ := json.Marshal(s.Data())
		seen <- string(d) + " " + strings.Join(s.Rooms(), ",")
	})
	c := hubDial(t, url)
	id := hubConnect(t, c, "/", nil)
	want := []string{id, "hook-room", "joined-by-hook", "vip"}
	slices.Sort(want)
	if got := <-seen; got != `{"user":"ann"} `+strings.Join(want, ",") {
		t.Errorf("listener saw %s", got)
	}
	rs, _ := srv.In("vip").FetchSockets(t.Context())
	if len(rs) != 1 || rs[0].ID != id || string(rs[0].Data) != `{"user":"ann"}` || !slices.Equal(rs[0].Rooms, want) {
		t.Errorf("FetchSockets = %+v", rs)
	}
}

// The join hook may replace the rooms or refuse; the leave hook observes.
func TestJoinLeaveHooks(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var left strLog
	errFull := errors.New("room full")
	srv.SetHooks(&hub.Hooks{
		Join: func(s *hub.Socket, rooms []string) ([]string, error) {
			out := make([]string, 0, len(rooms))
			for _, r := range rooms {
				switch {
				case r == "full":
					return nil, errFull
				case strings.HasPrefix(r, "alias:"):
					out = append(out, strings.TrimPrefix(r, "alias:"))
				case r == "skip":
				default:
					out = append(out, r)
				}
			}
			return out, nil
		},
		Leave: func(s *hub.Socket, rooms []string) { left.add(strings.Join(rooms, ",")) },
	})
	c := hubDial(t, url)
	id := hubConnect(t, c, "/", nil)
	s := hubSocket(t, srv.Of("/"), id)
	others := func() []string {
		return slices.DeleteFunc(s.Rooms(), func(r string) bool { return r == id })
	}
	if err := s.Join("a", "alias:b", "skip"); err != nil {
		t.Fatal(err)
	}
	if got := others(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("rooms = %q, want [a b]", got)
	}
	if err := s.Join("c", "full"); !errors.Is(err, errFull) {
		t.Errorf("Join with full = %v", err)
	}
	if got := others(); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("refused join changed rooms: %q", got)
	}
	if err := s.Leave("a", "never-joined"); err != nil {
		t.Fatal(err)
	}
	if got := left.get(); !slices.Equal(got, []string{"a,never-joined"}) {
		t.Errorf("leave hook saw %q", got)
	}
	if got := others(); !slices.Equal(got, []string{"b"}) {
		t.Errorf("rooms after leave = %q", got)
	}
	// Server-side membership changes do not go through the socket hooks.
	_ = srv.In(id).SocketsJoin("full")
	_ = srv.In(id).SocketsLeave("b")
	if got := others(); !slices.Equal(got, []string{"full"}) || len(left.get()) != 1 {
		t.Errorf("SocketsJoin/Leave: rooms %q, leave hook %q", got, left.get())
	}
	// Removing the hooks restores plain joins.
	srv.SetHooks(nil)
	_ = s.Join("full", "alias:x")
	if got := others(); !slices.Equal(got, []string{"alias:x", "full"}) {
		t.Errorf("without hooks: %q", got)
	}
}

// The event hook runs before everything else: it may rename and rewrite
// the event, answer it, drop it (silently) or refuse it (to OnError).
func TestEventHook(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var rec strLog
	errDenied := errors.New("denied by hook")
	srv.SetHooks(&hub.Hooks{Event: func(ev *hub.Event) error {
		rec.add("hook " + ev.Name)
		switch ev.Name {
		case "old":
			ev.Name = "new"
			a, err := hub.NewArgs("rewritten", []byte{1})
			if err != nil {
				return err
			}
			ev.Args = a
		case "drop":
			return hub.ErrDrop
		case "deny":
			return errDenied
		case "answer":
			if err := ev.Ack("from hook"); err != nil {
				return err
			}
			return hub.ErrDrop
		case "answer-then-handler":
			return ev.Ack("hook first")
		}
		return nil
	}})
	srv.OnConnection(func(s *hub.Socket) {
		s.OnAny(func(ev *hub.Event) { rec.add("any " + ev.Name) })
		s.Use(func(ev *hub.Event) error { rec.add("mw " + ev.Name); return nil })
		s.OnError(func(err error) { rec.add("error " + err.Error()) })
		s.On("new", func(ev *hub.Event) {
			var b []byte
			var str string
			_ = ev.Args.Bind(&str, &b)
			rec.add("new " + str + " " + string(b[0]+'0'))
		})
		s.On("old", func(*hub.Event) { rec.add("old handler") })
		for _, name := range []string{"drop", "deny", "answer"} {
			s.On(name, func(*hub.Event) { rec.add("handler " + name) })
		}
		s.On("answer-then-handler", func(ev *hub.Event) {
			rec.add("handler acked=" + map[bool]string{true: "yes", false: "no"}[ev.Acked()])
			if err := ev.Ack("again"); !errors.Is(err, hub.ErrAcked) {
				t.Errorf("second ack: %v", err)
			}
		})
		s.On("end", func(*hub.Event) { rec.add("end") })
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	_ = c.Emit("/", "old", "x")
	_ = c.Emit("/", "drop")
	_ = c.Emit("/", "deny")
	p, err := c.EmitWithAck("/", "answer")
	if err != nil || p.Str(0) != "from hook" {
		t.Errorf("hook ack: %v %v", p, err)
	}
	p, err = c.EmitWithAck("/", "answer-then-handler")
	if err != nil || p.Str(0) != "hook first" {
		t.Errorf("hook ack: %v %v", p, err)
	}
	_ = c.Emit("/", "end")
	want := []string{
		"hook old", "any new", "mw new", "new rewritten 1",
		"hook drop",
		"hook deny", "error denied by hook",
		"hook answer",
		"hook answer-then-handler", "any answer-then-handler", "mw answer-then-handler", "handler acked=yes",
		"hook end", "any end", "mw end", "end",
	}
	if got := rec.waitLen(t, len(want)); !slices.Equal(got, want) {
		t.Errorf("got\n %q\nwant\n %q", got, want)
	}
	// Only one ack went out per event.
	if extra := c.Pending(); len(extra) != 0 {
		t.Errorf("extra packets %q", pktTexts(extra))
	}
}

// The disconnect hook sees the reason while the socket is still in its
// rooms: after the disconnecting listeners, before the disconnect ones.
func TestDisconnectHook(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var rec strLog
	srv.SetHooks(&hub.Hooks{Disconnect: func(s *hub.Socket, reason hub.DisconnectReason) {
		rooms := slices.DeleteFunc(s.Rooms(), func(r string) bool { return r == s.ID() })
		n := srv.Of("/").Len()
		rec.add("hook " + string(reason) + " " + strings.Join(rooms, ",") + " in-own-room=" + boolStr(s.In(s.ID())) + " len=" + itoa(int64(n)))
	}})
	srv.OnConnection(func(s *hub.Socket) {
		_ = s.Join("room")
		s.OnDisconnecting(func(r hub.DisconnectReason) { rec.add("disconnecting " + string(r)) })
		s.OnDisconnect(func(r hub.DisconnectReason) { rec.add("disconnect " + string(r) + " " + strings.Join(s.Rooms(), ",")) })
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	_ = c.Disconnect("/")
	want := []string{
		"disconnecting client namespace disconnect",
		"hook client namespace disconnect room in-own-room=yes len=1",
		"disconnect client namespace disconnect ",
	}
	if got := rec.waitLen(t, 3); !slices.Equal(got, want) {
		t.Errorf("got\n %q\nwant\n %q", got, want)
	}
	rec.reset()
	hubConnect(t, c, "/", nil)
	c.Close()
	if got := rec.waitLen(t, 3); got[1] != "hook transport close room in-own-room=yes len=1" {
		t.Errorf("got %q", got)
	}
}

func boolStr(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
