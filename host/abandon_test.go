package host

import (
	"bytes"
	"context"
	"log/slog"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub"
)

// levelLog is a slog.Handler that keeps the messages logged, by level.
type levelLog struct {
	mu   sync.Mutex
	msgs map[slog.Level][]string
}

func (l *levelLog) Enabled(context.Context, slog.Level) bool { return true }

func (l *levelLog) Handle(_ context.Context, r slog.Record) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.msgs == nil {
		l.msgs = make(map[slog.Level][]string)
	}
	l.msgs[r.Level] = append(l.msgs[r.Level], r.Message)
	return nil
}

func (l *levelLog) WithAttrs([]slog.Attr) slog.Handler { return l }
func (l *levelLog) WithGroup(string) slog.Handler      { return l }

func (l *levelLog) at(level slog.Level) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.msgs[level]...)
}

// pluginOf returns the loaded plugin name of h's current table.
func pluginOf(t *testing.T, h *Host, name string) *loaded {
	t.Helper()
	for _, l := range h.current.Load().plugins {
		if l.m.Name == name {
			return l
		}
	}
	t.Fatalf("no plugin %q", name)
	return nil
}

// countedFailures returns the failures the breaker has counted since the
// last success.
func (b *breaker) countedFailures() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.failures
}

// TestAbandonedCallsAreNoFailures: sockets that disconnect while their
// event hook's call runs (a slow plugin that watches its context) have
// their calls abandoned; that is no failure of the plugin's: its breaker
// counts nothing, no socket gets a strike, nothing is logged above debug,
// no call is counted as an error or a timeout.
func TestAbandonedCallsAreNoFailures(t *testing.T) {
	const sockets = 3 * breakerThreshold
	logs := &levelLog{}
	h := New(slog.New(logs))
	rt := newFakeRuntime()
	h.Register("fake", rt)
	t.Cleanup(func() { _ = h.Close() })
	started := make(chan string, sockets)
	rt.set("slow", func(ctx context.Context, env *Envelope) (*Decision, error) {
		started <- env.Socket.ID
		<-ctx.Done()
		return nil, ctx.Err()
	})
	s := spec("slow", 0, HookEvent)
	s.Manifest.Timeout = Duration(30 * time.Second)
	raiseBudgets(h, 30*time.Second)
	if err := h.Load(context.Background(), []Spec{s}); err != nil {
		t.Fatal(err)
	}
	srv := hub.New(hub.Options{})
	srv.SetHooks(h.Hooks())
	// The socket disconnects on its runner after its event's hook
	// returned: once it has, the call's accounting is done.
	gone := make(chan string, sockets)
	srv.OnConnection(func(s *hub.Socket) {
		s.OnDisconnect(func(hub.DisconnectReason) { gone <- s.ID() })
	})
	ts := httptest.NewServer(srv)
	t.Cleanup(func() {
		_ = srv.Close()
		ts.Close()
	})
	url := "ws" + strings.TrimPrefix(ts.URL, "http") + "/socket.io/?EIO=4&transport=websocket"

	for i := range sockets {
		ws := dialHub(t, url)
		if _, reply, err := ws.ReadMessage(); err != nil || !bytes.HasPrefix(reply, []byte("40{")) {
			t.Fatalf("socket %d: connect: %q %v", i, reply, err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`42["slow"]`)); err != nil {
			t.Fatal(err)
		}
		var id string
		select {
		case id = <-started:
		case <-time.After(hookWait):
			t.Fatalf("socket %d: the event hook was not called", i)
		}
		_ = ws.Close() // the socket goes while its event hook's call runs
		select {
		case got := <-gone:
			if got != id {
				t.Fatalf("socket %d: %s disconnected, want %s", i, got, id)
			}
		case <-time.After(hookWait):
			t.Fatalf("socket %d: the call was not abandoned, or the socket did not go", i)
		}
	}

	l := pluginOf(t, h, "slow")
	if n := l.breaker.countedFailures(); n != 0 {
		t.Errorf("the breaker counted %d failures for calls abandoned with their sockets", n)
	}
	if n := l.strikes.len(); n != 0 {
		t.Errorf("%d sockets have strikes", n)
	}
	abandonedCalls := uint64(0)
	for _, st := range h.Stats() {
		if st.Outcomes["error"] != 0 || st.Outcomes["timeout"] != 0 {
			t.Errorf("%s: outcomes %v, want no error and no timeout", st.Hook, st.Outcomes)
		}
		abandonedCalls += st.Outcomes["abandoned"]
	}
	if abandonedCalls != sockets {
		t.Errorf("%d calls counted as abandoned, want %d", abandonedCalls, sockets)
	}
	for _, level := range []slog.Level{slog.LevelWarn, slog.LevelError} {
		if msgs := logs.at(level); len(msgs) != 0 {
			t.Errorf("logged at %v: %q", level, msgs)
		}
	}
	if msgs := logs.at(slog.LevelDebug); len(msgs) != sockets {
		t.Errorf("%d debug messages, want one per abandoned call (%d): %q", len(msgs), sockets, msgs)
	}
}

// TestAbandonedProbe: the probe of an open breaker whose call is abandoned
// neither closes nor reopens it: the next call probes, and reaches the
// plugin. The abandoned chain ends with a drop: nothing the plugin did not
// decide goes through.
func TestAbandonedProbe(t *testing.T) {
	h, rt := newTestHost(t)
	started := make(chan struct{}, 1)
	calls := make(chan string, 2)
	rt.set("p", func(ctx context.Context, env *Envelope) (*Decision, error) {
		calls <- env.Event
		if env.Event == "hang" {
			started <- struct{}{}
			<-ctx.Done()
			return nil, ctx.Err()
		}
		return &Decision{}, nil
	})
	s := spec("p", 0, HookEvent)
	s.Manifest.Timeout = Duration(30 * time.Second)
	raiseBudgets(h, 30*time.Second)
	if err := h.Load(context.Background(), []Spec{s}); err != nil {
		t.Fatal(err)
	}
	// Open, its backoff over: the next call is the probe.
	b := &pluginOf(t, h, "p").breaker
	b.mu.Lock()
	b.healthy.Store(false)
	b.failures, b.since = breakerThreshold, time.Now().Add(-time.Minute)
	b.backoff, b.openUntil = breakerMinBackoff, time.Now().Add(-time.Millisecond)
	b.mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	decided := make(chan Decision, 1)
	go func() { decided <- h.Run(ctx, eventEnv("hang", `[]`)) }()
	select {
	case <-started:
	case <-time.After(hookWait):
		t.Fatal("the probe did not reach the plugin")
	}
	cancel() // the socket goes
	select {
	case d := <-decided:
		if d.Action != Drop {
			t.Errorf("the abandoned chain decided %q, want %q", d.Action, Drop)
		}
	case <-time.After(hookWait):
		t.Fatal("the abandoned call did not return")
	}
	select {
	case <-calls: // "hang", sent before started
	default:
		t.Fatal("the probe's call was not recorded")
	}

	if d := h.Run(context.Background(), eventEnv("next", `[]`)); d.Action != "" && d.Action != Allow {
		t.Errorf("the next call decided %q, want allow", d.Action)
	}
	select {
	case ev := <-calls:
		if ev != "next" {
			t.Fatalf("plugin called for %q, want next", ev)
		}
	default:
		t.Fatalf("the call after an abandoned probe did not reach the plugin (outcomes %v)", h.Stats()[0].Outcomes)
	}
	if n := b.countedFailures(); n != 0 {
		t.Errorf("the breaker counts %d failures after the probe succeeded", n)
	}
}
