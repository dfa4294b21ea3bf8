package js

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"

	"github.com/dop251/goja"

	"github.com/hubd/hubd/host"
)

// Runtime loads JavaScript plugins. The zero value uses the defaults;
// register it with host.Host.Register("js", js.Runtime{}).
type Runtime struct {
	// MaxInputBytes caps an envelope: its JSON form plus its binary
	// attachments (default 1 MiB). A larger envelope is an error.
	MaxInputBytes int
	// MaxOutputBytes caps a decision's JSON form (default 1 MiB). A larger
	// decision is host.ErrGarbage.
	MaxOutputBytes int
	// MaxLogBytes caps what one call (or the script's load) may log through
	// console and hubd.log (default 16 KiB); further lines are dropped and
	// counted in one warning.
	MaxLogBytes int
	// LoadTimeout bounds creating a runtime (default 5s): running the
	// script's top level and looking its handlers up. Load also stops at
	// its context's deadline or cancellation. A script that runs longer
	// fails to load with an error wrapping host.ErrTimeout.
	LoadTimeout time.Duration
	// Clock, when set, is what the scripts' Date and Math.random read in
	// place of the system's clock and generator (a replay sets one).
	Clock host.Clock
}

// Defaults of Runtime.
const (
	DefaultMaxInputBytes  = 1 << 20
	DefaultMaxOutputBytes = 1 << 20
	DefaultMaxLogBytes    = 16 << 10
	DefaultLoadTimeout    = 5 * time.Second
)

const (
	maxScriptBytes = 32 << 20
	maxPoolSize    = 64
	maxCallDepth   = 1024
)

// ErrClosed is returned by Handle once the plugin is closed.
var ErrClosed = errors.New("js: plugin is closed")

// Load compiles spec.Entry and fills the plugin's pool of runtimes, each
// of which runs the script once. It fails if the script does not compile,
// throws or times out while loading, or registers no handler.
func (r Runtime) Load(ctx context.Context, spec host.Spec) (host.Plugin, error) {
	src, err := readScript(spec.Entry)
	if err != nil {
		return nil, err
	}
	return r.load(ctx, spec, spec.Entry, string(src))
}

// LoadSource is Load with the script given as source text; name is used in
// stack traces. spec.Entry is ignored.
func (r Runtime) LoadSource(ctx context.Context, spec host.Spec, name, src string) (*Plugin, error) {
	return r.load(ctx, spec, name, src)
}

func readScript(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("js: %w", err)
	}
	if fi.Size() > maxScriptBytes {
		return nil, fmt.Errorf("js: %s is %d bytes, over the %d-byte limit for a script", path, fi.Size(), maxScriptBytes)
	}
	src, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("js: %w", err)
	}
	return src, nil
}

func (r Runtime) load(ctx context.Context, spec host.Spec, name, src string) (*Plugin, error) {
	prog, err := goja.Compile(name, src, false)
	if err != nil {
		return nil, fmt.Errorf("js: %w", err)
	}
	m := spec.Manifest
	p := &Plugin{
		prog:      prog,
		logger:    spec.Logger,
		timeout:   time.Duration(m.Timeout),
		maxIn:     orDefault(r.MaxInputBytes, DefaultMaxInputBytes),
		maxOut:    orDefault(r.MaxOutputBytes, DefaultMaxOutputBytes),
		maxLog:    orDefault(r.MaxLogBytes, DefaultMaxLogBytes),
		loadLimit: r.LoadTimeout,
		config:    m.Config,
		clock:     r.Clock,
		revoke:    spec.Revoke,
		epoch:     time.Now(),
		wake:      make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
	if p.logger == nil {
		p.logger = slog.New(slog.DiscardHandler)
	}
	if p.timeout <= 0 {
		p.timeout = host.DefaultTimeout
	}
	p.limits = newLimits(m.MaxMemoryMiB)
	p.execCheck = needsExecCheck(p.timeout)
	if p.loadLimit <= 0 {
		p.loadLimit = DefaultLoadTimeout
	}
	size := m.PoolSize
	if size <= 0 {
		size = min(runtime.NumCPU(), 8)
	}
	size = min(size, maxPoolSize)
	p.slots = make([]slot, size)
	p.pool = make(chan *instance, size)
	p.tick = min(max(p.timeout/20, time.Millisecond), 5*time.Millisecond)
	go p.watchdog()

	// Each runtime gets loadLimit to load, within ctx's deadline; ctx
	// ending stops the load in progress.
	stop := context.AfterFunc(ctx, p.abortLoad)
	defer stop()
	for i := range size {
		if err := ctx.Err(); err != nil {
			p.Close()
			return nil, fmt.Errorf("js: loading %s stopped: %w", name, err)
		}
		deadline := time.Now().Add(p.loadLimit)
		byCtx := false
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline, byCtx = d, true
		}
		in, err := p.newInstance(i, deadline)
		if err != nil {
			p.Close()
			if cerr := loadStopped(ctx, byCtx, err); cerr != nil {
				err = fmt.Errorf("js: loading %s stopped: %w (%w)", name, cerr, err)
			}
			return nil, err
		}
		if i == 0 {
			p.hooks = in.registered()
			if p.hooks == 0 {
				p.Close()
				return nil, errors.New("js: the script registers no handler: call hubd.on(\"event\", fn) or define onEvent (or onConnect, onJoin, onLeave, onDisconnect)")
			}
		} else if in.registered() != p.hooks {
			p.Close()
			return nil, errors.New("js: the script registered different handlers when run again; register them unconditionally at the top level")
		}
		p.pool <- in
	}
	return p, nil
}

func orDefault(v, d int) int {
	if v <= 0 {
		return d
	}
	return v
}

// Hooks returns the hooks a JavaScript plugin's script registered, in
// lifecycle order, or nil if p is not a JavaScript plugin. The host uses
// the same list (host.HookLister) for a manifest that lists no hooks.
func Hooks(p host.Plugin) []host.Hook {
	if jp, ok := p.(*Plugin); ok {
		return jp.Hooks()
	}
	return nil
}

// loadStopped is the context's error when it ended the load: its
// cancellation, or its deadline when that was the load's (the watchdog may
// stop the guest before the context's own timer fires).
func loadStopped(ctx context.Context, byCtx bool, err error) error {
	if cerr := ctx.Err(); cerr != nil {
		return cerr
	}
	if byCtx && errors.Is(err, host.ErrTimeout) {
		return context.DeadlineExceeded
	}
	return nil
}
