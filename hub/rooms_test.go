package hub_test

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// roomServer answers "join" and "leave" (room names as arguments) with an
// ack once done, and joins the rooms listed in the auth's "rooms", then
// runs setup, then emits "ready" (the connection listeners run after the
// CONNECT reply). Clients connect with roomConnect.
func roomServer(t *testing.T, opts hub.Options, setup ...func(*hub.Socket)) (*hub.Server, string) {
	t.Helper()
	srv, url := hubServer(t, opts)
	srv.OnConnection(func(s *hub.Socket) {
		var auth struct{ Rooms []string }
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		if len(auth.Rooms) > 0 {
			_ = s.Join(auth.Rooms...)
		}
		s.On("join", func(ev *hub.Event) {
			var rooms []string
			_ = json.Unmarshal(ev.Args.JSON(), &rooms)
			err := s.Join(rooms...)
			_ = ev.Ack(errString(err))
		})
		s.On("leave", func(ev *hub.Event) {
			var rooms []string
			_ = json.Unmarshal(ev.Args.JSON(), &rooms)
			err := s.Leave(rooms...)
			_ = ev.Ack(errString(err))
		})
		for _, fn := range setup {
			fn(s)
		}
		_ = s.Emit("ready")
	})
	return srv, url
}

// roomConnect connects c to a roomServer's "/" and waits until the server
// is done with the socket's connection.
func roomConnect(t *testing.T, c *testclient.Client, auth any) string {
	t.Helper()
	id := hubConnect(t, c, "/", auth)
	if _, err := c.WaitEvent("/", "ready", testWait); err != nil {
		t.Fatalf("ready: %v", err)
	}
	return id
}

func errString(err error) any {
	if err == nil {
		return nil
	}
	return err.Error()
}

// call emits event with string arguments and waits for the ack.
func call(t *testing.T, c *testclient.Client, nsp, event string, args ...string) *testclient.Packet {
	t.Helper()
	list := make([]any, len(args))
	for i, a := range args {
		list[i] = a
	}
	p, err := c.EmitWithAck(nsp, event, list...)
	if err != nil {
		t.Fatalf("%s %v: %v", event, args, err)
	}
	return p
}

func TestJoinLeaveRooms(t *testing.T) {
	srv, url := roomServer(t, hub.Options{})
	nsp := srv.Of("/")
	c := hubDial(t, url)
	id := roomConnect(t, c, nil)
	s := hubSocket(t, nsp, id)
	if got := s.Rooms(); !slices.Equal(got, []string{id}) || !s.In(id) {
		t.Errorf("new socket rooms = %q, want its own room", got)
	}
	if got := s.JoinedRooms(); got == nil || len(got) != 0 {
		t.Errorf("new socket JoinedRooms() = %#v, want an empty list", got)
	}
	call(t, c, "/", "join", "b", "a", "b")
	want := []string{"a", "b", id}
	slices.Sort(want)
	if got := s.Rooms(); !slices.Equal(got, want) {
		t.Errorf("Rooms() = %q, want %q", got, want)
	}
	// JoinedRooms is made again after a change, then shared until the next.
	joined := s.JoinedRooms()
	if !slices.Equal(joined, []string{"a", "b"}) {
		t.Errorf("JoinedRooms() = %q, want [a b]", joined)
	}
	if again := s.JoinedRooms(); &again[0] != &joined[0] {
		t.Error("JoinedRooms made a new list with no change to the rooms")
	}
	if cap(joined) != len(joined) {
		t.Errorf("JoinedRooms cap %d: an append by a caller would write into the shared array", cap(joined))
	}
	if !s.In("a") || !s.In("b") || s.In("c") {
		t.Errorf("In: a %v b %v c %v", s.In("a"), s.In("b"), s.In("c"))
	}
	// Leaving a room the socket is not in is fine.
	if p := call(t, c, "/", "leave", "a", "not-joined"); p.Text != `431[null]` {
		t.Errorf("leave ack = %s", p.Text)
	}
	want = []string{"b", id}
	slices.Sort(want)
	if got := s.Rooms(); !slices.Equal(got, want) {
		t.Errorf("after leave: Rooms() = %q, want %q", got, want)
	}
	if got := s.JoinedRooms(); !slices.Equal(got, []string{"b"}) || !slices.Equal(joined, []string{"a", "b"}) {
		t.Errorf("after leave: JoinedRooms() = %q (the list before: %q), want [b] ([a b])", got, joined)
	}
	rooms, err := nsp.Rooms(t.Context())
	if err != nil || !slices.Equal(rooms, want) {
		t.Errorf("Namespace.Rooms = %q, %v; want %q", rooms, err, want)
	}
	// A socket can leave its own room (and is then unreachable by id).
	call(t, c, "/", "leave", id)
	if s.In(id) {
		t.Error("still in its own room")
	}
	if err := srv.To(id).Emit("by-id"); err != nil {
		t.Fatal(err)
	}
	_ = s.Emit("direct")
	if p := nextEvent(t, c, "/"); p.Event != "direct" {
		t.Errorf("got %s, want the direct emit only", p.Text)
	}
}

// Rooms are left on disconnect; nothing is left in the adapter.
func TestRoomsLeftOnDisconnect(t *testing.T) {
	var leaving strLog
	srv, url := roomServer(t, hub.Options{}, func(s *hub.Socket) {
		s.OnDisconnecting(func(hub.DisconnectReason) { leaving.add(strings.Join(s.Rooms(), ",")) })
		s.OnDisconnect(func(hub.DisconnectReason) { leaving.add("after:" + strings.Join(s.Rooms(), ",")) })
	})
	nsp := srv.Of("/")
	c := hubDial(t, url)
	id := roomConnect(t, c, map[string]any{"rooms": []string{"x", "y"}})
	c2 := hubDial(t, url)
	roomConnect(t, c2, map[string]any{"rooms": []string{"y"}})
	hubSocket(t, nsp, id)
	c.Close()
	got := leaving.waitLen(t, 2)
	want := []string{id, "x", "y"}
	slices.Sort(want)
	if got[0] != strings.Join(want, ",") || got[1] != "after:" {
		t.Errorf("rooms while disconnecting / after: %q", got)
	}
	c2.Close()
	waitUntil(t, func() bool {
		rooms, _ := nsp.Rooms(t.Context())
		return nsp.Len() == 0 && len(rooms) == 0 && len(nsp.Sockets()) == 0
	}, "namespace empty")
	if nsp.Socket(id) != nil {
		t.Error("Socket(id) still finds the socket")
	}
}

// The adapter reports create-room before the first join-room of a room,
// delete-room after its last leave-room, the socket's own room included.
func TestRoomEvents(t *testing.T) {
	srv, url := roomServer(t, hub.Options{})
	nsp := srv.Of("/")
	var rec strLog
	nsp.SetRoomEvents(hub.RoomEvents{
		CreateRoom: func(room string) { rec.add("create " + room) },
		DeleteRoom: func(room string) { rec.add("delete " + room) },
		JoinRoom:   func(room, id string) { rec.add("join " + room + " " + id) },
		LeaveRoom:  func(room, id string) { rec.add("leave " + room + " " + id) },
	})
	expect := func(what string, want ...string) {
		t.Helper()
		got := rec.get()
		if !slices.Equal(got, want) {
			t.Errorf("%s: events\n %q\nwant\n %q", what, got, want)
		}
		rec.reset()
	}
	a := hubDial(t, url)
	idA := roomConnect(t, a, nil)
	rec.waitLen(t, 2)
	expect("connect A", "create "+idA, "join "+idA+" "+idA)

	call(t, a, "/", "join", "r")
	expect("A joins r", "create r", "join r "+idA)
	call(t, a, "/", "join", "r")
	expect("A joins r again")

	b := hubDial(t, url)
	idB := roomConnect(t, b, nil)
	rec.waitLen(t, 2)
	expect("connect B", "create "+idB, "join "+idB+" "+idB)
	call(t, b, "/", "join", "r", "s")
	expect("B joins r and s", "join r "+idB, "create s", "join s "+idB)

	call(t, a, "/", "leave", "r", "nope")
	expect("A leaves r", "leave r "+idA)
	call(t, b, "/", "leave", "r")
	expect("B leaves r", "leave r "+idB, "delete r")

	if err := srv.In(idB).SocketsJoin("z"); err != nil {
		t.Fatal(err)
	}
	expect("SocketsJoin", "create z", "join z "+idB)
	if err := srv.In("z").SocketsLeave("z"); err != nil {
		t.Fatal(err)
	}
	expect("SocketsLeave", "leave z "+idB, "delete z")

	// On disconnect every room is left: per room, leave then delete.
	// (Across rooms it goes in join order, as the reference's: see
	// TestLeaveRoomOrderOnDisconnect.)
	b.Close()
	got := rec.waitLen(t, 4)
	rec.reset()
	byRoom := map[string][]string{}
	for _, e := range got {
		f := strings.Fields(e)
		byRoom[f[1]] = append(byRoom[f[1]], e)
	}
	wantByRoom := map[string][]string{
		idB: {"leave " + idB + " " + idB, "delete " + idB},
		"s": {"leave s " + idB, "delete s"},
	}
	if len(got) != 4 || len(byRoom) != 2 {
		t.Errorf("disconnect of B: %q", got)
	}
	for room, want := range wantByRoom {
		if !slices.Equal(byRoom[room], want) {
			t.Errorf("disconnect of B, room %s: %q, want %q", room, byRoom[room], want)
		}
	}
	// No listeners: nothing is reported, and nothing breaks.
	nsp.SetRoomEvents(hub.RoomEvents{})
	call(t, a, "/", "join", "quiet")
	if got := rec.get(); len(got) != 0 {
		t.Errorf("events without listeners: %q", got)
	}
}

// SocketsJoin, SocketsLeave and DisconnectSockets act on the targeted
// sockets: To/In rooms, minus Except.
func TestSocketsJoinLeaveDisconnect(t *testing.T) {
	reasons := newReasonLog()
	srv, url := roomServer(t, hub.Options{}, reasons.attach)
	nsp := srv.Of("/")
	type member struct {
		c  *testclient.Client
		id string
		s  *hub.Socket
	}
	mk := func(rooms ...string) member {
		c := hubDial(t, url)
		id := roomConnect(t, c, map[string]any{"rooms": rooms})
		return member{c, id, hubSocket(t, nsp, id)}
	}
	a, b, c, d := mk("red"), mk("red", "blue"), mk("blue"), mk()
	roomsOf := func(m member) string {
		return strings.Join(slices.DeleteFunc(m.s.Rooms(), func(r string) bool { return r == m.id }), ",")
	}
	check := func(what string, want ...string) {
		t.Helper()
		for i, m := range []member{a, b, c, d} {
			if got := roomsOf(m); got != want[i] {
				t.Errorf("%s: socket %c rooms %q, want %q", what, 'A'+i, got, want[i])
			}
		}
	}
	check("start", "red", "blue,red", "blue", "")

	if err := srv.In("red").Except("blue").SocketsJoin("green", "pink"); err != nil {
		t.Fatal(err)
	}
	check("In(red).Except(blue).SocketsJoin", "green,pink,red", "blue,red", "blue", "")
	if err := nsp.To("blue", "red").SocketsJoin("purple"); err != nil {
		t.Fatal(err)
	}
	check("To(blue, red).SocketsJoin", "green,pink,purple,red", "blue,purple,red", "blue,purple", "")
	if err := srv.Except("purple").SocketsJoin("alone"); err != nil {
		t.Fatal(err)
	}
	check("Except(purple).SocketsJoin", "green,pink,purple,red", "blue,purple,red", "blue,purple", "alone")
	if err := srv.SocketsLeave("purple", "pink"); err != nil {
		t.Fatal(err)
	}
	check("SocketsLeave", "green,red", "blue,red", "blue", "alone")
	if err := srv.In(b.id).SocketsLeave("red"); err != nil {
		t.Fatal(err)
	}
	check("In(id).SocketsLeave", "green,red", "blue", "blue", "alone")

	// A namespace disconnect: the client is told, the connection stays.
	if err := srv.In("green").DisconnectSockets(false); err != nil {
		t.Fatal(err)
	}
	if p := nextAny(t, a.c); p.Text != "41" {
		t.Errorf("A got %s, want 41", p.Text)
	}
	if r := reasons.waitFor(t, a.id); r != hub.ReasonServerNamespaceDisconnect {
		t.Errorf("A's reason = %q", r)
	}
	idA2 := roomConnect(t, a.c, nil)
	hubSocket(t, nsp, idA2)

	// Closing: Except(blue) is the new A and D; B and C stay.
	if err := srv.Except("blue").DisconnectSockets(true); err != nil {
		t.Fatal(err)
	}
	for _, m := range []member{a, d} {
		if err := m.c.WaitClosed(testWait); err != nil {
			t.Error(err)
		}
	}
	if r := reasons.waitFor(t, d.id); r != hub.ReasonServerNamespaceDisconnect {
		t.Errorf("D's reason = %q", r)
	}
	waitUntil(t, func() bool { return nsp.Len() == 2 }, "two sockets left (have %d)", nsp.Len())
	for _, m := range []member{b, c} {
		if !m.s.Connected() {
			t.Errorf("socket %s disconnected", m.id)
		}
	}
}

// FetchSockets describes the targeted sockets: id, rooms, data as JSON and
// handshake; a RemoteSocket acts on its socket.
func TestFetchSockets(t *testing.T) {
	srv, url := roomServer(t, hub.Options{}, func(s *hub.Socket) {
		var auth struct{ Name string }
		_ = json.Unmarshal(s.Handshake().Auth, &auth)
		switch auth.Name {
		case "a":
			s.SetData(map[string]any{"name": "a", "n": 1, "html": "<&>"})
		case "b":
			s.SetData(json.RawMessage(`{"raw": true}`))
		case "c":
			s.SetData(func() {}) // cannot be marshalled
		}
	})
	nsp := srv.Of("/")
	ca := hubDial(t, url)
	idA := roomConnect(t, ca, map[string]any{"name": "a", "rooms": []string{"room"}})
	cb := hubDial(t, url)
	idB := roomConnect(t, cb, map[string]any{"name": "b"})
	cc := hubDial(t, url)
	idC := roomConnect(t, cc, map[string]any{"name": "c", "rooms": []string{"room"}})
	cd := hubDial(t, url)
	idD := roomConnect(t, cd, map[string]any{"name": "d"})

	all, err := srv.FetchSockets(t.Context())
	if err != nil || len(all) != 4 {
		t.Fatalf("FetchSockets = %d sockets, %v", len(all), err)
	}
	byID := map[string]*hub.RemoteSocket{}
	for _, r := range all {
		byID[r.ID] = r
	}
	wantData := map[string]string{idA: `{"html":"<&>","n":1,"name":"a"}`, idB: `{"raw": true}`, idC: `{}`, idD: `{}`} // unset data is {}, as Node's
	for id, want := range wantData {
		r := byID[id]
		if r == nil {
			t.Fatalf("socket %s missing", id)
		}
		if !sameJSON(r.Data, want) {
			t.Errorf("%s: Data = %s, want %s", id, r.Data, want)
		}
		if s := nsp.Socket(id); !slices.Equal(r.Rooms, s.Rooms()) || string(r.Handshake.Auth) != string(s.Handshake().Auth) {
			t.Errorf("%s: Rooms %q Auth %s", id, r.Rooms, r.Handshake.Auth)
		}
	}
	if !strings.Contains(string(byID[idA].Handshake.Auth), `"name":"a"`) || byID[idA].Handshake.Address != "127.0.0.1" {
		t.Errorf("handshake = %+v", byID[idA].Handshake)
	}
	// JSON form, as cluster requests carry it.
	b, _ := json.Marshal(byID[idA])
	var j map[string]json.RawMessage
	if err := json.Unmarshal(b, &j); err != nil || len(j) != 4 || string(j["id"]) != `"`+idA+`"` || !sameJSON(j["data"], wantData[idA]) {
		t.Errorf("RemoteSocket JSON = %s", b)
	}

	in, _ := srv.In("room").Except(idC).FetchSockets(t.Context())
	if len(in) != 1 || in[0].ID != idA {
		t.Errorf("In(room).Except(C) = %v", in)
	}
	want := []string{idA, "room"}
	slices.Sort(want)
	if !slices.Equal(in[0].Rooms, want) {
		t.Errorf("rooms = %q, want %q", in[0].Rooms, want)
	}

	r := in[0]
	if err := r.Emit("remote", 1); err != nil {
		t.Fatal(err)
	}
	if p := nextEvent(t, ca, "/"); p.Text != `42["remote",1]` {
		t.Errorf("RemoteSocket.Emit: got %s", p.Text)
	}
	_ = r.Join("extra")
	_ = r.Leave("room")
	if s := nsp.Socket(idA); !s.In("extra") || s.In("room") {
		t.Errorf("after RemoteSocket Join/Leave: %q", s.Rooms())
	}
	_ = r.Disconnect(false)
	if p := nextAny(t, ca); p.Text != "41" {
		t.Errorf("RemoteSocket.Disconnect: got %s", p.Text)
	}
	waitUntil(t, func() bool { return nsp.Socket(idA) == nil }, "socket A gone")
	if none, err := srv.In("nobody").FetchSockets(t.Context()); err != nil || len(none) != 0 {
		t.Errorf("In(nobody) = %v, %v", none, err)
	}
}

// sameJSON reports whether got holds the JSON value want ("" for none).
// encoding/json escapes <, > and & where JSON.stringify does not; both
// read back the same.
func sameJSON(got json.RawMessage, want string) bool {
	if want == "" {
		return len(got) == 0
	}
	var g, w any
	if json.Unmarshal(got, &g) != nil || json.Unmarshal([]byte(want), &w) != nil {
		return false
	}
	gb, _ := json.Marshal(g)
	wb, _ := json.Marshal(w)
	return string(gb) == string(wb)
}

func TestMemoryAdapterHasRoom(t *testing.T) {
	var a hub.LocalAdapter // the main namespace's, as a cluster adapter has it
	_, url := roomServer(t, hub.Options{Adapter: func(n *hub.Namespace, l hub.LocalAdapter) (hub.Adapter, error) {
		if n.Name() == "/" {
			a = l
		}
		return l, nil
	}})
	c := hubDial(t, url)
	id := roomConnect(t, c, map[string]any{"Rooms": []string{"r1"}})
	if !a.HasRoom("r1") || !a.HasRoom(id) {
		t.Errorf("HasRoom(r1)=%v HasRoom(own id)=%v, want both true", a.HasRoom("r1"), a.HasRoom(id))
	}
	if a.HasRoom("r2") || a.HasRoom("nobody-has-this-id") {
		t.Error("HasRoom is true for a room with no member")
	}
	call(t, c, "/", "leave", "r1")
	if a.HasRoom("r1") {
		t.Error("HasRoom(r1) after the only member left")
	}
}
