package hub_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// TestListenerPanic: an event listener that panics closes its own
// connection only, on either transport; the other connections go on, and
// Stats counts each panic. (The engine logs each with its stack.)
func TestListenerPanic(t *testing.T) {
	srv, url := hubServer(t, hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	srv.OnConnection(func(s *hub.Socket) {
		s.On("boom", func(*hub.Event) { panic("boom") })
		s.On("ping", func(*hub.Event) { _ = s.Emit("pong") })
	})
	reasons := watchReasons(srv.Of("/"))

	other := hubDial(t, url)
	otherID := hubConnect(t, other, "/", nil)
	reasons.watching(t, otherID)
	stillServed := func() {
		t.Helper()
		if err := other.Emit("/", "ping"); err != nil {
			t.Fatal(err)
		}
		if p := nextEvent(t, other, "/"); p.Event != "pong" {
			t.Fatalf("got %q, want pong", p.Event)
		}
	}

	t.Run("websocket", func(t *testing.T) {
		c := hubDial(t, url)
		id := hubConnect(t, c, "/", nil)
		reasons.watching(t, id)
		if err := c.Emit("/", "boom"); err != nil {
			t.Fatal(err)
		}
		if err := c.WaitClosed(testWait); err != nil {
			t.Fatal(err)
		}
		if r := reasons.waitFor(t, id); r != hub.ReasonTransportError {
			t.Fatalf("disconnect reason %q, want %q", r, hub.ReasonTransportError)
		}
		if n := srv.Stats().PanicsRecovered; n != 1 {
			t.Fatalf("Stats().PanicsRecovered = %d, want 1", n)
		}
		stillServed()
	})
	t.Run("polling", func(t *testing.T) {
		p := newPollSession(t, url)
		id := p.connect()
		reasons.watching(t, id)
		res, err := p.hc.Post(p.url+"&sid="+p.sid, "text/plain;charset=UTF-8", strings.NewReader(`42["boom"]`))
		if err == nil {
			res.Body.Close()
			t.Fatalf("POST answered %d, want the request aborted", res.StatusCode)
		}
		if r := reasons.waitFor(t, id); r != hub.ReasonTransportError {
			t.Fatalf("disconnect reason %q, want %q", r, hub.ReasonTransportError)
		}
		res, err = p.hc.Get(p.url + "&sid=" + p.sid)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("GET after the panic: %d, want 400 (session unknown)", res.StatusCode)
		}
		if n := srv.Stats().PanicsRecovered; n != 2 {
			t.Fatalf("Stats().PanicsRecovered = %d, want 2", n)
		}
		stillServed()
	})
}
