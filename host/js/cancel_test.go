package js

import (
	"context"
	"errors"
	"log/slog"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

// cancelWait bounds the waits of the cancellation tests, far below the
// plugin's 30 s timeout.
const cancelWait = 10 * time.Second

// messageSignal is a slog.Handler that signals ch for each record with
// message msg.
type messageSignal struct {
	msg string
	ch  chan struct{}
}

func (h messageSignal) Enabled(context.Context, slog.Level) bool { return true }
func (h messageSignal) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		select {
		case h.ch <- struct{}{}:
		default:
		}
	}
	return nil
}
func (h messageSignal) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h messageSignal) WithGroup(string) slog.Handler      { return h }

// loopingPlugin loads a plugin whose event handler loops forever on event
// "loop", saying "looping" first, with a 30 s timeout and one runtime.
func loopingPlugin(t *testing.T) (*Plugin, <-chan struct{}) {
	t.Helper()
	looping := make(chan struct{}, 1)
	p := loadSource(t, `hubd.on("event", (env) => {
	if (env.event === "loop") {
		console.log("looping");
		for (;;) {}
	}
});`, withTimeout(30*time.Second), withPool(1), withLogger(slog.New(messageSignal{msg: "looping", ch: looping})))
	return p, looping
}

// handleAsync runs p.Handle on a goroutine of its own.
func handleAsync(p *Plugin, ctx context.Context, env *host.Envelope) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := p.Handle(ctx, env)
		done <- err
	}()
	return done
}

func waitErr(t *testing.T, ch <-chan error, what string) error {
	t.Helper()
	select {
	case err := <-ch:
		return err
	case <-time.After(cancelWait):
		t.Fatalf("%s did not return within %v of its context's end (its timeout is 30 s)", what, cancelWait)
		return nil
	}
}

// A call whose context is cancelled while its handler runs (a socket that
// goes) is stopped at once, with the context's error and cause, not run to
// its timeout; the plugin serves the next call.
func TestCancelStopsCall(t *testing.T) {
	p, looping := loopingPlugin(t)
	gone := errors.New("the socket went")
	ctx, cancel := context.WithCancelCause(context.Background())
	defer cancel(nil)
	done := handleAsync(p, ctx, eventEnv("s1", "loop", `[]`))
	select {
	case <-looping:
	case err := <-done:
		t.Fatalf("the call returned before it looped: %v", err)
	case <-time.After(cancelWait):
		t.Fatal("the handler did not start")
	}
	cancel(gone)
	err := waitErr(t, done, "the cancelled call")
	if !errors.Is(err, context.Canceled) || !errors.Is(err, gone) {
		t.Errorf("the cancelled call returned %v, want an error wrapping context.Canceled and the cause", err)
	}
	if errors.Is(err, host.ErrTimeout) {
		t.Errorf("the cancelled call returned a timeout: %v", err)
	}
	// The stopped runtime is replaced: the next call is served.
	if d := mustDecide(t, p, eventEnv("s2", "ok", `[]`)); d.Action != "" && d.Action != host.Allow {
		t.Errorf("next call decided %q, want allow", d.Action)
	}
}

// A call waiting for a free runtime gives up when its context is
// cancelled; an already cancelled context runs no handler.
func TestCancelWhileWaitingForARuntime(t *testing.T) {
	p, looping := loopingPlugin(t)
	holdCtx, release := context.WithCancel(context.Background())
	defer release()
	held := handleAsync(p, holdCtx, eventEnv("s1", "loop", `[]`))
	select {
	case <-looping:
	case err := <-held:
		t.Fatalf("the call returned before it looped: %v", err)
	case <-time.After(cancelWait):
		t.Fatal("the handler did not start")
	}
	// The only runtime is busy: this call waits, until cancelled.
	ctx, cancel := context.WithCancel(context.Background())
	waiting := handleAsync(p, ctx, eventEnv("s2", "loop", `[]`))
	cancel()
	if err := waitErr(t, waiting, "the waiting call"); !errors.Is(err, context.Canceled) {
		t.Errorf("the waiting call returned %v, want context.Canceled", err)
	}
	release()
	if err := waitErr(t, held, "the looping call"); !errors.Is(err, context.Canceled) {
		t.Errorf("the looping call returned %v, want context.Canceled", err)
	}
	select {
	case <-looping:
		t.Error("a handler ran for a call whose context was cancelled")
	default:
	}
}
