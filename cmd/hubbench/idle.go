package main

import (
	"context"
	"fmt"
	"io"
	"slices"
	"time"
)

const (
	idleRoom = "idle"
	// settleTime is the pause between the last connection and the first RSS
	// sample, so that handshake garbage can be collected.
	settleTime = 2 * time.Second
	// rssSamples readings rssInterval apart are taken; the median is used.
	rssSamples  = 5
	rssInterval = 500 * time.Millisecond
)

// idleReport is the result of the idle scenario.
type idleReport struct {
	header
	Clients       int            `json:"clients"`
	Connected     int            `json:"connected"`
	RampSeconds   float64        `json:"ramp_seconds"`
	ConnectRate   float64        `json:"connects_per_sec"`
	ConnectErrors map[string]int `json:"connect_errors,omitempty"`
	HoldSeconds   float64        `json:"hold_seconds"`
	Dropped       int            `json:"dropped_connections"`
	PID           int            `json:"pid"`
	RSSBeforeKB   int64          `json:"rss_before_kb"`
	RSSAfterKB    int64          `json:"rss_after_kb"`
	RSSSamplesKB  []int64        `json:"rss_samples_kb,omitempty"`
	RSSDeltaKB    int64          `json:"rss_delta_kb"`
	RSSPerConnKB  float64        `json:"rss_per_conn_kb"`
}

// runIdle opens cfg.Clients connections that each join a room, then holds
// them (answering pings) for cfg.Hold. With a pid it reports how much the
// server's resident memory grew per connection.
func runIdle(ctx context.Context, cfg *Config) (report, error) {
	wsURL, _ := cfg.wsURL()
	rep := &idleReport{
		header:  header{Scenario: "idle", URL: cfg.URL},
		Clients: cfg.Clients,
		PID:     cfg.PID,
	}
	if cfg.PID > 0 {
		samples, err := sampleRSS(ctx, cfg.PID)
		if err != nil {
			return nil, err
		}
		rep.RSSBeforeKB = median(samples)
	}

	r := &ramp{dialer: cfg.newDialer(wsURL), concurrency: cfg.Ramp, room: idleRoom}
	opened := r.open(ctx, cfg.Clients, func(int) Handler { return nil })
	rep.Connected = len(opened.clients)
	rep.RampSeconds = opened.elapsed.Seconds()
	rep.ConnectRate = rate(int64(rep.Connected), opened.elapsed)
	rep.ConnectErrors = opened.errors.Snapshot()
	holdStart := time.Now()

	var rssErr error
	if cfg.PID > 0 && rep.Connected > 0 {
		sleep(ctx, settleTime)
		rep.RSSSamplesKB, rssErr = sampleRSS(ctx, cfg.PID)
		if rssErr == nil {
			rep.RSSAfterKB = median(rep.RSSSamplesKB)
			rep.RSSDeltaKB = rep.RSSAfterKB - rep.RSSBeforeKB
			rep.RSSPerConnKB = float64(rep.RSSDeltaKB) / float64(rep.Connected)
		}
	}
	sleep(ctx, cfg.Hold-time.Since(holdStart))
	rep.HoldSeconds = time.Since(holdStart).Seconds()
	rep.Dropped = closeAll(opened.clients)
	if rssErr != nil {
		return nil, rssErr
	}
	return rep, nil
}

// sampleRSS reads the RSS of pid rssSamples times, rssInterval apart.
func sampleRSS(ctx context.Context, pid int) ([]int64, error) {
	out := make([]int64, 0, rssSamples)
	for i := range rssSamples {
		if i > 0 {
			sleep(ctx, rssInterval)
		}
		kb, err := readRSS(pid)
		if err != nil {
			return nil, err
		}
		out = append(out, kb)
	}
	return out, nil
}

// median returns the middle value of a non-empty sample.
func median(v []int64) int64 {
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// sleep waits for d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	if d <= 0 {
		return
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}

func (r *idleReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "idle  %s\n", r.URL)
	fmt.Fprintf(w, "connections    %d of %d open in %.2f s (%.0f/s), held %.1f s, dropped %d\n",
		r.Connected, r.Clients, r.RampSeconds, r.ConnectRate, r.HoldSeconds, r.Dropped)
	writeErrors(w, "connect errors (attempts)", r.ConnectErrors)
	if r.PID == 0 {
		fmt.Fprintln(w, "server RSS     not measured (-pid 0)")
		return
	}
	fmt.Fprintf(w, "server RSS     %d KB before, %d KB after (samples %v)\n", r.RSSBeforeKB, r.RSSAfterKB, r.RSSSamplesKB)
	fmt.Fprintf(w, "RSS growth     %d KB total, %.2f KB per connection\n", r.RSSDeltaKB, r.RSSPerConnKB)
}
