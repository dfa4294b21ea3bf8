package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync/atomic"
	"time"
)

const fanoutRoom = "bench"

// fanoutReport is the result of the fanout scenario.
type fanoutReport struct {
	header
	Contract       string         `json:"contract"`
	ReceiversIO    string         `json:"receivers_io"`
	ReceiverURLs   string         `json:"receiver_urls,omitempty"`
	Receivers      int            `json:"receivers"`
	Connected      int            `json:"connected"`
	RampSeconds    float64        `json:"ramp_seconds"`
	ConnectErrors  map[string]int `json:"connect_errors,omitempty"`
	TargetRate     int            `json:"target_rate"`
	PayloadPadding int            `json:"payload_padding"`
	Published      int64          `json:"published"`
	PublishRate    float64        `json:"publish_rate"`
	PublishError   string         `json:"publish_error,omitempty"`
	Expected       int64          `json:"expected"`
	Delivered      int64          `json:"delivered"`
	DrainSeconds   float64        `json:"drain_seconds"`
	Lost           int64          `json:"lost"`
	Gaps           int64          `json:"gaps"`
	OutOfOrder     int64          `json:"out_of_order"`
	ReceiversLost  int            `json:"receivers_with_loss"`
	DeliveryRate   float64        `json:"delivered_per_sec"`
	Dropped        int            `json:"dropped_connections"`
	Latency        LatencySummary `json:"latency"`
}

// fanoutShared is what all receivers of a run update.
type fanoutShared struct {
	hist      Histogram
	delivered atomic.Int64
	lastRecv  atomic.Int64 // unix nanos of the latest delivery
}

// receiver tracks the sequence of "msg" events seen by one client. Its
// fields are touched only by that client's reader goroutine until it stops.
type receiver struct {
	shared     *fanoutShared
	next       int64 // the sequence number expected next
	count      int64
	gaps       int64
	outOfOrder int64
}

// handle records one frame if it is a "msg" event with a bench payload.
func (r *receiver) handle(frame []byte) {
	now := time.Now().UnixNano()
	name, rest, ok := parseEvent(frame)
	if !ok || string(name) != "msg" {
		return
	}
	t, ok1 := intField(rest, "t")
	s, ok2 := intField(rest, "s")
	if !ok1 || !ok2 {
		return
	}
	r.shared.hist.Record(time.Duration(now - t))
	r.count++
	switch {
	case s == r.next:
		r.next++
	case s > r.next:
		r.gaps += s - r.next
		r.next = s + 1
	default:
		r.outOfOrder++
	}
	r.shared.delivered.Add(1)
	for {
		last := r.shared.lastRecv.Load()
		if now <= last || r.shared.lastRecv.CompareAndSwap(last, now) {
			return
		}
	}
}

// runFanout measures broadcast delivery: receivers join a room, one
// publisher publishes to it, every receiver checks sequence and latency.
// The publisher joins the room too (so it sees how far the server has got,
// which paces -rate 0) but is not counted as a receiver.
//
// Under the hubd contract (-contract hubd) joins are hub:join and a publish
// is the publisher emitting "msg" itself, which hubd relays to the rooms the
// publisher joined. The publisher sees its own messages only when the
// namespace has "echo": true; without it a -rate 0 run stalls after -window
// publishes and stops with a publish error after -timeout.
func runFanout(ctx context.Context, cfg *Config) (report, error) {
	wsURL, _ := cfg.wsURL()
	dialer := cfg.newDialer(wsURL)
	rep := &fanoutReport{
		header:         header{Scenario: "fanout", URL: cfg.URL},
		Contract:       cfg.Contract,
		ReceiversIO:    cfg.ReceiversIO,
		ReceiverURLs:   cfg.ReceiverURLs,
		Receivers:      cfg.Clients,
		TargetRate:     cfg.Rate,
		PayloadPadding: cfg.Size,
		DrainSeconds:   cfg.Drain.Seconds(),
	}

	shared := &fanoutShared{}
	receivers := make([]receiver, cfg.Clients)
	r := &ramp{dialer: dialer, concurrency: cfg.Ramp, room: fanoutRoom}
	others, _ := cfg.receiverWSURLs()
	for _, u := range others {
		r.others = append(r.others, cfg.newDialer(u))
	}
	// closeReceivers closes them all and returns how many had been
	// dropped before.
	closeReceivers := func(clients []*Client) int { return closeAll(clients) }
	if cfg.ReceiversIO == receiversEpoll {
		readers, err := startEpollReaders(shared, cfg.Clients, runtime.GOMAXPROCS(0))
		if err != nil {
			return nil, fmt.Errorf("-receivers-io epoll: %w", err)
		}
		tapped := func(d *Dialer) *Dialer {
			t := *d
			t.tap = true
			return &t
		}
		r.dialer = tapped(r.dialer)
		for k, d := range r.others {
			r.others[k] = tapped(d)
		}
		r.adopt = func(i int, c *Client) {
			readers.adopt(i, c, &receivers[i])
		}
		closeReceivers = func([]*Client) int { return readers.stop() }
	}
	opened := r.open(ctx, cfg.Clients, func(i int) Handler {
		receivers[i].shared = shared
		return receivers[i].handle
	})
	rep.Connected = len(opened.clients)
	rep.RampSeconds = opened.elapsed.Seconds()
	rep.ConnectErrors = opened.errors.Snapshot()
	if rep.Connected == 0 {
		closeReceivers(nil)
		return nil, fmt.Errorf("no receiver connected: %v", rep.ConnectErrors)
	}

	pub, err := dialer.Dial(ctx)
	if err == nil {
		err = pub.Join(fanoutRoom)
	}
	if err != nil {
		closeReceivers(opened.clients)
		return nil, fmt.Errorf("publisher: %w", err)
	}
	var seen atomic.Int64 // publishes the publisher has received back
	progress := make(chan struct{}, 1)
	pub.Start(func(frame []byte) {
		if name, _, ok := parseEvent(frame); ok && string(name) == "msg" {
			seen.Add(1)
			select {
			case progress <- struct{}{}:
			default:
			}
		}
	})
	defer pub.Close()

	start := time.Now()
	published, pubErr := publish(ctx, cfg, pub, &seen, progress)
	pubElapsed := time.Since(start)
	rep.Published = published
	rep.PublishRate = rate(published, pubElapsed)
	if pubErr != nil {
		rep.PublishError = pubErr.Error()
	}
	rep.Expected = published * int64(rep.Connected)

	// Drain: wait for in-flight deliveries, then stop counting.
	deadline := time.Now().Add(cfg.Drain)
	for shared.delivered.Load() < rep.Expected && time.Now().Before(deadline) && ctx.Err() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	rep.Dropped = closeReceivers(opened.clients)

	for i := range receivers[:rep.Connected] {
		rv := &receivers[i]
		rep.Delivered += rv.count
		rep.Gaps += rv.gaps
		rep.OutOfOrder += rv.outOfOrder
		if rv.count < published {
			rep.ReceiversLost++
		}
	}
	rep.Lost = rep.Expected - rep.Delivered
	if last := shared.lastRecv.Load(); last > 0 {
		rep.DeliveryRate = rate(rep.Delivered, time.Unix(0, last).Sub(start))
	}
	rep.Latency = shared.hist.Summary()
	return rep, nil
}

// publish sends publishes for cfg.Duration: paced at cfg.Rate, or, with
// rate 0, as fast as possible while at most cfg.Window of them are not yet
// seen back by the publisher. It returns the number sent.
func publish(ctx context.Context, cfg *Config, pub *Client, seen *atomic.Int64, progress <-chan struct{}) (int64, error) {
	pad := padding(cfg.Size)
	var frame []byte
	start := time.Now()
	end := start.Add(cfg.Duration)
	total := int64(-1) // unbounded count: the clock ends the run
	if cfg.Rate > 0 {
		total = int64(cfg.Rate) * int64(cfg.Duration) / int64(time.Second)
	}
	var seq int64
	for ; seq != total && ctx.Err() == nil; seq++ {
		if cfg.Rate > 0 {
			due := start.Add(time.Duration(seq * int64(time.Second) / int64(cfg.Rate)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		} else {
			if !time.Now().Before(end) {
				break
			}
			for seq-seen.Load() >= int64(cfg.Window) {
				select {
				case <-progress:
				case <-time.After(cfg.Timeout):
					return seq, errors.New("no publish came back within -timeout")
				case <-ctx.Done():
					return seq, ctx.Err()
				}
			}
		}
		frame = appendPublish(frame[:0], cfg.Contract, fanoutRoom, time.Now().UnixNano(), seq, pad)
		if err := pub.Write(frame); err != nil {
			return seq, inStage("write", err)
		}
	}
	// A paced run lasts the whole duration: the last publish is due one
	// interval before its end.
	sleep(ctx, time.Until(end))
	return seq, nil
}

func (r *fanoutReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "fanout  %s  (%s contract)\n", r.URL, r.Contract)
	if r.ReceiverURLs != "" {
		fmt.Fprintf(w, "receivers also on %s (round-robin; the publisher is on %s)\n", r.ReceiverURLs, r.URL)
	}
	fmt.Fprintf(w, "receivers      %d connected of %d in %.2f s, read by %s\n", r.Connected, r.Receivers, r.RampSeconds, r.ReceiversIO)
	writeErrors(w, "connect errors (attempts)", r.ConnectErrors)
	target := "max"
	if r.TargetRate > 0 {
		target = fmt.Sprintf("%d/s", r.TargetRate)
	}
	fmt.Fprintf(w, "published      %d at %.1f/s (target %s, padding %d B)\n", r.Published, r.PublishRate, target, r.PayloadPadding)
	if r.PublishError != "" {
		fmt.Fprintf(w, "publish error  %s\n", r.PublishError)
	}
	fmt.Fprintf(w, "delivered      %d of %d expected, %.0f msgs/s\n", r.Delivered, r.Expected, r.DeliveryRate)
	fmt.Fprintf(w, "lost           %d not delivered within the %.1f s drain (gaps %d, out of order %d, receivers with loss %d, dropped connections %d)\n",
		r.Lost, r.DrainSeconds, r.Gaps, r.OutOfOrder, r.ReceiversLost, r.Dropped)
	writeLatency(w, "latency", r.Latency)
}
