package main

import (
	"context"
	"io"
	"log/slog"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/hub"
)

// TestChainBudgetsApplied: plugins.chain_budgets is in force on the plugin
// host hubd opens, hooks not named keep their defaults, and a SIGHUP that
// changes the budgets puts the new ones in force on the running host.
func TestChainBudgetsApplied(t *testing.T) {
	cfg := Defaults()
	cfg.Plugins.Dir = t.TempDir()
	cfg.Plugins.ChainBudgets = map[string]Duration{"event": Duration(5 * time.Second)}
	srv := hub.New(hub.Options{})
	defer srv.Close()
	l := &live{srv: srv, logger: slog.New(slog.NewTextHandler(io.Discard, nil)), level: new(slog.LevelVar), cfg: cfg}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := l.openPlugins(ctx, cfg.Plugins.Dir); err != nil {
		t.Fatal(err)
	}
	defer l.closePlugins()
	h := l.plugins.Load()
	if got := h.ChainBudget(host.HookEvent); got != 5*time.Second {
		t.Fatalf("event budget %v, want 5s", got)
	}
	if got := h.ChainBudget(host.HookConnect); got != time.Second {
		t.Fatalf("connect budget %v, want the default 1s", got)
	}

	next := l.cfg
	next.Plugins.ChainBudgets = map[string]Duration{"connect": Duration(3 * time.Second)}
	l.apply(ctx, next)
	if got := h.ChainBudget(host.HookConnect); got != 3*time.Second {
		t.Fatalf("connect budget after the reload %v, want 3s", got)
	}
	if got := h.ChainBudget(host.HookEvent); got != 250*time.Millisecond {
		t.Fatalf("event budget after the reload %v, want the default 250ms back", got)
	}
}
