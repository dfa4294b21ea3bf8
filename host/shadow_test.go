package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

// shadowSpec is spec for a shadow of live.
func shadowSpec(name, live string, hooks ...Hook) Spec {
	s := spec(name, 0, hooks...)
	s.Manifest.Shadow = live
	return s
}

// waitShadow waits until the shadow's comparisons add up to n.
func waitShadow(t *testing.T, h *Host, shadow string, n uint64) ShadowStats {
	t.Helper()
	deadline := time.Now().Add(traceWait)
	for {
		for _, st := range h.ShadowStats() {
			if st.Shadow != shadow {
				continue
			}
			var sum uint64
			for _, c := range st.Results {
				sum += c
			}
			if sum >= n {
				return st
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("the comparisons of shadow %q did not reach %d: %+v", shadow, n, h.ShadowStats())
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// TestShadowComparisons: a shadow is called on what its live plugin saw,
// after it; what it decides never reaches the outcome; every comparison
// is counted by result, the divergences are listed newest first with both
// decisions and the envelope (auth redacted), and each shows in the
// socket's trace as a shadow step.
func TestShadowComparisons(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("first", func(_ context.Context, env *Envelope) (*Decision, error) {
		return &Decision{Args: wire.Raw(`["first"]`)}, nil // the live plugin sees it, so the shadow does
	})
	rt.set("live", func(_ context.Context, env *Envelope) (*Decision, error) {
		if env.Hook == HookConnect {
			return &Decision{SocketData: wire.Raw(`{"a":1,"b":2}`)}, nil
		}
		return &Decision{Rooms: []string{"lobby"}}, nil
	})
	seen := make(chan string, 16)
	rt.set("shadow", func(_ context.Context, env *Envelope) (*Decision, error) {
		seen <- env.Event + string(env.Args)
		switch env.Event {
		case "deny":
			return &Decision{Action: Deny, Reason: "no"}, nil
		case "transform":
			return &Decision{Args: wire.Raw(`["x"]`), Rooms: []string{"lobby"}}, nil
		case "route":
			return &Decision{Rooms: []string{}}, nil
		case "throw":
			return nil, errors.New("boom")
		}
		if env.Hook == HookConnect {
			return &Decision{SocketData: wire.Raw(`{ "b":2, "a":1 }`)}, nil // the same JSON
		}
		return &Decision{Rooms: []string{"lobby"}}, nil
	})
	if err := h.Load(t.Context(), []Spec{spec("first", -1, HookEvent), spec("live", 0, HookConnect, HookEvent), shadowSpec("shadow", "live", HookConnect, HookEvent)}); err != nil {
		t.Fatal(err)
	}
	if got := h.Plugins(); !slices.Contains(got, "shadow") {
		t.Fatalf("Plugins() = %v, want the shadow listed", got)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	connect := &Envelope{Hook: HookConnect, Namespace: "/", Socket: Socket{ID: "s1"},
		Handshake: &Handshake{Auth: wire.Raw(`{"token":"secret"}`), Headers: map[string]string{"cookie": "c=1", "x": "y"}}}
	if d := decideFor(h, ctx, connect); string(d.SocketData) != `{"a":1,"b":2}` {
		t.Fatalf("connect: %+v", d)
	}
	events := []string{"same", "deny", "transform", "route", "throw"}
	for _, ev := range events {
		env := traceEnv(HookEvent, "s1", ev)
		d := decideFor(h, ctx, env)
		if d.Action != "" || !slices.Equal(d.Rooms, []string{"lobby"}) || string(d.Args) != `["first"]` {
			t.Fatalf("event %s: the outcome %+v is not the live plugins'", ev, d)
		}
	}
	st := waitShadow(t, h, "shadow", 6)
	want := map[string]uint64{"agree": 2, "action": 1, "transform": 1, "route": 1, "shadow_error": 1}
	for _, name := range ShadowResults() {
		if st.Results[name] != want[name] {
			t.Errorf("result %s: %d, want %d (all: %v)", name, st.Results[name], want[name], st.Results)
		}
	}
	if st.Plugin != "live" || st.Runtime != "fake" || !st.Live {
		t.Errorf("stats %+v", st)
	}
	for _, hs := range h.Stats() {
		if hs.Plugin == "shadow" && hs.Hook == HookEvent &&
			(hs.Outcomes["allow"] != 3 || hs.Outcomes["deny"] != 1 || hs.Outcomes["error"] != 1) {
			t.Errorf("the shadow's own event counters: %v", hs.Outcomes)
		}
	}
	for range 6 {
		if s := <-seen; s != "" && s[len(s)-len(`["first"]`):] != `["first"]` {
			t.Errorf("the shadow saw %s, not the envelope as the live plugin saw it", s)
		}
	}

	divs := h.ShadowDivergences("", 0)
	var got []string
	for _, d := range divs {
		got = append(got, fmt.Sprintf("%s:%s:%v", d.Event, d.Result, d.Kinds))
	}
	// Two workers: the order of the last ones may vary.
	slices.Sort(got)
	wantDivs := []string{"deny:action:[action route reason]", "route:route:[route]", "throw:shadow_error:[]", "transform:transform:[transform]"}
	if !reflect.DeepEqual(got, wantDivs) {
		t.Errorf("divergences %q, want %q", got, wantDivs)
	}
	byEvent := make(map[string]ShadowDivergence)
	for _, d := range divs {
		byEvent[d.Event] = d
	}
	if len(divs) == 4 {
		if d := byEvent["deny"]; string(d.ShadowDecision) != `{"action":"deny","reason":"no"}` || string(d.LiveDecision) != `{"rooms":["lobby"]}` ||
			d.Plugin != "live" || d.Shadow != "shadow" || d.Socket != "s1" || d.Hook != HookEvent {
			t.Errorf("divergence %+v", d)
		}
		if d := byEvent["throw"]; d.ShadowError != "boom" || d.ShadowDecision != nil {
			t.Errorf("failed shadow's divergence %+v", d)
		}
	}
	if got := h.ShadowDivergences("shadow", 1); len(got) != 1 || !reflect.DeepEqual(got[0], divs[0]) {
		t.Errorf("the latest divergence: %+v", got)
	}
	if got := h.ShadowDivergences("other", 0); len(got) != 0 {
		t.Errorf("another shadow's divergences: %+v", got)
	}

	// The trace: the shadow's step follows the live ones, marked.
	recs, _ := h.Trace("s1")
	if len(recs) != 6 {
		t.Fatalf("%d records", len(recs))
	}
	deny := recs[2]
	if n := len(deny.Steps); n != 3 {
		t.Fatalf("the deny event's record: %+v", deny)
	}
	if s := deny.Steps[2]; !s.Shadow || s.Compared != "action" || s.Plugin != "shadow" || s.Verdict != OutcomeDeny || s.Reason != "no" {
		t.Errorf("shadow step %+v", s)
	}
	if deny.Outcome != Allow {
		t.Errorf("outcome %s: the shadow's deny counted", deny.Outcome)
	}
	if s := recs[0].Steps[1]; !s.Shadow || s.Compared != "agree" {
		t.Errorf("connect's shadow step %+v", s)
	}
}

// TestShadowRedactsEnvelope: a divergence keeps the envelope without the
// handshake's auth and secret headers, and leaves out what is too large.
func TestShadowRedactsEnvelope(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("live", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	rt.set("shadow", func(context.Context, *Envelope) (*Decision, error) { return &Decision{Action: Deny}, nil })
	if err := h.Load(t.Context(), []Spec{spec("live", 0, HookConnect, HookEvent), shadowSpec("shadow", "live")}); err != nil {
		t.Fatal(err)
	}
	connect := &Envelope{Hook: HookConnect, Namespace: "/", Socket: Socket{ID: "s1"},
		Handshake: &Handshake{Auth: wire.Raw(`{"token":"secret"}`), Headers: map[string]string{"Cookie": "c=1", "authorization": "Bearer k", "x": "y"}}}
	h.Run(t.Context(), connect)
	big := traceEnv(HookEvent, "s1", "big")
	big.Args = wire.Raw(`["` + string(make([]byte, 10000)) + `"]`)
	for i := range big.Args[2 : len(big.Args)-2] {
		big.Args[2+i] = 'a'
	}
	h.Run(t.Context(), big)
	waitShadow(t, h, "shadow", 2)
	divs := h.ShadowDivergences("shadow", 0)
	if len(divs) != 2 {
		t.Fatalf("%d divergences", len(divs))
	}
	// The shadow's workers may record the two in either order.
	if divs[0].Hook == HookConnect {
		divs[0], divs[1] = divs[1], divs[0]
	}
	if divs[0].Hook != HookEvent || divs[1].Hook != HookConnect {
		t.Fatalf("divergences of hooks %s and %s, want event and connect", divs[0].Hook, divs[1].Hook)
	}
	var env struct {
		Handshake Handshake       `json:"handshake"`
		Args      json.RawMessage `json:"args"`
	}
	if err := json.Unmarshal(divs[1].Envelope, &env); err != nil {
		t.Fatal(err)
	}
	if string(env.Handshake.Auth) != `"[redacted]"` || env.Handshake.Headers["Cookie"] != Redacted ||
		env.Handshake.Headers["authorization"] != Redacted || env.Handshake.Headers["x"] != "y" {
		t.Errorf("connect envelope %s", divs[1].Envelope)
	}
	if string(connect.Handshake.Auth) != `{"token":"secret"}` || connect.Handshake.Headers["Cookie"] != "c=1" {
		t.Errorf("the redaction changed the live envelope: %+v", connect.Handshake)
	}
	if err := json.Unmarshal(divs[0].Envelope, &env); err != nil || !divs[0].Cut || env.Args != nil || len(divs[0].Envelope) > shadowMaxJSON {
		t.Errorf("big event: cut %v, envelope %.200s (%v)", divs[0].Cut, divs[0].Envelope, err)
	}
}

// TestShadowNeverHoldsUp: a shadow that hangs holds up no live decision;
// the comparisons past its queue are dropped and counted, the queue never
// holding more than its bound.
func TestShadowNeverHoldsUp(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("live", func(context.Context, *Envelope) (*Decision, error) { return &Decision{Event: "live"}, nil })
	release := make(chan struct{})
	rt.set("shadow", func(ctx context.Context, _ *Envelope) (*Decision, error) {
		select {
		case <-release: // ignores its deadline, as a loop would
		case <-ctx.Done():
		}
		return &Decision{Action: Deny}, nil
	})
	if err := h.Load(t.Context(), []Spec{spec("live", 0, HookEvent), shadowSpec("shadow", "live")}); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	const calls = shadowQueue + 100
	for i := range calls {
		if d := decideFor(h, ctx, traceEnv(HookEvent, "s1", "e")); d.Event != "live" || d.Action != "" {
			t.Fatalf("call %d: %+v", i, d)
		}
	}
	// Every decision above was taken with the shadow's workers stuck.
	st := h.ShadowStats()[0]
	if st.Pending > shadowQueue+shadowWorkers || st.Results["dropped"] < calls-shadowQueue-shadowWorkers {
		t.Fatalf("stats with the shadow stuck: pending %d, dropped %d", st.Pending, st.Results["dropped"])
	}
	close(release)
	st = waitShadow(t, h, "shadow", calls)
	if st.Results["action"]+st.Results["dropped"] != calls {
		t.Fatalf("results %v", st.Results)
	}
}

// TestShadowNotInChain: a shadow whose live plugin is not loaded is never
// called, subscribes the host to nothing, and says so.
func TestShadowNotInChain(t *testing.T) {
	h, rt := newTestHost(t)
	called := make(chan struct{}, 1)
	rt.set("shadow", func(context.Context, *Envelope) (*Decision, error) {
		called <- struct{}{}
		return &Decision{Action: Deny}, nil
	})
	if err := h.Load(t.Context(), []Spec{shadowSpec("shadow", "gone", HookEvent)}); err != nil {
		t.Fatal(err)
	}
	if h.Subscribed(HookEvent, "/", "e") {
		t.Fatal("a lone shadow subscribes the host to events")
	}
	if d := h.Run(t.Context(), traceEnv(HookEvent, "s1", "e")); d.Action != "" {
		t.Fatalf("decision %+v", d)
	}
	if st := h.ShadowStats(); len(st) != 1 || st[0].Live {
		t.Fatalf("stats %+v", st)
	}
	select {
	case <-called:
		t.Fatal("the shadow was called")
	default:
	}
	bad := shadowSpec("self", "self")
	if err := h.Load(t.Context(), []Spec{bad}); err == nil {
		t.Fatal("a plugin shadowing itself loaded")
	}
}

// TestCompareDecisions: decisions are compared by meaning.
func TestCompareDecisions(t *testing.T) {
	yes, no := true, false
	for _, c := range []struct {
		name string
		a, b Decision
		want []string
	}{
		{"zero", Decision{}, Decision{Action: Allow}, nil},
		{"json spacing and order", Decision{Args: wire.Raw(`[{"a":1,"b":[2]}]`)}, Decision{Args: wire.Raw(`[ {"b":[2], "a":1} ]`)}, nil},
		{"numbers", Decision{Args: wire.Raw(`[1]`)}, Decision{Args: wire.Raw(`[1.0]`)}, []string{"transform"}},
		{"allow vs deny", Decision{}, Decision{Action: Deny, Reason: "x"}, []string{"action", "reason"}},
		{"deny vs drop", Decision{Action: Deny}, Decision{Action: Drop}, []string{"action"}},
		{"no route vs no rooms", Decision{}, Decision{Rooms: []string{}}, []string{"route"}},
		{"to_sender", Decision{ToSender: &yes}, Decision{ToSender: &no}, []string{"route"}},
		{"event", Decision{Event: "a"}, Decision{Event: "b"}, []string{"transform"}},
		{"reply", Decision{Reply: wire.Raw(`[1]`)}, Decision{Reply: wire.Raw(`[2]`)}, []string{"reply"}},
		{"data", Decision{SocketData: wire.Raw(`{"u":1}`)}, Decision{}, []string{"data"}},
		{"join", Decision{Join: []string{"a"}}, Decision{Join: []string{"b"}}, []string{"data"}},
		{"refusal's data", Decision{Action: Deny, Data: wire.Raw(`{"code":1}`)}, Decision{Action: Deny, Data: wire.Raw(`{"code":2}`)}, []string{"reason"}},
	} {
		if got := kindNames(compareDecisions(&c.a, &c.b)); !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

// TestPromoteShadow: promotion makes the shadow's decisions the outcome
// from the next call on, keeps its runtime (no reload), and retires the
// old live plugin, which is closed once calls in flight are done.
func TestPromoteShadow(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("live", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	rt.set("other", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	rt.set("shadow", func(context.Context, *Envelope) (*Decision, error) {
		return &Decision{Action: Deny, Reason: "new"}, nil
	})
	if err := h.Load(t.Context(), []Spec{spec("live", 0, HookEvent), spec("other", 1, HookEvent), shadowSpec("shadow", "live")}); err != nil {
		t.Fatal(err)
	}
	oldLive := h.current.Load().plugins[0].p.(*fakePlugin)
	loads := rt.loads.Load()
	if d := h.Run(t.Context(), traceEnv(HookEvent, "s1", "e")); d.Action != "" {
		t.Fatalf("before: %+v", d)
	}
	if err := h.PromoteShadow("nope"); !errors.Is(err, ErrNoShadow) {
		t.Fatalf("promoting an unknown shadow: %v", err)
	}
	if err := h.PromoteShadow("shadow"); err != nil {
		t.Fatal(err)
	}
	if d := h.Run(t.Context(), traceEnv(HookEvent, "s1", "e")); d.Action != Deny || d.Reason != "new" {
		t.Fatalf("after: %+v", d)
	}
	if got := h.Plugins(); !slices.Equal(got, []string{"shadow", "other"}) {
		t.Fatalf("plugins %v", got)
	}
	if len(h.ShadowStats()) != 0 || rt.loads.Load() != loads {
		t.Fatalf("stats %+v, loads %d → %d", h.ShadowStats(), loads, rt.loads.Load())
	}
	if err := h.PromoteShadow("shadow"); !errors.Is(err, ErrNoShadow) {
		t.Fatalf("promoting twice: %v", err)
	}
	deadline := time.Now().Add(traceWait)
	for !oldLive.closed.Load() {
		if time.Now().After(deadline) {
			t.Fatal("the retired plugin was not closed")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestPromoteShadowFromDirectory: in a plugin directory, a promotion by
// the API holds across reloads while neither plugin's files change; the
// manifest losing its shadow field promotes the same way, retiring the
// live plugin without touching its files.
func TestPromoteShadowFromDirectory(t *testing.T) {
	h, rt := dirHost(t)
	rt.set("live", func(context.Context, *Envelope) (*Decision, error) { return &Decision{Event: "live"}, nil })
	rt.set("cand", func(context.Context, *Envelope) (*Decision, error) { return &Decision{Event: "cand"}, nil })
	rt.set("else", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "live", ManifestFile), `{"entry":"live.js","hooks":["event"]}`)
	writeFile(t, filepath.Join(dir, "live", "live.js"), "// v1")
	shadowManifest := `{"entry":"cand.js","hooks":["event"],"shadow":"live"}`
	writeFile(t, filepath.Join(dir, "cand", ManifestFile), shadowManifest)
	writeFile(t, filepath.Join(dir, "cand", "cand.js"), "// v1")
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	reason := func() string { return h.Run(t.Context(), traceEnv(HookEvent, "s1", "e")).Event }
	if r := reason(); r != "live" {
		t.Fatalf("before: %q", r)
	}

	// By the API, then a reload for another plugin's sake.
	if err := h.PromoteShadow("cand"); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "else.js"), "// v1")
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if r, got := reason(), h.Plugins(); r != "cand" || !slices.Equal(got, []string{"cand", "else"}) {
		t.Fatalf("after promotion and a reload: %q, plugins %v", r, got)
	}
	// The live plugin's files change: it comes back, the files rule.
	writeFile(t, filepath.Join(dir, "live", "live.js"), "// v2")
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if got := h.Plugins(); !slices.Contains(got, "live") {
		t.Fatalf("plugins %v: the changed plugin stayed retired", got)
	}

	// By the files: the shadow was reloaded as a shadow when its files
	// changed; dropping its shadow field promotes it.
	writeFile(t, filepath.Join(dir, "cand", "cand.js"), "// v2")
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if r, st := reason(), h.ShadowStats(); r != "live" || len(st) != 1 || !st[0].Live {
		t.Fatalf("shadow again: %q, %+v", r, st)
	}
	writeFile(t, filepath.Join(dir, "cand", ManifestFile), `{"entry":"cand.js","hooks":["event"]}`)
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if r, got := reason(), h.Plugins(); r != "cand" || !slices.Equal(got, []string{"cand", "else"}) {
		t.Fatalf("after the file promotion: %q, plugins %v", r, got)
	}
	writeFile(t, filepath.Join(dir, "else.js"), "// v2")
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if got := h.Plugins(); !slices.Equal(got, []string{"cand", "else"}) {
		t.Fatalf("after another reload: plugins %v", got)
	}
	// The shadow field back: both as they were.
	writeFile(t, filepath.Join(dir, "cand", ManifestFile), shadowManifest)
	if err := h.LoadDir(t.Context(), dir); err != nil {
		t.Fatal(err)
	}
	if r := reason(); r != "live" {
		t.Fatalf("demoted: %q", r)
	}
}

// TestShadowSample: a shadow with shadow_sample is given about that share
// of its live plugin's calls; a bad share, or one without shadow, is
// refused at load.
func TestShadowSample(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("live", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	rt.set("shadow", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	sampled := shadowSpec("shadow", "live")
	sampled.Manifest.ShadowSample = 0.25
	if err := h.Load(t.Context(), []Spec{spec("live", 0, HookEvent), sampled}); err != nil {
		t.Fatal(err)
	}
	const calls = 800 // fewer than the queue holds: none is dropped
	for range calls {
		h.Run(t.Context(), traceEnv(HookEvent, "s1", "e"))
	}
	// 200 expected; outside 100–300 happens with a probability below 1e-15.
	deadline := time.Now().Add(traceWait)
	for h.ShadowStats()[0].Pending > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("calls still pending: %+v", h.ShadowStats())
		}
		time.Sleep(time.Millisecond)
	}
	if n := h.ShadowStats()[0].Results["agree"]; n < 100 || n > 300 {
		t.Fatalf("%d of %d calls shadowed at a share of 0.25", n, calls)
	}
	for _, c := range []struct {
		shadow string
		sample float64
	}{{"live", 1.5}, {"live", -0.1}, {"", 0.5}} {
		bad := spec("bad", 0)
		bad.Manifest.Shadow, bad.Manifest.ShadowSample = c.shadow, c.sample
		if err := h.Load(t.Context(), []Spec{bad}); err == nil || !strings.Contains(err.Error(), "shadow_sample") {
			t.Errorf("shadow %q, sample %v: %v", c.shadow, c.sample, err)
		}
	}
}
