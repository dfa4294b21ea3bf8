package js

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dop251/goja"

	"github.com/hubd/hubd/host"
)

// instance is one goja runtime of a plugin's pool, with the handlers its
// run of the script registered. One call uses it at a time.
type instance struct {
	p        *Plugin
	rt       *goja.Runtime
	slot     int
	handlers [numHooks]goja.Callable
	loading  bool // the script is running its top level
	broken   bool // replace instead of returning to the pool
	// regexpGaveUp is set when a regular expression of this call was
	// given up for its time (regexp.go).
	regexpGaveUp bool

	deadline atomic.Int64 // watchdog state, see watchdog.go
	armed    int64
	// The context of the call in progress, for the watchdog to stop the
	// call when it is cancelled (watchCancel), and whether it did.
	cancelMu    sync.Mutex
	cancelCtx   context.Context
	cancelFired atomic.Bool

	// The call in progress.
	env        *host.Envelope
	argv       [1]goja.Value // the handler's argument
	logLeft    int
	logDropped int

	// Values made once.
	hookNames   [numHooks]goja.Value
	one         goja.Value
	trueValue   goja.Value
	falseValue  goja.Value
	objectProto *goja.Object
	rangeError  goja.Constructor // the runtime's own, for the limits' errors

	// lastEvent is the event name converted last (eventName).
	lastEvent struct {
		name string
		v    goja.Value
	}

	// Wrapped built-ins' state (limits.go, stringify.go).
	joining   []*goja.Object  // arrays being joined, outermost first
	stringify []*stringifyRun // JSON.stringify calls in progress

	// calls counts the calls (and loads) armed; the watchdog keeps the
	// last one it saw and the process's allocations then.
	calls      atomic.Uint64
	markedCall uint64
	allocMark  uint64

	dec decoder
	enc encoder
}

// deepFreeze freezes a value and everything it holds.
var deepFreeze = goja.MustCompile("hubd:freeze", `(function deepFreeze(o) {
	if (o !== null && typeof o === "object" && !Object.isFrozen(o)) {
		Object.freeze(o);
		for (const k of Object.keys(o)) deepFreeze(o[k]);
	}
	return o;
})`, true)

// handlerGlobals finds the handlers a script defines as top-level
// functions, var, let or const (the last two are not properties of the
// global object, so they are looked up by name).
var handlerGlobals = goja.MustCompile("hubd:handlers", `[`+
	`typeof onConnect === "function" ? onConnect : undefined, `+
	`typeof onJoin === "function" ? onJoin : undefined, `+
	`typeof onLeave === "function" ? onLeave : undefined, `+
	`typeof onEvent === "function" ? onEvent : undefined, `+
	`typeof onDisconnect === "function" ? onDisconnect : undefined]`, false)

// newInstance creates a runtime, installs the host objects, runs the
// script and looks its handlers up, all before deadline (the script's
// getters and proxies can loop as well as its top level can).
func (p *Plugin) newInstance(slot int, deadline time.Time) (*instance, error) {
	if !p.enter() {
		return nil, ErrClosed
	}
	defer p.leave()
	rt := goja.New()
	rt.SetMaxCallStackSize(maxCallDepth)
	if c := p.clock; c != nil {
		rt.SetTimeSource(c.Now)
		rt.SetRandSource(c.Float64)
	}
	in := &instance{p: p, rt: rt, slot: slot}
	in.dec.in = in
	in.enc.in = in
	for i, h := range hookOrder {
		in.hookNames[i] = rt.ToValue(string(h))
	}
	in.one = rt.ToValue(host.Version)
	in.trueValue = rt.ToValue(true)
	in.falseValue = rt.ToValue(false)
	in.objectProto = rt.NewObject().Prototype()
	p.slots[slot].in.Store(in)

	in.loading = true
	in.logLeft, in.logDropped = p.maxLog, 0
	limit := max(time.Until(deadline).Round(time.Millisecond), time.Millisecond)
	in.arm(deadline)
	p.loadingIn.Store(&loadingRef{in: in, deadline: in.armed})
	step, err := in.load()
	p.loadingIn.Store(nil)
	interrupted := in.disarm()
	in.loading = false
	in.flushLogDrops()
	if err != nil || interrupted {
		var ie *goja.InterruptedError
		if errors.As(err, &ie) {
			if _, ok := ie.Value().(memoryInterrupt); ok {
				return nil, in.memoryError("the script, while loading (" + cmp.Or(step, "installing host objects") + "),")
			}
		}
		if interrupted || ie != nil {
			return nil, fmt.Errorf("%w: js: the script did not finish loading within %v (%s); "+
				"look for an endless loop there", host.ErrTimeout, limit, cmp.Or(step, "installing host objects"))
		}
		if step == "" {
			return nil, err
		}
		return nil, fmt.Errorf("js: %s: %s", step, describe(err))
	}
	return in, nil
}

// loadingRef is the runtime being loaded and its deadline word, for
// abortLoad.
type loadingRef struct {
	in       *instance
	deadline int64
}

// abortLoad makes the watchdog stop the load in progress at its next tick
// (the load's context ended).
func (p *Plugin) abortLoad() {
	if l := p.loadingIn.Load(); l != nil && l.in.deadline.CompareAndSwap(l.deadline, 1) {
		p.wakeWatchdog()
	}
}

// load installs the globals, runs the script and looks its handlers up;
// step says which of these failed (empty: installing the globals, whose
// errors say so).
func (in *instance) load() (step string, err error) {
	if err = in.installLimits(); err != nil {
		return "", err
	}
	if in.p.execCheck {
		if err = in.installExecCheck(); err != nil {
			return "", fmt.Errorf("js: installing the regular expression check: %w", err)
		}
	}
	if err = in.installGlobals(); err != nil {
		return "", err
	}
	step = "running the script's top level"
	if err = in.runScript(); err != nil {
		return step, err
	}
	step = "looking up the script's handlers"
	globals, err := in.rt.RunProgram(handlerGlobals)
	if err != nil {
		return step, err
	}
	list := globals.(*goja.Object) // a plain array of five: reading it runs no script code
	for i, name := range globalNames {
		fn, ok := goja.AssertFunction(list.Get(index(int64(i))))
		if !ok {
			continue
		}
		if in.handlers[i] != nil {
			return step, fmt.Errorf("the script both calls hubd.on(%q) and defines %s; use one", hookOrder[i], name)
		}
		in.handlers[i] = fn
	}
	return "", nil
}

func (in *instance) runScript() (err error) {
	defer func() {
		if x := recover(); x != nil {
			err = panicError(x)
		}
	}()
	_, err = in.rt.RunProgram(in.p.prog)
	return err
}

func (in *instance) registered() hookSet {
	var s hookSet
	for i, h := range in.handlers {
		if h != nil {
			s |= 1 << i
		}
	}
	return s
}

// installGlobals defines hubd and console.
func (in *instance) installGlobals() error {
	rt := in.rt
	cfg, err := in.configValue()
	if err != nil {
		return err
	}
	hubd := rt.NewObject()
	console := rt.NewObject()
	err = errors.Join(
		hubd.Set("on", in.native("on", in.on)),
		hubd.Set("log", in.native("log", in.hubdLog)),
		hubd.Set("config", cfg),
		hubd.Set("revoke", in.native("revoke", in.revoke)),
		console.Set("log", in.native("log", in.consoleFunc(levelInfo))),
		console.Set("info", in.native("info", in.consoleFunc(levelInfo))),
		console.Set("debug", in.native("debug", in.consoleFunc(levelDebug))),
		console.Set("warn", in.native("warn", in.consoleFunc(levelWarn))),
		console.Set("error", in.native("error", in.consoleFunc(levelError))),
	)
	if err != nil {
		return fmt.Errorf("js: installing host objects: %w", err)
	}
	freeze, err := rt.RunProgram(deepFreeze)
	if err != nil {
		return fmt.Errorf("js: installing host objects: %w", err)
	}
	f, _ := goja.AssertFunction(freeze)
	g := rt.GlobalObject()
	for name, obj := range map[string]*goja.Object{"hubd": hubd, "console": console} {
		if _, err := f(goja.Undefined(), obj); err != nil {
			return fmt.Errorf("js: installing host objects: %w", err)
		}
		if err := g.DefineDataProperty(name, obj, goja.FLAG_FALSE, goja.FLAG_FALSE, goja.FLAG_FALSE); err != nil {
			return fmt.Errorf("js: installing host objects: %w", err)
		}
	}
	return nil
}

// native makes a host function with a proper name property.
func (in *instance) native(name string, fn func(goja.FunctionCall) goja.Value) goja.Value {
	f := in.rt.ToValue(fn).(*goja.Object)
	_ = f.DefineDataProperty("name", in.rt.ToValue(name), goja.FLAG_FALSE, goja.FLAG_TRUE, goja.FLAG_FALSE)
	return f
}

// configValue parses the manifest's config; absent config is {}.
func (in *instance) configValue() (goja.Value, error) {
	if len(strings.TrimSpace(string(in.p.config))) == 0 {
		return in.rt.NewObject(), nil
	}
	in.dec.plain = true
	v, err := in.dec.parse(in.p.config)
	in.dec.plain = false
	if err != nil {
		return nil, fmt.Errorf("js: manifest config: %w", err)
	}
	return v, nil
}

// on is hubd.on(hook, fn).
func (in *instance) on(call goja.FunctionCall) goja.Value {
	if !in.loading {
		panic(in.rt.NewTypeError("hubd.on can only be called while the script loads (at its top level)"))
	}
	name := call.Argument(0)
	hi := -1
	if goja.IsString(name) {
		hi = hookIndex(host.Hook(name.String()))
	}
	if hi < 0 {
		panic(in.rt.NewTypeError("hubd.on: unknown hook %s (use \"connect\", \"join\", \"leave\", \"event\" or \"disconnect\")", name.String()))
	}
	fn, ok := goja.AssertFunction(call.Argument(1))
	if !ok {
		panic(in.rt.NewTypeError("hubd.on(%q, handler): the handler is not a function", name.String()))
	}
	if in.handlers[hi] != nil {
		panic(in.rt.NewTypeError("hubd.on(%q) is called twice; register one handler per hook", name.String()))
	}
	in.handlers[hi] = fn
	return goja.Undefined()
}

// handle runs the handler of hook hi for env.
func (in *instance) handle(hi int, env *host.Envelope, deadline time.Time) (*host.Decision, error) {
	in.env = env
	in.logLeft, in.logDropped = in.p.maxLog, 0
	in.dec.spent = 0
	in.regexpGaveUp = false
	in.arm(deadline)
	armed := in.armed
	obj := newEnvelope(in, env, hi)
	d, err := in.call(hi, obj)
	obj.detach()
	// If the watchdog fired just as the call ended, its interrupt is
	// cleared here. A decision made past the deadline does not stand
	// either way: a regular expression that regexp2 gave up (regexp.go)
	// may have made it wrong.
	in.disarm()
	switch {
	case err == nil && int64(time.Since(in.p.epoch)) >= armed:
		d, err = nil, fmt.Errorf("%w: the %s handler returned after its deadline", host.ErrTimeout, env.Hook)
	case err != nil && in.regexpGaveUp && !errors.Is(err, host.ErrTimeout):
		err = fmt.Errorf("%w: a regular expression ran out of its time: %v", host.ErrTimeout, err)
	}
	in.env = nil
	in.flushLogDrops()
	return d, err
}

func (in *instance) call(hi int, obj *envObject) (d *host.Decision, err error) {
	defer func() {
		if x := recover(); x != nil {
			in.broken = true
			d, err = nil, in.callError(panicError(x))
		}
	}()
	// The argument list is the instance's: goja copies the arguments onto
	// its stack and keeps nothing of the slice.
	in.argv[0] = in.rt.NewDynamicObject(obj)
	ret, err := in.handlers[hi](goja.Undefined(), in.argv[:]...)
	in.argv[0] = nil
	if err != nil {
		return nil, in.callError(err)
	}
	if ret == nil || goja.IsUndefined(ret) || goja.IsNull(ret) {
		return nil, nil // allowed unchanged; nothing of the script's to read
	}
	var derr error
	if ex := in.rt.Try(func() { d, derr = in.decision(ret) }); ex != nil {
		return nil, fmt.Errorf("js: reading the %s handler's decision: %s", hookOrder[hi], describe(ex))
	}
	return d, derr
}

// callError turns a goja error into the plugin's error.
func (in *instance) callError(err error) error {
	hook := in.env.Hook
	var ie *goja.InterruptedError
	if errors.As(err, &ie) {
		in.broken = true
		if _, ok := ie.Value().(memoryInterrupt); ok {
			return in.memoryError("the " + string(hook) + " handler")
		}
		at := strings.TrimPrefix(ie.Error(), host.ErrTimeout.Error())
		return fmt.Errorf("%w: the %s handler was stopped%s", host.ErrTimeout, hook, at)
	}
	var so *goja.StackOverflowError
	if errors.As(err, &so) {
		in.broken = true
		return fmt.Errorf("js: the %s handler exceeded the maximum call depth (%d)%s", hook, maxCallDepth, so.Error())
	}
	return fmt.Errorf("js: the %s handler threw: %s", hook, describe(err))
}

// ErrMemoryLimit is wrapped by the error of a call (or a load) that the
// watchdog stopped because it allocated more than the plugin's memory
// limit.
var ErrMemoryLimit = errors.New("js: over the plugin's memory limit")

// memoryError says who went over the memory limit and what to do.
func (in *instance) memoryError(who string) error {
	return fmt.Errorf("%w: %s allocated more than %d MiB and was stopped; "+
		"raise max_memory_mib in the manifest if it needs more", ErrMemoryLimit, who, in.p.limits.bytes>>20)
}

// describe renders a goja error with its JS stack, bounded.
func describe(err error) string {
	var s string
	var ex *goja.Exception
	if errors.As(err, &ex) {
		s = strings.TrimRight(ex.String(), "\n")
	} else {
		s = err.Error()
	}
	const max = 4 << 10
	if len(s) > max {
		s = s[:max] + "…"
	}
	return s
}

type goPanic struct{ v any }

func (p goPanic) Error() string { return fmt.Sprintf("js: runtime panic: %v", p.v) }

// panicError turns a recovered panic into an error.
func panicError(x any) error {
	if err, ok := x.(error); ok {
		var ie *goja.InterruptedError
		var ex *goja.Exception
		if errors.As(err, &ie) || errors.As(err, &ex) {
			return err
		}
	}
	return goPanic{x}
}
