package adminui_test

import (
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/adminui"
)

// fanoutServer starts a server with n WebSocket clients in room "room",
// each drained by a reader that discards what arrives, instrumented for
// the admin UI when instrument is set (development mode, the mode that
// reports the most) with no UI connected.
func fanoutServer(b *testing.B, n int, instrument bool) *hub.Server {
	return fanoutServerCounting(b, n, instrument, nil)
}

// fanoutServerCounting is fanoutServer whose clients' readers call count
// with the bytes they read, when it is not nil.
func fanoutServerCounting(b *testing.B, n int, instrument bool, count func(int)) *hub.Server {
	b.Helper()
	srv := hub.New(hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	if instrument {
		a, err := adminui.Instrument(srv, adminui.Options{NoAuth: true})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { _ = a.Close() })
	}
	ts := httptest.NewServer(srv)
	var conns []*websocket.Conn
	done := make(chan struct{}, n)
	for range n {
		ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(ts.URL, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
			b.Fatalf("open: %q %v", open, err)
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
			b.Fatal(err)
		}
		if _, reply, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(reply), "40{") {
			b.Fatalf("connect: %q %v", reply, err)
		}
		go func() {
			var w io.Writer = io.Discard
			if count != nil {
				w = countingWriter(count)
			}
			_, _ = io.Copy(w, ws.NetConn())
			done <- struct{}{}
		}()
		conns = append(conns, ws)
	}
	main := srv.Of("/")
	for main.Len() < n {
		time.Sleep(time.Millisecond)
	}
	if err := srv.SocketsJoin("room"); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		for _, ws := range conns {
			_ = ws.Close()
		}
		for range conns {
			<-done
		}
		_ = srv.Close()
		ts.Close()
	})
	return srv
}

// countingWriter discards what it is given, telling its size.
type countingWriter func(int)

func (c countingWriter) Write(p []byte) (int, error) {
	c(len(p))
	return len(p), nil
}

// BenchmarkFanout broadcasts one event to a room of 1000 sockets on a
// server without the admin UI ("off") and on one instrumented for it with
// no UI connected ("on"), in alternating rounds (off, on, off#01, on#01...)
// so that a machine's changing load weighs on both alike.
func BenchmarkFanout(b *testing.B) {
	const n, rounds = 1000, 8
	servers := map[string]*hub.Server{"off": fanoutServer(b, n, false), "on": fanoutServer(b, n, true)}
	for range rounds {
		for _, name := range []string{"off", "on"} {
			op := servers[name].To("room")
			b.Run(name, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					_ = op.Emit("chat", "ann", "hello, room")
				}
				b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/n, "ns/recipient")
			})
		}
	}
}

// BenchmarkFanoutPaired measures what one broadcast to 1000 sockets
// costs the process in CPU time (user and system, all goroutines: the
// queuing, the writes and the clients' reads), from the emit until every
// client has read it, on a server without the admin UI and on one
// instrumented with no UI connected. The two take turns broadcast by
// broadcast, each first in every other turn, and only one broadcast is in
// flight at a time: CPU time, unlike the time on the clock, does not grow
// with the load of other processes, which waiting for a core does not
// count. It reports each one's CPU time per broadcast and their ratio.
func BenchmarkFanoutPaired(b *testing.B) {
	const n = 1000
	off := newPairedServer(b, n, false)
	on := newPairedServer(b, n, true)
	var offCPU, onCPU time.Duration
	i := 0
	for b.Loop() {
		if i%2 == 0 {
			offCPU += off.broadcast(b)
			onCPU += on.broadcast(b)
		} else {
			onCPU += on.broadcast(b)
			offCPU += off.broadcast(b)
		}
		i++
	}
	b.ReportMetric(float64(offCPU.Nanoseconds())/float64(i), "off-cpu-ns/broadcast")
	b.ReportMetric(float64(onCPU.Nanoseconds())/float64(i), "on-cpu-ns/broadcast")
	b.ReportMetric(float64(onCPU)/float64(offCPU), "on/off")
}

// pairedServer is a fanout server whose clients count the bytes they read.
type pairedServer struct {
	op       hub.BroadcastOperator
	received atomic.Int64
	want     atomic.Int64 // signal arrived when received reaches it
	arrived  chan struct{}
	perEmit  int64
}

func newPairedServer(b *testing.B, n int, instrument bool) *pairedServer {
	p := &pairedServer{arrived: make(chan struct{}, 1)}
	p.want.Store(1 << 62)
	p.op = fanoutServerCounting(b, n, instrument, p.count).To("room")
	// One broadcast, to learn how many bytes one brings.
	before := p.received.Load()
	_ = p.op.Emit("chat", "ann", "hello, room")
	deadline := time.Now().Add(testWait)
	for last := int64(-1); ; {
		time.Sleep(50 * time.Millisecond)
		cur := p.received.Load()
		if cur == last && cur > before {
			p.perEmit = cur - before
			break
		}
		if time.Now().After(deadline) {
			b.Fatal("the first broadcast never arrived")
		}
		last = cur
	}
	return p
}

func (p *pairedServer) count(n int) {
	if p.received.Add(int64(n)) >= p.want.Load() {
		select {
		case p.arrived <- struct{}{}:
		default:
		}
	}
}

// broadcast emits once and returns the process's CPU time until every
// client has read it.
func (p *pairedServer) broadcast(b *testing.B) time.Duration {
	p.want.Store(p.received.Load() + p.perEmit)
	start := cpuTime()
	_ = p.op.Emit("chat", "ann", "hello, room")
	select {
	case <-p.arrived:
	case <-time.After(testWait):
		b.Fatal("a broadcast did not arrive")
	}
	return cpuTime() - start
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
