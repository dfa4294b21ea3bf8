package host_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/sdk/wire"
)

// The tests of this file attack the chain as a hostile client would: from
// a few sockets, with input that makes plugins fail, among sockets that
// behave. What one socket sends must never change what the others get.

// deepArgs nests depth arrays: [[[...]]].
func deepArgs(depth int) json.RawMessage {
	return json.RawMessage(strings.Repeat("[", depth) + strings.Repeat("]", depth))
}

// testTimeout replaces the shipped call limits: under the race detector on
// a loaded machine a call can take longer, which these tests are not
// about, and a timeout would count as a failure.
const testTimeout = host.Duration(10 * time.Second)

// payloadLimit is the shipped plugins/payload-limit, as LoadDir reads it.
func payloadLimit(t *testing.T) host.Spec {
	t.Helper()
	dir := filepath.Join("..", "plugins", "payload-limit")
	m, err := host.ReadManifest(filepath.Join(dir, host.ManifestFile))
	if err != nil {
		t.Fatal(err)
	}
	if m.OnError != "deny" {
		t.Fatalf("payload-limit fails %q: this test needs the shipped fail-closed plugin", m.OnError)
	}
	m.Timeout = testTimeout
	return host.Spec{Manifest: m, Entry: filepath.Join(dir, m.Entry)}
}

// jsPlugin writes src as a plugin's entry and returns its spec.
func jsPlugin(t *testing.T, name, onError, src string) host.Spec {
	t.Helper()
	entry := filepath.Join(t.TempDir(), name+".js")
	if err := os.WriteFile(entry, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	return host.Spec{
		Manifest: host.Manifest{Name: name, Runtime: "js", Entry: name + ".js", Hooks: []host.Hook{host.HookEvent}, OnError: onError, Timeout: testTimeout},
		Entry:    entry,
	}
}

// generousBudgets raises every chain budget of h to testTimeout: the
// default budgets (250 ms for an event) would cut the calls short as their
// shipped limits would.
func generousBudgets(h *host.Host) {
	for _, hook := range []host.Hook{host.HookConnect, host.HookJoin, host.HookLeave, host.HookEvent, host.HookDisconnect} {
		h.SetChainBudget(hook, time.Duration(testTimeout))
	}
}

func jsHost(t *testing.T, specs ...host.Spec) *host.Host {
	t.Helper()
	h := host.New(nil)
	generousBudgets(h)
	h.Register("js", js.Runtime{})
	t.Cleanup(func() { _ = h.Close() })
	if err := h.Load(context.Background(), specs); err != nil {
		t.Fatal(err)
	}
	return h
}

func event(socket, name string, args wire.Raw) *host.Envelope {
	return &host.Envelope{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: socket, Rooms: []string{}}, Event: name, Args: args}
}

// outcomes sums one plugin's counters over its hooks.
func outcomes(h *host.Host, plugin string) map[string]uint64 {
	out := map[string]uint64{}
	for _, s := range h.Stats() {
		if s.Plugin == plugin {
			for k, n := range s.Outcomes {
				out[k] += n
			}
		}
	}
	return out
}

// TestDeepArgsDenyOnlyTheirSender is defect 2 as reported: 8 sockets send
// arguments nested deeper than the JS runtime takes, at the same time as
// legitimate sockets send ordinary events, through the shipped
// payload-limit (on_error deny). The attackers get the failure policy's
// answer; nobody else is denied, and the plugin's breaker never opens.
func TestDeepArgsDenyOnlyTheirSender(t *testing.T) {
	h := jsHost(t, payloadLimit(t))
	const attackers, legit, events = 8, 16, 40
	deep := deepArgs(300)
	var wg sync.WaitGroup
	var legitDenied, attackerWrong atomic.Int32
	for a := range attackers {
		wg.Go(func() {
			for range events {
				d := h.Run(context.Background(), event(fmt.Sprintf("attacker-%d", a), "chat", wire.Raw(deep)))
				if d.Action != host.Deny || !strings.Contains(d.Reason, "nested deeper than") {
					attackerWrong.Add(1)
				}
			}
		})
	}
	for l := range legit {
		wg.Go(func() {
			for i := range events {
				d := h.Run(context.Background(), event(fmt.Sprintf("legit-%d", l), "chat", wire.Raw(fmt.Sprintf(`["hello %d",{"n":%d}]`, i, i))))
				if d.Action != "" {
					legitDenied.Add(1)
				}
			}
		})
	}
	wg.Wait()
	if n := legitDenied.Load(); n != 0 {
		t.Errorf("%d of %d legitimate events denied", n, legit*events)
	}
	if n := attackerWrong.Load(); n != 0 {
		t.Errorf("%d of %d deep events not answered with the fail-closed answer to deep input", n, attackers*events)
	}
	st := outcomes(h, "payload-limit")
	if st["rejected_input"] != attackers*events || st["circuit_open"] != 0 || st["error"] != 0 || st["allow"] != legit*events {
		t.Errorf("counters %v, want %d rejected_input and %d allow, nothing else", st, attackers*events, legit*events)
	}
	if n := h.StruckSockets("payload-limit"); n != 0 {
		t.Errorf("%d sockets have strikes for input no plugin saw", n)
	}
}

// TestDepthBoundIsTheHostsNotTheRuntimes: input at the bound reaches the
// plugin, which can hand it back; one level more reaches no plugin, in
// args, auth or socket data, and the answer is the failure policy's.
func TestDepthBoundIsTheHostsNotTheRuntimes(t *testing.T) {
	echo := jsPlugin(t, "echo", "allow", `hubd.on("event", (env) => ({ args: env.args }));`)
	gate := jsPlugin(t, "gate", "deny", `hubd.on("connect", (env) => {}); hubd.on("event", (env) => {});`)
	gate.Manifest.Hooks = []host.Hook{host.HookConnect, host.HookEvent}
	gate.Manifest.Priority = 1
	h := jsHost(t, echo, gate)
	bound, over := deepArgs(host.MaxJSONDepth), deepArgs(host.MaxJSONDepth+1)

	d := h.Run(context.Background(), event("s", "e", wire.Raw(bound)))
	if d.Action != "" || string(d.Args) != string(bound) {
		t.Fatalf("args at the bound: %+v %s", d, d.Args)
	}
	d = h.Run(context.Background(), event("s", "e", wire.Raw(over)))
	if d.Action != host.Deny || d.Args != nil || string(d.Data) != `{"max_depth":64}` {
		t.Fatalf("args over the bound: %+v, want the fail-closed plugin's deny and no change", d)
	}
	env := event("s", "e", wire.Raw(`[1]`))
	env.Socket.Data = wire.Raw(`{"a":` + string(bound) + `}`)
	if d = h.Run(context.Background(), env); d.Action != host.Deny {
		t.Fatalf("socket data over the bound: %+v", d)
	}
	auth := wire.Raw(`{"a":` + string(bound) + `}`)
	d = h.Run(context.Background(), &host.Envelope{Hook: host.HookConnect, Namespace: "/", Handshake: &host.Handshake{Auth: auth}})
	if d.Action != host.Deny {
		t.Fatalf("auth over the bound: %+v", d)
	}
	if st := outcomes(h, "echo"); st["allow"] != 1 || st["rejected_input"] != 2 {
		t.Fatalf("echo counters %v", st)
	}
	if st := outcomes(h, "gate"); st["allow"] != 1 || st["rejected_input"] != 3 {
		t.Fatalf("gate counters %v", st)
	}
}

// poisonSrc throws on one argument, as a plugin with a bug a client has
// found does; it denies "spam" and allows the rest.
const poisonSrc = `
hubd.on("event", (env) => {
  const a = env.args[0];
  if (a === "poison") throw new Error("a bug a client found");
  if (typeof a === "string" && a.includes("spam")) return { action: "drop", reason: "spam" };
});
`

// TestClientFailuresAreChargedToTheirSocket: input the host cannot foresee
// makes the plugin fail for a few sockets, in bursts, between legitimate
// events. Each burst used to open the breaker for everyone; now the
// failures are the attackers' alone.
func TestClientFailuresAreChargedToTheirSocket(t *testing.T) {
	h := jsHost(t, jsPlugin(t, "filter", "deny", poisonSrc))
	poison := wire.Raw(`["poison"]`)
	for round := range 3 {
		for a := range 8 {
			for range 2 * 5 { // twice the breaker's threshold
				if d := h.Run(context.Background(), event(fmt.Sprintf("attacker-%d", a), "chat", poison)); d.Action != host.Deny {
					t.Fatalf("attacker %d: %+v, want the fail-closed answer", a, d)
				}
			}
			for l := range 4 {
				d := h.Run(context.Background(), event(fmt.Sprintf("legit-%d", l), "chat", wire.Raw(`["hello"]`)))
				if d.Action != "" {
					t.Fatalf("round %d, after attacker %d: legitimate socket %d got %+v", round, a, l, d)
				}
			}
			if d := h.Run(context.Background(), event("spammer", "chat", wire.Raw(`["spam"]`))); d.Action != host.Drop {
				t.Fatalf("spam from another socket got %+v, want it filtered", d)
			}
		}
	}
	if st := outcomes(h, "filter"); st["circuit_open"] != 0 {
		t.Fatalf("the breaker opened: %v", st)
	}
	if n := h.StruckSockets("filter"); n != 8 {
		t.Fatalf("%d sockets with strikes, want the 8 attackers", n)
	}
}

// TestFailOpenFilterKeepsFiltering: with a fail-open content filter, the
// attackers' deep events pass unexamined, which is what fail-open means,
// but their ordinary spam, and everybody else's, is still filtered: the
// breaker never opens.
func TestFailOpenFilterKeepsFiltering(t *testing.T) {
	h := jsHost(t, jsPlugin(t, "filter", "allow", poisonSrc))
	deep := deepArgs(300)
	for round := range 3 {
		for a := range 8 {
			id := fmt.Sprintf("attacker-%d", a)
			for range 2 * 5 {
				if d := h.Run(context.Background(), event(id, "chat", wire.Raw(deep))); d.Action != "" {
					t.Fatalf("deep event: %+v, want the fail-open answer", d)
				}
			}
			if d := h.Run(context.Background(), event(id, "chat", wire.Raw(`["buy spam"]`))); d.Action != host.Drop {
				t.Fatalf("round %d: attacker %d's spam got %+v, want it filtered", round, a, d)
			}
			if d := h.Run(context.Background(), event("legit", "chat", wire.Raw(`["hello"]`))); d.Action != "" {
				t.Fatalf("legitimate event got %+v", d)
			}
		}
	}
	if st := outcomes(h, "filter"); st["circuit_open"] != 0 || st["drop"] != 3*8 {
		t.Fatalf("counters %v", st)
	}
}

// TestSocketBackoffSparesThePlugin: a socket whose calls keep failing is
// answered by the failure policy without calling the plugin for a while.
func TestSocketBackoffSparesThePlugin(t *testing.T) {
	h := jsHost(t, jsPlugin(t, "filter", "deny", poisonSrc))
	poison := wire.Raw(`["poison"]`)
	// Each failure from the threshold on holds the socket back for at
	// least breakerMinBackoff; call until a call is held back.
	for i := 0; outcomes(h, "filter")["socket_backoff"] == 0; i++ {
		if i == 1000 {
			t.Fatal("the socket was never held back")
		}
		if d := h.Run(context.Background(), event("attacker", "chat", poison)); d.Action != host.Deny {
			t.Fatalf("%+v", d)
		}
	}
	// Others are served meanwhile.
	if d := h.Run(context.Background(), event("legit", "chat", wire.Raw(`["hi"]`))); d.Action != "" {
		t.Fatalf("legitimate event got %+v", d)
	}
}

// TestDeadPluginStillOpensBreaker: a plugin that fails for everyone, as a
// dead or hung one does, still opens its breaker.
func TestDeadPluginStillOpensBreaker(t *testing.T) {
	cases := []struct{ name, src string }{
		{"throws", `hubd.on("event", () => { throw new Error("dead"); });`},
		{"hangs", `hubd.on("event", () => { for (;;) {} });`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			s := jsPlugin(t, "dead", "deny", c.src)
			s.Manifest.Timeout = host.Duration(20 * time.Millisecond)
			h := jsHost(t, s)
			start := time.Now()
			for i := 0; outcomes(h, "dead")["circuit_open"] == 0; i++ {
				if time.Since(start) > time.Minute {
					t.Fatalf("the breaker did not open after %d calls: %v", i, outcomes(h, "dead"))
				}
				if d := h.Run(context.Background(), event(fmt.Sprintf("s%d", i%50), "chat", wire.Raw(`["hi"]`))); d.Action != host.Deny {
					t.Fatalf("%+v", d)
				}
			}
		})
	}
}

// TestTimeoutsHoldTheirSocketSoon: a call that runs out its time held a
// pool slot for all of it, so two timeouts in a row hold their socket back
// (where quick failures take five): the socket's third call does not reach
// the plugin, and other sockets are served.
func TestTimeoutsHoldTheirSocketSoon(t *testing.T) {
	s := jsPlugin(t, "slow", "allow", `hubd.on("event", (env) => { if (env.args[0] === "stall") for (;;) {} });`)
	s.Manifest.Timeout = host.Duration(20 * time.Millisecond)
	stall := wire.Raw(`["stall"]`)
	for attempt := 1; ; attempt++ {
		h := jsHost(t, s)
		h.Run(context.Background(), event("attacker", "chat", stall))
		if o := outcomes(h, "slow"); o["timeout"] != 1 {
			t.Fatalf("outcomes after the first call: %v", o)
		}
		second := time.Now()
		h.Run(context.Background(), event("attacker", "chat", stall))
		if o := outcomes(h, "slow"); o["timeout"] != 2 || o["socket_backoff"] != 0 {
			t.Fatalf("one timeout held the socket back: %v", o)
		}
		h.Run(context.Background(), event("attacker", "chat", stall))
		// The backoff began after the second call did; a machine so
		// loaded that the third call ended after BreakerMinBackoff may
		// have seen it over: then the third call proves nothing.
		inBackoff := time.Since(second) < host.BreakerMinBackoff
		if o := outcomes(h, "slow"); o["timeout"] != 2 || o["socket_backoff"] != 1 {
			if inBackoff || attempt == 5 {
				t.Fatalf("the third call reached the plugin: %v", o)
			}
			continue
		}
		if d := h.Run(context.Background(), event("legit", "chat", wire.Raw(`["hi"]`))); d.Action != "" {
			t.Fatalf("legitimate event got %+v", d)
		}
		return
	}
}
