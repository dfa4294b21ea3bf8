package host_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/sdk/wire"
)

// A new version of a policy runs as a shadow of the live one: its
// decisions are compared and kept, not enforced, until it is promoted.
func ExampleHost_PromoteShadow() {
	dir, err := os.MkdirTemp("", "shadow-example")
	if err != nil {
		panic(err)
	}
	defer os.RemoveAll(dir)
	write := func(name, code string) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(code), 0o644); err != nil {
			panic(err)
		}
		return path
	}
	live := write("policy.js", `hubd.on("event", () => {});`)
	next := write("policy-v2.js", `hubd.on("event", (env) => {
		if (env.event === "secret") return { action: "deny", reason: "no secrets" };
	});`)

	h := host.New(nil)
	defer h.Close()
	h.Register("js", js.Runtime{})
	h.SetChainBudget(host.HookEvent, 10*time.Second) // a slow machine's first call
	timeout := host.Duration(10 * time.Second)
	ctx := context.Background()
	err = h.Load(ctx, []host.Spec{
		{Manifest: host.Manifest{Name: "policy", Runtime: "js", Timeout: timeout}, Entry: live},
		{Manifest: host.Manifest{Name: "policy-v2", Runtime: "js", Timeout: timeout, Shadow: "policy"}, Entry: next},
	})
	if err != nil {
		panic(err)
	}
	secret := func() *host.Envelope {
		return &host.Envelope{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "s1"}, Event: "secret", Args: wire.Raw(`[1]`)}
	}
	action := func(d host.Decision) host.Action {
		if d.Action == "" {
			return host.Allow
		}
		return d.Action
	}

	fmt.Println("live:", action(h.Run(ctx, secret())))
	// The shadow answers off the hot path: wait for its comparison.
	for deadline := time.Now().Add(20 * time.Second); h.ShadowStats()[0].Results["action"] == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	div := h.ShadowDivergences("policy-v2", 1)[0]
	fmt.Println("shadow:", div.Result, div.Kinds, string(div.ShadowDecision))

	if err := h.PromoteShadow("policy-v2"); err != nil {
		panic(err)
	}
	d := h.Run(ctx, secret())
	fmt.Println("after promotion:", action(d), d.Reason, h.Plugins())
	// Output:
	// live: allow
	// shadow: action [action reason] {"action":"deny","reason":"no secrets"}
	// after promotion: deny no secrets [policy-v2]
}
