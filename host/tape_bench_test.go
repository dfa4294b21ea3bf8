package host

import (
	"context"
	"os"
	"testing"
)

// BenchmarkTapeEvent is the cost of one event hook call through the chain
// of benchChainHost with no tape, with a tape recording every call, and
// with one recording 1% of them: what the hook's goroutine pays (the
// draw, a copy of the envelope, a send on the queue) plus, on a machine
// with few cores, the writer's encoding competing for the CPU. The tape
// goes to os.DevNull, so that the disk does not count; dropped/op is the
// share of records the queue could not take.
func BenchmarkTapeEvent(b *testing.B) {
	for _, c := range []struct {
		name string
		o    *TapeOptions
	}{
		{"off", nil},
		{"every", &TapeOptions{File: os.DevNull, MaxBytes: 1 << 50}},
		{"sample-1%", &TapeOptions{File: os.DevNull, MaxBytes: 1 << 50, Sample: 0.01}},
	} {
		b.Run(c.name, func(b *testing.B) {
			h := benchChainHost(b)
			if c.o != nil {
				if err := h.SetTape(*c.o); err != nil {
					b.Fatal(err)
				}
			}
			ctx := context.Background()
			t := h.current.Load()
			args := []byte(`["hello world",{"at":1712345678,"tags":["a","b"]}]`)
			b.ReportAllocs()
			n := 0
			for b.Loop() {
				env := benchEventEnv(args)
				h.decide(ctx, ctx, t, &env, nil)
				n++
			}
			if st, ok := h.TapeStats(); ok {
				b.ReportMetric(float64(st.Dropped)/float64(n), "dropped/op")
			}
		})
	}
}

// BenchmarkTapeEncode is the writer's cost per record: redaction (one
// argument path) and the JSON line of a small event and its decision.
func BenchmarkTapeEncode(b *testing.B) {
	r := &tapeRecorder{redact: newRedactor(TapeRedact{Args: []string{"args.1.password"}})}
	e := tapeEntry{env: benchEventEnv([]byte(`["hello world",{"at":1712345678,"password":"x"}]`)), d: Decision{Action: Deny, Reason: "no"}}
	var line []byte
	b.ReportAllocs()
	for b.Loop() {
		line = r.encode(line[:0], &e)
	}
	b.ReportMetric(float64(len(line)), "bytes/record")
}
