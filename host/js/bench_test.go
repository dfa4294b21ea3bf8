package js

import (
	"context"
	"errors"
	"runtime"
	"slices"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

// The realistic event hook of the performance target: read the event name
// and the first argument, return a transform.
const transformSrc = `
hubd.on("event", (env) => {
  if (env.event === "chat" && typeof env.args[0] === "string") {
    return { args: [env.args[0].toUpperCase()] };
  }
});
`

const objectTransformSrc = `
hubd.on("event", (env) => {
  const msg = env.args[0];
  if (env.event === "chat" && msg && typeof msg.text === "string") {
    return { args: [{ ...msg, text: msg.text.toUpperCase() }] };
  }
});
`

// sourceRuntime loads one script given as text, whatever the spec's entry.
type sourceRuntime struct{ src string }

func (r sourceRuntime) Load(ctx context.Context, spec host.Spec) (host.Plugin, error) {
	return Runtime{}.LoadSource(ctx, spec, spec.Manifest.Name+".js", r.src)
}

// benchHost is a host with one JS plugin on the event hook. The timeout is
// generous: this shared 2-core machine sometimes stalls a goroutine for
// tens of milliseconds, which would count as timeouts.
func benchHost(b testing.TB, src string) *host.Host {
	h := host.New(nil)
	h.Register("js", sourceRuntime{src})
	err := h.Load(context.Background(), []host.Spec{{Manifest: host.Manifest{
		Name: "upper", Runtime: "js", Hooks: []host.Hook{host.HookEvent}, Timeout: host.Duration(time.Second),
	}}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { h.Close() })
	return h
}

// BenchmarkEventTransform is the end-to-end target: Host.Run on a fresh
// event envelope (as the hub builds one per event) through the chain with
// one JS plugin that upper-cases the first argument.
func BenchmarkEventTransform(b *testing.B) {
	h := benchHost(b, transformSrc)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		env := eventEnv("abcdefghijklmnopqrst", "chat", `["hello, world"]`)
		if d := h.Run(ctx, env); string(d.Args) != `["HELLO, WORLD"]` {
			b.Fatalf("args %s %+v", d.Args, h.Stats())
		}
	}
}

// BenchmarkEventTransformObject: the first argument is an object.
func BenchmarkEventTransformObject(b *testing.B) {
	h := benchHost(b, objectTransformSrc)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		env := eventEnv("abcdefghijklmnopqrst", "chat", `[{"text":"hello, world","room":"lobby","n":1}]`)
		if d := h.Run(ctx, env); string(d.Args) != `[{"text":"HELLO, WORLD","room":"lobby","n":1}]` {
			b.Fatalf("args %s", d.Args)
		}
	}
}

// BenchmarkEventTransformParallel runs the chain from many goroutines.
func BenchmarkEventTransformParallel(b *testing.B) {
	h := benchHost(b, transformSrc)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			env := eventEnv("abcdefghijklmnopqrst", "chat", `["hello, world"]`)
			if d := h.Run(ctx, env); string(d.Args) != `["HELLO, WORLD"]` {
				b.Errorf("args %s", d.Args)
				return
			}
		}
	})
}

// BenchmarkEventTransformLatency reports the distribution of one call's
// latency through the chain (p50-ns, p99-ns, p99.9-ns, max-ns).
func BenchmarkEventTransformLatency(b *testing.B) {
	h := benchHost(b, transformSrc)
	ctx := context.Background()
	lat := make([]time.Duration, 0, 1<<20)
	for b.Loop() {
		env := eventEnv("abcdefghijklmnopqrst", "chat", `["hello, world"]`)
		start := time.Now()
		d := h.Run(ctx, env)
		lat = append(lat, time.Since(start))
		if string(d.Args) != `["HELLO, WORLD"]` {
			b.Fatalf("args %s", d.Args)
		}
	}
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	slices.Sort(lat)
	at := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Nanoseconds()) }
	b.ReportMetric(at(.50), "p50-ns")
	b.ReportMetric(at(.99), "p99-ns")
	b.ReportMetric(at(.999), "p99.9-ns")
	b.ReportMetric(float64(lat[len(lat)-1].Nanoseconds()), "max-ns")
}

// BenchmarkPluginCall is the plugin alone: Handle with the same envelope.
func BenchmarkPluginCall(b *testing.B) {
	p := loadSource(b, transformSrc, withPool(1))
	ctx := host.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	env := eventEnv("abcdefghijklmnopqrst", "chat", `["hello, world"]`)
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Handle(ctx, env)
		if err != nil || string(d.Args) != `["HELLO, WORLD"]` {
			b.Fatalf("%v %s", err, d.Args)
		}
	}
}

// BenchmarkPluginCallLatency is BenchmarkPluginCall's distribution.
func BenchmarkPluginCallLatency(b *testing.B) {
	p := loadSource(b, transformSrc, withPool(1))
	ctx := host.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	env := eventEnv("abcdefghijklmnopqrst", "chat", `["hello, world"]`)
	lat := make([]time.Duration, 0, 1<<20)
	for b.Loop() {
		start := time.Now()
		_, err := p.Handle(ctx, env)
		lat = append(lat, time.Since(start))
		if err != nil {
			b.Fatal(err)
		}
	}
	reportPercentiles(b, lat)
}

// BenchmarkEmptyHandler is the fixed cost of a call: a handler that
// returns nothing.
func BenchmarkEmptyHandler(b *testing.B) {
	p := loadSource(b, `hubd.on("event", () => {});`, withPool(1))
	ctx := host.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	env := eventEnv("abcdefghijklmnopqrst", "chat", `["hello, world"]`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Handle(ctx, env); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNewRuntime is the cost of one pool runtime (a replacement after
// a timeout) for the transform script.
func BenchmarkNewRuntime(b *testing.B) {
	p := loadSource(b, transformSrc, withPool(1))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.newInstance(0, time.Now().Add(time.Minute)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkRuntimeMemory reports the heap a pool runtime holds after the
// transform script ran in it and served one call (bytes/runtime).
func BenchmarkRuntimeMemory(b *testing.B) {
	const n = 64
	var per float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		p, err := tryLoad(transformSrc, withPool(n))
		if err != nil {
			b.Fatal(err)
		}
		ins := make([]*instance, 0, n) // every runtime serves a call
		for range n {
			ins = append(ins, <-p.pool)
		}
		for _, in := range ins {
			if _, err := in.handle(hookIndex(host.HookEvent), eventEnv("s", "chat", `["x"]`), time.Now().Add(time.Second)); err != nil {
				b.Fatal(err)
			}
			p.pool <- in
		}
		ins = nil
		runtime.GC()
		runtime.ReadMemStats(&after)
		per = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / n
		runtime.KeepAlive(p)
		p.Close()
		time.Sleep(10 * time.Millisecond) // let the watchdog exit and drop p
	}
	b.ReportMetric(per, "bytes/runtime")
}

// BenchmarkTimeoutOvershoot reports how long after its deadline an endless
// handler is stopped (overshoot-p50-ns, overshoot-max-ns): within a
// watchdog tick (TestWatchdogTick) when a core is free.
func BenchmarkTimeoutOvershoot(b *testing.B) {
	const timeout = 20 * time.Millisecond
	p := loadSource(b, `hubd.on("event", () => { for (;;) {} });`, withPool(2), withTimeout(timeout))
	env := eventEnv("s", "chat", `[]`)
	var over []time.Duration
	for b.Loop() {
		start := time.Now()
		if _, err := p.Handle(context.Background(), env); !errors.Is(err, host.ErrTimeout) {
			b.Fatalf("err = %v", err)
		}
		over = append(over, time.Since(start)-timeout)
	}
	slices.Sort(over)
	b.ReportMetric(float64(over[len(over)/2].Nanoseconds()), "overshoot-p50-ns")
	b.ReportMetric(float64(over[len(over)-1].Nanoseconds()), "overshoot-max-ns")
}
