package host

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/sdk/wire"
)

// benchChainHost is a host with two fake event plugins that allow, so that
// a benchmark measures the chain's own cost per event.
func benchChainHost(b *testing.B) *Host {
	h := New(nil)
	rt := newFakeRuntime()
	h.Register("fake", rt)
	allow := func(context.Context, *Envelope) (*Decision, error) { return nil, nil }
	rt.set("a", allow)
	rt.set("b", allow)
	if err := h.Load(context.Background(), []Spec{spec("a", 0, HookEvent), spec("b", 1, HookEvent)}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	return h
}

func benchEventEnv(args []byte) Envelope {
	return Envelope{
		Hook: HookEvent, Namespace: "/",
		Socket: Socket{ID: "s1", Rooms: []string{"lobby"}, Data: wire.Raw(`{"user":"alice"}`)},
		Event:  "chat", Args: args,
	}
}

// BenchmarkChainEvent is the chain's own cost per event through two
// plugins that allow, with small and larger (1 KiB, 64 KiB) arguments.
// The plugins do nothing, so this is the chain's overhead alone.
func BenchmarkChainEvent(b *testing.B) {
	for _, c := range []struct{ name, args string }{
		{"small", `["hello world",{"at":1712345678,"tags":["a","b"]}]`},
		{"1KiB", `[` + strings.Repeat(`{"k":[1,2,"abcdefgh"]},`, 40) + `0]`},
		{"64KiB", `["` + strings.Repeat("x", 64<<10) + `"]`},
		// Brackets and short strings only: the depth scan's worst case.
		{"64KiB-structured", `[` + strings.Repeat(`[1,{"a":["b",[2]]}],`, 64<<10/20) + `0]`},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := benchChainHost(b)
			ctx := context.Background()
			args := []byte(c.args)
			b.ReportAllocs()
			for b.Loop() {
				env := benchEventEnv(args)
				if d := h.Run(ctx, &env); d.Action != "" {
					b.Fatalf("decision %+v", d)
				}
			}
		})
	}
}

// BenchmarkChainEventParallel is BenchmarkChainEvent/small from GOMAXPROCS
// callers, as many sockets at once.
func BenchmarkChainEventParallel(b *testing.B) {
	h := benchChainHost(b)
	ctx := context.Background()
	args := []byte(`["hello world"]`)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			env := benchEventEnv(args)
			h.Run(ctx, &env)
		}
	})
}

// BenchmarkChainEventUnderAttack is BenchmarkChainEvent/small for a
// behaving socket while 1,000 others have strikes on both plugins: the
// cost of per-socket accounting when it is in use.
func BenchmarkChainEventUnderAttack(b *testing.B) {
	h := New(nil)
	rt := newFakeRuntime()
	h.Register("fake", rt)
	failAttackers := func(_ context.Context, env *Envelope) (*Decision, error) {
		if strings.HasPrefix(env.Socket.ID, "attacker") {
			return nil, errors.New("bad input")
		}
		return nil, nil
	}
	rt.set("a", failAttackers)
	rt.set("b", failAttackers)
	a, bb := spec("a", 0, HookEvent), spec("b", 1, HookEvent)
	a.Manifest.OnError, bb.Manifest.OnError = "allow", "allow"
	if err := h.Load(context.Background(), []Spec{a, bb}); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	ctx := context.Background()
	args := []byte(`["hello world",{"at":1712345678,"tags":["a","b"]}]`)
	for i := range 1000 {
		env := benchEventEnv(args)
		env.Socket.ID = fmt.Sprint("attacker-", i)
		h.Run(ctx, &env)
	}
	if n := h.StruckSockets("a"); n != 1000 {
		b.Fatalf("%d sockets with strikes", n)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		env := benchEventEnv(args)
		if d := h.Run(ctx, &env); d.Action != "" {
			b.Fatalf("decision %+v", d)
		}
	}
}

// BenchmarkChainEventTrace is BenchmarkChainEvent/small as the hooks run
// it (Host.decide), with decision traces at their default (on) and off:
// what recording a decision adds per event, its ring already gone round
// once. Run the two alternately (-bench 'ChainEventTrace/off$', then
// '/on$', ...) and compare cpu-ns/op.
func BenchmarkChainEventTrace(b *testing.B) {
	for _, mode := range []string{"off", "on"} {
		b.Run(mode, func(b *testing.B) {
			h := benchChainHost(b)
			if mode == "off" {
				if err := h.SetTrace(TraceOptions{PerSocket: -1}); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			t := h.current.Load()
			args := []byte(`["hello world",{"at":1712345678,"tags":["a","b"]}]`)
			b.ReportAllocs()
			defer reportCPU(b)()
			for b.Loop() {
				env := benchEventEnv(args)
				if d := h.decide(ctx, ctx, t, &env, nil); d.Action != "" {
					b.Fatalf("decision %+v", d)
				}
			}
		})
	}
}

// benchTraceStep returns a host with tracing on and the chain of one
// event's decision of two steps (one transform), to record.
func benchTraceStep(b *testing.B) (*Host, *traceConfig, traceBuf, Decision) {
	h := benchChainHost(b)
	t := h.current.Load()
	tb := traceBuf{hook: HookEvent, start: time.Now()}
	d := &Decision{Args: wire.Raw(`["X"]`), Rooms: []string{"lobby"}}
	tb.add(t.plugins[0], OutcomeAllow, time.Microsecond, &Decision{}, nil)
	tb.add(t.plugins[1], OutcomeAllow, time.Microsecond, d, nil)
	var out Decision
	merge(&out, d)
	return h, h.tracer.on(), tb, out
}

// BenchmarkTraceRecord is the recording alone: one event's decision of two
// steps (one transform) put into its socket's ring, gone round once.
func BenchmarkTraceRecord(b *testing.B) {
	h, c, tb, out := benchTraceStep(b)
	ctx := context.Background()
	b.ReportAllocs()
	defer reportCPU(b)()
	for b.Loop() {
		h.tracer.record(c, "s1", "/", ctx, slotEvent, "chat", &tb, &out, nil)
	}
}

// BenchmarkGCTraceRings is what the rings of many sockets cost the
// collector: 10,000 sockets, each ring full (32 decisions of two steps),
// then one collection per op; ns/op is a full collection's time with
// them live (the rest of the process's heap is small).
func BenchmarkGCTraceRings(b *testing.B) {
	h, c, tb, out := benchTraceStep(b)
	ctx := context.Background()
	const sockets = 10000
	for i := range sockets {
		id := "s" + strconv.Itoa(i)
		for range DefaultTracePerSocket {
			h.tracer.record(c, id, "/", ctx, slotEvent, "chat", &tb, &out, nil)
		}
	}
	runtime.GC()
	b.ResetTimer()
	for b.Loop() {
		runtime.GC()
	}
}
