package js

import (
	"context"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
)

// benchHookSrc is bench/hub/plugins/js/hook.js: the event hook that reads
// the event name and the first argument and allows the event.
const benchHookSrc = `let last = null;
hubd.on("event", (env) => {
  if (env.event === "never") return { action: "deny" };
  last = env.args[0];
});`

// BenchmarkBenchHook is one call of the benchmark server's event hook with
// hubbench's echo payload, under a cancellable context as a socket's is.
func BenchmarkBenchHook(b *testing.B) {
	p := loadSource(b, benchHookSrc, withPool(1))
	sock, cancel := context.WithCancel(context.Background())
	defer cancel()
	ctx := host.WithDeadline(sock, time.Now().Add(time.Hour))
	env := eventEnv("abcdefghijklmnopqrst", "echo",
		`[{"t":1765091234567890123,"s":12345,"p":"`+string(make100())+`"}]`)
	b.ReportAllocs()
	for b.Loop() {
		d, err := p.Handle(ctx, env)
		if err != nil || d != nil {
			b.Fatalf("%v %+v", err, d)
		}
	}
}

func make100() []byte {
	b := make([]byte, 100)
	for i := range b {
		b[i] = 'x'
	}
	return b
}

// BenchmarkBenchHookParts is BenchmarkBenchHook with handlers that read
// less, to tell the envelope's conversions from the call's fixed cost.
func BenchmarkBenchHookParts(b *testing.B) {
	for _, c := range []struct{ name, src string }{
		{"empty", `hubd.on("event", (env) => {});`},
		{"event", `hubd.on("event", (env) => { if (env.event === "never") return { action: "deny" }; });`},
		{"args", `let last; hubd.on("event", (env) => { last = env.args; });`},
		{"args0", benchHookSrc},
		{"args0of3", benchHookSrc},
	} {
		b.Run(c.name, func(b *testing.B) {
			p := loadSource(b, c.src, withPool(1))
			sock, cancel := context.WithCancel(context.Background())
			defer cancel()
			ctx := host.WithDeadline(sock, time.Now().Add(time.Hour))
			env := eventEnv("abcdefghijklmnopqrst", "echo",
				`[{"t":1765091234567890123,"s":12345,"p":"`+string(make100())+`"}]`)
			if c.name == "args0of3" {
				// A room, then a message the hook does not read.
				env = eventEnv("abcdefghijklmnopqrst", "chat",
					`["lobby",{"text":"`+string(make100())+`","at":1765091234567,"tags":["a","b","c"]},{"id":7}]`)
			}
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Handle(ctx, env); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
