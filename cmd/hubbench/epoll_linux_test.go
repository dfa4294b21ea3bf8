//go:build linux

package main

import (
	"context"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hubd/hubd/hub"
)

// TestFanoutEpollReceivers runs fanout with -receivers-io epoll against an
// in-process hub: every receiver must get every publish, in order, and none
// may be dropped, also when the server pings often enough that unanswered
// pings would cut receivers off during the run.
func TestFanoutEpollReceivers(t *testing.T) {
	const n = 300
	tests := []struct {
		name   string
		server func(*testing.T) *httptest.Server
		flags  []string
		want   int64 // publishes; 0 = as many as the window allowed in 1 s
	}{
		{"unpaced", func(t *testing.T) *httptest.Server { return benchServer(t, false) },
			[]string{"-rate", "0", "-window", "8"}, 0},
		// A receiver that left pings unanswered would be cut off after
		// 1.1 s, before the end of the 3 s run.
		{"paced with pings", func(t *testing.T) *httptest.Server {
			return benchServerWith(t, hub.Options{PingInterval: 100 * time.Millisecond, PingTimeout: time.Second})
		}, []string{"-rate", "100", "-duration", "3s"}, 300},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ts := tt.server(t)
			args := append([]string{"fanout", "-url", ts.URL, "-n", strconv.Itoa(n), "-receivers-io", "epoll",
				"-size", "64", "-duration", "1s", "-drain", "20s", "-timeout", "10s"}, tt.flags...)
			cfg, err := parseFlags(args)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := runFanout(context.Background(), cfg)
			if err != nil {
				t.Fatal(err)
			}
			r := rep.(*fanoutReport)
			var text strings.Builder
			r.writeText(&text)
			t.Log("\n" + text.String())
			if r.Connected != n || r.Dropped != 0 {
				t.Fatalf("connected %d, dropped %d; want %d, 0", r.Connected, r.Dropped, n)
			}
			if r.Published == 0 || (tt.want > 0 && r.Published != tt.want) {
				t.Fatalf("published %d; want %d", r.Published, tt.want)
			}
			if r.Delivered != r.Published*n || r.Lost != 0 || r.Gaps != 0 || r.OutOfOrder != 0 || r.ReceiversLost != 0 {
				t.Fatalf("delivered %d of %d: lost %d, gaps %d, out of order %d, receivers with loss %d",
					r.Delivered, r.Published*n, r.Lost, r.Gaps, r.OutOfOrder, r.ReceiversLost)
			}
			if int64(r.Latency.Count) != r.Delivered {
				t.Fatalf("%d latency samples for %d deliveries", r.Latency.Count, r.Delivered)
			}
		})
	}
}
