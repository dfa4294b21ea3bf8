package hub_test

import (
	"context"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/hubd/hubd/hub"
)

// TestOnNamespace: the listener gets the namespaces there already and every
// one made later, a dynamic child included, once each.
func TestOnNamespace(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	srv.Of("/a")
	srv.OfPattern(regexp.MustCompile(`^/dyn-\d+$`))
	var mu sync.Mutex
	var seen []string
	srv.OnNamespace(func(n *hub.Namespace) {
		mu.Lock()
		seen = append(seen, n.Name())
		mu.Unlock()
	})
	got := func() []string {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(seen)
	}
	if want := []string{"/", "/a"}; !slices.Equal(got(), want) {
		t.Fatalf("namespaces there: %q, want %q", got(), want)
	}
	srv.Of("/b")
	srv.Of("/a")
	c := hubDial(t, url)
	hubConnect(t, c, "/dyn-1", nil)
	if want := []string{"/", "/a", "/b", "/dyn-1"}; !slices.Equal(got(), want) {
		t.Fatalf("namespaces: %q, want %q", got(), want)
	}
}

// TestAddRoomEvents: listeners added beside SetRoomEvents' both run, and
// the added ones stop when removed.
func TestAddRoomEvents(t *testing.T) {
	srv, url := roomServer(t, hub.Options{})
	nsp := srv.Of("/")
	var set, added strLog
	nsp.SetRoomEvents(hub.RoomEvents{JoinRoom: func(room, id string) { set.add("join " + room) }})
	off := nsp.AddRoomEvents(hub.RoomEvents{
		JoinRoom:  func(room, id string) { added.add("join " + room) },
		LeaveRoom: func(room, id string) { added.add("leave " + room) },
	})
	a := hubDial(t, url)
	id := roomConnect(t, a, nil)
	call(t, a, "/", "join", "r")
	call(t, a, "/", "leave", "r")
	if got, want := set.get(), []string{"join " + id, "join r"}; !slices.Equal(got, want) {
		t.Errorf("SetRoomEvents' listener: %q, want %q", got, want)
	}
	if got, want := added.get(), []string{"join " + id, "join r", "leave r"}; !slices.Equal(got, want) {
		t.Errorf("added listener: %q, want %q", got, want)
	}
	off()
	off()
	call(t, a, "/", "join", "s")
	if got := added.get(); len(got) != 3 {
		t.Errorf("removed listener still called: %q", got)
	}
	if got := set.get(); len(got) != 3 {
		t.Errorf("SetRoomEvents' listener after the other's removal: %q", got)
	}
}

// TestTraffic: connections and message packets, in both directions, as the
// server's connections count them; a socket's ClientID is its connection's.
func TestTraffic(t *testing.T) {
	srv, url := roomServer(t, hub.Options{})
	before := srv.Traffic()
	a := hubDial(t, url)
	id := roomConnect(t, a, nil)
	call(t, a, "/", "join", "r")
	s := hubSocket(t, srv.Of("/"), id)
	if cid := s.ClientID(); cid == "" || cid == id {
		t.Errorf("ClientID %q: want the connection's id, not the socket's %q", cid, id)
	}
	tr := srv.Traffic()
	if tr.Opened != before.Opened+1 || tr.Open != 1 || tr.Polling != 0 {
		t.Errorf("opened %d (before %d), open %d, polling %d", tr.Opened, before.Opened, tr.Open, tr.Polling)
	}
	// CONNECT and the join event in; CONNECT and the ack out.
	if tr.PacketsIn < 2 || tr.PacketsOut < 2 || tr.BytesIn <= tr.PacketsIn || tr.BytesOut <= tr.PacketsOut {
		t.Errorf("in %d packets %d bytes, out %d packets %d bytes", tr.PacketsIn, tr.BytesIn, tr.PacketsOut, tr.BytesOut)
	}
	a.Close()
	waitUntil(t, func() bool { return srv.Traffic().Open == 0 }, "the connection to end")
	end := srv.Traffic()
	var closed uint64
	for reason, n := range end.Closed {
		if !strings.Contains(reason, " ") {
			t.Errorf("close reason %q", reason)
		}
		closed += n
	}
	if closed != 1 || end.PacketsIn < tr.PacketsIn || end.BytesOut < tr.BytesOut {
		t.Errorf("after the close: %+v (before it: %+v)", end, tr)
	}
}

// TestSetDataView: FetchSockets reports a socket's data through the view,
// which leaves the socket's own data alone; nil removes it.
func TestSetDataView(t *testing.T) {
	srv, url := roomServer(t, hub.Options{})
	a := hubDial(t, url)
	id := roomConnect(t, a, nil)
	s := hubSocket(t, srv.Of("/"), id)
	s.SetData(map[string]int{"n": 1})
	srv.SetDataView(func(s *hub.Socket, data json.RawMessage) json.RawMessage {
		return json.RawMessage(`{"seen":` + string(data) + `}`)
	})
	fetch := func() string {
		t.Helper()
		list, err := srv.FetchSockets(context.Background())
		if err != nil || len(list) != 1 {
			t.Fatalf("FetchSockets: %v %v", list, err)
		}
		return string(list[0].Data)
	}
	if got := fetch(); got != `{"seen":{"n":1}}` {
		t.Errorf("viewed data %s", got)
	}
	if d, _ := s.Data().(map[string]int); d["n"] != 1 || len(d) != 1 {
		t.Errorf("the socket's data became %v", s.Data())
	}
	srv.SetDataView(nil)
	if got := fetch(); got != `{"n":1}` {
		t.Errorf("data without a view %s", got)
	}
}
