package hub_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// recoveryServer starts a server with recovery whose main namespace puts
// every socket in room "r" with data {"n": 1}, and records the sockets
// by id, last one wins.
type recoveryServer struct {
	srv *hub.Server
	url string

	mu      sync.Mutex
	sockets map[string]*hub.Socket
	gone    map[string]chan struct{}
}

func newRecoveryServer(t *testing.T, ro hub.RecoveryOptions) *recoveryServer {
	t.Helper()
	rs := &recoveryServer{sockets: make(map[string]*hub.Socket), gone: make(map[string]chan struct{})}
	rs.srv, rs.url = hubServer(t, hub.Options{ConnectionStateRecovery: &ro})
	for _, n := range []*hub.Namespace{rs.srv.Of("/"), rs.srv.Of("/other")} {
		n.OnConnection(func(s *hub.Socket) {
			if !s.Recovered() {
				s.Join("r")
				s.SetData(map[string]any{"n": 1})
			}
			gone := make(chan struct{})
			s.OnDisconnect(func(hub.DisconnectReason) { close(gone) })
			rs.mu.Lock()
			rs.sockets[s.ID()] = s
			rs.gone[s.ID()] = gone
			rs.mu.Unlock()
		})
	}
	return rs
}

func (rs *recoveryServer) socket(t *testing.T, id string) *hub.Socket {
	t.Helper()
	var s *hub.Socket
	waitUntil(t, func() bool {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		s = rs.sockets[id]
		return s != nil
	}, "socket %s connected", id)
	return s
}

// cut closes c's connection and waits until the server's socket id is
// gone, its session kept.
func (rs *recoveryServer) cut(t *testing.T, c *testclient.Client, id string) {
	t.Helper()
	rs.socket(t, id)
	rs.mu.Lock()
	gone := rs.gone[id]
	rs.mu.Unlock()
	c.Close()
	select {
	case <-gone:
	case <-time.After(testWait):
		t.Fatalf("socket %s still connected after its connection closed", id)
	}
}

// connected opens a client, connects it to "/" and has it receive one
// event to room "r", whose offset it returns with the CONNECT reply.
func (rs *recoveryServer) connected(t *testing.T) (*testclient.Client, testclient.Reply, string) {
	t.Helper()
	c := hubDial(t, rs.url)
	first, err := c.ConnectReply("/", nil)
	if err != nil {
		t.Fatal(err)
	}
	rs.srv.Of("/").To("r").Emit("before")
	return c, first, lastOffset(t, nextEvent(t, c, "/"))
}

// lastOffset returns the offset an event carries as its last argument.
func lastOffset(t *testing.T, p *testclient.Packet) string {
	t.Helper()
	if len(p.Args) == 0 {
		t.Fatalf("event %s has no offset: %s", p.Event, p.Text)
	}
	var off string
	if err := json.Unmarshal(p.Args[len(p.Args)-1], &off); err != nil || off == "" {
		t.Fatalf("event %s: last argument is no offset: %s", p.Event, p.Text)
	}
	return off
}

func TestRecoveryReplaysMissedPackets(t *testing.T) {
	rs := newRecoveryServer(t, hub.RecoveryOptions{})
	nsp := rs.srv.Of("/")
	c := hubDial(t, rs.url)
	first, err := c.ConnectReply("/", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.PID == "" || first.PID == first.SID {
		t.Fatalf("CONNECT reply %+v: want a private id of its own", first)
	}
	rs.socket(t, first.SID)
	if err := nsp.To("r").Emit("before", 0); err != nil {
		t.Fatal(err)
	}
	off := lastOffset(t, nextEvent(t, c, "/"))
	rs.cut(t, c, first.SID)

	// Missed: room r, the socket's own room (a Socket emit and a
	// broadcast to its id), everyone. Not for it: another room, an
	// excepted room, a volatile packet.
	nsp.To("r").Emit("gap", 1)
	nsp.To(first.SID).Emit("gap", 2)
	nsp.To("x").Emit("other", 0)
	nsp.Except("r").Emit("other", 1)
	nsp.To("r").Volatile().Emit("other", 2)
	nsp.Emit("gap", 3, []byte{1, 2, 3})

	c2 := hubDial(t, rs.url)
	again, err := c2.ConnectReply("/", map[string]any{"pid": first.PID, "offset": off, "token": "t"})
	if err != nil {
		t.Fatal(err)
	}
	if again != first {
		t.Fatalf("recovered reply %+v, want %+v", again, first)
	}
	s := rs.socket(t, first.SID)
	if !s.Recovered() || !s.In("r") {
		t.Fatalf("recovered socket: Recovered %v, rooms %v", s.Recovered(), s.Rooms())
	}
	if d, _ := s.Data().(map[string]any); d["n"] != 1 {
		t.Fatalf("recovered data %v, want n=1", s.Data())
	}
	if auth := string(s.Handshake().Auth); strings.Contains(auth, "pid") || strings.Contains(auth, "offset") || !strings.Contains(auth, "token") {
		t.Fatalf("handshake auth %s: the session fields must be taken out, the rest kept", auth)
	}
	s.Emit("after")
	var got []string
	for _, p := range eventsUntil(t, c2, "after") {
		got = append(got, fmt.Sprintf("%s%s", p.Event, p.Args[0]))
		lastOffset(t, p)
		if p.Event == "gap" && string(p.Args[0]) == "3" && len(p.Attachments) != 1 {
			t.Fatalf("binary argument lost in the replay: %s", p.Text)
		}
	}
	if want := []string{"gap1", "gap2", "gap3"}; strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("replayed %v, want %v", got, want)
	}
	st := rs.srv.RecoveryStats()
	if st.Attempted != 1 || st.Recovered != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// eventsUntil returns the events c receives in the main namespace before
// the sentinel, which must come.
func eventsUntil(t *testing.T, c *testclient.Client, sentinel string) []*testclient.Packet {
	t.Helper()
	var out []*testclient.Packet
	for {
		p := nextEvent(t, c, "/")
		if p.Event == sentinel {
			return out
		}
		out = append(out, p)
	}
}

// A client that asks for a session it cannot have gets a fresh one: new
// id, new private id, none of another socket's state, and the reason is
// counted.
func TestRecoveryRefusals(t *testing.T) {
	type setup struct {
		pid, offset string
		nsp         string
	}
	cases := []struct {
		name   string
		opts   hub.RecoveryOptions
		reason string
		keep   bool // the first client stays connected
		// prepare cuts a client and returns what a returning client sends.
		prepare func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup
	}{
		{"forged session id", hub.RecoveryOptions{}, "unknown_session", false, func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup {
			return setup{pid: strings.Repeat("A", len(pid)), offset: off}
		}},
		{"session still connected", hub.RecoveryOptions{}, "unknown_session", true, func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup {
			return setup{pid: pid, offset: off}
		}},
		{"offset never issued", hub.RecoveryOptions{}, "unknown_offset", false, func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup {
			return setup{pid: pid, offset: off[:strings.LastIndexByte(off, '.')+1] + "zzzzzz"}
		}},
		{"a string of the client's own", hub.RecoveryOptions{}, "unknown_offset", false, func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup {
			return setup{pid: pid, offset: "hello"}
		}},
		{"an offset as long as a packet may be", hub.RecoveryOptions{}, "unknown_offset", false, func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup {
			return setup{pid: pid, offset: off + strings.Repeat("9", 500_000)}
		}},
		{"session of another namespace", hub.RecoveryOptions{}, "unknown_session", false, func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup {
			return setup{pid: pid, offset: off, nsp: "/other"}
		}},
		{"packets no longer kept", hub.RecoveryOptions{MaxPackets: 2}, "offset_expired", false, func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup {
			for i := range 3 {
				rs.srv.Of("/").To("r").Emit("gap", i)
			}
			return setup{pid: pid, offset: off}
		}},
		{"more missed than one recovery replays", hub.RecoveryOptions{MaxSessionPackets: 2}, "too_many_missed", false, func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup {
			for i := range 3 {
				rs.srv.Of("/").To("r").Emit("gap", i)
			}
			return setup{pid: pid, offset: off}
		}},
		{"session expired", hub.RecoveryOptions{MaxDisconnectionDuration: 20 * time.Millisecond}, "unknown_session", false, func(t *testing.T, rs *recoveryServer, pid, sid, off string) setup {
			time.Sleep(50 * time.Millisecond) // at least the duration: the session must be gone
			return setup{pid: pid, offset: off}
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rs := newRecoveryServer(t, tc.opts)
			c, first, off := rs.connected(t)
			if !tc.keep {
				rs.cut(t, c, first.SID)
			}
			su := tc.prepare(t, rs, first.PID, first.SID, off)
			nsp := su.nsp
			if nsp == "" {
				nsp = "/"
			}
			c2 := hubDial(t, rs.url)
			got, err := c2.ConnectReply(nsp, map[string]any{"pid": su.pid, "offset": su.offset})
			if err != nil {
				t.Fatal(err)
			}
			if got.SID == first.SID || got.PID == first.PID || got.PID == "" {
				t.Fatalf("reply %+v after %+v: want a fresh session", got, first)
			}
			s := rs.socket(t, got.SID)
			if s.Recovered() {
				t.Fatal("Recovered() true for a fresh session")
			}
			st := rs.srv.RecoveryStats()
			if st.Attempted != 1 || st.Recovered != 0 || st.Refused[tc.reason] != 1 {
				t.Fatalf("stats %+v, want one refusal for %s", st, tc.reason)
			}
		})
	}
}

// A session is recovered once: the second client with its id gets a
// fresh one.
func TestRecoveryOnce(t *testing.T) {
	rs := newRecoveryServer(t, hub.RecoveryOptions{})
	c, first, off := rs.connected(t)
	rs.cut(t, c, first.SID)
	auth := map[string]any{"pid": first.PID, "offset": off}
	c2 := hubDial(t, rs.url)
	if got, err := c2.ConnectReply("/", auth); err != nil || got != first {
		t.Fatalf("first recovery: %+v, %v", got, err)
	}
	c3 := hubDial(t, rs.url)
	got, err := c3.ConnectReply("/", auth)
	if err != nil {
		t.Fatal(err)
	}
	if got.SID == first.SID || got.PID == first.PID {
		t.Fatalf("second use of a session: %+v, want a fresh one", got)
	}
}

// A client that received no packet with an offset before its connection
// went sends none back: it missed everything since it connected.
func TestRecoveryWithoutOffset(t *testing.T) {
	rs := newRecoveryServer(t, hub.RecoveryOptions{})
	c := hubDial(t, rs.url)
	first, err := c.ConnectReply("/", nil)
	if err != nil {
		t.Fatal(err)
	}
	rs.cut(t, c, first.SID)
	rs.srv.Of("/").To("r").Emit("gap", 1)
	c2 := hubDial(t, rs.url)
	if got, err := c2.ConnectReply("/", map[string]any{"pid": first.PID}); err != nil || got != first {
		t.Fatalf("recovery without offset: %+v, %v", got, err)
	}
	rs.socket(t, first.SID).Emit("after")
	got := eventsUntil(t, c2, "after")
	if len(got) != 1 || got[0].Event != "gap" {
		t.Fatalf("replayed %v, want the one gap event", pktTexts(got))
	}
}

// With RunMiddlewares, the middlewares see the recovery and may refuse it.
func TestRecoveryRunMiddlewares(t *testing.T) {
	rs := newRecoveryServer(t, hub.RecoveryOptions{RunMiddlewares: true})
	var seen []bool
	var mu sync.Mutex
	rs.srv.Of("/").Use(func(s *hub.Socket) error {
		mu.Lock()
		seen = append(seen, s.Recovered())
		mu.Unlock()
		if s.Recovered() && compatAuth(s, "refuse") == true {
			return &hub.ConnectError{Message: "no recovery for you"}
		}
		return nil
	})
	recoverWith := func(extra map[string]any) (testclient.Reply, testclient.Reply, error) {
		c, first, off := rs.connected(t)
		rs.cut(t, c, first.SID)
		auth := map[string]any{"pid": first.PID, "offset": off}
		for k, v := range extra {
			auth[k] = v
		}
		got, err := hubDial(t, rs.url).ConnectReply("/", auth)
		return first, got, err
	}
	if first, got, err := recoverWith(nil); err != nil || got != first {
		t.Fatalf("recovery through the middlewares: %+v, %v", got, err)
	}
	if _, _, err := recoverWith(map[string]any{"refuse": true}); err == nil || !strings.Contains(err.Error(), "no recovery for you") {
		t.Fatalf("refused recovery: %v", err)
	}
	mu.Lock()
	defer mu.Unlock()
	if want := "[false true false true]"; fmt.Sprint(seen) != want {
		t.Fatalf("middlewares saw Recovered %v, want %s", seen, want)
	}
	if st := rs.srv.RecoveryStats(); st.Refused["refused"] != 1 || st.Recovered != 1 {
		t.Fatalf("stats %+v", st)
	}
}
