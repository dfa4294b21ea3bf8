package host

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

// fakeRuntime loads plugins written in Go for the tests: the entry's base
// name picks the function.
type fakeRuntime struct {
	mu    sync.Mutex
	funcs map[string]func(ctx context.Context, env *Envelope) (*Decision, error)
	fail  map[string]error // load errors by entry base name
	loads atomic.Int32
}

func newFakeRuntime() *fakeRuntime {
	return &fakeRuntime{funcs: map[string]func(context.Context, *Envelope) (*Decision, error){}, fail: map[string]error{}}
}

func (r *fakeRuntime) set(name string, fn func(context.Context, *Envelope) (*Decision, error)) {
	r.mu.Lock()
	r.funcs[name] = fn
	r.mu.Unlock()
}

func (r *fakeRuntime) Load(_ context.Context, s Spec) (Plugin, error) {
	r.loads.Add(1)
	base := strings.TrimSuffix(filepath.Base(s.Entry), filepath.Ext(s.Entry))
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := r.fail[base]; err != nil {
		return nil, err
	}
	if s.Entry != "" {
		if b, err := os.ReadFile(s.Entry); err == nil && strings.Contains(string(b), "syntax error") {
			return nil, errors.New("syntax error in " + base)
		}
	}
	fn := r.funcs[base]
	if fn == nil {
		return nil, fmt.Errorf("no fake plugin %q", base)
	}
	return &fakePlugin{fn: fn}, nil
}

type fakePlugin struct {
	fn     func(context.Context, *Envelope) (*Decision, error)
	closed atomic.Bool
}

func (p *fakePlugin) Handle(ctx context.Context, env *Envelope) (*Decision, error) {
	if p.closed.Load() {
		return nil, errors.New("closed")
	}
	return p.fn(ctx, env)
}

func (p *fakePlugin) Close() error { p.closed.Store(true); return nil }

func spec(name string, prio int, hooks ...Hook) Spec {
	return Spec{Manifest: Manifest{Name: name, Runtime: "fake", Priority: prio, Hooks: hooks}, Entry: name}
}

func newTestHost(t *testing.T) (*Host, *fakeRuntime) {
	t.Helper()
	h := New(nil)
	rt := newFakeRuntime()
	h.Register("fake", rt)
	t.Cleanup(func() { _ = h.Close() })
	return h, rt
}

// raiseBudgets lifts every chain budget of h to d, for the tests whose
// calls wait for something (their socket going) that a loaded machine can
// delay past the default budgets, which would end them as timeouts.
func raiseBudgets(h *Host, d time.Duration) {
	for _, hook := range allHooks {
		h.SetChainBudget(hook, d)
	}
}

func eventEnv(event string, args string) *Envelope {
	return &Envelope{Hook: HookEvent, Namespace: "/", Socket: Socket{ID: "s1", Rooms: []string{"r"}}, Event: event, Args: wire.Raw(args)}
}

func TestChainOrderAndFirstFinalWins(t *testing.T) {
	h, rt := newTestHost(t)
	var order []string
	var mu sync.Mutex
	record := func(name string, d *Decision) func(context.Context, *Envelope) (*Decision, error) {
		return func(_ context.Context, env *Envelope) (*Decision, error) {
			mu.Lock()
			order = append(order, name+":"+env.Event+":"+string(env.Args))
			mu.Unlock()
			return d, nil
		}
	}
	rt.set("a", record("a", &Decision{Event: "renamed"}))
	rt.set("b", record("b", &Decision{Args: wire.Raw(`["B"]`)}))
	rt.set("c", record("c", &Decision{Action: Deny, Reason: "no"}))
	rt.set("d", record("d", nil))
	// Priority first, then name: b(−1), a(0), c(0), d(5).
	if err := h.Load(context.Background(), []Spec{spec("d", 5), spec("c", 0), spec("a", 0), spec("b", -1)}); err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(h.Plugins(), ","), "b,a,c,d"; got != want {
		t.Fatalf("chain order %s, want %s", got, want)
	}
	d := h.Run(context.Background(), eventEnv("chat", `["x"]`))
	if d.Action != Deny || d.Reason != "no" {
		t.Fatalf("decision %+v, want deny", d)
	}
	if d.Event != "renamed" || string(d.Args) != `["B"]` {
		t.Fatalf("gathered changes %+v", d)
	}
	want := []string{"b:chat:[\"x\"]", "a:chat:[\"B\"]", "c:renamed:[\"B\"]"}
	if strings.Join(order, " ") != strings.Join(want, " ") {
		t.Fatalf("calls %v, want %v", order, want)
	}
}

func TestScopeByHookNamespaceAndEvent(t *testing.T) {
	h, rt := newTestHost(t)
	var calls atomic.Int32
	rt.set("p", func(context.Context, *Envelope) (*Decision, error) { calls.Add(1); return nil, nil })
	s := spec("p", 0, HookEvent)
	s.Manifest.Namespaces = []string{"/chat", "/team-*"}
	s.Manifest.Events = []string{"msg:*"}
	if err := h.Load(context.Background(), []Spec{s}); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		hook      Hook
		ns, event string
		want      bool
	}{
		{HookEvent, "/chat", "msg:new", true},
		{HookEvent, "/team-a", "msg:edit", true},
		{HookEvent, "/chat", "typing", false},
		{HookEvent, "/", "msg:new", false},
		{HookConnect, "/chat", "", false},
	}
	for _, c := range cases {
		if got := h.Subscribed(c.hook, c.ns, c.event); got != c.want {
			t.Errorf("Subscribed(%s, %s, %s) = %v, want %v", c.hook, c.ns, c.event, got, c.want)
		}
		env := &Envelope{Hook: c.hook, Namespace: c.ns, Event: c.event}
		before := calls.Load()
		h.Run(context.Background(), env)
		if called := calls.Load() > before; called != c.want {
			t.Errorf("%s %s %s: called %v, want %v", c.hook, c.ns, c.event, called, c.want)
		}
	}
}

func TestFailurePolicy(t *testing.T) {
	boom := func(context.Context, *Envelope) (*Decision, error) { return nil, errors.New("boom") }
	cases := []struct {
		name     string
		hook     Hook
		onError  string
		wantDeny bool
	}{
		{"connect fails closed by default", HookConnect, "", true},
		{"join fails closed by default", HookJoin, "", true},
		{"event fails open by default", HookEvent, "", false},
		{"event set to deny", HookEvent, "deny", true},
		{"connect set to allow", HookConnect, "allow", false},
		{"disconnect never denies", HookDisconnect, "deny", false},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h, rt := newTestHost(t)
			rt.set("p", boom)
			s := spec("p", 0)
			s.Manifest.OnError = c.onError
			if err := h.Load(context.Background(), []Spec{s}); err != nil {
				t.Fatal(err)
			}
			d := h.Run(context.Background(), &Envelope{Hook: c.hook, Namespace: "/"})
			if got := d.Action == Deny; got != c.wantDeny {
				t.Fatalf("deny = %v, want %v (%+v)", got, c.wantDeny, d)
			}
			if c.wantDeny && (d.Reason != "plugin unavailable" || string(d.Data) != `{"temporary":true}`) {
				t.Fatalf("fail-closed decision %+v", d)
			}
		})
	}
}

func TestGarbageDecisionIsAFailure(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("p", func(context.Context, *Envelope) (*Decision, error) {
		return &Decision{Action: "explode"}, nil
	})
	if err := h.Load(context.Background(), []Spec{spec("p", 0, HookConnect)}); err != nil {
		t.Fatal(err)
	}
	d := h.Run(context.Background(), &Envelope{Hook: HookConnect, Namespace: "/"})
	if d.Action != Deny {
		t.Fatalf("garbage on connect should fail closed, got %+v", d)
	}
	st := h.Stats()
	if len(st) != 1 || st[0].Outcomes["error"] != 1 {
		t.Fatalf("stats %+v", st)
	}
}

// TestDeadlineIsPassed: the plugin's context ends the manifest's timeout
// after the call began.
func TestDeadlineIsPassed(t *testing.T) {
	h, rt := newTestHost(t)
	var got time.Time
	rt.set("p", func(ctx context.Context, _ *Envelope) (*Decision, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return nil, errors.New("no deadline")
		}
		got = dl
		return nil, ErrTimeout
	})
	s := spec("p", 0, HookEvent)
	s.Manifest.Timeout = Duration(30 * time.Millisecond)
	if err := h.Load(context.Background(), []Spec{s}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	h.Run(context.Background(), eventEnv("e", `[]`))
	after := time.Now()
	if got.Before(before.Add(30*time.Millisecond)) || got.After(after.Add(30*time.Millisecond)) {
		t.Fatalf("deadline %v after the call began, want the 30ms timeout (the call took %v)", got.Sub(before), after.Sub(before))
	}
	if n := h.Stats()[0].Outcomes["timeout"]; n != 1 {
		t.Fatalf("timeouts counted %d, want 1", n)
	}
}

// byPlugin is a plugin that takes its deadline as an argument
// (DeadlineHandler).
type byPlugin struct {
	got          time.Time
	ctxDeadline  bool
	handleCalled bool
}

func (p *byPlugin) Handle(context.Context, *Envelope) (*Decision, error) {
	p.handleCalled = true
	return nil, nil
}

func (p *byPlugin) HandleBy(ctx context.Context, deadline time.Time, _ *Envelope) (*Decision, error) {
	p.got = deadline
	_, p.ctxDeadline = ctx.Deadline()
	return &Decision{Action: Deny, Reason: "by"}, nil
}

func (p *byPlugin) Close() error { return nil }

type byRuntime struct{ p *byPlugin }

func (r byRuntime) Load(context.Context, Spec) (Plugin, error) { return r.p, nil }

// TestDeadlineHandler: a plugin that takes the deadline as an argument is
// called with HandleBy and the deadline the chain computes (its timeout
// from the call's start), not with Handle and a context.
func TestDeadlineHandler(t *testing.T) {
	h := New(nil)
	t.Cleanup(func() { _ = h.Close() })
	p := &byPlugin{}
	h.Register("by", byRuntime{p})
	s := Spec{Manifest: Manifest{Name: "p", Runtime: "by", Hooks: []Hook{HookEvent}, Timeout: Duration(40 * time.Millisecond)}, Entry: "p"}
	if err := h.Load(context.Background(), []Spec{s}); err != nil {
		t.Fatal(err)
	}
	before := time.Now()
	d := h.Run(context.Background(), eventEnv("e", `[]`))
	after := time.Now()
	if d.Action != Deny || d.Reason != "by" || p.handleCalled {
		t.Fatalf("decision %+v, Handle called %v: want HandleBy's deny", d, p.handleCalled)
	}
	if p.got.Before(before.Add(40*time.Millisecond)) || p.got.After(after.Add(40*time.Millisecond)) {
		t.Errorf("deadline %v after the call began, want the 40ms timeout", p.got.Sub(before))
	}
	if p.ctxDeadline {
		t.Error("HandleBy's context carries a deadline too: the chain made a context it need not")
	}
}

func TestBreakerOpensAfterRepeatedFailures(t *testing.T) {
	h, rt := newTestHost(t)
	var calls atomic.Int32
	rt.set("p", func(context.Context, *Envelope) (*Decision, error) {
		calls.Add(1)
		return nil, errors.New("down")
	})
	if err := h.Load(context.Background(), []Spec{spec("p", 0, HookConnect)}); err != nil {
		t.Fatal(err)
	}
	// The breaker opens once failures have kept coming for breakerQuiet
	// with no success: call until it does.
	first := time.Now()
	for {
		before := calls.Load()
		if d := h.Run(context.Background(), &Envelope{Hook: HookConnect, Namespace: "/", Socket: Socket{ID: "s"}}); d.Action != Deny {
			t.Fatalf("want deny, got %+v", d)
		}
		if h.Stats()[0].Outcomes["circuit_open"] > 0 {
			if calls.Load() != before {
				t.Fatal("the call refused by the open breaker reached the plugin")
			}
			break
		}
		if time.Since(first) > time.Minute {
			t.Fatal("the breaker never opened")
		}
	}
	if waited := time.Since(first); waited < breakerQuiet {
		t.Fatalf("the breaker opened after %v of failures, before %v", waited, breakerQuiet)
	}
	if n := calls.Load(); n < breakerThreshold {
		t.Fatalf("plugin called %d times, want at least %d before the breaker opened", n, breakerThreshold)
	}
}

func TestBreakerProbesAndCloses(t *testing.T) {
	var b breaker
	now := time.Now()
	for range breakerThreshold {
		b.done(false, true, now)
	}
	if !b.allow(now) {
		t.Fatal("failures within breakerQuiet should not open the breaker")
	}
	now = now.Add(breakerQuiet)
	b.done(false, false, now) // an uncounted failure shows they keep coming
	if b.allow(now) {
		t.Fatal("breaker should be open")
	}
	later := now.Add(breakerMinBackoff + time.Millisecond)
	if !b.allow(later) {
		t.Fatal("breaker should let a probe through after the backoff")
	}
	if b.allow(later) {
		t.Fatal("only one probe at a time")
	}
	b.done(true, true, later)
	if !b.allow(later) {
		t.Fatal("a good probe closes the breaker")
	}
}

func TestBreakerNeedsThresholdSockets(t *testing.T) {
	var b breaker
	now := time.Now()
	// One socket failing on and on counts once.
	b.done(false, true, now)
	for range 100 {
		now = now.Add(breakerQuiet)
		b.done(false, false, now)
		if !b.allow(now) {
			t.Fatal("one failing socket opened the breaker")
		}
	}
	for range breakerThreshold - 1 {
		b.done(false, true, now)
	}
	if b.allow(now) {
		t.Fatal("threshold sockets failing for breakerQuiet did not open the breaker")
	}
	// A failed probe, counted or not, opens it again for twice as long.
	later := now.Add(breakerMinBackoff)
	if !b.allow(later) {
		t.Fatal("no probe")
	}
	b.done(false, false, later)
	if b.allow(later.Add(breakerMinBackoff)) || !b.allow(later.Add(2*breakerMinBackoff)) {
		t.Fatal("a failed probe did not double the backoff")
	}
}

func TestSuccessKeepsBreakerClosed(t *testing.T) {
	var b breaker
	now := time.Now()
	// Twice the threshold of failures between successes, all within
	// breakerQuiet: a plugin that works for some.
	for i := range 100 * breakerThreshold {
		now = now.Add(breakerQuiet / (4 * breakerThreshold))
		b.done(i%(2*breakerThreshold) == 0, true, now)
		if !b.allow(now) {
			t.Fatalf("opened after %d calls, with a success every %d calls", i+1, 2*breakerThreshold)
		}
	}
}

func TestSocketDataMergesAndJoinsAddUp(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("a", func(context.Context, *Envelope) (*Decision, error) {
		return &Decision{SocketData: wire.Raw(`{"user":"ann","role":"guest"}`), Join: []string{"user:ann"}}, nil
	})
	rt.set("b", func(_ context.Context, env *Envelope) (*Decision, error) {
		if !strings.Contains(string(env.Socket.Data), `"user":"ann"`) {
			return nil, fmt.Errorf("b does not see a's data: %s", env.Socket.Data)
		}
		return &Decision{SocketData: wire.Raw(`{"role":"admin"}`), Join: []string{"admins"}}, nil
	})
	if err := h.Load(context.Background(), []Spec{spec("a", 0, HookConnect), spec("b", 1, HookConnect)}); err != nil {
		t.Fatal(err)
	}
	d := h.Run(context.Background(), &Envelope{Hook: HookConnect, Namespace: "/"})
	if d.Action != "" {
		t.Fatalf("want allow, got %+v", d)
	}
	if string(d.SocketData) != `{"role":"admin","user":"ann"}` {
		t.Fatalf("socket data %s", d.SocketData)
	}
	if strings.Join(d.Join, ",") != "user:ann,admins" {
		t.Fatalf("join %v", d.Join)
	}
}

func TestLoadIsAllOrNothing(t *testing.T) {
	h, rt := newTestHost(t)
	rt.set("good", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	if err := h.Load(context.Background(), []Spec{spec("good", 0)}); err != nil {
		t.Fatal(err)
	}
	bad := Spec{Manifest: Manifest{Name: "bad", Runtime: "lua", OnError: "maybe", Hooks: []Hook{"boot"}}}
	err := h.Load(context.Background(), []Spec{spec("good", 0), bad})
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{`unknown runtime "lua"`, `on_error is "maybe"`, `unknown hook "boot"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not say %q", err, want)
		}
	}
	if got := strings.Join(h.Plugins(), ","); got != "good" {
		t.Fatalf("plugins after a failed load: %s", got)
	}
}

func TestParseDecision(t *testing.T) {
	cases := []struct {
		in      string
		wantErr bool
	}{
		{``, false},
		{`null`, false},
		{`{}`, false},
		{`{"action":"deny","reason":"x","data":{"a":1}}`, false},
		{`{"action":"reply"}`, false},
		{`{"action":"nope"}`, true},
		{`{"args":{"a":1}}`, true},
		{`{"rooms":[""]}`, true},
		{`{"reason":"` + strings.Repeat("x", 300) + `"}`, true},
		{`[1,2]`, true},
		{`{"action":`, true},
	}
	for _, c := range cases {
		d, err := ParseDecision([]byte(c.in))
		if (err != nil) != c.wantErr {
			t.Errorf("ParseDecision(%.40q): err %v, want error %v", c.in, err, c.wantErr)
			continue
		}
		if err != nil && !errors.Is(err, ErrGarbage) {
			t.Errorf("error %v is not ErrGarbage", err)
		}
		if err == nil && d.Action == Reply && string(d.Reply) != "[]" {
			t.Errorf("reply without args should answer [], got %s", d.Reply)
		}
	}
}

func TestEnvelopeJSON(t *testing.T) {
	env := &Envelope{
		Hook: HookConnect, Namespace: "/chat",
		Socket:    Socket{ID: "abc", Rooms: []string{"a\"b", "c"}, Data: wire.Raw(`{"u":1}`)},
		Handshake: &Handshake{Auth: wire.Raw(`{"token":"t"}`), Query: map[string]string{"x": "1"}, Headers: map[string]string{"user-agent": "ua\n"}, Address: "127.0.0.1"},
		Recovered: true,
		Event:     "msg", Args: wire.Raw(`["hi",{"n":1}]`), Ack: true, Rooms: []string{}, Reason: "why\t",
	}
	b := env.AppendJSON(nil)
	var back map[string]any
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("invalid JSON %s: %v", b, err)
	}
	want := `{"v":1,"hook":"connect","ns":"/chat","socket":{"id":"abc","rooms":["a\"b","c"],"data":{"u":1}},"handshake":{"auth":{"token":"t"},"query":{"x":"1"},"headers":{"user-agent":"ua\n"},"address":"127.0.0.1"},"recovered":true,"event":"msg","args":["hi",{"n":1}],"ack":true,"rooms":[],"reason":"why\t"}`
	if string(b) != want {
		t.Fatalf("got  %s\nwant %s", b, want)
	}
}

// TestEnvelopeRecoveredOnlyWhenTrue: "recovered" is encoded one way, as
// "ack" is: present and true for a recovered socket, absent otherwise, in
// the wire form (AppendJSON) and the struct's own JSON form alike.
func TestEnvelopeRecoveredOnlyWhenTrue(t *testing.T) {
	for _, recovered := range []bool{false, true} {
		env := &Envelope{Hook: HookConnect, Namespace: "/", Socket: Socket{ID: "s", Rooms: []string{}},
			Handshake: &Handshake{}, Recovered: recovered}
		marshaled, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		for form, b := range map[string][]byte{"AppendJSON": env.AppendJSON(nil), "json.Marshal": marshaled} {
			var m map[string]json.RawMessage
			if err := json.Unmarshal(b, &m); err != nil {
				t.Fatalf("%s: %s: %v", form, b, err)
			}
			v, ok := m["recovered"]
			if ok != recovered || ok && string(v) != "true" {
				t.Errorf("Recovered %v: %s wrote %s", recovered, form, b)
			}
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// dirHost is a host whose "js" and "wasm" runtimes are fakes.
func dirHost(t *testing.T) (*Host, *fakeRuntime) {
	h, rt := newTestHost(t)
	h.Register("js", rt)
	h.Register("wasm", rt)
	h.Register("process", rt)
	return h, rt
}

func TestLoadDir(t *testing.T) {
	h, rt := dirHost(t)
	allow := func(context.Context, *Envelope) (*Decision, error) { return nil, nil }
	for _, n := range []string{"alpha", "beta", "gamma"} {
		rt.set(n, allow)
	}
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "alpha.js"), "// v1")
	writeFile(t, filepath.Join(dir, "beta.wasm"), "\x00asm")
	writeFile(t, filepath.Join(dir, "gamma", "plugin.json"), `{"entry":"gamma.js","priority":-1,"hooks":["event"],"events":["chat"]}`)
	writeFile(t, filepath.Join(dir, "gamma", "gamma.js"), "// v1")
	writeFile(t, filepath.Join(dir, "README.md"), "not a plugin")
	if err := h.LoadDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(h.Plugins(), ","); got != "gamma,alpha,beta" {
		t.Fatalf("plugins %s", got)
	}
	if h.Subscribed(HookConnect, "/", "") != true || !h.Subscribed(HookEvent, "/", "chat") {
		t.Fatal("subscriptions wrong")
	}
	loads := rt.loads.Load()

	// Unchanged: nothing reloaded.
	if err := h.LoadDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	if n := rt.loads.Load(); n != loads {
		t.Fatalf("unchanged plugins reloaded: %d loads, want %d", n, loads)
	}

	// Broken new version: reported, the old version stays.
	writeFile(t, filepath.Join(dir, "alpha.js"), "syntax error")
	err := h.LoadDir(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), `plugin "alpha"`) {
		t.Fatalf("want an error naming alpha, got %v", err)
	}
	if got := strings.Join(h.Plugins(), ","); got != "gamma,alpha,beta" {
		t.Fatalf("plugins after a broken update %s", got)
	}

	// Deleted: unloaded. Bad manifest: reported.
	if err := os.Remove(filepath.Join(dir, "beta.wasm")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "alpha.js"), "// v2")
	writeFile(t, filepath.Join(dir, "delta", "plugin.json"), `{"entry":"d.js","runtime":"cobol","colour":"red"}`)
	err = h.LoadDir(context.Background(), dir)
	if err == nil || !strings.Contains(err.Error(), `unknown field "colour"`) {
		t.Fatalf("want the bad manifest reported, got %v", err)
	}
	if got := strings.Join(h.Plugins(), ","); got != "gamma,alpha" {
		t.Fatalf("plugins %s", got)
	}
}

func TestLoadDirMissing(t *testing.T) {
	h, _ := dirHost(t)
	err := h.LoadDir(context.Background(), filepath.Join(t.TempDir(), "nope"))
	if err == nil || !strings.Contains(err.Error(), "does not exist") {
		t.Fatalf("got %v", err)
	}
}

func TestWatchReloads(t *testing.T) {
	h, rt := dirHost(t)
	rt.set("one", func(context.Context, *Envelope) (*Decision, error) {
		return &Decision{Action: Deny, Reason: "one"}, nil
	})
	rt.set("two", func(context.Context, *Envelope) (*Decision, error) {
		return &Decision{Action: Deny, Reason: "two"}, nil
	})
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "one.js"), "//")
	if err := h.LoadDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := h.Watch(ctx, dir); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "one.js")); err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "two.js"), "//")
	deadline := time.Now().Add(30 * time.Second)
	for {
		d := h.Run(context.Background(), &Envelope{Hook: HookConnect, Namespace: "/"})
		if d.Reason == "two" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("reload not seen; plugins %v", h.Plugins())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestReloadUnderLoadFailsNoCall(t *testing.T) {
	h, rt := dirHost(t)
	rt.set("p", func(context.Context, *Envelope) (*Decision, error) { return &Decision{Event: "seen"}, nil })
	rt.set("q", func(context.Context, *Envelope) (*Decision, error) { return nil, nil })
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "p.js"), "// 0")
	if err := h.LoadDir(context.Background(), dir); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var bad atomic.Int32
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if d := h.Run(context.Background(), eventEnv("e", `[]`)); d.Event != "seen" {
					bad.Add(1)
				}
			}
		}()
	}
	for i := range 30 {
		switch i % 3 {
		case 0, 1: // replace
			writeFile(t, filepath.Join(dir, "p.js"), fmt.Sprintf("// %d", i+1))
			if err := h.LoadDir(context.Background(), dir); err != nil {
				t.Fatal(err)
			}
		case 2: // break: the loaded version must stay
			writeFile(t, filepath.Join(dir, "p.js"), "syntax error")
			if err := h.LoadDir(context.Background(), dir); err == nil {
				t.Fatal("a broken plugin loaded")
			}
		}
		// A plugin added and deleted beside it changes nothing for p
		// (whose broken file, if it is broken, is reported again).
		onlyBroken := func(err error) {
			if err != nil && !strings.Contains(err.Error(), "syntax error") {
				t.Fatal(err)
			}
		}
		writeFile(t, filepath.Join(dir, "q.js"), "//")
		onlyBroken(h.LoadDir(context.Background(), dir))
		if err := os.Remove(filepath.Join(dir, "q.js")); err != nil {
			t.Fatal(err)
		}
		onlyBroken(h.LoadDir(context.Background(), dir))
	}
	close(stop)
	wg.Wait()
	if n := bad.Load(); n != 0 {
		t.Fatalf("%d calls missed the plugin during reloads", n)
	}
}

func BenchmarkUnsubscribedHook(b *testing.B) {
	h := New(nil)
	b.ReportAllocs()
	for b.Loop() {
		if h.Subscribed(HookEvent, "/", "chat") {
			b.Fatal("subscribed")
		}
	}
}

func TestReadManifest(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "my-plugin")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, ManifestFile)
	write := func(s string) {
		if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`{"entry": "p.wasm", "hooks": ["event"]}`)
	m, err := ReadManifest(path)
	if err != nil || m.Name != "my-plugin" || m.Runtime != "wasm" {
		t.Fatalf("defaults: %+v, %v; want the folder's name and the wasm runtime", m, err)
	}
	write(`{"entry": "p.js", "hooks": ["event"], "colour": "red"}`)
	if _, err := ReadManifest(path); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown field: %v", err)
	}
	write(`{"hooks": ["event"]}`)
	if _, err := ReadManifest(path); err == nil || !strings.Contains(err.Error(), "entry is missing") {
		t.Errorf("no entry: %v", err)
	}
}

// TestStruckSocketsShareOneLane: while one socket with strikes has a call
// in a plugin, another struck socket's call is answered as held back
// without reaching it, and counts no strike; a socket without strikes is
// served meanwhile, and once the lane is free the struck socket is too.
func TestStruckSocketsShareOneLane(t *testing.T) {
	h, rt := newTestHost(t)
	entered, release := make(chan struct{}), make(chan struct{})
	var calls atomic.Int32
	rt.set("p", func(_ context.Context, env *Envelope) (*Decision, error) {
		calls.Add(1)
		switch string(env.Args) {
		case `["bad"]`:
			return nil, errors.New("bad input")
		case `["stall"]`:
			entered <- struct{}{}
			<-release
			return nil, errors.New("bad input")
		}
		return nil, nil
	})
	s := spec("p", 0, HookEvent)
	s.Manifest.OnError = "deny"
	if err := h.Load(context.Background(), []Spec{s}); err != nil {
		t.Fatal(err)
	}
	run := func(sock, args string) Decision {
		env := eventEnv("chat", args)
		env.Socket.ID = sock
		return h.Run(context.Background(), env)
	}
	run("a", `["bad"]`)
	run("b", `["bad"]`)
	done := make(chan struct{})
	go func() { defer close(done); run("a", `["stall"]`) }()
	<-entered
	n := calls.Load()
	if d := run("b", `["fine"]`); d.Action != Deny || calls.Load() != n {
		t.Fatalf("a struck socket's call while the lane is taken: %+v, %d calls (want a deny and %d)", d, calls.Load(), n)
	}
	if d := run("c", `["fine"]`); d.Action != "" || calls.Load() != n+1 {
		t.Fatalf("a socket without strikes: %+v, %d calls (want %d)", d, calls.Load(), n+1)
	}
	close(release)
	<-done
	if d := run("b", `["fine"]`); d.Action != "" || calls.Load() != n+2 {
		t.Fatalf("the struck socket once the lane is free: %+v, %d calls (want %d)", d, calls.Load(), n+2)
	}
}

// TestChainBudgets: a call's deadline is the smaller of its timeout and
// what is left of its chain's budget: by default 1 s for connect and join,
// 500 ms for leave and disconnect, 250 ms for events; SetChainBudget
// raises one, across reloads, and zero restores the default. The deadline
// handed to the plugin is checked, not how long anything took.
func TestChainBudgets(t *testing.T) {
	h, rt := newTestHost(t)
	var got time.Time
	rt.set("p", func(ctx context.Context, _ *Envelope) (*Decision, error) {
		dl, ok := ctx.Deadline()
		if !ok {
			return nil, errors.New("no deadline")
		}
		got = dl
		return nil, nil
	})
	s := spec("p", 0)
	s.Manifest.Timeout = Duration(time.Hour)
	load := func() {
		t.Helper()
		if err := h.Load(context.Background(), []Spec{s}); err != nil {
			t.Fatal(err)
		}
	}
	check := func(hook Hook, want time.Duration) {
		t.Helper()
		if b := h.ChainBudget(hook); b != want {
			t.Errorf("%s: ChainBudget %v, want %v", hook, b, want)
		}
		before := time.Now()
		h.Run(context.Background(), &Envelope{Hook: hook, Namespace: "/", Socket: Socket{ID: "s1"}, Event: "e"})
		after := time.Now()
		if got.Before(before.Add(want)) || got.After(after.Add(want)) {
			t.Errorf("%s: deadline %v after the chain began, want its %v budget", hook, got.Sub(before), want)
		}
	}
	load()
	defaults := map[Hook]time.Duration{
		HookConnect:    time.Second,
		HookJoin:       time.Second,
		HookLeave:      500 * time.Millisecond,
		HookEvent:      250 * time.Millisecond,
		HookDisconnect: 500 * time.Millisecond,
	}
	for hook, want := range defaults {
		check(hook, want)
	}
	for hook := range defaults {
		h.SetChainBudget(hook, 10*time.Second)
	}
	for hook := range defaults {
		check(hook, 10*time.Second)
	}
	load() // a reload keeps the budgets
	for hook := range defaults {
		check(hook, 10*time.Second)
	}
	for hook := range defaults {
		h.SetChainBudget(hook, 0)
	}
	for hook, want := range defaults {
		check(hook, want)
	}
	if b := h.ChainBudget("nonsense"); b != 0 {
		t.Errorf("ChainBudget of no hook: %v", b)
	}
}

// TestSlot: slot finds each hook at its place in hookIndex, and nothing
// else.
func TestSlot(t *testing.T) {
	for i, h := range hookIndex {
		if got := slot(h); got != i {
			t.Errorf("slot(%q) = %d, want %d", h, got, i)
		}
	}
	for _, h := range []Hook{"", "Event", "evenT", "events", "leav", "conn", "joins", "disconnecT"} {
		if got := slot(h); got != -1 {
			t.Errorf("slot(%q) = %d, want -1", h, got)
		}
	}
}
