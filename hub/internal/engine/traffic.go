package engine

import (
	"sync"
	"sync/atomic"
)

// traffic counts the message packets of a session and their bytes (the
// packets' data, as the reference's packet and packetCreate events carry
// it). A session's is kept under its mutex, which Send and onPacket hold
// anyway: counting costs the data path no atomic operation.
type traffic struct {
	packetsIn, packetsOut uint64
	bytesIn, bytesOut     uint64
}

func (t *traffic) sent(frames, bytes int) {
	t.packetsOut += uint64(frames)
	t.bytesOut += uint64(bytes)
}

func (t *traffic) received(bytes int) {
	t.packetsIn++
	t.bytesIn += uint64(bytes)
}

func (t *traffic) add(o traffic) {
	t.packetsIn += o.packetsIn
	t.packetsOut += o.packetsOut
	t.bytesIn += o.bytesIn
	t.bytesOut += o.bytesOut
}

// serverTraffic is what the sessions that ended leave to the server's
// totals, with the count of sessions opened.
type serverTraffic struct {
	opened atomic.Uint64

	mu     sync.Mutex
	ended  traffic
	closed map[string]uint64 // by reason
}

func (t *serverTraffic) end(reason string, last traffic) {
	t.mu.Lock()
	if t.closed == nil {
		t.closed = make(map[string]uint64)
	}
	t.closed[reason]++
	t.ended.add(last)
	t.mu.Unlock()
}

// Traffic is what a server's sessions have done since it started.
type Traffic struct {
	// Opened is the sessions opened; Closed the sessions ended, by
	// reason (the Reason constants, or the drain's reason).
	Opened uint64
	Closed map[string]uint64
	// Open is the sessions open now; Polling those of them on
	// long-polling.
	Open, Polling int
	// PacketsIn and BytesIn count the message packets received and their
	// data; PacketsOut and BytesOut the frames of messages queued to be
	// sent and their bytes (open, ping, noop and close packets are not
	// counted).
	PacketsIn, PacketsOut uint64
	BytesIn, BytesOut     uint64
}

// Traffic returns the server's counts. It visits every open session, so
// it costs in proportion to their number; nothing is counted on the data
// path but under locks it takes anyway. The packet and byte counts grow
// over time, but a call made while a session ends may miss that
// session's share, which the next call has again: callers that take
// differences should keep the largest count seen.
func (s *Server) Traffic() Traffic {
	s.mu.RLock()
	open := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		open = append(open, c)
	}
	s.mu.RUnlock()

	var sum traffic
	polling := 0
	for _, c := range open {
		c.mu.Lock()
		sum.add(c.traffic)
		if c.ws == nil {
			polling++
		}
		c.mu.Unlock()
	}
	t := Traffic{Opened: s.traffic.opened.Load(), Open: len(open), Polling: polling}
	s.traffic.mu.Lock()
	sum.add(s.traffic.ended)
	t.Closed = make(map[string]uint64, len(s.traffic.closed))
	for r, n := range s.traffic.closed {
		t.Closed[r] = n
	}
	s.traffic.mu.Unlock()
	t.PacketsIn, t.PacketsOut = sum.packetsIn, sum.packetsOut
	t.BytesIn, t.BytesOut = sum.bytesIn, sum.bytesOut
	return t
}
