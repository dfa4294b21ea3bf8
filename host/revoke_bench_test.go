package host_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/hub"
)

// revokeBenchSockets is the number of sockets a benchmark revocation
// re-decides.
const revokeBenchSockets = 10_000

// pollingSockets connects n sockets to the main namespace of the server
// at base over Engine.IO's polling transport, each with auth {user:
// "u<i>", group: "g"}, and waits until srv has them all. Polling sessions
// share a few keep-alive connections, so that 10,000 sockets need no
// 10,000 file descriptors on each side; they are never polled again (the
// server's ping interval must outlast the benchmark).
func pollingSockets(b *testing.B, srv *hub.Server, base string, n int) {
	b.Helper()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 32}}
	defer client.CloseIdleConnections()
	do := func(method, url, body string) (string, error) {
		req, err := http.NewRequest(method, url, strings.NewReader(body))
		if err != nil {
			return "", err
		}
		resp, err := client.Do(req)
		if err != nil {
			return "", err
		}
		defer resp.Body.Close()
		out, err := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return "", fmt.Errorf("%s %s: %d %s", method, url, resp.StatusCode, out)
		}
		return string(out), err
	}
	var wg sync.WaitGroup
	errs := make(chan error, 1)
	next := make(chan int)
	for range 32 {
		wg.Go(func() {
			for i := range next {
				open, err := do(http.MethodGet, base+"/socket.io/?EIO=4&transport=polling", "")
				_, rest, ok := strings.Cut(open, `"sid":"`)
				sid, _, _ := strings.Cut(rest, `"`)
				if err == nil && (!ok || sid == "") {
					err = fmt.Errorf("handshake %q: no sid", open)
				}
				if err == nil {
					_, err = do(http.MethodPost, base+"/socket.io/?EIO=4&transport=polling&sid="+sid,
						fmt.Sprintf(`40{"user":"u%d","group":"g"}`, i))
				}
				if err != nil {
					select {
					case errs <- err:
					default:
					}
				}
			}
		})
	}
	for i := range n {
		next <- i
	}
	close(next)
	wg.Wait()
	select {
	case err := <-errs:
		b.Fatal(err)
	default:
	}
	deadline := time.Now().Add(time.Minute)
	for srv.Of("/").Len() < n {
		if time.Now().After(deadline) {
			b.Fatalf("%d sockets connected, want %d", srv.Of("/").Len(), n)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// BenchmarkRevoke: one revocation re-decides 10,000 sockets of one node
// through the join hook of testdata/revoke/grants.js (JavaScript, the
// default pool), selected by room and by a path in their data, with 4
// sockets re-decided at once and with the default 32; every grant still
// holds, so every iteration re-decides them all. sockets/s is the rate of
// re-decisions. The "data" case matches one socket of the 10,000: the cost
// of matching alone.
func BenchmarkRevoke(b *testing.B) {
	h := host.New(nil)
	h.Register("js", js.Runtime{})
	spec := grantsSpec(b, `{}`)
	spec.Manifest.PoolSize = 0 // the default: one runtime per CPU
	spec.Manifest.Timeout = host.Duration(time.Second)
	if err := h.Load(context.Background(), []host.Spec{spec}); err != nil {
		b.Fatal(err)
	}
	defer h.Close()
	srv := hub.New(hub.Options{PingInterval: time.Hour, PingTimeout: time.Hour})
	srv.SetHooks(h.Hooks())
	ts := httptest.NewServer(srv)
	defer ts.Close()
	defer srv.Close()
	pollingSockets(b, srv, ts.URL, revokeBenchSockets)
	nsp := srv.Of("/")
	for _, s := range nsp.Sockets() {
		nsp.Adapter().AddAll(s, []string{"vip"})
	}
	for _, bc := range []struct {
		name string
		rev  host.Revocation
	}{
		{"rooms", host.Revocation{Rooms: []string{"vip"}}},
		{"data", host.Revocation{Data: &host.DataSelector{Path: "user.sub", Equals: []byte(`"u1"`)}}},
		{"data-all", host.Revocation{Data: &host.DataSelector{Path: "group", Equals: []byte(`"g"`)}}},
	} {
		for _, conc := range []int{4, host.DefaultRevokeConcurrency} {
			b.Run(fmt.Sprintf("%s/concurrency=%d", bc.name, conc), func(b *testing.B) {
				rv, err := h.ServeRevocations(srv, host.RevokeOptions{Concurrency: conc})
				if err != nil {
					b.Fatal(err)
				}
				defer rv.Close()
				var matched int
				for b.Loop() {
					res, err := rv.Revoke(context.Background(), bc.rev)
					if err != nil || len(res.Errors) > 0 || res.Left != 0 {
						b.Fatalf("%+v %v", res, err)
					}
					matched = res.Matched
				}
				b.ReportMetric(float64(matched)*float64(b.N)/b.Elapsed().Seconds(), "sockets/s")
				b.ReportMetric(float64(matched), "sockets/op")
			})
		}
	}
}
