package relay_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/relay"
)

func TestJoinOne(t *testing.T) {
	w := newWorld(t, relay.Config{}, nil)
	a := w.dial("/")
	if got := a.ack("hub:join", "b"); !got.OK || !slices.Equal(got.Rooms, []string{"b"}) {
		t.Fatalf("join b: %s", got.raw)
	}
	if got := a.ack("hub:join", "a"); !got.OK || !slices.Equal(got.Rooms, []string{"a", "b"}) {
		t.Fatalf("join a: %s, want rooms [a b]", got.raw)
	}
	// Joining again changes nothing.
	if got := a.ack("hub:join", "a"); !got.OK || !slices.Equal(got.Rooms, []string{"a", "b"}) {
		t.Fatalf("join a again: %s", got.raw)
	}
	if got := w.roomsOf(a); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("server sees rooms %q", got)
	}
}

func TestJoinList(t *testing.T) {
	w := newWorld(t, relay.Config{}, nil)
	a := w.dial("/")
	got := a.ack("hub:join", []string{"c", "a", "b", "a"})
	if !got.OK || !slices.Equal(got.Rooms, []string{"a", "b", "c"}) {
		t.Fatalf("join [c a b a]: %s", got.raw)
	}
	// An empty list changes nothing and tells the membership.
	got = a.ack("hub:join", []string{})
	if !got.OK || !slices.Equal(got.Rooms, []string{"a", "b", "c"}) {
		t.Fatalf("join []: %s", got.raw)
	}
	// Rooms is a list even when empty.
	b := w.dial("/")
	got = b.ack("hub:join", []string{})
	if !got.OK || string(got.raw) != `{"ok":true,"rooms":[]}` {
		t.Fatalf("join [] with no room: %s", got.raw)
	}
}

// The join hook sees the whole list in one call: refusing one room refuses
// them all.
func TestJoinAllOrNothing(t *testing.T) {
	var mu sync.Mutex
	var calls [][]string
	hooks := &hub.Hooks{Join: func(s *hub.Socket, rooms []string) ([]string, error) {
		mu.Lock()
		calls = append(calls, slices.Clone(rooms))
		mu.Unlock()
		if slices.Contains(rooms, "vault") {
			return nil, errors.New("vault is private")
		}
		return rooms, nil
	}}
	w := newWorld(t, relay.Config{}, hooks)
	a := w.dial("/")
	a.join("lobby")
	got := a.ack("hub:join", []string{"red", "vault", "blue"})
	if got.OK || got.Error != "vault is private" {
		t.Fatalf("join with a refused room: %s", got.raw)
	}
	if rooms := w.roomsOf(a); !slices.Equal(rooms, []string{"lobby"}) {
		t.Fatalf("after a refused join the socket is in %q, want [lobby]", rooms)
	}
	mu.Lock()
	seen := slices.Clone(calls)
	mu.Unlock()
	if n := len(seen); n != 2 || !slices.Equal(seen[1], []string{"red", "vault", "blue"}) {
		t.Fatalf("join hook calls %q, want [[lobby] [red vault blue]]", seen)
	}
	if got := a.ack("hub:join", "vault"); got.OK || got.Error != "vault is private" {
		t.Fatalf("join vault: %s", got.raw)
	}
}

// The join hook may replace the rooms; the ack tells what was joined.
func TestJoinHookReplaces(t *testing.T) {
	hooks := &hub.Hooks{Join: func(s *hub.Socket, rooms []string) ([]string, error) {
		out := make([]string, len(rooms))
		for i, r := range rooms {
			out[i] = "tenant1:" + r
		}
		return out, nil
	}}
	w := newWorld(t, relay.Config{}, hooks)
	a := w.dial("/")
	if got := a.join("x", "y"); !slices.Equal(got, []string{"tenant1:x", "tenant1:y"}) {
		t.Fatalf("rooms %q", got)
	}
}

func TestJoinInvalid(t *testing.T) {
	long := strings.Repeat("r", relay.DefaultMaxRoomName+1)
	many := make([]string, relay.DefaultMaxRoomsPerCall+1)
	for i := range many {
		many[i] = "room" + strings.Repeat("x", i)
	}
	tests := []struct {
		name string
		args []any
		want string
	}{
		{"no argument", nil, "hub:join needs a room name or a list of room names"},
		{"number", []any{42}, "room must be a string or a list of strings"},
		{"object", []any{map[string]any{"room": "a"}}, "room must be a string or a list of strings"},
		{"null", []any{nil}, "room must be a string or a list of strings"},
		{"bool", []any{true}, "room must be a string or a list of strings"},
		{"binary", []any{[]byte{1, 2}}, "room must be a string or a list of strings"},
		{"empty", []any{""}, "room name must not be empty"},
		{"too long", []any{long}, "room name is longer than 256 bytes"},
		{"number in list", []any{[]any{"a", 7}}, "rooms[1]: room name must be a string"},
		{"null in list", []any{[]any{nil}}, "rooms[0]: room name must be a string"},
		{"list in list", []any{[]any{"a", []any{"b"}}}, "rooms[1]: room name must be a string"},
		{"empty in list", []any{[]any{"a", "b", ""}}, "rooms[2]: room name must not be empty"},
		{"too long in list", []any{[]any{long}}, "rooms[0]: room name is longer than 256 bytes"},
		{"too many", []any{many}, "too many rooms: at most 100 in one call"},
	}
	w := newWorld(t, relay.Config{}, nil)
	a := w.dial("/")
	a.join("kept")
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			for _, cmd := range []string{"hub:join", "hub:leave"} {
				got := a.ack(cmd, tc.args...)
				want := tc.want
				if cmd == "hub:leave" {
					want = strings.Replace(want, "hub:join", "hub:leave", 1)
				}
				if got.OK || got.Error != want {
					t.Errorf("%s %s: %s, want error %q", cmd, tc.name, got.raw, want)
				}
			}
		})
	}
	if rooms := w.roomsOf(a); !slices.Equal(rooms, []string{"kept"}) {
		t.Fatalf("rooms after invalid commands: %q", rooms)
	}
	// Exactly at the limits is fine.
	if got := a.ack("hub:join", strings.Repeat("r", relay.DefaultMaxRoomName)); !got.OK {
		t.Fatalf("256-byte room: %s", got.raw)
	}
	if got := a.ack("hub:join", many[:relay.DefaultMaxRoomsPerCall]); !got.OK {
		t.Fatalf("100 rooms: %s", got.raw)
	}
}

func TestJoinLimits(t *testing.T) {
	w := newWorld(t, relay.Config{MaxRoomName: 3, MaxRoomsPerCall: 2, MaxRoomsPerSocket: 3}, nil)
	a := w.dial("/")
	if got := a.ack("hub:join", "abcd"); got.Error != "room name is longer than 3 bytes" {
		t.Fatalf("long name: %s", got.raw)
	}
	if got := a.ack("hub:join", []string{"a", "b", "c"}); got.Error != "too many rooms: at most 2 in one call" {
		t.Fatalf("3 in one call: %s", got.raw)
	}
	a.join("a", "b")
	a.join("c", "a") // a is already joined: 3 rooms in all
	if got := a.ack("hub:join", "d"); got.Error != "too many rooms: a socket may be in at most 3" {
		t.Fatalf("fourth room: %s", got.raw)
	}
	if rooms := w.roomsOf(a); !slices.Equal(rooms, []string{"a", "b", "c"}) {
		t.Fatalf("rooms %q", rooms)
	}
}

// No socket may join another socket's id room (nor its own: it is in it
// already and may not list it as a room it joined).
func TestJoinSocketIDRefused(t *testing.T) {
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/"}, {Name: "/other"}}}, nil)
	a, b := w.dial("/"), w.dial("/")
	elsewhere := w.dial("/other")
	tests := []struct {
		name string
		arg  any
		want string
	}{
		{"own id", a.id, "a socket id cannot be joined"},
		{"other socket's id", b.id, "a socket id cannot be joined"},
		{"id in a list", []string{"fine", b.id}, "rooms[1]: a socket id cannot be joined"},
		{"id after a duplicate", []string{"fine", "fine", a.id}, "rooms[2]: a socket id cannot be joined"},
	}
	for _, tc := range tests {
		if got := a.ack("hub:join", tc.arg); got.OK || got.Error != tc.want {
			t.Errorf("%s: %s, want error %q", tc.name, got.raw, tc.want)
		}
	}
	if rooms := w.roomsOf(a); len(rooms) != 0 {
		t.Fatalf("rooms after refused joins: %q", rooms)
	}
	// An id of another namespace names no socket here.
	if got := a.ack("hub:join", elsewhere.id); !got.OK {
		t.Fatalf("id of a socket of another namespace: %s", got.raw)
	}
	// b's private events stay private.
	if err := w.srv.To(b.id).Emit("private"); err != nil {
		t.Fatal(err)
	}
	w.mark("/")
	if got := a.got(); len(got) != 0 {
		t.Fatalf("a received %q", got)
	}
}

// clusterAdapter pretends that another node holds one socket, remoteID,
// in its own room.
type clusterAdapter struct {
	hub.LocalAdapter
	fetchErr error
	fetches  atomic.Int32 // FetchSockets calls: requests to the cluster
}

const remoteID = "Rem0te_Socket-Id0001"

func (a *clusterAdapter) FetchSockets(ctx context.Context, opts hub.BroadcastOptions) ([]*hub.RemoteSocket, error) {
	a.fetches.Add(1)
	if a.fetchErr != nil {
		return nil, a.fetchErr
	}
	out, err := a.LocalAdapter.FetchSockets(ctx, opts)
	if slices.Contains(opts.Rooms, remoteID) {
		out = append(out, &hub.RemoteSocket{ID: remoteID, Rooms: []string{remoteID}})
	}
	return out, err
}

func TestJoinRemoteSocketIDRefused(t *testing.T) {
	opts := hub.Options{Adapter: func(_ *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
		return &clusterAdapter{LocalAdapter: local}, nil
	}}
	w := newWorldOpts(t, opts, relay.Config{}, nil)
	a := w.dial("/")
	if got := a.ack("hub:join", remoteID); got.OK || got.Error != "a socket id cannot be joined" {
		t.Fatalf("join another node's socket id: %s", got.raw)
	}
	// A name shaped like an id that is no socket's is a room like any other.
	if got := a.ack("hub:join", "general-discussion01"); !got.OK {
		t.Fatalf("join an id-shaped name: %s", got.raw)
	}
}

// A hub:join naming many id-shaped rooms asks the cluster once for all of
// them, not once per room; names that cannot be ids, or that are this
// node's sockets, need no request.
func TestJoinManyIDShapedRoomsOneRequest(t *testing.T) {
	var cluster *clusterAdapter
	opts := hub.Options{Adapter: func(n *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
		a := &clusterAdapter{LocalAdapter: local}
		if n.Name() == "/" {
			cluster = a
		}
		return a, nil
	}}
	w := newWorldOpts(t, opts, relay.Config{}, nil)
	a := w.dial("/")
	rooms := make([]string, 0, 12)
	for i := range 12 {
		rooms = append(rooms, fmt.Sprintf("idShapedRoomName%04d", i))
	}
	if got := a.ack("hub:join", rooms); !got.OK || len(got.Rooms) != len(rooms) {
		t.Fatalf("join 12 id-shaped rooms: %s", got.raw)
	}
	if n := cluster.fetches.Load(); n != 1 {
		t.Fatalf("the join asked the cluster %d times, want once", n)
	}
	// One of many names is another node's socket: refused, still one request.
	if got := a.ack("hub:join", append([]string{"lobby", "idShapedRoomName9999"}, remoteID)); got.OK || got.Error != "rooms[2]: a socket id cannot be joined" {
		t.Fatalf("join with another node's socket id among others: %s", got.raw)
	}
	if n := cluster.fetches.Load(); n != 2 {
		t.Fatalf("after the second join the cluster was asked %d times, want 2", n)
	}
	// Names that cannot be ids ask nothing.
	if got := a.ack("hub:join", []string{"lobby", "news"}); !got.OK {
		t.Fatalf("join lobby and news: %s", got.raw)
	}
	if n := cluster.fetches.Load(); n != 2 {
		t.Fatalf("a join of names that cannot be ids asked the cluster (%d requests)", n)
	}
}

func TestJoinRemoteCheckFails(t *testing.T) {
	opts := hub.Options{Adapter: func(_ *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
		return &clusterAdapter{LocalAdapter: local, fetchErr: errors.New("broker down")}, nil
	}}
	w := newWorldOpts(t, opts, relay.Config{}, nil)
	a := w.dial("/")
	if got := a.ack("hub:join", []string{"x", "abcdefghijklmnopqrst"}); got.OK || got.Error != "rooms[1]: could not check the room name, try again" {
		t.Fatalf("join while the cluster check fails: %s", got.raw)
	}
	// Names that cannot be ids need no check.
	if got := a.ack("hub:join", "lobby"); !got.OK {
		t.Fatalf("join lobby: %s", got.raw)
	}
}

func TestLeave(t *testing.T) {
	var mu sync.Mutex
	var left [][]string
	hooks := &hub.Hooks{Leave: func(s *hub.Socket, rooms []string) {
		mu.Lock()
		left = append(left, slices.Clone(rooms))
		mu.Unlock()
	}}
	w := newWorld(t, relay.Config{}, hooks)
	a := w.dial("/")
	a.join("a", "b", "c")
	if got := a.ack("hub:leave", "a"); !got.OK || !slices.Equal(got.Rooms, []string{"b", "c"}) {
		t.Fatalf("leave a: %s", got.raw)
	}
	if got := a.ack("hub:leave", "not-in"); !got.OK || !slices.Equal(got.Rooms, []string{"b", "c"}) {
		t.Fatalf("leave a room not in: %s", got.raw)
	}
	if got := a.ack("hub:leave", []string{"c", "b", "zzz"}); !got.OK || string(got.raw) != `{"ok":true,"rooms":[]}` {
		t.Fatalf("leave [c b zzz]: %s", got.raw)
	}
	if got := a.ack("hub:leave", a.id); got.OK || got.Error != "a socket cannot leave its own id room" {
		t.Fatalf("leave own id: %s", got.raw)
	}
	if got := a.ack("hub:leave", []string{"x", a.id}); got.OK || got.Error != "rooms[1]: a socket cannot leave its own id room" {
		t.Fatalf("leave [x own id]: %s", got.raw)
	}
	if !w.socket(a).In(a.id) {
		t.Fatal("the socket left its own room")
	}
	mu.Lock()
	defer mu.Unlock()
	if len(left) != 3 || !slices.Equal(left[2], []string{"c", "b", "zzz"}) {
		t.Fatalf("leave hook calls %q", left)
	}
}

// Commands work without an ack too.
func TestCommandsWithoutAck(t *testing.T) {
	w := newWorld(t, relay.Config{}, nil)
	a := w.dial("/")
	if err := a.c.Emit("/", "hub:join", []string{"x", "y"}); err != nil {
		t.Fatal(err)
	}
	if err := a.c.Emit("/", "hub:leave", "x"); err != nil {
		t.Fatal(err)
	}
	if err := a.c.Emit("/", "hub:nope"); err != nil {
		t.Fatal(err)
	}
	// A command with an ack after them: they have all run.
	if got := a.ack("hub:join", []string{}); !slices.Equal(got.Rooms, []string{"y"}) {
		t.Fatalf("rooms %s", got.raw)
	}
	a.noAcks()
}

// Join and leave work where clients cannot publish.
func TestCommandsWithRouteNone(t *testing.T) {
	w := newWorld(t, relay.Config{Namespaces: []relay.Namespace{{Name: "/", Route: relay.RouteNone}}}, nil)
	a := w.dial("/")
	a.join("news")
	if err := w.srv.To("news").Emit("headline", "hello"); err != nil {
		t.Fatal(err)
	}
	w.mark("/")
	if got := a.got(); !slices.Equal(got, []string{`42["headline","hello"]`}) {
		t.Fatalf("a received %q", got)
	}
}
