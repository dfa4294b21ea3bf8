package js

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/internal/logtest"
	"github.com/hubd/hubd/internal/waitfor"
	"github.com/hubd/hubd/sdk/wire"
)

// logBuffer captures a plugin's log lines.
type logBuffer struct{ logtest.Buffer }

func (l *logBuffer) logger() *slog.Logger {
	return slog.New(slog.NewJSONHandler(l, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

type loadOpt func(*host.Spec, *Runtime)

func withTimeout(d time.Duration) loadOpt {
	return func(s *host.Spec, _ *Runtime) { s.Manifest.Timeout = host.Duration(d) }
}

func withConfig(cfg string) loadOpt {
	return func(s *host.Spec, _ *Runtime) { s.Manifest.Config = json.RawMessage(cfg) }
}

func withPool(n int) loadOpt {
	return func(s *host.Spec, _ *Runtime) { s.Manifest.PoolSize = n }
}

func withLogger(l *slog.Logger) loadOpt {
	return func(s *host.Spec, _ *Runtime) { s.Logger = l }
}

func withRuntime(f func(*Runtime)) loadOpt {
	return func(_ *host.Spec, r *Runtime) { f(r) }
}

func loadSource(t testing.TB, src string, opts ...loadOpt) *Plugin {
	t.Helper()
	p, err := tryLoad(src, opts...)
	if err != nil {
		t.Fatalf("load: %v", err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// tryLoad loads src with a call timeout far above what any handler here
// needs, so that a loaded machine (the race detector, other packages'
// tests) does not turn a slow call into a timeout; tests of timeouts set
// their own with withTimeout.
func tryLoad(src string, opts ...loadOpt) (*Plugin, error) {
	spec := host.Spec{Manifest: host.Manifest{Name: "test", Runtime: "js", PoolSize: 2, Timeout: host.Duration(10 * time.Second)}}
	var r Runtime
	for _, o := range opts {
		o(&spec, &r)
	}
	return r.LoadSource(context.Background(), spec, "test.js", src)
}

func eventEnv(id, event, args string) *host.Envelope {
	return &host.Envelope{
		Hook:      host.HookEvent,
		Namespace: "/",
		Socket:    host.Socket{ID: id, Rooms: []string{"lobby"}},
		Event:     event,
		Args:      wire.Raw(args),
		Rooms:     []string{"lobby"},
	}
}

func call(t testing.TB, p *Plugin, env *host.Envelope) (*host.Decision, error) {
	t.Helper()
	d, err := p.Handle(context.Background(), env)
	if d == nil && err == nil {
		d = &host.Decision{} // allowed unchanged
	}
	return d, err
}

func mustDecide(t testing.TB, p *Plugin, env *host.Envelope) *host.Decision {
	t.Helper()
	d, err := call(t, p, env)
	if err != nil {
		t.Fatalf("Handle: %v", err)
	}
	return d
}

// decideSoon calls p until a call ends in time, for up to 30 s: with a
// short timeout, a loaded machine (a collection, the race detector, a
// runtime being replaced) may stop a few ordinary calls first.
func decideSoon(t testing.TB, p *Plugin, env *host.Envelope) *host.Decision {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		d, err := call(t, p, env)
		if err == nil {
			return d
		}
		if !errors.Is(err, host.ErrTimeout) || time.Now().After(deadline) {
			t.Fatalf("Handle: %v", err)
		}
	}
}

// returns waits for f to return (see waitfor.Return).
func returns(t testing.TB, what string, f func() error) error {
	t.Helper()
	return waitfor.Return(t, what, f)
}
