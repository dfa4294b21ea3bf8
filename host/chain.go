package host

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

// loaded is a plugin in a chain table, with its counters, its breaker and
// its sockets' strikes.
type loaded struct {
	m        Manifest
	p        Plugin
	lastWarn atomic.Int64 // unix nanos of the last failure logged
	version  string       // content hash, for directory reloads
	ident    identID      // what decision traces say of it
	stats    [len(hookIndex)]*hookStats
	breaker  breaker
	strikes  strikes // failures per socket
	// struckLane admits one call at a time from sockets with strikes, so
	// that sockets whose calls keep failing (a backtracking regular
	// expression, a loop) share one of the plugin's runtimes, not all.
	struckLane chan struct{}
	// budgets are the chain budgets set on the host that loaded it (see
	// Host.SetChainBudget); the chains it is in read them.
	budgets *chainBudgets
	// shadow runs the plugin's calls when its manifest makes it a shadow
	// (Manifest.Shadow); nil for a live plugin.
	shadow *shadowRunner
}

// setVersion sets the plugin's content hash, before its table is in use.
func (l *loaded) setVersion(v string) {
	l.version = v
	l.ident = identify(l.m.Name, v, l.m.Runtime)
}

// hookIndex maps hooks to array slots.
var hookIndex = [...]Hook{HookConnect, HookJoin, HookLeave, HookEvent, HookDisconnect}

// slotEvent is the event hook's slot, checked first on the hot path.
var slotEvent = slot(HookEvent)

// slot is h's index in hookIndex, -1 for no hook; every hook call takes
// it, so it switches on the length, which tells the hooks apart but for
// leave and event.
func slot(h Hook) int {
	switch len(h) {
	case len(HookConnect):
		if h == HookConnect {
			return 0
		}
	case len(HookJoin):
		if h == HookJoin {
			return 1
		}
	case len(HookEvent):
		switch h {
		case HookEvent:
			return 3
		case HookLeave:
			return 2
		}
	case len(HookDisconnect):
		if h == HookDisconnect {
			return 4
		}
	}
	return -1
}

func newLoaded(m Manifest, p Plugin, budgets *chainBudgets) *loaded {
	l := &loaded{m: m, p: p, struckLane: make(chan struct{}, 1), budgets: budgets}
	l.ident = identify(m.Name, "", m.Runtime)
	for i := range l.stats {
		l.stats[i] = newHookStats()
	}
	return l
}

// table is an immutable set of loaded plugins, ordered, with the plugins
// of each hook listed apart so that a hook nobody handles costs nothing.
type table struct {
	plugins []*loaded
	byHook  [len(hookIndex)][]*loaded
	logger  *slog.Logger
	budgets *chainBudgets // nil: the defaults
	// shadows lists the shadow plugins of each live one; nil when none.
	shadows shadowSet
}

// warnEvery bounds how often one plugin's failures are logged.
const warnEvery = time.Second

// warn logs a failed call, at most once per warnEvery per plugin; the
// counters have them all.
func (t *table) warn(l *loaded, hook Hook, socket string, err error) {
	if t.logger == nil {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastWarn.Load()
	if now-last < int64(warnEvery) || !l.lastWarn.CompareAndSwap(last, now) {
		return
	}
	policy := "allow"
	if l.m.failClosed(hook) {
		policy = "deny"
	}
	t.logger.Warn("plugin call failed", "plugin", l.m.Name, "runtime", l.m.Runtime, "hook", string(hook), "socket", socket, "policy", policy, "err", err)
}

func newTable(plugins []*loaded, logger *slog.Logger) *table {
	slices.SortFunc(plugins, func(a, b *loaded) int {
		if a.m.Priority != b.m.Priority {
			return a.m.Priority - b.m.Priority
		}
		return strings.Compare(a.m.Name, b.m.Name)
	})
	t := &table{plugins: plugins, logger: logger}
	for _, l := range plugins {
		t.budgets = l.budgets // one host loaded them all
		if l.shadow != nil {
			continue // called beside the plugin it shadows, never in the chain
		}
		for _, h := range l.m.Hooks {
			if i := slot(h); i >= 0 {
				t.byHook[i] = append(t.byHook[i], l)
			}
		}
	}
	t.shadows = shadowsOf(plugins)
	return t
}

// subscribed reports whether any plugin handles hook in namespace ns for
// event.
func (t *table) subscribed(hook Hook, ns, event string) bool {
	for _, l := range t.byHook[slot(hook)] {
		if l.m.handles(hook, ns, event) {
			return true
		}
	}
	return false
}

// defaultBudgets bound the total time of one hook's chain, unless the host
// sets another bound (Host.SetChainBudget).
var defaultBudgets = [len(hookIndex)]time.Duration{
	time.Second,            // connect
	time.Second,            // join
	500 * time.Millisecond, // leave
	250 * time.Millisecond, // event
	500 * time.Millisecond, // disconnect
}

// chainBudgets are the bounds a host sets, by hook slot, in nanoseconds;
// zero is the default.
type chainBudgets [len(hookIndex)]atomic.Int64

// budget returns the bound of the chain in slot i.
func (b *chainBudgets) budget(i int) time.Duration {
	if b != nil {
		if d := time.Duration(b[i].Load()); d > 0 {
			return d
		}
	}
	return defaultBudgets[i]
}

// SetChainBudget sets the upper bound of one hook's chain: the total time
// of the calls into the plugins that handle one connect, join, leave, event
// or disconnect. A call gets the smaller of its manifest's timeout and
// what is left of the chain's budget; past it, the plugin's failure policy
// answers. Zero (or less) restores the default: connect 1 s, join 1 s,
// leave 500 ms, event 250 ms, disconnect 500 ms. It holds for the chains
// that start after it, across loads and reloads.
//
// The budget keeps slow plugins from holding up a socket: raise it only for
// plugins that must wait for something slower (a remote service). A
// reload closes the plugins it replaces 2 s after it: a call still running
// on one then fails.
func (h *Host) SetChainBudget(hook Hook, d time.Duration) {
	i := slot(hook)
	if i < 0 {
		return
	}
	h.budgets[i].Store(int64(max(d, 0)))
}

// ChainBudget returns the upper bound of hook's chain (see SetChainBudget),
// or zero for a hook that is not one.
func (h *Host) ChainBudget(hook Hook) time.Duration {
	i := slot(hook)
	if i < 0 {
		return 0
	}
	return h.budgets.budget(i)
}

// unavailable is the decision of a plugin that fails closed.
var unavailable = Decision{Action: Deny, Reason: "plugin unavailable", Data: wire.Raw(`{"temporary":true}`)}

// rejectedInput is the decision of a plugin that fails closed on an
// envelope nested deeper than MaxJSONDepth.
var rejectedInput = Decision{
	Action: Deny,
	Reason: "input nested deeper than " + strconv.Itoa(MaxJSONDepth) + " levels: send flatter JSON",
	Data:   wire.Raw(`{"max_depth":` + strconv.Itoa(MaxJSONDepth) + `}`),
}

// abandonedCall is the decision of a chain given up because its context
// ended (the socket went): the event, join or connect goes nowhere, as the
// plugin never decided to let it through.
var abandonedCall = Decision{Action: Drop, Reason: "socket disconnected"}

// abandoned reports whether a call's error is ctx's end (the socket went)
// rather than the plugin's failure.
func abandoned(ctx context.Context, err error) bool {
	return errors.Is(err, context.Canceled) && ctx.Err() != nil
}

// run calls the chain of hook for env. Each plugin sees env as the plugins
// before it changed it; the returned decision gathers their changes and
// carries the action that ended the chain (or allow).
//
// A plugin's failures on a socket's calls (every hook but connect, whose
// socket is not yet one) are charged to that socket first: see breaker.go.
// A call given up because ctx ended (the hooks pass the socket's context,
// which ends when the socket goes) is no failure of the plugin: it counts
// towards neither its breaker nor the socket's strikes, is logged at debug
// level only, and ends the chain with a drop (abandonedCall).
//
// With tb set, each plugin consulted adds a step to it (decision traces).
func (t *table) run(ctx context.Context, hook Hook, env *Envelope, tb *traceBuf) Decision {
	var out Decision
	i := slot(hook)
	chain := t.byHook[i]
	if len(chain) == 0 {
		return out
	}
	start := time.Now()
	if tb != nil {
		tb.hook, tb.start = hook, start
	}
	budgetEnd := start.Add(t.budgets.budget(i))
	sock := env.Socket.ID
	if hook == HookConnect {
		sock = ""
	}
	checked := false
	now := start // the first plugin's call starts now; later ones read the clock
	for k, l := range chain {
		if !l.m.handles(hook, env.Namespace, env.Event) {
			continue
		}
		if !checked {
			// Decisions are checked against the same bound, so what the
			// plugins change stays within it.
			checked = true
			if tooDeep(env) {
				return t.reject(hook, env, chain, tb)
			}
		}
		if k > 0 {
			now = time.Now()
		}
		held, struck := l.strikes.held(sock, now)
		if held {
			l.stats[i].observe(OutcomeSocketBackoff, 0)
			tb.add(l, OutcomeSocketBackoff, 0, nil, nil)
			if l.m.failClosed(hook) {
				merge(&out, &unavailable)
				return out
			}
			continue
		}
		admitted, probe := l.breaker.admit(now)
		if !admitted {
			l.stats[i].observe(OutcomeCircuitOpen, 0)
			tb.add(l, OutcomeCircuitOpen, 0, nil, nil)
			if l.m.failClosed(hook) {
				merge(&out, &unavailable)
				return out
			}
			continue
		}
		if struck {
			// A socket with strikes shares one lane with the others: while
			// another's call runs, this one is answered as a held-back one,
			// and counts no strike.
			select {
			case l.struckLane <- struct{}{}:
			default:
				l.stats[i].observe(OutcomeSocketBackoff, 0)
				tb.add(l, OutcomeSocketBackoff, 0, nil, nil)
				if l.m.failClosed(hook) {
					merge(&out, &unavailable)
					return out
				}
				continue
			}
		}
		deadline := now.Add(time.Duration(l.m.Timeout))
		if deadline.After(budgetEnd) {
			deadline = budgetEnd
		}
		d, err := handleBy(l.p, ctx, deadline, env)
		if struck {
			<-l.struckLane
		}
		took := time.Since(now)
		if err == nil && d != nil {
			err = CheckDecision(d)
			if err == nil && hook == HookEvent {
				err = checkPlaceholders(d, len(env.Attachments))
			}
		}
		end := now.Add(took)
		if t.shadows != nil && t.shadows[l] != nil && !abandoned(ctx, err) {
			t.shadow(l, hook, env, d, err, tb)
		}
		if err != nil && abandoned(ctx, err) {
			l.stats[i].observe(OutcomeAbandoned, took)
			tb.add(l, OutcomeAbandoned, took, nil, err)
			l.breaker.abandon(probe)
			if t.logger != nil {
				t.logger.Debug("plugin call abandoned: its socket is gone", "plugin", l.m.Name, "runtime", l.m.Runtime, "hook", string(hook), "socket", env.Socket.ID, "err", err)
			}
			merge(&out, &abandonedCall)
			return out
		}
		if err != nil {
			// A call that ran out its time held a runtime or instance of
			// the plugin's pool for all of it: two in a row hold its socket
			// back, where quicker failures need breakerThreshold. Not one:
			// on a saturated machine a legitimate call can time out once.
			o, weight := OutcomeError, 1
			if errors.Is(err, ErrTimeout) {
				o, weight = OutcomeTimeout, timeoutStrikes
			}
			l.breaker.done(false, l.strikes.fail(sock, end, weight), end)
			l.stats[i].observe(o, took)
			tb.add(l, o, took, nil, err)
			t.warn(l, hook, sock, err)
			if l.m.failClosed(hook) {
				merge(&out, &unavailable)
				return out
			}
			continue
		}
		if struck {
			l.strikes.forget(sock)
		}
		l.breaker.done(true, true, end)
		if d == nil {
			d = &allowUnchanged
		}
		l.stats[i].observe(outcome(d), took)
		tb.add(l, outcome(d), took, d, nil)
		merge(&out, d)
		apply(env, hook, d)
		if final(d) {
			return out
		}
	}
	return out
}

// allowUnchanged stands for a plugin's nil decision. Nothing writes to it.
var allowUnchanged Decision

// reject answers an envelope too deep for any runtime with each plugin's
// failure policy, calling none and charging nobody's breaker: the input is
// the client's fault.
func (t *table) reject(hook Hook, env *Envelope, chain []*loaded, tb *traceBuf) Decision {
	i := slot(hook)
	for _, l := range chain {
		if !l.m.handles(hook, env.Namespace, env.Event) {
			continue
		}
		l.stats[i].observe(OutcomeRejectedInput, 0)
		tb.add(l, OutcomeRejectedInput, 0, nil, nil)
		if l.m.failClosed(hook) {
			return rejectedInput
		}
	}
	return Decision{}
}

// forget drops what the plugins keep about socket id, which disconnected.
func (t *table) forget(id string) {
	for _, l := range t.plugins {
		l.strikes.forget(id)
	}
}

// outcome returns what decision d does to the call.
func outcome(d *Decision) Outcome {
	switch d.Action {
	case Deny:
		return OutcomeDeny
	case Drop:
		return OutcomeDrop
	case Reply:
		return OutcomeReply
	case Disconnect:
		return OutcomeDisconnect
	}
	return OutcomeAllow
}

// merge folds a later plugin's decision n into the chain's, d: later
// changes replace earlier ones, socket data merges key by key, joins add
// up.
func merge(d, n *Decision) {
	if n.Action != "" && n.Action != Allow {
		d.Action, d.Reason, d.Data = n.Action, n.Reason, n.Data
	}
	if n.Event != "" {
		d.Event = n.Event
	}
	if n.Args != nil {
		d.Args = n.Args
	}
	if n.Rooms != nil {
		d.Rooms = n.Rooms
	}
	if n.Except != nil {
		d.Except = n.Except
	}
	if n.ToSender != nil {
		d.ToSender = n.ToSender
	}
	if n.Reply != nil {
		d.Reply = n.Reply
	}
	if n.SocketData != nil {
		d.SocketData = mergeData(d.SocketData, n.SocketData)
	}
	d.Join = append(d.Join, n.Join...)
}

// apply shows a plugin's changes d to the plugins after it, in e.
func apply(e *Envelope, hook Hook, d *Decision) {
	if d.Event != "" {
		e.Event = d.Event
	}
	if d.Args != nil {
		e.Args = d.Args
	}
	if d.Rooms != nil {
		e.Rooms = d.Rooms
	}
	if d.SocketData != nil {
		e.Socket.Data = mergeData(e.Socket.Data, d.SocketData)
	}
}

// mergeData merges two JSON objects key by key (b wins); anything but two
// objects yields b.
func mergeData(a, b wire.Raw) wire.Raw {
	if len(a) == 0 {
		return b
	}
	var ma, mb map[string]json.RawMessage
	if json.Unmarshal(a, &ma) != nil || json.Unmarshal(b, &mb) != nil || ma == nil || mb == nil {
		return b
	}
	for k, v := range mb {
		ma[k] = v
	}
	out, err := json.Marshal(ma)
	if err != nil {
		return b
	}
	return out
}
