package hub_test

import (
	"slices"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/testclient"
)

// A client's DISCONNECT ends that socket only; the server answers nothing
// and the connection stays open.
func TestDisconnectByClient(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	reasons := watchReasons(srv.Of("/"))
	chatReasons := watchReasons(srv.Of("/chat"))
	c := hubDial(t, url)
	id := hubConnect(t, c, "/", nil)
	chatID := hubConnect(t, c, "/chat", nil)
	_ = c.Disconnect("/")
	if r := reasons.waitFor(t, id); r != hub.ReasonClientNamespaceDisconnect {
		t.Errorf("reason = %q", r)
	}
	chat := hubSocket(t, srv.Of("/chat"), chatID)
	_ = chat.Emit("still-here")
	if p := nextAny(t, c); p.Text != `42/chat,["still-here"]` {
		t.Errorf("got %s, want nothing before the /chat event", p.Text)
	}
	// The namespace can be joined again, with a new id.
	if id2 := hubConnect(t, c, "/", nil); id2 == id {
		t.Error("reconnected socket kept its id")
	}
	_ = c.Disconnect("/chat")
	if r := chatReasons.waitFor(t, chatID); r != hub.ReasonClientNamespaceDisconnect {
		t.Errorf("/chat reason = %q", r)
	}
	if srv.Connections() != 1 {
		t.Errorf("Connections = %d", srv.Connections())
	}
}

// Socket.Disconnect(false) tells the client (41) and keeps the connection.
func TestDisconnectByServer(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	reasons := watchReasons(srv.Of("/"))
	chatReasons := watchReasons(srv.Of("/chat"))
	c := hubDial(t, url)
	s := hubSocket(t, srv.Of("/"), hubConnect(t, c, "/", nil))
	chat := hubSocket(t, srv.Of("/chat"), hubConnect(t, c, "/chat", nil))
	reasons.watching(t, s.ID())
	chatReasons.watching(t, chat.ID())

	chat.Disconnect(false)
	if p := nextAny(t, c); p.Text != "41/chat," {
		t.Errorf("got %s, want 41/chat,", p.Text)
	}
	if r := chatReasons.waitFor(t, chat.ID()); r != hub.ReasonServerNamespaceDisconnect {
		t.Errorf("reason = %q", r)
	}
	if chat.Connected() || !s.Connected() {
		t.Errorf("connected: /chat %v, / %v", chat.Connected(), s.Connected())
	}
	chat.Disconnect(false) // twice: nothing more
	s.Disconnect(false)
	if p := nextAny(t, c); p.Text != "41" {
		t.Errorf("got %s, want 41", p.Text)
	}
	if r := reasons.waitFor(t, s.ID()); r != hub.ReasonServerNamespaceDisconnect {
		t.Errorf("reason = %q", r)
	}
	hubConnect(t, c, "/", nil)
	if srv.Connections() != 1 {
		t.Errorf("Connections = %d", srv.Connections())
	}
}

// Disconnect(true) sends DISCONNECT for every namespace of the client,
// then closes the connection.
func TestDisconnectCloseConnection(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	reasons := watchReasons(srv.Of("/"))
	chatReasons := watchReasons(srv.Of("/chat"))
	c := hubDial(t, url)
	s := hubSocket(t, srv.Of("/"), hubConnect(t, c, "/", nil))
	chatID := hubConnect(t, c, "/chat", nil)
	other := hubDial(t, url)
	hubConnect(t, other, "/", nil)
	reasons.watching(t, s.ID())
	chatReasons.watching(t, chatID)

	s.Disconnect(true)
	if err := c.WaitClosed(testWait); err != nil {
		t.Fatal(err)
	}
	got := pktTexts(c.Pending())
	slices.Sort(got)
	if !slices.Equal(got, []string{"41", "41/chat,"}) {
		t.Errorf("packets before the close: %q, want 41 and 41/chat,", got)
	}
	if r := reasons.waitFor(t, s.ID()); r != hub.ReasonServerNamespaceDisconnect {
		t.Errorf("/ reason = %q", r)
	}
	if r := chatReasons.waitFor(t, chatID); r != hub.ReasonServerNamespaceDisconnect {
		t.Errorf("/chat reason = %q", r)
	}
	waitUntil(t, func() bool { return srv.Connections() == 1 && srv.Of("/").Len() == 1 }, "only the other client left")
}

// Closing the transport, missing pongs, breaking the Engine.IO protocol:
// each ends the sockets with the reference server's reason.
func TestDisconnectTransportReasons(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	reasons := watchReasons(srv.Of("/"))
	check := func(what string, c *testclient.Client, id string, want hub.DisconnectReason) {
		t.Helper()
		if r := reasons.waitFor(t, id); r != want {
			t.Errorf("%s: reason %q, want %q", what, r, want)
		}
		if err := c.WaitClosed(testWait); err != nil {
			t.Errorf("%s: %v", what, err)
		}
	}
	c := hubDial(t, url)
	id := hubConnect(t, c, "/", nil)
	c.Close()
	check("WebSocket closed by the client", c, id, hub.ReasonTransportClose)

	c = hubDialOpts(t, url, testclient.Options{Polling: true})
	id = hubConnect(t, c, "/", nil)
	if tr := hubSocket(t, srv.Of("/"), id).Transport(); tr != "polling" {
		t.Errorf("Transport() = %q", tr)
	}
	c.Close()
	check("polling closed by the client", c, id, hub.ReasonTransportClose)

	c = hubDial(t, url)
	id = hubConnect(t, c, "/", nil)
	_ = c.SendText("1")
	check("close packet over WebSocket", c, id, hub.ReasonTransportClose)

	c = hubDial(t, url)
	id = hubConnect(t, c, "/", nil)
	_ = c.SendText("2")
	check("ping from the client", c, id, hub.ReasonTransportError)

	c = hubDial(t, url)
	id = hubConnect(t, c, "/", nil)
	_ = c.SendText("x")
	check("not an Engine.IO packet", c, id, hub.ReasonParseError)
}

// A client that does not answer pings is dropped with "ping timeout"; one
// that answers stays.
func TestDisconnectPingTimeout(t *testing.T) {
	// Pings come often; the timeout is long enough that a client on a
	// loaded machine still answers in time, and short enough that the
	// silent one is dropped well within testWait.
	const interval, timeout = 40 * time.Millisecond, 3 * time.Second
	srv, url := hubServer(t, hub.Options{PingInterval: interval, PingTimeout: timeout})
	reasons := watchReasons(srv.Of("/"))
	srv.OnConnection(func(s *hub.Socket) { s.On("ping?", func(ev *hub.Event) { _ = ev.Ack("pong") }) })
	silent := hubDialOpts(t, url, testclient.Options{NoPong: true})
	if o := silent.Open(); o.PingInterval != 40 || o.PingTimeout != 3000 {
		t.Errorf("open packet: %+v", o)
	}
	id := hubConnect(t, silent, "/", nil)
	reasons.watching(t, id)
	alive := hubDial(t, url)
	hubConnect(t, alive, "/", nil)
	pollAlive := hubDialOpts(t, url, testclient.Options{Polling: true})
	hubConnect(t, pollAlive, "/", nil)

	if r := reasons.waitFor(t, id); r != hub.ReasonPingTimeout {
		t.Errorf("reason = %q, want ping timeout", r)
	}
	if err := silent.WaitClosed(testWait); err != nil {
		t.Error(err)
	}
	// The answering clients outlive several pings.
	for _, c := range []*testclient.Client{alive, pollAlive} {
		seen := c.Pings()
		deadline := time.Now().Add(testWait)
		for c.Pings() < seen+5 && time.Now().Before(deadline) {
			time.Sleep(interval)
		}
		if c.Pings() < seen+5 {
			t.Fatalf("%d pings in %v, want 5 more than %d", c.Pings(), testWait, seen)
		}
		if p, err := c.EmitWithAck("/", "ping?"); err != nil || p.Str(0) != "pong" {
			t.Errorf("answering client after several pings: %v", err)
		}
	}
}

// Server.Close disconnects every socket with "server shutting down" and
// closes every connection.
func TestServerClose(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	reasons := watchReasons(srv.Of("/"))
	chatReasons := watchReasons(srv.Of("/chat"))
	var ids []string
	var clients []*testclient.Client
	for i := range 3 {
		o := testclient.Options{Polling: i == 2}
		c := hubDialOpts(t, url, o)
		ids = append(ids, hubConnect(t, c, "/", nil))
		clients = append(clients, c)
	}
	chatID := hubConnect(t, clients[0], "/chat", nil)
	idle := hubDial(t, url) // no namespace
	reasons.watching(t, ids...)
	chatReasons.watching(t, chatID)

	if err := srv.Close(); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		if r := reasons.waitFor(t, id); r != hub.ReasonServerShuttingDown {
			t.Errorf("reason = %q, want server shutting down", r)
		}
	}
	if r := chatReasons.waitFor(t, chatID); r != hub.ReasonServerShuttingDown {
		t.Errorf("/chat reason = %q", r)
	}
	for _, c := range append(clients, idle) {
		if err := c.WaitClosed(testWait); err != nil {
			t.Error(err)
		}
		// As in the reference, no DISCONNECT packet: the connection closes.
		if got := pktTexts(c.Pending()); len(got) != 0 {
			t.Errorf("packets before the close: %q", got)
		}
	}
	waitUntil(t, func() bool { return srv.Connections() == 0 && srv.Of("/").Len() == 0 && srv.Of("/chat").Len() == 0 }, "everything closed")
}
