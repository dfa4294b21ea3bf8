package hub_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// quartet is four clients of "/": A in r1, B in r1 and r2, C in r2, D in
// no room.
type quartet struct {
	srv     *hub.Server
	url     string
	clients []*testclient.Client
	ids     []string
	sockets []*hub.Socket
}

func newQuartet(t *testing.T) *quartet {
	t.Helper()
	srv, url := roomServer(t, hub.Options{})
	q := &quartet{srv: srv, url: url}
	for _, rooms := range [][]string{{"r1"}, {"r1", "r2"}, {"r2"}, nil} {
		c := hubDial(t, url)
		id := roomConnect(t, c, map[string]any{"rooms": rooms})
		q.clients = append(q.clients, c)
		q.ids = append(q.ids, id)
		q.sockets = append(q.sockets, hubSocket(t, srv.Of("/"), id))
	}
	return q
}

// receivers returns which clients got event "x" before the sentinel, as a
// string such as "AB"; a client that got it twice appears twice.
func (q *quartet) receivers(t *testing.T) string {
	t.Helper()
	if err := q.srv.Emit("sentinel"); err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for i, c := range q.clients {
		for _, name := range eventsBefore(t, c, "/", "sentinel") {
			if name != "x" {
				t.Errorf("client %c got %q", 'A'+i, name)
				continue
			}
			b.WriteByte(byte('A' + i))
		}
	}
	return b.String()
}

func TestBroadcastTargets(t *testing.T) {
	q := newQuartet(t)
	srv, nsp := q.srv, q.srv.Of("/")
	a, b := q.sockets[0], q.sockets[1]
	cases := []struct {
		name string
		op   hub.BroadcastOperator
		want string
	}{
		{"To(r1)", srv.To("r1"), "AB"},
		{"In(r2)", srv.In("r2"), "BC"},
		{"To(r1, r2): each socket once", srv.To("r1", "r2"), "ABC"},
		{"To(r1).To(r2)", srv.To("r1").To("r2"), "ABC"},
		{"In(r1).In(r1)", srv.In("r1").In("r1"), "AB"},
		{"Except(r2)", srv.Except("r2"), "AD"},
		{"To(r1).Except(r2)", srv.To("r1").Except("r2"), "A"},
		{"To(r1, r2).Except(B's id)", srv.To("r1", "r2").Except(q.ids[1]), "AC"},
		{"Except(r1).Except(r2)", srv.Except("r1").Except("r2"), "D"},
		{"To(C's id)", srv.To(q.ids[2]), "C"},
		{"To(nobody)", srv.To("nobody"), ""},
		{"Except(nobody)", srv.Except("nobody"), "ABCD"},
		{"Namespace.To(r1)", nsp.To("r1"), "AB"},
		{"Local()", srv.Local(), "ABCD"},
		{"Compress(true)", srv.Compress(true), "ABCD"},
		{"Timeout without ack", srv.Timeout(time.Millisecond), "ABCD"},
		{"A.Broadcast()", a.Broadcast(), "BCD"},
		{"A.To(r1)", a.To("r1"), "B"},
		{"A.To(r2)", a.To("r2"), "BC"},
		{"A.Except(r2)", a.Except("r2"), "D"},
		{"A.Broadcast().In(r1, r2)", a.Broadcast().In("r1", "r2"), "BC"},
		{"B.To(r1, r2)", b.To("r1", "r2"), "AC"},
		{"A.To(A's id)", a.To(q.ids[0]), ""},
	}
	for _, tc := range cases {
		if err := tc.op.Emit("x", 1); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := q.receivers(t); got != tc.want {
			t.Errorf("%s reached %q, want %q", tc.name, got, tc.want)
		}
	}
	// Server.Emit and Namespace.Emit reach everybody.
	_ = srv.Emit("x")
	if got := q.receivers(t); got != "ABCD" {
		t.Errorf("Server.Emit reached %q", got)
	}
	_ = nsp.Emit("x")
	if got := q.receivers(t); got != "ABCD" {
		t.Errorf("Namespace.Emit reached %q", got)
	}
	// Operators are values: deriving one leaves the other alone.
	base := srv.To("r1")
	_ = base.Except("r2")
	_ = base.Emit("x")
	if got := q.receivers(t); got != "AB" {
		t.Errorf("base operator reached %q", got)
	}
}

// A broadcast is the same packet for every recipient, encoded once.
func TestBroadcastWire(t *testing.T) {
	q := newQuartet(t)
	_ = q.srv.Of("/").To("r2").Emit("bin", "<&>", []byte{1, 2}, map[string]any{"z": 1.5, "a": nil})
	for _, c := range q.clients[1:3] {
		p := nextEvent(t, c, "/")
		if p.Text != `451-["bin","<&>",{"_placeholder":true,"num":0},{"a":null,"z":1.5}]` || !bytes.Equal(p.Attachments[0], []byte{1, 2}) {
			t.Errorf("got %s %v", p.Text, p.Attachments)
		}
	}
	if err := q.srv.To("r1").Emit("bad", make(chan int)); err == nil {
		t.Error("unencodable broadcast: no error")
	}
	// In another namespace, the packet carries it.
	chat := q.srv.Of("/chat")
	c := hubDial(t, q.url)
	hubConnect(t, c, "/chat", nil)
	_ = chat.Emit("hello")
	if p := nextEvent(t, c, "/chat"); p.Text != `42/chat,["hello"]` {
		t.Errorf("got %s", p.Text)
	}
}

// EmitArgs relays a client's arguments byte for byte, binary included.
func TestBroadcastEmitArgsRelay(t *testing.T) {
	q := newQuartet(t)
	for _, s := range q.sockets {
		s.On("relay", func(ev *hub.Event) { _ = s.Broadcast().EmitArgs("relayed", ev.Args) })
		s.On("to", func(ev *hub.Event) {
			var room string
			_ = ev.Args.Bind(&room)
			_ = s.To(room).EmitArgs("msg", ev.Args.From(1))
		})
	}
	a := q.clients[0]
	_ = a.SendText(`451-["relay",{"k":"<\u2028>","n":1.50, "e":"\"é"},{"_placeholder":true,"num":0}]`)
	_ = a.SendBinary([]byte{0, 1, 255})
	for i, c := range q.clients[1:] {
		p := nextEvent(t, c, "/")
		if p.Text != `451-["relayed",{"k":"<\u2028>","n":1.50, "e":"\"é"},{"_placeholder":true,"num":0}]` ||
			len(p.Attachments) != 1 || !bytes.Equal(p.Attachments[0], []byte{0, 1, 255}) {
			t.Errorf("client %c got %s %v", 'B'+i, p.Text, p.Attachments)
		}
	}
	_ = a.Emit("/", "to", "r2", map[string]any{"a": 1}, []byte{7})
	for _, c := range q.clients[1:3] {
		p := nextEvent(t, c, "/")
		if p.Text != `451-["msg",{"a":1},{"_placeholder":true,"num":0}]` || !bytes.Equal(p.Attachments[0], []byte{7}) {
			t.Errorf("got %s %v", p.Text, p.Attachments)
		}
	}
	if got := q.receivers(t); got != "" {
		t.Errorf("extra events reached %q", got)
	}
	// Args built by the server relay the same way.
	args, _ := hub.NewArgs(json.RawMessage(`{"x" : 1}`), "s")
	_ = q.srv.To("r1").EmitArgs("built", args)
	if p := nextEvent(t, q.clients[0], "/"); p.Text != `42["built",{"x" : 1},"s"]` {
		t.Errorf("got %s", p.Text)
	}
	if p := nextEvent(t, q.clients[1], "/"); p.Text != `42["built",{"x" : 1},"s"]` {
		t.Errorf("got %s", p.Text)
	}
	_ = q.srv.Except("r1", "r2").EmitArgs("none", hub.Args{})
	if p := nextEvent(t, q.clients[3], "/"); p.Text != `42["none"]` {
		t.Errorf("got %s", p.Text)
	}
}

// Volatile drops the event for a connection that cannot take it at once:
// here a long-polling session with no GET pending.
func TestBroadcastVolatile(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	sockets := make(chan *hub.Socket, 1)
	srv.OnConnection(func(s *hub.Socket) { sockets <- s })
	p := newPollSession(t, url)
	p.connect()
	s := <-sockets
	_ = srv.Volatile().Emit("dropped-1")
	_ = s.Volatile().Emit("dropped-2")
	_ = srv.Emit("kept")
	_ = srv.Volatile().Emit("dropped-3") // the queue is not empty
	if body := p.get(); body != `42["kept"]` {
		t.Errorf("GET = %q, want only the non-volatile event", body)
	}
	// A WebSocket client with nothing queued usually takes volatile
	// events; whether it does is timing, so only the call is checked.
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	if err := srv.Volatile().Emit("v"); err != nil {
		t.Error(err)
	}
}

// answer makes c answer every "q" event with reply, until the test ends.
func answer(t *testing.T, c *testclient.Client, reply ...any) {
	go func() {
		for {
			p, err := c.WaitEvent("/", "q", testWait)
			if err != nil {
				return
			}
			if err := c.Ack("/", p.ID, reply...); err != nil {
				return
			}
		}
	}()
}

func ackStrings(t *testing.T, rs []hub.Args) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		var s string
		if err := r.Bind(&s); err != nil {
			t.Errorf("response %s: %v", r.JSON(), err)
		}
		out = append(out, s)
	}
	slices.Sort(out)
	return out
}

func TestBroadcastWithAck(t *testing.T) {
	q := newQuartet(t)
	for i, c := range q.clients[:3] {
		answer(t, c, string(rune('a'+i)), i)
	}
	ctx := t.Context()
	rs, err := q.srv.To("r1", "r2").Timeout(testWait).EmitWithAck(ctx, "q", 1)
	if err != nil || !slices.Equal(ackStrings(t, rs), []string{"a", "b", "c"}) {
		t.Errorf("responses %v, %v", ackStrings(t, rs), err)
	}
	for _, r := range rs {
		if r.Len() != 2 {
			t.Errorf("response %s: want both ack arguments", r.JSON())
		}
	}
	// Without a timeout it waits for every socket.
	rs, err = q.srv.To("r1").EmitWithAck(ctx, "q")
	if err != nil || !slices.Equal(ackStrings(t, rs), []string{"a", "b"}) {
		t.Errorf("no timeout: %v, %v", ackStrings(t, rs), err)
	}
	// The callback form, from a socket: the sender is left out.
	done := make(chan []string, 1)
	err = q.sockets[0].Broadcast().Except("d").To("r2").Timeout(testWait).Emit("q", func(rs []hub.Args, err error) {
		if err != nil {
			t.Errorf("callback error %v", err)
		}
		done <- ackStrings(t, rs)
	})
	if err != nil {
		t.Fatal(err)
	}
	if got := <-done; !slices.Equal(got, []string{"b", "c"}) {
		t.Errorf("socket broadcast responses %v", got)
	}
	// Binary answers keep their attachments.
	answer(t, q.clients[3], []byte{4, 2})
	rs, err = q.srv.To(q.ids[3]).Timeout(testWait).EmitWithAck(ctx, "q")
	var bin []byte
	if err != nil || len(rs) != 1 || rs[0].Bind(&bin) != nil || !bytes.Equal(bin, []byte{4, 2}) {
		t.Errorf("binary ack: %v %v %v", rs, bin, err)
	}
}

// All the targets share one ack id, from the namespace's counter.
func TestBroadcastAckPacket(t *testing.T) {
	q := newQuartet(t)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	go func() { _, _ = q.srv.To("r1").Timeout(testWait).EmitWithAck(ctx, "q", "x") }()
	pa, pb := nextEvent(t, q.clients[0], "/"), nextEvent(t, q.clients[1], "/")
	if pa.Text != pb.Text || pa.ID < 0 || !strings.HasPrefix(pa.Text, "42") || !strings.HasSuffix(pa.Text, `["q","x"]`) {
		t.Errorf("A got %s, B got %s", pa.Text, pb.Text)
	}
	// The next ack id of the namespace follows.
	go func() { _, _ = q.sockets[3].Timeout(testWait).EmitWithAck(ctx, "q") }()
	if pd := nextEvent(t, q.clients[3], "/"); pd.ID != pa.ID+1 {
		t.Errorf("next ack id %d, want %d", pd.ID, pa.ID+1)
	}
}

// With a timeout and a silent client, the callback gets ErrTimeout and the
// responses that came.
func TestBroadcastAckTimeout(t *testing.T) {
	q := newQuartet(t)
	answer(t, q.clients[0], "a")
	answer(t, q.clients[1], "b")
	// C stays silent.
	start := time.Now()
	rs, err := q.srv.To("r1", "r2").Timeout(2*time.Second).EmitWithAck(t.Context(), "q")
	if !errors.Is(err, hub.ErrTimeout) || err.Error() != "operation has timed out" {
		t.Errorf("err = %v, want ErrTimeout", err)
	}
	if got := ackStrings(t, rs); !slices.Equal(got, []string{"a", "b"}) {
		t.Errorf("partial responses %v, want [a b]", got)
	}
	if time.Since(start) < 2*time.Second {
		t.Errorf("returned before the timeout")
	}
	// A late answer changes nothing.
	p := nextEvent(t, q.clients[2], "/")
	_ = q.clients[2].Ack("/", p.ID, "late")
}

// With no target, the broadcast completes at once with no response, even
// without a timeout.
func TestBroadcastAckNoClients(t *testing.T) {
	q := newQuartet(t)
	ctx, cancel := context.WithTimeout(t.Context(), testWait)
	defer cancel()
	rs, err := q.srv.To("nobody").EmitWithAck(ctx, "q")
	if err != nil || len(rs) != 0 {
		t.Errorf("EmitWithAck to nobody = %v, %v", rs, err)
	}
	rs, err = q.srv.To("nobody").Timeout(time.Hour).EmitWithAck(ctx, "q")
	if err != nil || len(rs) != 0 {
		t.Errorf("with a timeout: %v, %v", rs, err)
	}
	called := make(chan error, 1)
	_ = q.sockets[3].Broadcast().To(q.ids[3]).Emit("q", hub.BroadcastAckFunc(func(rs []hub.Args, err error) { called <- err }))
	if err := <-called; err != nil {
		t.Errorf("callback: %v", err)
	}
	// The ctx ends the wait of an unanswered broadcast.
	short, cancel2 := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel2()
	if _, err := q.srv.To("r2").EmitWithAck(short, "q"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("ctx end: %v", err)
	}
}
