package hub_test

import (
	"testing"

	"github.com/hubd/hubd/hub"
)

// A packet that breaks the protocol or the connection's state closes the
// whole connection: its sockets get the error and disconnect with "forced
// close" (the engine closes the session from the server side, as the
// reference server does).
func TestInvalidPacketsCloseTheConnection(t *testing.T) {
	ph := func(n string) string { return `{"_placeholder":true,"num":` + n + `}` }
	cases := []struct {
		name string
		send []string // "bin:" sends a binary message
		// delivered is the event that was complete before the violation.
		delivered string
	}{
		{"connect twice", []string{`40`}, ""},
		{"event for a namespace not joined", []string{`42/chat,["x"]`}, ""},
		{"event for an unknown namespace", []string{`42/nowhere,["x"]`}, ""},
		{"ack for a namespace not joined", []string{`43/chat,0[]`}, ""},
		{"disconnect for a namespace not joined", []string{`41/chat,`}, ""},
		{"connect_error from the client", []string{`44{"message":"x"}`}, ""},
		{"binary while none is expected", []string{"bin:\x01\x02"}, ""},
		{"text while attachments are expected", []string{`451-["x",` + ph("0") + `]`, `42["y"]`}, ""},
		{"one attachment too many", []string{`451-["x",` + ph("0") + `]`, "bin:\x01", "bin:\x02"}, "x"},
		{"too many attachments", []string{`4511-["x"]`}, ""},
		{"placeholder out of range", []string{`451-["x",` + ph("1") + `]`}, ""},
		{"negative placeholder", []string{`452-["x",` + ph("-1") + `]`}, ""},
		{"placeholder without num", []string{`451-["x",{"_placeholder":true}]`}, ""},
		{"unterminated array", []string{`42["x"`}, ""},
		{"unknown packet type", []string{`47["x"]`}, ""},
		{"empty socket.io packet", []string{`4`}, ""},
		{"letters for an ack id", []string{`42abc["x"]`}, ""},
		{"event without a name", []string{`42[]`}, ""},
		{"event name is an object", []string{`42[{}]`}, ""},
		{"event name is null", []string{`42[null]`}, ""},
		{"event payload is an object", []string{`42{"a":1}`}, ""},
		{"disconnect with a payload", []string{`41{}`}, ""},
		{"connect with an array", []string{`40/chat,[1]`}, ""},
		{"ack without a payload", []string{`43`}, ""},
		{"binary event without dash", []string{`451["x"]`}, ""},
		{"reserved name connect", []string{`42["connect"]`}, ""},
		{"reserved name connect_error", []string{`42["connect_error"]`}, ""},
		{"reserved name disconnect", []string{`42["disconnect"]`}, ""},
		{"reserved name disconnecting", []string{`42["disconnecting"]`}, ""},
		{"reserved name newListener", []string{`42["newListener"]`}, ""},
		{"reserved name removeListener", []string{`42["removeListener"]`}, ""},
		{"reserved name in a binary event", []string{`451-["disconnect",` + ph("0") + `]`}, ""},
		{"reserved name escaped", []string{`42["\u0063onnect"]`}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			srv, url := hubServer(t, hub.Options{})
			srv.Of("/chat")
			var handled, errs strLog
			srv.OnConnection(func(s *hub.Socket) {
				s.OnAny(func(ev *hub.Event) { handled.add(ev.Name) })
				s.OnError(func(err error) { errs.add(err.Error()) })
			})
			reasons := watchReasons(srv.Of("/"))
			c := hubDial(t, url)
			id := hubConnect(t, c, "/", nil)
			for _, m := range tc.send {
				var err error
				if len(m) > 4 && m[:4] == "bin:" {
					err = c.SendBinary([]byte(m[4:]))
				} else {
					err = c.SendText(m)
				}
				if err != nil {
					break // the server may already have closed
				}
			}
			if err := c.WaitClosed(testWait); err != nil {
				t.Fatalf("%v (sent %q)", err, tc.send)
			}
			// "transport close" is a rare race, see
			// TestServerInitiatedCloseReason.
			if r := reasons.waitFor(t, id); r != hub.ReasonForcedClose && r != hub.ReasonTransportClose {
				t.Errorf("reason = %q, want %q", r, hub.ReasonForcedClose)
			}
			if got := errs.get(); len(got) != 1 {
				t.Errorf("OnError got %q, want one error", got)
			}
			if got := handled.get(); (tc.delivered == "" && len(got) != 0) || (tc.delivered != "" && (len(got) != 1 || got[0] != tc.delivered)) {
				t.Errorf("events delivered: %q, want %q", got, tc.delivered)
			}
			waitUntil(t, func() bool { return srv.Connections() == 0 && srv.Of("/").Len() == 0 }, "connection and socket gone")
		})
	}
}

// Once a packet has failed the connection, the packets after it are not
// handled: the reference server drops whatever a closing session receives.
// Long-polling makes this deterministic: both packets come in one POST, and
// no GET is pending, so the session stays in its closing state meanwhile.
func TestNoPacketHandledAfterInvalidPacket(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var handled, errs strLog
	srv.OnConnection(func(s *hub.Socket) {
		s.OnAny(func(ev *hub.Event) { handled.add(ev.Name) })
		s.OnError(func(err error) { errs.add(err.Error()) })
	})
	p := newPollSession(t, url)
	id := p.connect()
	p.post(`42["before"]` + "\x1e" + `42["x"` + "\x1e" + `42["after"]` + "\x1e" + `4\x00`)
	if body := p.get(); body != "1" {
		t.Errorf("GET after the invalid packet = %q, want the close packet", body)
	}
	waitUntil(t, func() bool { return srv.Of("/").Socket(id) == nil }, "socket gone")
	if got := handled.get(); len(got) != 1 || got[0] != "before" {
		t.Errorf("events handled: %q, want only \"before\"", got)
	}
	if got := errs.get(); len(got) != 1 {
		t.Errorf("OnError got %q, want one error", got)
	}
}

// A connection the server closes (here for an invalid packet) ends its
// sockets with "forced close", even when the client answers the WebSocket
// close frame at once. Many connections make the race visible.
func TestServerInitiatedCloseReason(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	reasons := watchReasons(srv.Of("/"))
	const n = 300
	ids := make(chan string, n)
	sem := make(chan struct{}, 50)
	for range n {
		sem <- struct{}{}
		c := hubDial(t, url)
		ids <- hubConnect(t, c, "/", nil)
		go func() {
			defer func() { <-sem }()
			_ = c.SendBinary([]byte{1})
			_ = c.WaitClosed(testWait)
		}()
	}
	close(ids)
	count := map[hub.DisconnectReason]int{}
	for id := range ids {
		count[reasons.waitFor(t, id)]++
	}
	if count[hub.ReasonForcedClose] != n {
		t.Errorf("reasons of %d server-closed sockets: %v, want all %q", n, count, hub.ReasonForcedClose)
	}
}

// Before any CONNECT, a packet for a namespace closes the connection too.
func TestPacketBeforeConnectClosesTheConnection(t *testing.T) {
	for _, m := range []string{`42["x"]`, `41`, `43[]`} {
		srv, url := hubServer(t, hub.Options{})
		c := hubDial(t, url)
		if err := c.SendText(m); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitClosed(testWait); err != nil {
			t.Errorf("%s: %v", m, err)
		}
		waitUntil(t, func() bool { return srv.Connections() == 0 }, "connection gone")
	}
}

// Packets at the edge of validity are delivered and the connection goes
// on: a binary event with zero attachments, numeric names, a name that
// merely resembles a reserved one, an ack for an unknown id.
func TestEdgePacketsAreAccepted(t *testing.T) {
	srv, url := hubServer(t, hub.Options{})
	var got strLog
	srv.OnConnection(func(s *hub.Socket) {
		s.OnAny(func(ev *hub.Event) { got.add(ev.Name + " " + string(ev.Args.JSON())) })
	})
	c := hubDial(t, url)
	hubConnect(t, c, "/", nil)
	for _, m := range []string{
		`450-["zero",1]`,
		`43999["late"]`,
		`460-999["late"]`,
		`42[12,"a"]`,
		`42[-1.5]`,
		`42["Connect"]`,
		`42["connect "]`,
		`42["x",{"_placeholder":true,"num":0}]`,
		`42["last"]`,
	} {
		if err := c.SendText(m); err != nil {
			t.Fatal(err)
		}
	}
	want := []string{
		`zero [1]`,
		`12 ["a"]`,
		`-1.5 []`,
		`Connect []`,
		`connect  []`,
		`x [{"_placeholder":true,"num":0}]`,
		`last []`,
	}
	all := got.waitLen(t, len(want))
	for i := range want {
		if i >= len(all) || all[i] != want[i] {
			t.Errorf("events = %q\nwant %q", all, want)
			break
		}
	}
	select {
	case <-c.Done():
		t.Fatal("connection closed")
	default:
	}
}
