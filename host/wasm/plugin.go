package wasm

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"

	"github.com/hubd/hubd/host"
)

// Hook ids passed to hubd_handle (and bits of hubd_hooks' mask).
const (
	hookConnect    = 1
	hookJoin       = 2
	hookLeave      = 3
	hookEvent      = 4
	hookDisconnect = 5
)

func hookID(h host.Hook) uint32 {
	switch h {
	case host.HookConnect:
		return hookConnect
	case host.HookJoin:
		return hookJoin
	case host.HookLeave:
		return hookLeave
	case host.HookEvent:
		return hookEvent
	case host.HookDisconnect:
		return hookDisconnect
	}
	return 0
}

// Plugin is a loaded Wasm plugin: a compiled module and a pool of
// instances. It implements host.Plugin.
type Plugin struct {
	name    string
	logger  *slog.Logger
	wd      *watchdog
	rt      wazero.Runtime
	cm      wazero.CompiledModule
	modCfg  wazero.ModuleConfig
	config  []byte
	clock   host.Clock         // nil: the system's (WithClock)
	revoke  func([]byte) error // nil without the "revoke" capability
	timeout time.Duration
	pages   uint32
	size    int
	mode    Termination
	recycle int
	hooks   uint32 // bit 1<<id per hook the guest handles; 0: unknown (all)
	// loadTimeout bounds the initialisation of an instance.
	loadTimeout time.Duration

	pool chan *instance
	// loading is the instance being initialised by Load, for abortLoad.
	loading atomic.Pointer[instance]
	// live counts instances that exist or are being created.
	live     atomic.Int32
	closed   atomic.Bool
	done     chan struct{}
	replaced atomic.Int64
	logLimit logLimiter
}

// instance is one instantiated module. It serves one call at a time.
type instance struct {
	p         *Plugin
	mod       api.Module
	mem       api.Memory
	handle    api.Function
	buffer    api.Function
	interrupt api.MutableGlobal // Interrupt mode
	ctx       context.Context   // carries the instance to the host functions
	cancel    context.CancelFunc
	stack     []uint64
	stdout    *lineWriter
	stderr    *lineWriter

	bufPtr, bufCap uint32 // the guest's input region

	// deadline is the running call's deadline on the watchdog's clock, or
	// a state (stateIdle, stateTripping, stateTripped).
	deadline atomic.Int64
	// initDeadline is the deadline of the instance's initialisation.
	initDeadline int64
	pages        atomic.Uint32 // memory size after the last call

	// The running call's context, for the watchdog to stop the call when
	// it is cancelled; nil between calls.
	cancelMu  sync.Mutex
	cancelCtx context.Context

	// Per call; touched only by the goroutine that holds the instance.
	env      *host.Envelope
	in       []byte
	out      []byte
	outSet   bool
	outErr   error
	calls    int
	retiring bool
}

// Name returns the plugin's name.
func (p *Plugin) Name() string { return p.name }

// Termination returns how the plugin's calls are stopped at their deadline
// (Interrupt unless the module could not be instrumented).
func (p *Plugin) Termination() Termination { return p.mode }

// Hooks returns the hooks the guest registered (from its optional
// hubd_hooks export), or nil if it does not say.
func (p *Plugin) Hooks() []host.Hook {
	if p.hooks == 0 {
		return nil
	}
	var out []host.Hook
	for _, h := range host.Hooks {
		if p.hooks&(1<<hookID(h)) != 0 {
			out = append(out, h)
		}
	}
	return out
}

// Stats describes a plugin's pool.
type Stats struct {
	// Instances is the pool size; Free how many are idle now.
	Instances, Free int
	// Replaced counts instances discarded after a trap, timeout, memory
	// exhaustion or bad ABI use, and replaced.
	Replaced int64
	// Pages is the linear memory of each idle instance, in 64 KiB pages.
	Pages []uint32
	// Termination is how calls are stopped.
	Termination Termination
}

// Stats returns the pool's state.
func (p *Plugin) Stats() Stats {
	s := Stats{Instances: p.size, Replaced: p.replaced.Load(), Termination: p.mode}
	n := len(p.pool)
	for i := 0; i < n; i++ {
		select {
		case in := <-p.pool:
			s.Free++
			s.Pages = append(s.Pages, in.pages.Load())
			p.pool <- in
		default:
		}
	}
	return s
}

// Handle runs the hook call in a free instance.
func (p *Plugin) Handle(ctx context.Context, env *host.Envelope) (*host.Decision, error) {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(p.timeout)
	}
	return p.HandleBy(ctx, deadline, env)
}

// HandleBy is Handle with the call's deadline given apart from ctx
// (host.DeadlineHandler).
func (p *Plugin) HandleBy(ctx context.Context, deadline time.Time, env *host.Envelope) (*host.Decision, error) {
	id := hookID(env.Hook)
	if id == 0 {
		return nil, fmt.Errorf("wasm plugin %q: unknown hook %q", p.name, env.Hook)
	}
	if p.hooks != 0 && p.hooks&(1<<id) == 0 {
		return &host.Decision{}, nil // the guest registered no handler
	}
	if p.closed.Load() {
		return nil, errClosed
	}
	in, err := p.acquire(ctx, deadline)
	if err != nil {
		return nil, err
	}
	d, keep, err := in.call(ctx, id, env, deadline)
	if keep {
		p.release(in)
	} else {
		p.discard(in)
	}
	return d, err
}

func (p *Plugin) acquire(ctx context.Context, deadline time.Time) (*instance, error) {
	select {
	case in := <-p.pool:
		return in, nil
	default:
	}
	wait := time.Until(deadline)
	if wait <= 0 {
		return nil, fmt.Errorf("%w: wasm plugin %q: deadline passed before an instance was free", host.ErrTimeout, p.name)
	}
	t := time.NewTimer(wait)
	defer t.Stop()
	select {
	case in := <-p.pool:
		return in, nil
	case <-t.C:
		return nil, fmt.Errorf("%w: wasm plugin %q: no instance was free before the deadline", host.ErrTimeout, p.name)
	case <-p.done:
		return nil, errClosed
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// call runs one hook call; keep tells whether the instance may serve again.
func (in *instance) call(ctx context.Context, id uint32, env *host.Envelope, deadline time.Time) (d *host.Decision, keep bool, err error) {
	p := in.p
	// Write the envelope and its index straight into the guest's buffer
	// when they fit; otherwise build them aside, grow the buffer and copy.
	var n, total uint64
	inPlace := false
	if view, ok := in.mem.Read(in.bufPtr, in.bufCap); ok && len(view) > 0 {
		js, jn := appendJSONIndexed(view[:0], env)
		n, total = uint64(jn), uint64(len(js))
		inPlace = len(js) > 0 && unsafe.SliceData(js) == unsafe.SliceData(view)
		if !inPlace {
			in.in = append(in.in[:0], js...)
		}
	} else {
		var jn int
		in.in, jn = appendJSONIndexed(in.in[:0], env)
		n, total = uint64(jn), uint64(len(in.in))
	}
	if total > 1<<31 {
		return nil, true, fmt.Errorf("wasm plugin %q: envelope of %d bytes is too large", p.name, n)
	}
	dl := p.wd.at(deadline)
	in.deadline.Store(dl)
	p.wd.kick()
	if ctx.Done() != nil {
		// The call's context ends when its socket goes: the watchdog then
		// stops the call as at its deadline (scan), and it is reported as
		// abandoned. The watchdog ticks while calls run anyway, so this
		// costs the call a lock, not a context registration.
		in.watch(ctx)
		defer in.watch(nil)
	}
	in.env = env
	in.outSet, in.outErr = false, nil
	if !inPlace {
		if uint32(total) > in.bufCap {
			err = in.grow(uint32(total))
		}
		if err == nil && !in.mem.Write(in.bufPtr, in.in) {
			err = fmt.Errorf("guest buffer [%d, +%d) is outside its memory", in.bufPtr, total)
		}
		if cap(in.in) > 1<<20 {
			in.in = nil // do not keep a huge envelope's buffer
		}
	}
	if err == nil {
		in.stack[0], in.stack[1] = uint64(id), n
		err = in.handle.CallWithStack(in.ctx, in.stack)
	}
	in.env = nil
	if !in.deadline.CompareAndSwap(dl, stateIdle) {
		waitTripped(in)
		if cerr := ctx.Err(); cerr != nil && time.Now().Before(deadline) {
			return nil, false, fmt.Errorf("wasm plugin %q: call abandoned: %w", p.name, cerr)
		}
		return nil, false, fmt.Errorf("%w: wasm plugin %q ran past its deadline", host.ErrTimeout, p.name)
	}
	in.pages.Store(in.mem.Size() >> 16)
	if err != nil {
		return nil, false, in.trapError(err)
	}
	if len(in.stderr.tail) > 0 {
		in.stderr.tail = in.stderr.tail[:0] // a call that went well: forget
	}
	if status := uint32(in.stack[0]); status != 0 {
		msg := ""
		if in.outSet {
			msg = ": " + truncate(string(in.out), 512)
		}
		return nil, in.recycled(), fmt.Errorf("wasm plugin %q failed (status %d)%s", p.name, status, msg)
	}
	if in.outErr != nil {
		return nil, in.recycled(), fmt.Errorf("wasm plugin %q: %w", p.name, in.outErr)
	}
	if !in.outSet {
		return nil, in.recycled(), nil // allowed unchanged
	}
	d, err = parseDecision(in.out)
	if err != nil {
		err = fmt.Errorf("wasm plugin %q: %w", p.name, err)
	}
	if cap(in.out) > 1<<16 {
		in.out = nil // do not keep a huge decision's buffer
	}
	return d, in.recycled(), err
}

// watch sets the context of the call about to run (nil once it is over).
func (in *instance) watch(ctx context.Context) {
	in.cancelMu.Lock()
	in.cancelCtx = ctx
	in.cancelMu.Unlock()
}

// cancelled reports whether the context of the running call was cancelled
// (watchdog goroutine). A deadline is the watchdog's own to enforce.
func (in *instance) cancelled() bool {
	in.cancelMu.Lock()
	ctx := in.cancelCtx
	in.cancelMu.Unlock()
	return ctx != nil && errors.Is(ctx.Err(), context.Canceled)
}

// recycled counts a call and reports true (keep the instance); when the
// instance has served its share, a successor is started in the background
// and the instance is closed when it comes back.
func (in *instance) recycled() bool {
	in.calls++
	if in.p.recycle > 0 && in.calls == in.p.recycle && !in.retiring {
		in.retiring = true
		in.p.live.Add(1)
		go in.p.refill()
	}
	return true
}

// grow asks the guest for a buffer of n bytes.
func (in *instance) grow(n uint32) error {
	in.stack[0] = uint64(n)
	if err := in.buffer.CallWithStack(in.ctx, in.stack); err != nil {
		return err
	}
	ptr := uint32(in.stack[0])
	if ptr == 0 || uint64(ptr)+uint64(n) > uint64(in.mem.Size()) {
		return fmt.Errorf("hubd_buffer(%d) returned %d, outside the guest's memory of %d bytes", n, ptr, in.mem.Size())
	}
	in.bufPtr, in.bufCap = ptr, n
	return nil
}

// trapError describes a call that trapped, with what the guest wrote to
// stderr.
func (in *instance) trapError(err error) error {
	p := in.p
	msg := fmt.Sprintf("wasm plugin %q trapped (memory %d of %d pages)", p.name, in.pages.Load(), p.pages)
	if tail := in.stderr.takeTail(); tail != "" {
		err = fmt.Errorf("%w; stderr: %s", err, tail)
	}
	return fmt.Errorf("%s: %w", msg, err)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}

// release puts an instance back in the pool.
func (p *Plugin) release(in *instance) {
	if in.retiring {
		p.closeInstance(in)
		p.live.Add(-1)
		return
	}
	p.pool <- in
}

// discard closes a failed instance and starts its replacement.
func (p *Plugin) discard(in *instance) {
	p.closeInstance(in)
	p.replaced.Add(1)
	if in.retiring { // its successor is already on the way
		p.live.Add(-1)
		return
	}
	go p.refill()
}

// refill instantiates one instance in the background and pools it.
func (p *Plugin) refill() {
	backoff := 50 * time.Millisecond
	for {
		if p.closed.Load() {
			p.live.Add(-1)
			return
		}
		in, err := p.newInstance(time.Now().Add(p.loadTimeout), p.loadTimeout, false)
		if err == nil {
			if p.closed.Load() {
				p.closeInstance(in)
				p.live.Add(-1)
				return
			}
			p.pool <- in
			return
		}
		p.logger.Error("wasm plugin: cannot replace an instance", "err", err)
		select {
		case <-p.done:
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

// newInstance instantiates the module and initialises the guest, every
// call into it under one deadline: _initialize, the first hubd_buffer and,
// with hooks (the first instance of a load), hubd_hooks. Instantiating runs
// no guest code: a module with a start function is refused at load. limit
// is how long the deadline gave, for the error of a guest that overruns it.
func (p *Plugin) newInstance(deadline time.Time, limit time.Duration, hooks bool) (*instance, error) {
	in := &instance{p: p, stack: make([]uint64, 2)}
	in.ctx = context.WithValue(context.Background(), instKey{}, in)
	if p.mode == CloseOnDone {
		in.ctx, in.cancel = context.WithCancel(in.ctx)
	}
	in.stdout = &lineWriter{p: p, in: in, level: slog.LevelInfo}
	in.stderr = &lineWriter{p: p, in: in, level: slog.LevelWarn, tail: []byte{}}
	mod, err := p.rt.InstantiateModule(in.ctx, p.cm, p.modCfg.WithStdout(in.stdout).WithStderr(in.stderr))
	if err != nil {
		if in.cancel != nil {
			in.cancel()
		}
		return nil, fmt.Errorf("instantiating: %w", err)
	}
	in.mod = mod
	in.mem = mod.Memory()
	in.handle = mod.ExportedFunction("hubd_handle")
	in.buffer = mod.ExportedFunction("hubd_buffer")
	fail := func(err error) (*instance, error) {
		p.closeInstance(in)
		return nil, err
	}
	if in.mem == nil {
		return fail(errors.New("the module has no memory"))
	}
	if p.mode == Interrupt {
		g, ok := mod.ExportedGlobal(interruptExport).(api.MutableGlobal)
		if !ok {
			return fail(errors.New("instrumented module lacks its interrupt global"))
		}
		in.interrupt = g
	}
	p.wd.add(in)
	limit = limit.Round(time.Millisecond)
	dl := p.wd.at(deadline)
	in.initDeadline = dl
	in.deadline.Store(dl)
	p.loading.Store(in)
	p.wd.kick()
	step := "_initialize"
	if init := mod.ExportedFunction("_initialize"); init != nil {
		err = init.CallWithStack(in.ctx, in.stack)
	}
	if err == nil {
		step = "hubd_buffer"
		err = in.grow(initialBuffer)
	}
	if err == nil && hooks {
		step = "hubd_hooks"
		err = p.readHooks(in)
	}
	p.loading.CompareAndSwap(in, nil)
	if !in.deadline.CompareAndSwap(dl, stateIdle) {
		waitTripped(in)
		return fail(fmt.Errorf("%w: the guest's %s did not return within %v, the time limit for loading; "+
			"look for an endless loop in its initialisation", host.ErrTimeout, step, max(limit, time.Millisecond)))
	}
	if err != nil {
		return fail(fmt.Errorf("initialising (%s): %w", step, in.trapError(err)))
	}
	in.pages.Store(in.mem.Size() >> 16)
	return in, nil
}

// readHooks asks the guest which hooks it handles (optional export); it is
// called by newInstance, under the load deadline.
func (p *Plugin) readHooks(in *instance) error {
	f := in.mod.ExportedFunction("hubd_hooks")
	if f == nil {
		return nil
	}
	if err := f.CallWithStack(in.ctx, in.stack); err != nil {
		return err
	}
	p.hooks = uint32(in.stack[0]) &^ 1 // bit 0 is no hook
	return nil
}

// abortLoad stops the initialisation in progress, if any, at the
// watchdog's next tick (the load's context ended).
func (p *Plugin) abortLoad() {
	in := p.loading.Load()
	if in == nil {
		return
	}
	// Only the initialisation's own deadline is moved, never that of a
	// call the instance may serve by now.
	if d := in.initDeadline; d > 1 && in.deadline.CompareAndSwap(d, 1) {
		p.wd.kick()
	}
}

// trip stops the instance's running call (watchdog goroutine).
func (in *instance) trip() {
	if in.interrupt != nil {
		in.interrupt.Set(1)
	}
	if in.cancel != nil {
		in.cancel()
	}
}

func (p *Plugin) closeInstance(in *instance) {
	p.wd.remove(in)
	_ = in.mod.Close(context.Background())
	if in.cancel != nil {
		in.cancel()
	}
}

// log writes a guest's line to the plugin's logger, rate limited.
func (p *Plugin) log(ctx context.Context, level slog.Level, msg string, env *host.Envelope) {
	if !p.logger.Enabled(ctx, level) {
		return
	}
	ok, dropped := p.logLimit.allow(time.Now())
	if !ok {
		return
	}
	attrs := make([]slog.Attr, 0, 3)
	if env != nil {
		attrs = append(attrs, slog.String("hook", string(env.Hook)), slog.String("socket", env.Socket.ID))
	}
	if dropped > 0 {
		attrs = append(attrs, slog.Int64("dropped_lines", dropped))
	}
	p.logger.LogAttrs(ctx, level, msg, attrs...)
}

// Close stops the plugin: new calls fail at once, calls in flight finish
// (or reach their deadline), then the instances and the runtime are freed
// in the background.
func (p *Plugin) Close() error {
	if !p.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(p.done)
	go p.drain()
	return nil
}

func (p *Plugin) drain() {
	limit := time.Now().Add(2*p.timeout + p.loadTimeout)
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	for p.live.Load() > 0 && time.Now().Before(limit) {
		select {
		case in := <-p.pool:
			p.closeInstance(in)
			p.live.Add(-1)
		case <-tick.C:
		}
	}
	p.closeNow()
}

// closeNow frees the runtime and everything in it.
func (p *Plugin) closeNow() {
	p.closed.Store(true)
	_ = p.rt.Close(context.Background())
	p.wd.removePlugin(p)
}
