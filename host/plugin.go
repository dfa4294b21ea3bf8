package host

import (
	"context"
	"log/slog"
	"time"
)

// Plugin is a loaded plugin as its runtime provides it. Handle is called
// from many goroutines at once.
//
// ctx carries the call's deadline (ctx.Deadline), which the runtime must
// enforce itself: to keep calls cheap, ctx's Done channel is not the
// deadline's (it may be nil). The Done channel is the socket's: it closes
// when the socket the call is for goes away, and the runtime should then
// stop the call and return an error wrapping ctx.Err() (context.Canceled),
// which the host treats as an abandoned call, not a plugin failure.
// env is the plugin's to read during the call only: the host reuses it
// after Handle returns, so a plugin that keeps any of it copies it (the
// byte slices in it are never reused and may be kept).
// A nil Decision with no error allows the call unchanged.
// Handle returns an error when the plugin threw, trapped, timed out
// (ErrTimeout), returned garbage (ErrGarbage) or could not be reached; the
// plugin's failure policy then decides.
type Plugin interface {
	Handle(ctx context.Context, env *Envelope) (*Decision, error)
	Close() error
}

// DeadlineHandler is implemented by plugins that take a call's deadline
// as an argument: the host's chain calls HandleBy(ctx, deadline, env) as
// it would Handle(WithDeadline(ctx, deadline), env), which costs a
// context per call. The JS and Wasm runtimes implement it.
type DeadlineHandler interface {
	HandleBy(ctx context.Context, deadline time.Time, env *Envelope) (*Decision, error)
}

// handleBy calls p with the deadline, as DeadlineHandler when it is one.
func handleBy(p Plugin, ctx context.Context, deadline time.Time, env *Envelope) (*Decision, error) {
	if dh, ok := p.(DeadlineHandler); ok {
		return dh.HandleBy(ctx, deadline, env)
	}
	return p.Handle(WithDeadline(ctx, deadline), env)
}

// HookLister is implemented by plugins that can tell which hooks their
// code handles; a manifest that lists no hooks then takes these.
type HookLister interface {
	Hooks() []Hook
}

// Runtime loads plugins of one kind ("js", "wasm", "process").
type Runtime interface {
	Load(ctx context.Context, spec Spec) (Plugin, error)
}

// Spec is everything a runtime gets to load a plugin.
type Spec struct {
	// Manifest is validated, defaults filled in.
	Manifest Manifest
	// Entry is the path of the file to run.
	Entry string
	// Logger is the plugin's logger (console, log host calls, stderr).
	Logger *slog.Logger
	// Revoke queues a revocation the plugin asks for (hubd.revoke), given
	// as JSON; its error says why it was refused. The host sets it for a
	// plugin granted the "revoke" capability; nil otherwise.
	Revoke func(revocation []byte) error
}

// ErrTimeout is returned by a runtime whose plugin ran past its deadline.
var ErrTimeout = timeoutError{}

type timeoutError struct{}

func (timeoutError) Error() string { return "host: plugin timed out" }

// deadlineContext is a context that carries a deadline without a timer.
type deadlineContext struct {
	context.Context
	deadline time.Time
}

func (c deadlineContext) Deadline() (time.Time, bool) { return c.deadline, true }

// WithDeadline returns ctx with the deadline, without a timer: its Done
// channel is the parent's. Runtimes that need a real Done channel (a remote
// call) derive one with context.WithDeadline.
func WithDeadline(ctx context.Context, d time.Time) context.Context {
	return deadlineContext{Context: ctx, deadline: d}
}
