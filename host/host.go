package host

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Host runs plugins. Create it with New, register the runtimes, load
// plugins with Load (or LoadDir), and install Hooks on a hub.Server.
type Host struct {
	logger *slog.Logger

	mu       sync.Mutex // serialises loads
	runtimes map[string]Runtime
	current  atomic.Pointer[table]
	// budgets bound one hook's chain, all its plugins together; zero keeps
	// the default (see SetChainBudget).
	budgets chainBudgets
	// tracer keeps the sockets' decision traces (see SetTrace).
	tracer *tracer
	// tape records hook calls, when set (see SetTape); tapeMu serialises
	// its changes.
	tape   atomic.Pointer[tapeRecorder]
	tapeMu sync.Mutex
	// revoker serves the plugins' revocations (see ServeRevocations).
	revoker atomic.Pointer[Revoker]
	// shadowLog keeps the shadow plugins' latest divergences, and
	// promotions the live plugins retired for their shadows, under mu
	// (see PromoteShadow).
	shadowLog  shadowLog
	promotions map[string]promotion
}

// New returns a host with no plugins. A nil logger discards.
func New(logger *slog.Logger) *Host {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	h := &Host{logger: logger, runtimes: make(map[string]Runtime), tracer: newTracer(logger)}
	h.current.Store(newTable(nil, h.logger))
	return h
}

// Register makes a runtime available under name ("js", "wasm", "process").
func (h *Host) Register(name string, rt Runtime) {
	h.mu.Lock()
	h.runtimes[name] = rt
	h.mu.Unlock()
}

// Logger returns the host's logger.
func (h *Host) Logger() *slog.Logger { return h.logger }

// Load replaces the loaded plugins with specs. Every plugin is loaded aside
// first; if any fails, nothing changes and the errors are returned
// together. On success the new set is swapped in atomically (calls in
// flight finish on the old plugins) and the old plugins are closed.
func (h *Host) Load(ctx context.Context, specs []Spec) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	fresh, err := h.loadAll(ctx, specs)
	if err != nil {
		return err
	}
	old := h.current.Swap(newTable(fresh, h.logger))
	h.promotions = nil
	h.retire(old.plugins)
	return nil
}

// drainGrace is how long replaced plugins stay open for the calls that
// started before the swap; no chain runs longer than its budget.
const drainGrace = 2 * time.Second

// retire closes replaced plugins once the calls in flight are done.
func (h *Host) retire(plugins []*loaded) {
	if len(plugins) == 0 {
		return
	}
	for _, l := range plugins {
		if l.shadow != nil {
			l.shadow.stop()
		}
	}
	time.AfterFunc(drainGrace, func() {
		for _, l := range plugins {
			if err := l.p.Close(); err != nil {
				h.logger.Warn("closing plugin", "plugin", l.m.Name, "err", err)
			}
		}
	})
}

func (h *Host) runtimeNames() string {
	names := make([]string, 0, len(h.runtimes))
	for n := range h.runtimes {
		names = append(names, n)
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func (h *Host) loadAll(ctx context.Context, specs []Spec) ([]*loaded, error) {
	var errs []error
	var out []*loaded
	seen := make(map[string]bool)
	for _, s := range specs {
		m := s.Manifest
		err := m.Validate()
		if m.Runtime != "" && h.runtimes[m.Runtime] == nil {
			err = errors.Join(err, fmt.Errorf("unknown runtime %q (available: %s)", m.Runtime, h.runtimeNames()))
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %q: %w", m.Name, err))
			continue
		}
		if seen[m.Name] {
			errs = append(errs, fmt.Errorf("plugin %q: loaded twice", m.Name))
			continue
		}
		seen[m.Name] = true
		rt := h.runtimes[m.Runtime]
		s.Manifest = m
		if s.Logger == nil {
			s.Logger = h.logger.With("plugin", m.Name, "runtime", m.Runtime)
		}
		if s.Revoke == nil && hasCapability(m, CapabilityRevoke) {
			name := m.Name
			s.Revoke = func(rev []byte) error { return h.requestRevocation(name, rev) }
		}
		p, err := rt.Load(ctx, s)
		if err != nil {
			errs = append(errs, fmt.Errorf("plugin %q: %w", m.Name, err))
			continue
		}
		if len(m.Hooks) == 0 {
			if hl, ok := p.(HookLister); ok {
				m.Hooks = hl.Hooks()
			} else {
				m.Hooks = append([]Hook(nil), allHooks[:]...)
			}
		}
		l := newLoaded(m, p, &h.budgets)
		if m.Shadow != "" {
			l.shadow = newShadowRunner(l, &h.shadowLog)
		}
		out = append(out, l)
	}
	if err := errors.Join(errs...); err != nil {
		for _, l := range out {
			_ = l.p.Close()
		}
		return nil, err
	}
	return out, nil
}

// Plugins returns the names of the loaded plugins, in chain order.
func (h *Host) Plugins() []string {
	t := h.current.Load()
	out := make([]string, len(t.plugins))
	for i, l := range t.plugins {
		out[i] = l.m.Name
	}
	return out
}

// Subscribed reports whether any plugin handles hook in namespace ns (for
// event, on the event hook).
func (h *Host) Subscribed(hook Hook, ns, event string) bool {
	return h.current.Load().subscribed(hook, ns, event)
}

// Run calls the chain of env.Hook and returns the gathered decision. env
// is changed as the plugins see it.
//
// An envelope whose JSON nests deeper than MaxJSONDepth reaches no plugin:
// each answers with its failure policy. A plugin's failures on a call with
// env.Socket.ID set (any hook but connect) are charged to that socket,
// which is held back after repeated failures while other sockets are
// served; Hooks frees a socket's record when it disconnects, and the
// records of IDs that never disconnect are bounded and swept.
func (h *Host) Run(ctx context.Context, env *Envelope) Decision {
	return h.current.Load().run(ctx, env.Hook, env, nil)
}

// Stats returns the counters of every loaded plugin for every hook it
// handles.
func (h *Host) Stats() []HookStats {
	t := h.current.Load()
	var out []HookStats
	for _, l := range t.plugins {
		for _, hook := range l.m.Hooks {
			out = append(out, l.stats[slot(hook)].snapshot(l.m.Name, l.m.Runtime, hook))
		}
	}
	return out
}

// Close closes every plugin, and the tape being recorded.
func (h *Host) Close() error {
	if r := h.tape.Swap(nil); r != nil {
		r.close()
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	old := h.current.Swap(newTable(nil, h.logger))
	var errs []error
	for _, l := range old.plugins {
		if l.shadow != nil {
			l.shadow.stop()
		}
		errs = append(errs, l.p.Close())
	}
	return errors.Join(errs...)
}
