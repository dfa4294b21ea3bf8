package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/process"
	"github.com/hubd/hubd/internal/plugintest"
	"github.com/hubd/hubd/sdk/wire"
)

// binPath is the plugin built in TestMain.
var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "rate-limit-plugin")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "rate-limit")
	if out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput(); err != nil {
		// Fail, never skip: the tests are about the built plugin.
		fmt.Fprintf(os.Stderr, "building the rate-limit plugin: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

// manifest reads plugin.json as hubd does, with cfg (if not nil) as its
// config.
func manifest(t *testing.T, cfg any) host.Manifest {
	t.Helper()
	return plugintest.Manifest(t, cfg, 2*time.Second)
}

func load(t *testing.T, m host.Manifest) (*host.Host, error) {
	t.Helper()
	h := host.New(nil)
	generousBudgets(h)
	h.Register("process", &process.Runtime{})
	t.Cleanup(func() { _ = h.Close() })
	return h, h.Load(context.Background(), []host.Spec{{Manifest: m, Entry: binPath}})
}

// generousBudgets raises every chain budget of h as the tests' call limit:
// the default budgets (250 ms an event, 1 s a join) would cut a call
// slowed by a loaded machine short, as the shipped limit would.
func generousBudgets(h *host.Host) {
	for _, hook := range []host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookEvent, host.HookDisconnect} {
		h.SetChainBudget(hook, 2*time.Second)
	}
}

func mustLoad(t *testing.T, cfg any) *host.Host {
	t.Helper()
	h, err := load(t, manifest(t, cfg))
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func envelope(hook host.Hook, socket string) *host.Envelope {
	e := &host.Envelope{Hook: hook, Namespace: "/", Socket: host.Socket{ID: socket, Rooms: []string{}}}
	switch hook {
	case host.HookEvent:
		e.Event, e.Args = "chat", wire.Raw(`["hi"]`)
	case host.HookJoin:
		e.Rooms = []string{"lobby"}
	case host.HookDisconnect:
		e.Reason = "client namespace disconnect"
	}
	return e
}

// run runs one call; it returns "" for an allow, else the reason, and the
// deny's retry_after_ms.
func run(t *testing.T, h *host.Host, hook host.Hook, socket string) (string, int64) {
	t.Helper()
	d := h.Run(context.Background(), envelope(hook, socket))
	if d.Action == host.Allow || d.Action == "" {
		return "", 0
	}
	var data struct {
		RetryAfterMS *int64 `json:"retry_after_ms"`
	}
	if d.Reason != "rate limited" || json.Unmarshal(d.Data, &data) != nil || data.RetryAfterMS == nil {
		t.Fatalf("got %s %q %s, want a deny \"rate limited\" with retry_after_ms", d.Action, d.Reason, d.Data)
	}
	return d.Reason, *data.RetryAfterMS
}

// burst expects n allowed calls, then a deny with a retry_after_ms in
// (0, refill], refill being the time a token takes to come back (1/R).
func burst(t *testing.T, h *host.Host, hook host.Hook, socket string, n int, refill time.Duration) {
	t.Helper()
	if !tryBurst(t, h, hook, socket, n, refill) {
		t.Fatalf("%s %s #%d: allowed, want rate limited", socket, hook, n+1)
	}
}

// tryBurst is burst, except that it reports false, asserting nothing
// more, when the call after the n is allowed but the calls took refill or
// more: a token may have come back meanwhile. Rates of one token per 100 s
// never see that; tests of faster ones try again with another socket.
func tryBurst(t *testing.T, h *host.Host, hook host.Hook, socket string, n int, refill time.Duration) bool {
	t.Helper()
	start := time.Now()
	for i := range n {
		if r, _ := run(t, h, hook, socket); r != "" {
			t.Fatalf("%s %s #%d: %s, want allowed", socket, hook, i+1, r)
		}
	}
	r, ms := run(t, h, hook, socket)
	if r == "" {
		if time.Since(start) < refill {
			t.Fatalf("%s %s #%d: allowed, want rate limited", socket, hook, n+1)
		}
		return false
	}
	if ms <= 0 || ms > refill.Milliseconds() {
		t.Errorf("%s %s: retry_after_ms %d, want in (0, %d]", socket, hook, ms, refill.Milliseconds())
	}
	return true
}

// TestEvents: a burst, another socket independent. One token per 100 s:
// none comes back while the test runs, however slowly.
func TestEvents(t *testing.T) {
	h := mustLoad(t, Config{EventsPerSecond: 0.01, Burst: 3})
	burst(t, h, host.HookEvent, "A", 3, 100*time.Second)
	if r, _ := run(t, h, host.HookEvent, "A"); r == "" {
		t.Error("A: allowed again right away")
	}
	burst(t, h, host.HookEvent, "B", 3, 100*time.Second)

	// Joins are not limited by this config.
	for range 10 {
		if r, _ := run(t, h, host.HookJoin, "A"); r != "" {
			t.Fatalf("join: %s, want allowed", r)
		}
	}
}

// TestRefill: a refused socket is allowed again once a token is back, at
// most 1/R after its refusal. (limiter_test.go checks the arithmetic on a
// clock of its own.)
func TestRefill(t *testing.T) {
	h := mustLoad(t, Config{EventsPerSecond: 2, Burst: 1})
	// The first call takes the token; on a loaded machine the next may
	// find it back already: call until one is refused.
	for i := 0; ; i++ {
		r, ms := run(t, h, host.HookEvent, "A")
		if r != "" {
			if ms <= 0 || ms > 500 {
				t.Errorf("retry_after_ms %d, want in (0, 500]", ms)
			}
			break
		}
		if i == 100 {
			t.Fatal("A never rate limited")
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, _ := run(t, h, host.HookEvent, "A")
		if r == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A still rate limited 30 s after its refusal")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestJoins: joins have their own bucket (one token per 100 s).
func TestJoins(t *testing.T) {
	h := mustLoad(t, Config{EventsPerSecond: 100, Burst: 100, JoinsPerSecond: 0.01, JoinBurst: 2})
	burst(t, h, host.HookJoin, "A", 2, 100*time.Second)
	if r, _ := run(t, h, host.HookEvent, "A"); r != "" {
		t.Errorf("event after the joins: %s, want allowed", r)
	}
	burst(t, h, host.HookJoin, "B", 2, 100*time.Second)
}

// TestDisconnect: a disconnect forgets the socket, so its bucket is full
// again. The refill is too slow to matter (one token per 100 s).
func TestDisconnect(t *testing.T) {
	h := mustLoad(t, Config{EventsPerSecond: 0.01, Burst: 2, JoinsPerSecond: 0.01})
	burst(t, h, host.HookEvent, "A", 2, 100*time.Second)
	burst(t, h, host.HookJoin, "A", 1, 100*time.Second)
	burst(t, h, host.HookEvent, "B", 2, 100*time.Second)
	h.Run(context.Background(), envelope(host.HookDisconnect, "A"))

	// The disconnect is observed: handed over without waiting, so poll.
	deadline := time.Now().Add(10 * time.Second)
	for {
		r, _ := run(t, h, host.HookEvent, "A")
		if r == "" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("A still rate limited 10 s after its disconnect")
		}
		time.Sleep(10 * time.Millisecond)
	}
	burst(t, h, host.HookEvent, "A", 1, 100*time.Second) // the second token of the full bucket
	burst(t, h, host.HookJoin, "A", 1, 100*time.Second)
	if r, _ := run(t, h, host.HookEvent, "B"); r == "" {
		t.Error("B allowed: A's disconnect cleared it")
	}
}

// TestShippedConfig loads plugin.json as it is: 10 joins, then 2 a
// second. A socket whose 11 joins took half a second or more may have had
// a token back; another socket, with a full bucket, tries again.
func TestShippedConfig(t *testing.T) {
	h := mustLoad(t, nil)
	for i := 0; !tryBurst(t, h, host.HookJoin, fmt.Sprintf("A%d", i), 10, 500*time.Millisecond); i++ {
		if i == 9 {
			t.Fatal("every socket took half a second or more for its joins")
		}
	}
}

// TestBadConfig: the process exits and the load fails.
func TestBadConfig(t *testing.T) {
	for name, cfg := range map[string]any{
		"no limit":           map[string]any{},
		"negative rate":      map[string]any{"events_per_second": -1},
		"burst without rate": map[string]any{"burst": 5},
		"burst below one":    map[string]any{"events_per_second": 1, "burst": 0.5},
		"rate a string":      map[string]any{"events_per_second": "10"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := load(t, manifest(t, cfg)); err == nil {
				t.Error("loaded, want an error")
			} else {
				t.Log(err)
			}
		})
	}
}
