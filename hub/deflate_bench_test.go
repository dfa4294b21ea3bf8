package hub_test

import (
	"bufio"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub"
)

// BenchmarkFanoutDeflate broadcasts a 2 KB JSON chat message to a room of
// 1,000 WebSocket clients, and to a room of one (a message to one client),
// all of which offer permessage-deflate, with the server's
// PerMessageDeflate off and on (sub-benchmarks alternate; use -count for
// rounds). The clients run in this process and only parse frame headers.
// It reports the bytes on the wire per delivery (frame headers included),
// the process's CPU time per delivery (server and clients: getrusage), and
// deliveries per second; the time includes waiting until every client has
// read every frame. The publisher keeps at most 8 to 16 broadcasts ahead of
// the slowest client, as hubbench's fan-out does.
func BenchmarkFanoutDeflate(b *testing.B) {
	msg := chatJSON(2048)
	for _, tc := range []struct {
		n  int
		on bool
	}{{1000, false}, {1000, true}, {1, false}, {1, true}} {
		n, on := tc.n, tc.on
		name := fmt.Sprintf("room=%d/off", n)
		if on {
			name = fmt.Sprintf("room=%d/on", n)
		}
		b.Run(name, func(b *testing.B) {
			opts := hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour}
			if on {
				opts.PerMessageDeflate = &hub.PerMessageDeflate{}
			}
			srv := hub.New(opts)
			ts := httptest.NewServer(srv)
			clients := make([]*countingClient, n)
			for i := range clients {
				clients[i] = dialCounting(b, ts.URL)
			}
			b.Cleanup(func() {
				for _, c := range clients {
					c.close()
				}
				srv.Close()
				ts.Close()
			})
			nsp := srv.Of("/")
			for deadline := time.Now().Add(20 * time.Second); nsp.Len() < n; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					b.Fatalf("%d of %d sockets connected", nsp.Len(), n)
				}
			}
			if err := srv.SocketsJoin("room"); err != nil {
				b.Fatal(err)
			}
			op := srv.To("room")
			var frames0, bytes0 int64
			for _, c := range clients {
				frames0 += c.frames.Load()
				bytes0 += c.bytes.Load()
			}
			// waitFor waits until each client has read about k frames
			// since the start, and returns the frames and bytes read.
			waitFor := func(k int64) (frames, bytes int64) {
				for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(100 * time.Microsecond) {
					frames, bytes = 0, 0
					for _, c := range clients {
						frames += c.frames.Load()
						bytes += c.bytes.Load()
					}
					if frames-frames0 >= k*int64(n) {
						return frames, bytes
					}
					if time.Now().After(deadline) {
						b.Fatalf("%d of %d frames delivered", frames-frames0, k*int64(n))
					}
				}
			}
			var ru0, ru1 syscall.Rusage
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
			b.ResetTimer()
			// Paced as hubbench's fan-out: at most about window
			// broadcasts not yet read by every client.
			const window = 8
			for i := range b.N {
				if err := op.Emit("chat", msg); err != nil {
					b.Fatal(err)
				}
				if i%window == window-1 && i >= 2*window {
					waitFor(int64(i - 2*window))
				}
			}
			_, bytes := waitFor(int64(b.N))
			b.StopTimer()
			_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
			deliveries := float64(b.N) * float64(n)
			cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Nanosecond
			b.ReportMetric(float64(bytes-bytes0)/deliveries, "wire-B/delivery")
			b.ReportMetric(float64(cpu)/deliveries, "cpu-ns/delivery")
			b.ReportMetric(deliveries/b.Elapsed().Seconds(), "deliveries/s")
			if st := srv.Stats(); on && st.CompressedSent < uint64(deliveries) {
				b.Fatalf("%d of %d deliveries compressed", st.CompressedSent, int(deliveries))
			}
		})
	}
}

// chatJSON is a chat message of about n bytes of JSON: a sender, a room, a
// time and text in words, as people write them.
func chatJSON(n int) json.RawMessage {
	words := strings.Fields(`the a to and of in is it you that for on with this be are have
		not at your we can will just so but about what all was one if they from out there
		meeting tomorrow release server client message room deploy thanks please check
		update build test config latency error fixed looks good sounds great lunch later`)
	var text strings.Builder
	x := uint32(2463534242)
	for text.Len() < n-160 {
		x ^= x << 13
		x ^= x >> 17
		x ^= x << 5
		if text.Len() > 0 {
			text.WriteByte(' ')
		}
		text.WriteString(words[int(x%uint32(len(words)))])
	}
	b, _ := json.Marshal(map[string]any{
		"id":     "01JEK4Z7QH5T3N8W2M6R9V0C1D",
		"room":   "engineering",
		"user":   map[string]any{"id": 48213, "name": "Ann Example", "avatar": "https://cdn.example.com/a/48213.png"},
		"sentAt": "2026-12-07T06:30:00.000Z",
		"text":   text.String(),
	})
	return b
}

// countingClient is a WebSocket client in room "room" that reads frames
// below the WebSocket library, counting them and their bytes on the wire.
type countingClient struct {
	ws            *websocket.Conn
	frames, bytes atomic.Int64
	done          chan struct{}
}

var countingDialer = &websocket.Dialer{EnableCompression: true, HandshakeTimeout: 20 * time.Second}

func dialCounting(tb testing.TB, url string) *countingClient {
	tb.Helper()
	ws, _, err := countingDialer.Dial("ws"+strings.TrimPrefix(url, "http")+"/socket.io/?EIO=4&transport=websocket", nil)
	if err != nil {
		tb.Fatal(err)
	}
	if _, open, err := ws.ReadMessage(); err != nil || open[0] != '0' {
		tb.Fatalf("open: %q %v", open, err)
	}
	if err := ws.WriteMessage(websocket.TextMessage, []byte("40")); err != nil {
		tb.Fatal(err)
	}
	if _, reply, err := ws.ReadMessage(); err != nil || !strings.HasPrefix(string(reply), "40{") {
		tb.Fatalf("connect: %q %v", reply, err)
	}
	c := &countingClient{ws: ws, done: make(chan struct{})}
	go func() {
		defer close(c.done)
		br := bufio.NewReaderSize(ws.NetConn(), 64<<10)
		var h [8]byte
		for {
			if _, err := io.ReadFull(br, h[:2]); err != nil {
				return
			}
			size := int64(2)
			n := int64(h[1] & 0x7f)
			switch n {
			case 126:
				if _, err := io.ReadFull(br, h[:2]); err != nil {
					return
				}
				n, size = int64(binary.BigEndian.Uint16(h[:2])), size+2
			case 127:
				if _, err := io.ReadFull(br, h[:8]); err != nil {
					return
				}
				n, size = int64(binary.BigEndian.Uint64(h[:8])), size+8
			}
			if _, err := br.Discard(int(n)); err != nil {
				return
			}
			c.bytes.Add(size + n)
			c.frames.Add(1)
		}
	}()
	return c
}

func (c *countingClient) close() {
	_ = c.ws.Close()
	<-c.done
}
