package main

import (
	"context"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// ackReport is the result of the ack scenario.
type ackReport struct {
	header
	Clients        int            `json:"clients"`
	Connected      int            `json:"connected"`
	Inflight       int            `json:"inflight"`
	PayloadPadding int            `json:"payload_padding"`
	ConnectErrors  map[string]int `json:"connect_errors,omitempty"`
	Errors         map[string]int `json:"errors,omitempty"`
	Seconds        float64        `json:"seconds"`
	Sent           int64          `json:"sent"`
	Acked          int64          `json:"acked"`
	Unacked        int64          `json:"unacked"`
	AckRate        float64        `json:"acked_per_sec"`
	Dropped        int            `json:"dropped_connections"`
	RoundTrip      LatencySummary `json:"round_trip"`
}

// ackShared is what all clients of a run update.
type ackShared struct {
	hist  Histogram
	sent  atomic.Int64
	acked atomic.Int64
}

// runAck measures request/response: each client keeps cfg.Inflight echo
// emits awaiting their ack. The payload carries the send time, which the
// ack returns, so no per-request state is kept.
func runAck(ctx context.Context, cfg *Config) (report, error) {
	wsURL, _ := cfg.wsURL()
	rep := &ackReport{
		header:         header{Scenario: "ack", URL: cfg.URL},
		Clients:        cfg.Concurrency,
		Inflight:       cfg.Inflight,
		PayloadPadding: cfg.Size,
	}
	shared := &ackShared{}
	tokens := make([]chan struct{}, cfg.Concurrency)
	r := &ramp{dialer: cfg.newDialer(wsURL), concurrency: cfg.Ramp}
	opened := r.open(ctx, cfg.Concurrency, func(i int) Handler {
		tokens[i] = make(chan struct{}, cfg.Inflight)
		for range cfg.Inflight {
			tokens[i] <- struct{}{}
		}
		return func(frame []byte) { shared.handleAck(frame, tokens[i]) }
	})
	rep.Connected = len(opened.clients)
	rep.ConnectErrors = opened.errors.Snapshot()
	if rep.Connected == 0 {
		return nil, fmt.Errorf("no client connected: %v", rep.ConnectErrors)
	}

	var errs errorTally
	pad := padding(cfg.Size)
	start := time.Now()
	runCtx, cancel := context.WithDeadline(ctx, start.Add(cfg.Duration))
	var wg sync.WaitGroup
	for i, c := range opened.clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := emitEchoes(runCtx, c, tokens[i], shared, pad); err != nil {
				errs.Add(err)
			}
		}()
	}
	wg.Wait()
	cancel()
	elapsed := time.Since(start)
	ackedInTime := shared.acked.Load()

	deadline := time.Now().Add(cfg.Drain)
	for shared.acked.Load() < shared.sent.Load() && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	rep.Dropped = closeAll(opened.clients)

	rep.Seconds = elapsed.Seconds()
	rep.Sent = shared.sent.Load()
	rep.Acked = shared.acked.Load()
	rep.Unacked = rep.Sent - rep.Acked
	rep.AckRate = rate(ackedInTime, elapsed)
	rep.Errors = errs.Snapshot()
	rep.RoundTrip = shared.hist.Summary()
	return rep, nil
}

// emitEchoes emits echo with an ack whenever a token is free, until ctx ends.
// Ack ids start at 1 (join uses 0 elsewhere).
func emitEchoes(ctx context.Context, c *Client, tokens chan struct{}, shared *ackShared, pad []byte) error {
	var frame []byte
	for id := int64(1); ; id++ {
		select {
		case <-tokens:
		case <-ctx.Done():
			return nil
		case <-c.Done():
			return inStage("read", fmt.Errorf("connection lost: %w", c.Err()))
		}
		if ctx.Err() != nil {
			return nil
		}
		frame = appendEmit(frame[:0], id, "echo")
		frame = appendPayload(frame, time.Now().UnixNano(), id, pad)
		frame = append(frame, ']')
		shared.sent.Add(1) // before the write: the ack may beat Write's return
		if err := c.Write(frame); err != nil {
			return inStage("write", err)
		}
	}
}

// handleAck records the round trip of an echo ack and frees its token.
func (s *ackShared) handleAck(frame []byte, tokens chan struct{}) {
	now := time.Now().UnixNano()
	_, args, ok := parseAck(frame)
	if !ok {
		return
	}
	t, ok := intField(args, "t")
	if !ok {
		return
	}
	s.hist.Record(time.Duration(now - t))
	s.acked.Add(1)
	select {
	case tokens <- struct{}{}:
	default: // an ack nobody was waiting for (duplicate): keep the bound
	}
}

func (r *ackReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "ack  %s\n", r.URL)
	fmt.Fprintf(w, "clients        %d connected of %d, %d in flight each, padding %d B\n",
		r.Connected, r.Clients, r.Inflight, r.PayloadPadding)
	writeErrors(w, "connect errors (attempts)", r.ConnectErrors)
	fmt.Fprintf(w, "acked          %.0f events/s over %.1f s\n", r.AckRate, r.Seconds)
	fmt.Fprintf(w, "sent/acked     %d / %d (unacked %d, dropped connections %d)\n", r.Sent, r.Acked, r.Unacked, r.Dropped)
	writeErrors(w, "errors", r.Errors)
	writeLatency(w, "round trip", r.RoundTrip)
}
