package wasm

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/tetratelabs/wazero"
	"github.com/tetratelabs/wazero/api"
	"github.com/tetratelabs/wazero/imports/wasi_snapshot_preview1"
	"github.com/tetratelabs/wazero/sys"

	"github.com/hubd/hubd/host"
)

// Termination chooses how a call past its deadline is stopped.
type Termination int

const (
	// Interrupt rewrites the module at load so that every loop head checks
	// an interrupt global the watchdog sets (the default: a load and a
	// branch per loop iteration).
	Interrupt Termination = iota
	// CloseOnDone compiles the module with wazero's WithCloseOnContextDone
	// and the watchdog cancels the instance's context. It works for any
	// module but costs a goroutine per call and an exit to Go at every
	// loop iteration. Modules the rewriter does not understand use it.
	CloseOnDone
)

func (t Termination) String() string {
	if t == CloseOnDone {
		return "close-on-done"
	}
	return "interrupt"
}

// Defaults.
const (
	// DefaultRecycleAfter is the number of calls after which an instance is
	// replaced by a fresh one, to contain a guest that leaks.
	DefaultRecycleAfter = 100_000
	// maxPoolSize bounds Manifest.PoolSize.
	maxPoolSize = 64
	// DefaultLoadTimeout bounds a guest's initialisation, per instance:
	// _initialize, the first hubd_buffer and hubd_hooks.
	DefaultLoadTimeout = 5 * time.Second
	// maxModuleSize bounds the .wasm file.
	maxModuleSize = 128 << 20
	// initialBuffer is the guest buffer asked for when an instance starts.
	initialBuffer = 4096
)

// errGarbage is the host's invalid-decision error.
var errGarbage = host.ErrGarbage

// errClosed is returned by a plugin that has been closed.
var errClosed = errors.New("wasm: plugin closed")

// Runtime loads Wasm plugins. It implements host.Runtime. One Runtime
// serves any number of plugins, which share its compilation cache and its
// watchdog; it is safe for concurrent use.
type Runtime struct {
	opts options
	wd   *watchdog

	cacheOnce sync.Once
	cache     wazero.CompilationCache
}

type options struct {
	cacheDir     string
	cache        wazero.CompilationCache
	termination  Termination
	recycleAfter int
	loadTimeout  time.Duration
	clock        host.Clock
}

// Option configures a Runtime.
type Option func(*options)

// WithCacheDir keeps compiled modules in dir (created if needed). By
// default they are kept in os.UserCacheDir()/hubd/wazero, or in memory when
// there is no such directory.
func WithCacheDir(dir string) Option { return func(o *options) { o.cacheDir = dir } }

// WithCompilationCache uses c as the compilation cache (e.g. one shared
// with other runtimes); it overrides WithCacheDir.
func WithCompilationCache(c wazero.CompilationCache) Option {
	return func(o *options) { o.cache = c }
}

// WithTermination sets how calls past their deadline are stopped (default
// Interrupt).
func WithTermination(t Termination) Option { return func(o *options) { o.termination = t } }

// WithRecycleAfter replaces an instance after n calls (default
// DefaultRecycleAfter; a negative n never recycles).
func WithRecycleAfter(n int) Option { return func(o *options) { o.recycleAfter = n } }

// WithLoadTimeout bounds how long an instance may take to initialise
// (default DefaultLoadTimeout). A guest that runs longer fails to load,
// with an error wrapping host.ErrTimeout.
func WithLoadTimeout(d time.Duration) Option { return func(o *options) { o.loadTimeout = d } }

// WithClock gives the guests c's wall clock, monotonic clock and random
// bytes (WASI clock_time_get and random_get) in place of the system's (a
// replay sets one).
func WithClock(c host.Clock) Option { return func(o *options) { o.clock = c } }

// New returns a Runtime.
func New(opts ...Option) *Runtime {
	r := &Runtime{wd: newWatchdog()}
	for _, o := range opts {
		o(&r.opts)
	}
	if r.opts.recycleAfter == 0 {
		r.opts.recycleAfter = DefaultRecycleAfter
	}
	if r.opts.loadTimeout <= 0 {
		r.opts.loadTimeout = DefaultLoadTimeout
	}
	return r
}

// compilationCache returns the cache, creating the default one.
func (r *Runtime) compilationCache() wazero.CompilationCache {
	r.cacheOnce.Do(func() {
		if r.opts.cache != nil {
			r.cache = r.opts.cache
			return
		}
		dir := r.opts.cacheDir
		if dir == "" {
			if base, err := os.UserCacheDir(); err == nil {
				dir = filepath.Join(base, "hubd", "wazero")
			}
		}
		if dir != "" {
			if err := os.MkdirAll(dir, 0o700); err == nil {
				if c, err := wazero.NewCompilationCacheWithDir(dir); err == nil {
					r.cache = c
					return
				}
			}
		}
		r.cache = wazero.NewCompilationCache()
	})
	return r.cache
}

// capabilities the Wasm runtime grants. Log, clock and config are given to
// every guest; revoke only to a plugin whose manifest lists it; anything
// else a manifest asks for is not provided here.
var knownCapabilities = []string{"log", "clock", "config", "revoke"}

// Load compiles the plugin's module, checks that it follows the hubd_v1
// ABI and instantiates its pool.
func (r *Runtime) Load(ctx context.Context, spec host.Spec) (host.Plugin, error) {
	m := spec.Manifest
	for _, c := range m.Capabilities {
		if !slices.Contains(knownCapabilities, c) {
			return nil, fmt.Errorf("capability %q is not provided by the wasm runtime (it provides %v)", c, knownCapabilities)
		}
	}
	bin, err := readModule(spec.Entry)
	if err != nil {
		return nil, err
	}
	logger := spec.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	p := &Plugin{
		name:        m.Name,
		logger:      logger,
		wd:          r.wd,
		config:      append([]byte(nil), m.Config...),
		clock:       r.opts.clock,
		revoke:      spec.Revoke,
		timeout:     time.Duration(m.Timeout),
		pages:       m.MaxMemoryPages,
		size:        m.PoolSize,
		mode:        r.opts.termination,
		recycle:     r.opts.recycleAfter,
		loadTimeout: r.opts.loadTimeout,
		done:        make(chan struct{}),
	}
	if p.timeout <= 0 {
		p.timeout = host.DefaultTimeout
	}
	if p.pages == 0 {
		p.pages = host.DefaultMemoryPages
	}
	if p.pages > 65536 {
		p.pages = 65536
	}
	if p.size <= 0 {
		p.size = min(runtime.NumCPU(), 8)
	}
	p.size = min(p.size, maxPoolSize)

	if hasStartFunction(bin) {
		return nil, fmt.Errorf("%s: the module has a start function, which would run outside any time limit; "+
			"a hubd_v1 plugin initialises in _initialize (build a reactor: Go -buildmode=c-shared, clang -mexec-model=reactor)", spec.Entry)
	}
	if p.mode == Interrupt {
		if ib, err := instrument(bin); err == nil {
			bin = ib
		} else {
			logger.Warn("wasm module cannot be instrumented; stopping calls with WithCloseOnContextDone instead (slower)",
				"entry", spec.Entry, "err", err)
			p.mode = CloseOnDone
		}
	}

	cfg := wazero.NewRuntimeConfig().
		WithCompilationCache(r.compilationCache()).
		WithMemoryLimitPages(p.pages).
		WithCloseOnContextDone(p.mode == CloseOnDone)
	rt := wazero.NewRuntimeWithConfig(ctx, cfg)
	p.rt = rt
	fail := func(err error) (host.Plugin, error) {
		_ = rt.Close(context.Background())
		return nil, err
	}
	if _, err := wasi_snapshot_preview1.Instantiate(ctx, rt); err != nil {
		return fail(fmt.Errorf("wasi: %w", err))
	}
	if err := instantiateHubd(ctx, rt); err != nil {
		return fail(fmt.Errorf("hubd host module: %w", err))
	}
	cm, err := rt.CompileModule(ctx, bin)
	if err != nil {
		return fail(fmt.Errorf("compiling %s: %w", spec.Entry, err))
	}
	if err := checkABI(cm); err != nil {
		return fail(fmt.Errorf("%s: %w", spec.Entry, err))
	}
	p.cm = cm
	p.modCfg = wazero.NewModuleConfig().
		WithName("").
		WithStartFunctions(). // _initialize is called under a deadline by newInstance
		WithSysWalltime().
		WithSysNanotime().
		WithRandSource(rand.Reader)
	if c := r.opts.clock; c != nil {
		p.modCfg = p.modCfg.
			WithWalltime(func() (int64, int32) {
				t := c.Now()
				return t.Unix(), int32(t.Nanosecond())
			}, sys.ClockResolution(time.Microsecond)).
			WithNanotime(c.Nanotime, sys.ClockResolution(time.Microsecond)).
			WithRandSource(c)
	}
	p.pool = make(chan *instance, 2*p.size)

	r.wd.addPlugin(p)
	// Each instance gets loadTimeout to initialise, within ctx's deadline;
	// ctx ending stops the initialisation in progress.
	stop := context.AfterFunc(ctx, p.abortLoad)
	defer stop()
	for i := 0; i < p.size; i++ {
		if err := ctx.Err(); err != nil {
			p.closeNow()
			return nil, fmt.Errorf("%s: loading stopped: %w", spec.Entry, err)
		}
		now := time.Now()
		deadline, limit := now.Add(p.loadTimeout), p.loadTimeout
		byCtx := false
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline, limit, byCtx = d, d.Sub(now), true
		}
		in, err := p.newInstance(deadline, limit, i == 0)
		if err != nil {
			p.closeNow()
			if cerr := loadStopped(ctx, byCtx, err); cerr != nil {
				err = fmt.Errorf("loading stopped: %w (%w)", cerr, err)
			}
			return nil, fmt.Errorf("%s: %w", spec.Entry, err)
		}
		p.live.Add(1)
		p.pool <- in
	}
	return p, nil
}

func readModule(path string) ([]byte, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if fi.Size() > maxModuleSize {
		return nil, fmt.Errorf("%s: module of %d bytes is larger than %d", path, fi.Size(), maxModuleSize)
	}
	return os.ReadFile(path)
}

// hasStartFunction reports whether bin has a start section: a function
// that instantiation runs, before the watchdog can reach the instance.
// A malformed binary is left for the compiler to report.
func hasStartFunction(bin []byte) bool {
	if len(bin) < 8 {
		return false
	}
	r := &reader{b: bin, off: 8}
	for r.off < len(bin) {
		id := r.byte()
		size := r.u32()
		if r.err != nil {
			return false
		}
		if id == 8 {
			return true
		}
		if uint64(r.off)+uint64(size) > uint64(len(bin)) {
			return false
		}
		r.off += int(size)
	}
	return false
}

// checkABI checks the module's exports and imports against hubd_v1.
func checkABI(cm wazero.CompiledModule) error {
	exports := cm.ExportedFunctions()
	if _, ok := exports["hubd_abi_v1"]; !ok {
		if _, start := exports["_start"]; start {
			return errors.New("not a hubd_v1 plugin: it exports _start but not hubd_abi_v1 (build a reactor: Go -buildmode=c-shared, clang -mexec-model=reactor, with the hubd SDK)")
		}
		return errors.New("not a hubd_v1 plugin: it does not export hubd_abi_v1 (see sdk/wasm/ABI.md)")
	}
	want := []struct {
		name            string
		params, results []api.ValueType
		optional        bool
	}{
		{"hubd_buffer", []api.ValueType{i32}, []api.ValueType{i32}, false},
		{"hubd_handle", []api.ValueType{i32, i32}, []api.ValueType{i32}, false},
		{"hubd_hooks", nil, []api.ValueType{i32}, true},
		{"_initialize", nil, nil, true},
	}
	for _, w := range want {
		f, ok := exports[w.name]
		if !ok {
			if w.optional {
				continue
			}
			return fmt.Errorf("hubd_v1 plugin does not export %s", w.name)
		}
		if !slices.Equal(f.ParamTypes(), w.params) || !slices.Equal(f.ResultTypes(), w.results) {
			return fmt.Errorf("export %s has type %s, want %s", w.name,
				sig(f.ParamTypes(), f.ResultTypes()), sig(w.params, w.results))
		}
	}
	if len(cm.ImportedMemories()) > 0 {
		return errors.New("a hubd_v1 plugin defines its own memory; it may not import one")
	}
	for _, f := range cm.ImportedFunctions() {
		mod, name, _ := f.Import()
		switch {
		case mod == "hubd" && hubdImports[name]:
		case mod == "wasi_snapshot_preview1":
		case mod == "hubd":
			return fmt.Errorf("imports hubd.%s, which the host does not provide (it provides output, log, config, now_ns and attachment)", name)
		default:
			return fmt.Errorf("imports %s.%s: a plugin may import only from the hubd and wasi_snapshot_preview1 modules", mod, name)
		}
	}
	return nil
}

func sig(params, results []api.ValueType) string {
	name := func(ts []api.ValueType) string {
		s := "("
		for i, t := range ts {
			if i > 0 {
				s += ","
			}
			s += api.ValueTypeName(t)
		}
		return s + ")"
	}
	return name(params) + "->" + name(results)
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
