package process

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/sdk/wire"
)

// recorder is a Runtime that remembers the plugin it loaded.
type recorder struct {
	Runtime
	mu     sync.Mutex
	loaded *plugin
}

func (r *recorder) Load(ctx context.Context, spec host.Spec) (host.Plugin, error) {
	p, err := r.Runtime.Load(ctx, spec)
	if err == nil {
		r.mu.Lock()
		r.loaded = p.(*plugin)
		r.mu.Unlock()
	}
	return p, err
}

// benchHost is a host.Host running the example policy as its one plugin.
func benchHost(b *testing.B) (*host.Host, *plugin) {
	b.Helper()
	rt := &recorder{}
	h := host.New(nil)
	h.Register("process", rt)
	err := h.Load(context.Background(), []host.Spec{{
		Manifest: host.Manifest{Name: "policy", Runtime: "process", Hooks: []host.Hook{host.HookEvent}},
		Entry:    policyBin,
	}})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = h.Close() })
	return h, rt.loaded
}

// benchEnvelope is a ~200-byte event: the plugin reads the event name and
// the first argument and returns a transform.
func benchEnvelope() host.Envelope {
	return host.Envelope{
		Hook:      host.HookEvent,
		Namespace: "/chat",
		Socket: host.Socket{
			ID:    "Xc3vP1eZ9wQm2LkA0001",
			Rooms: []string{"lobby", "team:7", "user:alice"},
			Data:  wire.Raw(`{"user":"alice"}`),
		},
		Event: "shout",
		Args:  wire.Raw(`["hello world",{"at":1712345678,"tags":["a","b"]}]`),
		Rooms: []string{"lobby", "team:7", "user:alice"},
	}
}

// BenchmarkHostRunEvent: one event through host.Host's chain to a process
// plugin and back, one caller at a time. Reports the latency percentiles
// and the plugin process's resident memory.
func BenchmarkHostRunEvent(b *testing.B) {
	h, p := benchHost(b)
	ctx := context.Background()
	args := benchEnvelope().Args
	env := benchEnvelope()
	// Warm up connections, pools and the plugin's code.
	for range 200 {
		env.Args = args
		h.Run(ctx, &env)
	}
	lat := make([]time.Duration, 0, b.N)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		env.Args = args
		start := time.Now()
		d := h.Run(ctx, &env)
		lat = append(lat, time.Since(start))
		if len(d.Args) == 0 || d.Args[2] != 'H' {
			b.Fatalf("decision %+v", d)
		}
	}
	b.StopTimer()
	reportLatency(b, lat)
	if rss, err := rssKiB(p.pid()); err == nil {
		b.ReportMetric(float64(rss), "plugin-RSS-KiB")
	}
}

// BenchmarkHostRunEventParallel: the same with GOMAXPROCS callers at once.
func BenchmarkHostRunEventParallel(b *testing.B) {
	h, _ := benchHost(b)
	ctx := context.Background()
	args := benchEnvelope().Args
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		env := benchEnvelope()
		for pb.Next() {
			env.Args = args
			if d := h.Run(ctx, &env); len(d.Args) == 0 {
				b.Errorf("decision %+v", d)
				return
			}
		}
	})
}

func reportLatency(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	at := func(q float64) float64 {
		return float64(lat[min(len(lat)-1, int(q*float64(len(lat))))].Microseconds())
	}
	b.ReportMetric(at(0.50), "p50-µs")
	b.ReportMetric(at(0.99), "p99-µs")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds()), "max-µs")
}

// rssKiB reads a process's resident set size (Linux).
func rssKiB(pid int) (int, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if v, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			var kib int
			_, err := fmt.Sscanf(strings.TrimSpace(v), "%d kB", &kib)
			return kib, err
		}
	}
	return 0, fmt.Errorf("no VmRSS for pid %d", pid)
}
