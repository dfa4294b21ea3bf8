package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// recoverReport is the result of the recover scenario.
type recoverReport struct {
	header
	Contract string `json:"contract"`
	// ReceiverURLs is where the receivers first connected when it is not
	// URL; they reconnect to URL.
	ReceiverURLs    string         `json:"receiver_urls,omitempty"`
	Receivers       int            `json:"receivers"`
	Connected       int            `json:"connected"`
	RampSeconds     float64        `json:"ramp_seconds"`
	ConnectErrors   map[string]int `json:"connect_errors,omitempty"`
	WithSession     int            `json:"with_session"`
	CutNotClosed    int            `json:"cut_not_closed_by_server"`
	Missed          int            `json:"missed_per_receiver"`
	Recovered       int            `json:"recovered"`
	NotRecovered    int            `json:"not_recovered"`
	ReconnectFailed int            `json:"reconnect_failed"`
	ReconnectErrors map[string]int `json:"reconnect_errors,omitempty"`
	DrainSeconds    float64        `json:"drain_seconds"`
	Missing         int64          `json:"missing"`
	ReceiversLost   int            `json:"receivers_with_loss"`
	Duplicates      int64          `json:"duplicates"`
	OutOfOrder      int64          `json:"out_of_order"`
	RecoveryTime    LatencySummary `json:"recovery_time"`
}

// recoverShared is what all receivers of a run update.
type recoverShared struct {
	missed   int      // K: the events published while the receivers were cut off
	first    progress // receivers that got the event published before the cut
	complete progress // recovered receivers that got all K missed events
	hist     Histogram
}

// recoverReceiver is one receiver's view of the run. Its fields are touched
// by one goroutine at a time: its first client's reader, then the
// goroutine that reconnects it, then its second client's reader.
type recoverReceiver struct {
	shared   *recoverShared
	sid, pid string // from the first CONNECT reply
	offset   string // the last argument of the first event
	got      bool   // the first event arrived
	seen     []bool // by sequence number, 0 (the first event) to K
	distinct int    // missed events seen, each counted once
	maxSeq   int64
	dup      int64
	ooo      int64
	// recovered is set when the reconnect's CONNECT reply gave the
	// session back; awaiting, with sent, when not all K events had
	// arrived by then: the K-th then ends the recovery.
	recovered bool
	awaiting  bool
	sent      time.Time
}

// handle counts one frame if it is a "msg" event with a sequence number.
func (r *recoverReceiver) handle(frame []byte) {
	name, rest, ok := parseEvent(frame)
	if !ok || string(name) != "msg" {
		return
	}
	s, ok := intField(rest, "s")
	if !ok || s < 0 || s >= int64(len(r.seen)) {
		return
	}
	if s == 0 && !r.got {
		r.got = true
		r.seen[0] = true
		r.offset, _ = lastStringArg(frame)
		r.shared.first.add()
		return
	}
	if r.seen[s] {
		r.dup++
		return
	}
	r.seen[s] = true
	if s < r.maxSeq {
		r.ooo++
	} else {
		r.maxSeq = s
	}
	r.distinct++
	if r.distinct == r.shared.missed && r.awaiting {
		r.shared.hist.Record(time.Since(r.sent))
		r.shared.complete.add()
	}
}

// runRecover measures connection state recovery. Receivers connect (to
// -receivers-url when given), join the bench room and get one event, whose
// last argument is the offset a recovering server appends. Each receiver's
// connection is then cut (see Client.Cut); the publisher publishes -missed
// events to the room and makes sure the server has handled them with one
// ack round trip after them. Every receiver reconnects to -url with its
// private session id and offset and is recovered when the CONNECT reply
// has its old sid and pid; then it should get the K events it missed, once
// each and in order. Recovery time runs from writing the CONNECT to having
// both the reply and all K events (the events may come first).
func runRecover(ctx context.Context, cfg *Config) (report, error) {
	wsURL, _ := cfg.wsURL()
	dialer := cfg.newDialer(wsURL)
	rep := &recoverReport{
		header:       header{Scenario: "recover", URL: cfg.URL},
		Contract:     cfg.Contract,
		ReceiverURLs: cfg.ReceiverURLs,
		Receivers:    cfg.Clients,
		Missed:       cfg.Missed,
		DrainSeconds: cfg.Drain.Seconds(),
	}
	shared := &recoverShared{missed: cfg.Missed, first: newProgress(), complete: newProgress()}

	// 1. Receivers connect and join; one event gives each its offset.
	r := &ramp{dialer: dialer, concurrency: cfg.Ramp, room: fanoutRoom}
	if others, _ := cfg.receiverWSURLs(); len(others) > 0 {
		r.dialer = cfg.newDialer(others[0])
		for _, u := range others[1:] {
			r.others = append(r.others, cfg.newDialer(u))
		}
	}
	receivers := make([]recoverReceiver, cfg.Clients)
	opened := r.open(ctx, cfg.Clients, func(i int) Handler {
		receivers[i].shared = shared
		receivers[i].seen = make([]bool, cfg.Missed+1)
		return receivers[i].handle
	})
	rep.Connected = len(opened.clients)
	rep.RampSeconds = opened.elapsed.Seconds()
	rep.ConnectErrors = opened.errors.Snapshot()
	if rep.Connected == 0 {
		return nil, fmt.Errorf("no receiver connected: %v", rep.ConnectErrors)
	}
	receivers = receivers[:rep.Connected]
	for i, c := range opened.clients {
		receivers[i].sid, receivers[i].pid = parseConnectReply(c.ConnectReply())
		if receivers[i].pid != "" {
			rep.WithSession++
		}
	}

	pub, err := dialer.Dial(ctx)
	if err == nil && cfg.Contract == contractHubd {
		err = pub.Join(fanoutRoom) // hubd relays to the sender's rooms
	}
	if err != nil {
		closeAll(opened.clients)
		return nil, fmt.Errorf("publisher: %w", err)
	}
	defer pub.Close()
	pad := padding(cfg.Size)
	frame := appendPublish(nil, cfg.Contract, fanoutRoom, time.Now().UnixNano(), 0, pad)
	if err := pub.Write(frame); err != nil {
		closeAll(opened.clients)
		return nil, fmt.Errorf("publisher: %w", inStage("write", err))
	}
	if !shared.first.waitFor(ctx, int64(rep.Connected), cfg.Timeout) {
		closeAll(opened.clients)
		hint := ""
		if cfg.ReceiverURLs != "" {
			hint = " (with -receivers-url, are the servers nodes of one cluster?)"
		}
		return nil, fmt.Errorf("%d of %d receivers got no event within -timeout: does the server implement the %s contract?%s",
			int64(rep.Connected)-shared.first.n.Load(), rep.Connected, cfg.Contract, hint)
	}

	// 2. Every connection is cut; the room misses K events.
	rep.CutNotClosed = cutAll(opened.clients)
	for seq := int64(1); seq <= int64(cfg.Missed); seq++ {
		frame = appendPublish(frame[:0], cfg.Contract, fanoutRoom, time.Now().UnixNano(), seq, pad)
		if err := pub.Write(frame); err != nil {
			return nil, fmt.Errorf("publisher: %w", inStage("write", err))
		}
	}
	if err := handled(pub, cfg.Contract); err != nil {
		return nil, fmt.Errorf("publisher: no ack after the publishes: %w", err)
	}

	// 3. Every receiver comes back to -url with its session.
	var reconnectErrs errorTally
	clients := reconnectAll(ctx, cfg, dialer, receivers, &reconnectErrs)
	awaited := int64(0)
	var live []*Client
	for i, c := range clients {
		switch rv := &receivers[i]; {
		case c == nil:
			rep.ReconnectFailed++
			continue
		case rv.recovered:
			rep.Recovered++
			if rv.awaiting {
				awaited++
			}
		default:
			rep.NotRecovered++
		}
		live = append(live, c)
	}
	shared.complete.waitFor(ctx, awaited, cfg.Drain)
	closeAll(live)

	rep.ReconnectErrors = reconnectErrs.Snapshot()
	for i := range receivers {
		rv := &receivers[i]
		rep.Duplicates += rv.dup
		rep.OutOfOrder += rv.ooo
		if rv.recovered && rv.distinct < cfg.Missed {
			rep.Missing += int64(cfg.Missed - rv.distinct)
			rep.ReceiversLost++
		}
	}
	rep.RecoveryTime = shared.hist.Summary()
	return rep, nil
}

// handled returns once the server has handled everything the publisher
// sent: a socket's events are handled in order, so the ack of one more
// call proves the publishes before it were (an echo under the bench
// contract, a hub:join of the room it is in under the hubd contract).
func handled(pub *Client, contract string) error {
	if contract == contractHubd {
		return pub.Join(fanoutRoom)
	}
	const id = 1
	frame := append(appendEmit(nil, id, "echo"), "0]"...)
	return pub.Call(frame, id)
}

// cutAll cuts every client concurrently and returns how many servers did
// not close their side within the timeout.
func cutAll(clients []*Client) int {
	var notClosed atomic.Int64
	var wg sync.WaitGroup
	for _, c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !c.Cut() {
				notClosed.Add(1)
			}
		}()
	}
	wg.Wait()
	return int(notClosed.Load())
}

// reconnectAll reconnects every receiver to dialer's server with its
// session, cfg.Ramp at a time, and returns the clients by receiver (nil
// where the reconnect failed). A receiver whose CONNECT reply recovers its
// session and who has not got every missed event yet is left awaiting
// them; one who has is recorded as done.
func reconnectAll(ctx context.Context, cfg *Config, dialer *Dialer, receivers []recoverReceiver, errs *errorTally) []*Client {
	clients := make([]*Client, len(receivers))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(cfg.Ramp, len(receivers)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				clients[i] = reconnect(ctx, cfg, dialer, &receivers[i], errs)
			}
		}()
	}
	for i := range receivers {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	return clients
}

// reconnect brings one receiver back and starts its reader. A failure
// before the CONNECT was written is retried like a ramp-up's; after it,
// the session may have been taken, so it is not.
func reconnect(ctx context.Context, cfg *Config, dialer *Dialer, rv *recoverReceiver, errs *errorTally) *Client {
	auth, err := sessionAuth([]byte(cfg.Auth), rv.pid, rv.offset, rv.got)
	if err != nil {
		errs.Add(err)
		return nil
	}
	for attempt := range rampAttempts {
		if attempt > 0 {
			sleep(ctx, time.Duration(attempt)*100*time.Millisecond)
		}
		c, err := dialer.DialWith(ctx, auth, rv.handle)
		if err != nil {
			errs.Add(err)
			var se *stageError
			if errors.As(err, &se) && se.stage != "connect" && ctx.Err() == nil {
				continue
			}
			return nil
		}
		sid, pid := parseConnectReply(c.ConnectReply())
		if rv.recovered = pid != "" && sid == rv.sid && pid == rv.pid; rv.recovered {
			if rv.distinct == cfg.Missed {
				rv.shared.hist.Record(time.Since(c.ConnectSent()))
			} else {
				rv.awaiting, rv.sent = true, c.ConnectSent()
			}
		}
		c.Start(rv.handle)
		return c
	}
	return nil
}

// parseConnectReply returns the sid and pid of a CONNECT reply's payload;
// pid is "" from a server without connection state recovery.
func parseConnectReply(payload []byte) (sid, pid string) {
	var v struct {
		SID string `json:"sid"`
		PID string `json:"pid"`
	}
	if json.Unmarshal(payload, &v) != nil {
		return "", ""
	}
	return v.SID, v.PID
}

// sessionAuth returns the CONNECT auth of a client coming back: auth (a
// JSON object, or empty) with "pid" and, when hasOffset, "offset" set, as
// socket.io-client sends them. Without a pid it is auth unchanged.
func sessionAuth(auth []byte, pid, offset string, hasOffset bool) ([]byte, error) {
	if pid == "" {
		if len(auth) == 0 {
			return nil, nil
		}
		return auth, nil
	}
	m := map[string]json.RawMessage{} // the other values byte for byte
	if len(auth) > 0 {
		if err := json.Unmarshal(auth, &m); err != nil {
			return nil, fmt.Errorf("-auth: %w", err)
		}
	}
	m["pid"], _ = json.Marshal(pid)
	if hasOffset {
		m["offset"], _ = json.Marshal(offset)
	}
	return json.Marshal(m)
}

// progress counts events from many goroutines for one goroutine that
// waits for a total.
type progress struct {
	n  *atomic.Int64
	ch chan struct{}
}

func newProgress() progress {
	return progress{n: new(atomic.Int64), ch: make(chan struct{}, 1)}
}

func (p progress) add() {
	p.n.Add(1)
	select {
	case p.ch <- struct{}{}:
	default:
	}
}

// waitFor waits until the count reaches want, for at most d; it reports
// whether it did.
func (p progress) waitFor(ctx context.Context, want int64, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	for p.n.Load() < want {
		select {
		case <-p.ch:
		case <-t.C:
			return p.n.Load() >= want
		case <-ctx.Done():
			return false
		}
	}
	return true
}

func (r *recoverReport) writeText(w io.Writer) {
	fmt.Fprintf(w, "recover  %s  (%s contract)\n", r.URL, r.Contract)
	if r.ReceiverURLs != "" {
		fmt.Fprintf(w, "receivers first on %s, reconnected to %s: recovery across nodes\n", r.ReceiverURLs, r.URL)
	}
	fmt.Fprintf(w, "receivers      %d connected of %d in %.2f s, %d given a session id (pid)\n",
		r.Connected, r.Receivers, r.RampSeconds, r.WithSession)
	writeErrors(w, "connect errors (attempts)", r.ConnectErrors)
	fmt.Fprintf(w, "cut            %d connections (TCP FIN, no close packet), %d not closed by the server within -timeout\n",
		r.Connected, r.CutNotClosed)
	fmt.Fprintf(w, "missed         %d events per receiver, published while cut off\n", r.Missed)
	fmt.Fprintf(w, "recovered      %d of %d (same sid and pid), not recovered %d, reconnect failed %d\n",
		r.Recovered, r.Connected, r.NotRecovered, r.ReconnectFailed)
	writeErrors(w, "reconnect errors", r.ReconnectErrors)
	fmt.Fprintf(w, "replayed       missing %d within the %.1f s drain (receivers with loss %d), duplicates %d, out of order %d\n",
		r.Missing, r.DrainSeconds, r.ReceiversLost, r.Duplicates, r.OutOfOrder)
	writeLatency(w, "recovery time", r.RecoveryTime)
}
