package host

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
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
		Socket: Socket{ID: "s1", Rooms: []string{"lobby"}, Data: json.RawMessage(`{"user":"alice"}`)},
		Event:  "chat", Args: args,
	}
}

// BenchmarkChainEvent is the chain's own cost per event through two
// plugins that allow, with small and larger (1 KiB, 64 KiB) arguments.
func BenchmarkChainEvent(b *testing.B) {
	for _, c := range []struct{ name, args string }{
		{"small", `["hello world",{"at":1712345678,"tags":["a","b"]}]`},
		{"1KiB", `[` + strings.Repeat(`{"k":[1,2,"abcdefgh"]},`, 40) + `0]`},
		{"64KiB", `["` + strings.Repeat("x", 64<<10) + `"]`},
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
