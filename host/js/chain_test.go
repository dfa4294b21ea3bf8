package js

import (
	"context"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

// multiRuntime serves several scripts by plugin name.
type multiRuntime map[string]string

func (m multiRuntime) Load(ctx context.Context, spec host.Spec) (host.Plugin, error) {
	return Runtime{}.LoadSource(ctx, spec, spec.Manifest.Name+".js", m[spec.Manifest.Name])
}

// TestChain runs two JS plugins through host.Host: priority orders them
// (not the name), the second sees the first's transform, the first deny
// wins and the second is not called.
func TestChain(t *testing.T) {
	scripts := multiRuntime{
		// Runs first (priority 1) although its name sorts last.
		"z-guard": `
hubd.on("event", (env) => {
  if (env.event === "bad") return {action: "deny", reason: "guarded"};
  return {args: env.args.map(a => typeof a === "string" ? a.toUpperCase() : a), event: env.event + "!"};
});`,
		// Runs second: sees the upper-cased args and the renamed event.
		"a-tail": `
hubd.on("event", (env) => {
  if (env.event === "bad") return {action: "drop", reason: "the tail saw a bad event"};
  return {args: [...env.args, "seen " + env.event + " " + env.args[0]], rooms: ["r-" + env.args[0]]};
});`,
	}
	h := host.New(nil)
	h.Register("js", scripts)
	// Timeouts far above the 50 ms default, and the chain budget alike: a
	// call slowed by a loaded machine would get the failure policy's
	// answer instead.
	const timeout = host.Duration(10 * time.Second)
	h.SetChainBudget(host.HookEvent, time.Duration(timeout))
	err := h.Load(context.Background(), []host.Spec{
		{Manifest: host.Manifest{Name: "a-tail", Runtime: "js", Priority: 2, Timeout: timeout}},
		{Manifest: host.Manifest{Name: "z-guard", Runtime: "js", Priority: 1, Timeout: timeout}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	if got := h.Plugins(); len(got) != 2 || got[0] != "z-guard" {
		t.Fatalf("chain order %v", got)
	}

	d := h.Run(context.Background(), eventEnv("s1", "chat", `["hi",1]`))
	if d.Action != "" || d.Event != "chat!" || string(d.Args) != `["HI",1,"seen chat! HI"]` || len(d.Rooms) != 1 || d.Rooms[0] != "r-HI" {
		t.Errorf("transform chain: %+v args %s", d, d.Args)
	}

	d = h.Run(context.Background(), eventEnv("s1", "bad", `["x"]`))
	if d.Action != host.Deny || d.Reason != "guarded" {
		t.Errorf("first deny: %+v", d)
	}
	for _, s := range h.Stats() {
		if s.Plugin == "a-tail" && s.Outcomes["drop"] != 0 {
			t.Errorf("the second plugin ran after a deny: %+v", s)
		}
	}

	// The manifests list no hooks: the chain takes those the scripts
	// registered (host.HookLister), so connect costs nothing.
	if h.Subscribed(host.HookConnect, "/", "") || !h.Subscribed(host.HookEvent, "/", "chat") {
		t.Error("the registered hooks did not become the plugins' hooks")
	}
	if d := h.Run(context.Background(), connectEnv()); d.Action != "" {
		t.Errorf("connect: %+v", d)
	}
}
