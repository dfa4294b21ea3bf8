package hub_test

import (
	"io"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
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
		// As in the reference, the POST is answered once its packets are
		// read, before the listener runs on the socket's own goroutine.
		res, err := p.hc.Post(p.url+"&sid="+p.sid, "text/plain;charset=UTF-8", strings.NewReader(`42["boom"]`))
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			t.Fatalf("POST answered %d, want 200", res.StatusCode)
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

// TestCallbackPanics: an application's callbacks that the hub runs on its
// own goroutines — an emit's ack timer, a broadcast's ack callback, a
// listener of events from other nodes — may panic too: the process goes
// on, the panic is logged and counted, and a socket's connection is closed
// when the panic was on its behalf.
func TestCallbackPanics(t *testing.T) {
	var logged strings.Builder
	var logMu sync.Mutex
	logger := slog.New(slog.NewTextHandler(lockedWriter{&logMu, &logged}, nil))
	var local hub.LocalAdapter // the main namespace's, as a cluster adapter has it
	srv, url := hubServer(t, hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour, Logger: logger,
		Adapter: func(n *hub.Namespace, l hub.LocalAdapter) (hub.Adapter, error) {
			if n.Name() == "/" {
				local = l
			}
			return l, nil
		}})
	sockets := make(chan *hub.Socket, 1)
	srv.OnConnection(func(s *hub.Socket) { sockets <- s })
	reasons := watchReasons(srv.Of("/"))

	c := hubDial(t, url)
	id := hubConnect(t, c, "/", nil)
	reasons.watching(t, id)
	s := <-sockets

	// The client never answers: the ack timer fires and its callback panics.
	if err := s.Timeout(time.Millisecond).Emit("question", hub.AckFunc(func(hub.Args, error) { panic("ack timer") })); err != nil {
		t.Fatal(err)
	}
	if r := reasons.waitFor(t, id); r != hub.ReasonTransportError {
		t.Fatalf("disconnect reason %q, want %q", r, hub.ReasonTransportError)
	}
	if n := srv.Stats().PanicsRecovered; n != 1 {
		t.Fatalf("Stats().PanicsRecovered = %d, want 1", n)
	}

	// A broadcast to nobody answers at once, on a goroutine of its own.
	done := make(chan struct{})
	err := srv.To("nobody").Emit("question", hub.BroadcastAckFunc(func([]hub.Args, error) {
		defer close(done)
		panic("broadcast ack")
	}))
	if err != nil {
		t.Fatal(err)
	}
	<-done
	waitPanics(t, srv, 2)

	// An event from another node, as a cluster adapter delivers it.
	srv.OnServerSideEmit("hello", func(*hub.ServerEvent) { panic("server-side listener") })
	local.HandleServerSideEmit("hello", hub.Args{}, nil)
	waitPanics(t, srv, 3)

	logMu.Lock()
	defer logMu.Unlock()
	for _, want := range []string{"ack timer", "broadcast ack", "server-side listener", "stack="} {
		if !strings.Contains(logged.String(), want) {
			t.Errorf("the log lacks %q:\n%s", want, logged.String())
		}
	}
}

// waitPanics waits until srv has recovered n panics: the count goes up
// after the panicking callback has returned.
func waitPanics(t *testing.T, srv *hub.Server, n uint64) {
	t.Helper()
	deadline := time.Now().Add(testWait)
	for srv.Stats().PanicsRecovered < n {
		if time.Now().After(deadline) {
			t.Fatalf("Stats().PanicsRecovered = %d, want %d", srv.Stats().PanicsRecovered, n)
		}
		runtime.Gosched()
	}
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (l lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
