package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// errorBackoff is the pause a connect worker takes after a failure, so that
// a refusing server does not turn the run into a busy loop.
const errorBackoff = 10 * time.Millisecond

// connectReport is the result of the connect scenario.
type connectReport struct {
	header
	Workers     int            `json:"workers"`
	Seconds     float64        `json:"seconds"`
	Connections int64          `json:"connections"`
	Failures    int64          `json:"failures"`
	Rate        float64        `json:"connections_per_sec"`
	Errors      map[string]int `json:"errors,omitempty"`
	ConnectTime LatencySummary `json:"connect_time"`
}

// runConnect opens and closes sessions back to back from cfg.Concurrency
// workers. Connect time runs from the start of the TCP dial to the Socket.IO
// CONNECT reply.
func runConnect(ctx context.Context, cfg *Config) (report, error) {
	wsURL, _ := cfg.wsURL()
	dialer := cfg.newDialer(wsURL)
	var auth []byte
	if cfg.Auth != "" {
		auth = []byte(cfg.Auth)
	}
	// open runs one connection with a worker's own handshaker (the lean
	// client, see handshake.go), or with the WebSocket library for wss.
	newOpen := func() func() error {
		h, err := newHandshaker(wsURL, auth, cfg.Timeout)
		if err != nil {
			return func() error {
				c, err := dialer.Dial(ctx)
				if err == nil {
					c.Close()
				}
				return err
			}
		}
		return func() error { return h.run(ctx) }
	}
	rep := &connectReport{
		header:  header{Scenario: "connect", URL: cfg.URL},
		Workers: cfg.Concurrency,
	}
	var (
		hist     Histogram
		errs     errorTally
		ok, fail atomic.Int64
		wg       sync.WaitGroup
	)
	start := time.Now()
	end := start.Add(cfg.Duration)
	for range cfg.Concurrency {
		wg.Add(1)
		open := newOpen()
		go func() {
			defer wg.Done()
			for time.Now().Before(end) && ctx.Err() == nil {
				t0 := time.Now()
				if err := open(); err != nil {
					fail.Add(1)
					errs.Add(err)
					time.Sleep(errorBackoff)
					continue
				}
				hist.Record(time.Since(t0))
				ok.Add(1)
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)

	rep.Seconds = elapsed.Seconds()
	rep.Connections = ok.Load()
	rep.Failures = fail.Load()
	rep.Rate = rate(rep.Connections, elapsed)
	rep.Errors = errs.Snapshot()
	rep.ConnectTime = hist.Summary()
	return rep, nil
}

func (r *connectReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "connect  %s\n", r.URL)
	fmt.Fprintf(w, "connections    %d in %.1f s = %.0f/s with %d workers (%d failed)\n",
		r.Connections, r.Seconds, r.Rate, r.Workers, r.Failures)
	writeErrors(w, "errors", r.Errors)
	writeLatency(w, "connect time", r.ConnectTime)
}
