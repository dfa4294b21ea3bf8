package host

import (
	"context"
	"runtime"
	"testing"
)

// BenchmarkShadowEvent is an event through one fake plugin that allows, as
// the hooks run it (traces on), without and with a shadow of it that
// allows too: "on" adds the copy of the envelope and the hand-off to the
// shadow's workers on the hot path, and the shadow's call, comparison and
// trace step off it. cpu-ns/op is the process's CPU, both together;
// dropped/op the share of comparisons the shadow's queue dropped (the
// loop outpaces it). Run the two alternately and compare.
func BenchmarkShadowEvent(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			h := New(nil)
			rt := newFakeRuntime()
			h.Register("fake", rt)
			allow := func(context.Context, *Envelope) (*Decision, error) { return nil, nil }
			rt.set("a", allow)
			rt.set("shadow", allow)
			specs := []Spec{spec("a", 0, HookEvent)}
			if mode == "on" {
				specs = append(specs, shadowSpec("shadow", "a", HookEvent))
			}
			if err := h.Load(context.Background(), specs); err != nil {
				b.Fatal(err)
			}
			b.Cleanup(func() { _ = h.Close() })
			ctx := context.Background()
			t := h.current.Load()
			args := []byte(`["hello world",{"at":1712345678,"tags":["a","b"]}]`)
			b.ReportAllocs()
			done := reportCPU(b)
			for b.Loop() {
				env := benchEventEnv(args)
				if d := h.decide(ctx, ctx, t, &env, nil); d.Action != "" {
					b.Fatalf("decision %+v", d)
				}
			}
			if mode == "on" {
				// Let the workers finish what is queued, so that their CPU
				// is counted.
				for h.ShadowStats()[0].Pending > 0 {
					runtime.Gosched()
				}
				b.ReportMetric(float64(h.ShadowStats()[0].Results["dropped"])/float64(b.N), "dropped/op")
			}
			done()
		})
	}
}
