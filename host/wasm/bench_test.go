package wasm

import (
	"context"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// benchEnvelope is a realistic event call (about 230 bytes of JSON): the
// policy reads the event name and the first argument and returns a
// transform.
func benchEnvelope() host.Envelope {
	return host.Envelope{
		Hook:      host.HookEvent,
		Namespace: "/chat",
		Socket: host.Socket{
			ID:    "AbCdEfGhIjKlMnOpQrSt",
			Rooms: []string{"lobby", "news", "team:42"},
			Data:  wire.Raw(`{"user":"alice","role":"member"}`),
		},
		Event: "shout",
		Args:  wire.Raw(`["hello world, this is alice",{"ts":1732590000,"lang":"en"}]`),
		Ack:   true,
		Rooms: []string{"lobby", "news", "team:42"},
	}
}

// benchHost runs Host.Run on the event envelope through a host with one
// Wasm plugin, and reports percentiles and the instance's memory.
func benchHost(b *testing.B, entry string, opts ...Option) {
	h := host.New(nil)
	h.Register("wasm", New(append([]Option{WithCompilationCache(testCache)}, opts...)...))
	err := h.Load(context.Background(), []host.Spec{{
		Manifest: host.Manifest{Name: "policy", Runtime: "wasm", PoolSize: 1, Hooks: []host.Hook{host.HookEvent}},
		Entry:    entry,
	}})
	if err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	ctx := context.Background()
	base := benchEnvelope()
	want := `["HELLO WORLD, THIS IS ALICE",{"ts":1732590000,"lang":"en"}]`
	env := base
	if d := h.Run(ctx, &env); string(d.Args) != want {
		b.Fatalf("decision: %s", show(&d))
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		env = base
		if d := h.Run(ctx, &env); d.Args == nil {
			b.Fatal("no transform")
		}
	}
	b.StopTimer()
	reportPercentiles(b, func() {
		env = base
		h.Run(ctx, &env)
	})
	for _, s := range h.Stats() {
		if s.Outcomes[host.OutcomeError.String()]+s.Outcomes[host.OutcomeTimeout.String()] > 0 {
			b.Fatalf("plugin errors: %+v", s.Outcomes)
		}
	}
}

// reportPercentiles times calls one by one.
func reportPercentiles(b *testing.B, fn func()) {
	const n = 20000
	d := make([]time.Duration, n)
	for i := range d {
		t0 := time.Now()
		fn()
		d[i] = time.Since(t0)
	}
	slices.Sort(d)
	b.ReportMetric(float64(d[n/2].Nanoseconds()), "p50-ns")
	b.ReportMetric(float64(d[n*99/100].Nanoseconds()), "p99-ns")
}

// BenchmarkHostRunEventGo is the end-to-end number: Host.Run, one Go-guest
// plugin, the shout transform.
func BenchmarkHostRunEventGo(b *testing.B) { benchHost(b, guestGo) }

// BenchmarkHostRunEventC is the same with the C guest.
func BenchmarkHostRunEventC(b *testing.B) {
	needC(b)
	benchHost(b, guestC)
}

// BenchmarkHostRunEventGoCloseOnDone stops calls with wazero's
// WithCloseOnContextDone instead of the interrupt check, for comparison.
func BenchmarkHostRunEventGoCloseOnDone(b *testing.B) {
	benchHost(b, guestGo, WithTermination(CloseOnDone))
}

// benchHandle calls Plugin.Handle directly (no chain).
func benchHandle(b *testing.B, entry string) {
	p := load(b, entry, func(m *host.Manifest) { m.PoolSize = 1 })
	base := benchEnvelope()
	ctx := host.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		env := base
		if _, err := p.Handle(ctx, &env); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	reportPercentiles(b, func() {
		env := base
		_, _ = p.Handle(ctx, &env)
	})
	st := p.Stats()
	if len(st.Pages) > 0 {
		b.ReportMetric(float64(st.Pages[0]), "pages")
	}
}

func BenchmarkHandleGo(b *testing.B) { benchHandle(b, guestGo) }

func BenchmarkHandleC(b *testing.B) {
	needC(b)
	benchHandle(b, guestC)
}

// BenchmarkHandleGoParallel runs calls from many goroutines on a pool of
// two instances.
func BenchmarkHandleGoParallel(b *testing.B) {
	p := load(b, guestGo, func(m *host.Manifest) { m.PoolSize = 2 })
	base := benchEnvelope()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		ctx := host.WithDeadline(context.Background(), time.Now().Add(time.Hour))
		for pb.Next() {
			env := base
			if _, err := p.Handle(ctx, &env); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkAppendJSON and BenchmarkParseDecision split the host's share.
func BenchmarkAppendJSON(b *testing.B) {
	env := benchEnvelope()
	var buf []byte
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		buf = env.AppendJSON(buf[:0])
	}
}

func BenchmarkParseDecision(b *testing.B) {
	in := []byte(`{"args":["HELLO WORLD, THIS IS ALICE",{"ts":1732590000,"lang":"en"}]}`)
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := parseDecision(in); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := host.ParseDecision(in); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// BenchmarkAppendJSONIndexed is the envelope JSON and its index as the
// host writes them for hubbench's echo event (one object argument with a
// 100-byte string), as the benchmark server's hook gets it.
func BenchmarkAppendJSONIndexed(b *testing.B) {
	env := host.Envelope{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "AbCdEfGhIjKlMnOpQrSt", Rooms: []string{}},
		Event: "echo", Args: wire.Raw(`[{"t":1765091234567890123,"s":12345,"p":"` + strings.Repeat("x", 100) + `"}]`), Ack: true}
	buf, _ := appendJSONIndexed(nil, &env)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = appendJSONIndexed(buf[:0], &env)
	}
}

// BenchmarkHandleBenchHook is one call of the benchmark server's Go Wasm
// event hook (bench/hub/plugins/wasmgo: reads the event name and the first
// argument, allows) with hubbench's echo payload: the host's side of the
// call and the guest's, Go runtime entry included.
func BenchmarkHandleBenchHook(b *testing.B) {
	root, err := filepath.Abs("../..")
	if err != nil {
		b.Fatal(err)
	}
	guest := filepath.Join(b.TempDir(), "hook.wasm")
	if err := buildGo(root, "./bench/hub/plugins/wasmgo", guest); err != nil {
		b.Fatal(err)
	}
	p := load(b, guest, func(m *host.Manifest) { m.PoolSize = 1 })
	base := host.Envelope{Hook: host.HookEvent, Namespace: "/", Socket: host.Socket{ID: "AbCdEfGhIjKlMnOpQrSt", Rooms: []string{}},
		Event: "echo", Args: wire.Raw(`[{"t":1765091234567890123,"s":12345,"p":"` + strings.Repeat("x", 100) + `"}]`), Ack: true}
	ctx := host.WithDeadline(context.Background(), time.Now().Add(time.Hour))
	b.ReportAllocs()
	for b.Loop() {
		env := base
		if d, err := p.Handle(ctx, &env); err != nil || d != nil {
			b.Fatal(d, err)
		}
	}
}
