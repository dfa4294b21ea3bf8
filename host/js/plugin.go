package js

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/hubd/hubd/host"
)

// Plugin is a loaded JavaScript plugin: a compiled script and a pool of
// runtimes that ran it. It is safe for concurrent use.
type Plugin struct {
	prog      *goja.Program
	logger    *slog.Logger
	timeout   time.Duration
	maxIn     int
	maxOut    int
	maxLog    int
	loadLimit time.Duration
	config    json.RawMessage
	clock     host.Clock // nil: the system's
	revoke    func([]byte) error
	hooks     hookSet
	limits    limits
	// execCheck: the plugin's calls can outlast a stopped regular
	// expression match, so exec is checked (regexp.go).
	execCheck bool

	pool  chan *instance
	slots []slot // the runtime of each pool position, for the watchdog

	// Watchdog state (watchdog.go).
	epoch  time.Time
	tick   time.Duration
	active atomic.Int64 // calls and loads in flight
	// loadingIn is the runtime being created by Load, for abortLoad.
	loadingIn atomic.Pointer[loadingRef]
	sleeping  atomic.Bool
	wake      chan struct{}

	closed    atomic.Bool
	closeOnce sync.Once
	done      chan struct{}
}

var _ host.HookLister = (*Plugin)(nil)

// hookSet is a set of hooks, one bit per hook.
type hookSet uint8

const numHooks = 5

// hookIndex maps a hook to its bit and handler slot, -1 if unknown.
func hookIndex(h host.Hook) int {
	switch h {
	case host.HookConnect:
		return 0
	case host.HookJoin:
		return 1
	case host.HookLeave:
		return 2
	case host.HookEvent:
		return 3
	case host.HookDisconnect:
		return 4
	}
	return -1
}

var hookOrder = [numHooks]host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookEvent, host.HookDisconnect}

// globalNames are the top-level function names a script may define instead
// of calling hubd.on.
var globalNames = [numHooks]string{"onConnect", "onJoin", "onLeave", "onEvent", "onDisconnect"}

// Hooks returns the hooks the script registered, in lifecycle order
// (host.HookLister: a manifest that lists no hooks takes these).
func (p *Plugin) Hooks() []host.Hook {
	var out []host.Hook
	for i, h := range hookOrder {
		if p.hooks&(1<<i) != 0 {
			out = append(out, h)
		}
	}
	return out
}

// Handle runs the script's handler for env.Hook. A hook the script did not
// register is allowed unchanged. The call ends by ctx's deadline or the
// manifest's timeout, whichever comes first, with host.ErrTimeout; so does
// a call that returns after it. When ctx is cancelled (the hub cancels a
// socket's context when the socket goes), the call is stopped, or given up
// while it waits for a runtime, with an error wrapping ctx.Err()
// (context.Canceled) and the context's cause.
func (p *Plugin) Handle(ctx context.Context, env *host.Envelope) (*host.Decision, error) {
	deadline, _ := ctx.Deadline() // none: the zero time
	return p.HandleBy(ctx, deadline, env)
}

// HandleBy is Handle with the call's deadline given apart from ctx
// (host.DeadlineHandler); the zero time is none.
func (p *Plugin) HandleBy(ctx context.Context, deadline time.Time, env *host.Envelope) (*host.Decision, error) {
	hi := hookIndex(env.Hook)
	if hi < 0 || p.hooks&(1<<hi) == 0 {
		return &host.Decision{}, nil
	}
	if n := inputSize(env, p.maxIn); n > p.maxIn {
		return nil, fmt.Errorf("js: envelope of %d bytes is over the %d-byte input limit", n, p.maxIn)
	}
	// The manifest's timeout bounds every call, whatever the caller allows:
	// the regular expressions of a plugin rely on it (regexp.go). A
	// monotonic reading costs half a wall clock's.
	if own := p.epoch.Add(time.Since(p.epoch) + p.timeout); deadline.IsZero() || own.Before(deadline) {
		deadline = own
	}
	if !p.enter() {
		return nil, ErrClosed
	}
	defer p.leave()
	in, err := p.acquire(ctx, env.Hook, deadline)
	if err != nil {
		return nil, err
	}
	var d *host.Decision
	if cancelled(ctx) {
		err = abandonedError(ctx, env.Hook)
	} else {
		in.watchCancel(ctx)
		d, err = in.handle(hi, env, deadline)
		if in.endWatch() && err != nil {
			// Stopped for ctx: the runtime may be mid-way through
			// anything.
			in.broken = true
			d, err = nil, abandonedError(ctx, env.Hook)
		}
	}
	if in.broken {
		p.replace(in)
	} else {
		p.pool <- in
	}
	return d, err
}

// cancelled reports whether ctx was cancelled (its deadline is not
// cancellation: the watchdog enforces it as a timeout).
func cancelled(ctx context.Context) bool {
	return ctx.Done() != nil && errors.Is(ctx.Err(), context.Canceled)
}

// abandonedError is the error of a call given up because ctx was
// cancelled: it wraps ctx.Err() and, when it is another error, the cause.
func abandonedError(ctx context.Context, hook host.Hook) error {
	err, cause := ctx.Err(), context.Cause(ctx)
	if cause == nil || cause == err {
		return fmt.Errorf("js: the %s call was abandoned: %w", hook, err)
	}
	return fmt.Errorf("js: the %s call was abandoned: %w: %w", hook, err, cause)
}

// cancelInterrupt is the value of the interrupt of a call whose context
// was cancelled.
type cancelInterrupt struct{}

// watchCancel has the watchdog interrupt the call about to run on in if
// ctx is cancelled while it runs (see Plugin.scan): the watchdog ticks
// while calls are in flight anyway, so that costs the call a lock and no
// goroutine, channel or context registration. The interrupt follows the
// watchdog's protocol (watchdog.go): claimed through the runtime's
// deadline word, so that it lands on this call only, and cleared by the
// call's disarm.
func (in *instance) watchCancel(ctx context.Context) {
	if ctx.Done() == nil {
		return
	}
	in.cancelMu.Lock()
	in.cancelCtx = ctx
	in.cancelMu.Unlock()
}

// endWatch ends watchCancel's watch, once the call is over and before in
// serves another, and reports whether the call was interrupted for its
// context.
func (in *instance) endWatch() bool {
	in.cancelMu.Lock()
	in.cancelCtx = nil
	in.cancelMu.Unlock()
	return in.cancelFired.Swap(false)
}

// watchedCancelled reports whether the context of the call running on in
// was cancelled (watchdog goroutine).
func (in *instance) watchedCancelled() bool {
	in.cancelMu.Lock()
	ctx := in.cancelCtx
	in.cancelMu.Unlock()
	return ctx != nil && cancelled(ctx)
}

// acquire takes a runtime from the pool for a call of hook, waiting until
// deadline or until ctx is cancelled.
func (p *Plugin) acquire(ctx context.Context, hook host.Hook, deadline time.Time) (*instance, error) {
	select {
	case in := <-p.pool:
		return in, nil
	default:
	}
	wait := time.Until(deadline)
	if wait <= 0 {
		return nil, fmt.Errorf("%w: every runtime of the pool is busy", host.ErrTimeout)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case in := <-p.pool:
		return in, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: every runtime of the pool is busy", host.ErrTimeout)
	case <-p.done:
		return nil, ErrClosed
	case <-ctx.Done(): // nil Done: never
		if cancelled(ctx) {
			return nil, abandonedError(ctx, hook)
		}
		return nil, fmt.Errorf("%w: every runtime of the pool is busy", host.ErrTimeout)
	}
}

// replace discards a runtime that timed out or failed and fills its pool
// position with a fresh one in the background.
func (p *Plugin) replace(old *instance) {
	go func() {
		backoff := 100 * time.Millisecond
		for {
			in, err := p.newInstance(old.slot, time.Now().Add(p.loadLimit))
			if err == nil {
				p.pool <- in
				return
			}
			if errors.Is(err, ErrClosed) {
				return
			}
			p.logger.Error("js: replacing a runtime failed; the pool is one smaller until it succeeds", "err", err)
			select {
			case <-time.After(backoff):
				backoff = min(2*backoff, 10*time.Second)
			case <-p.done:
				return
			}
		}
	}()
}

// Close stops the plugin: later calls fail with ErrClosed, calls in flight
// finish (their deadlines still hold).
func (p *Plugin) Close() error {
	p.closeOnce.Do(func() {
		p.closed.Store(true)
		close(p.done)
		p.wakeWatchdog()
	})
	return nil
}
