package hub

import "sync/atomic"

// Stats are a server's delivery counters since it was created, for
// monitoring. They count event packets for this node's clients: the local
// recipients of broadcasts (from this node or, through a cluster adapter,
// from others) and Socket emits. Acks and control packets are not counted.
type Stats struct {
	// EventsSent is the event packets queued for clients: one per
	// recipient of a broadcast, one per Socket emit.
	EventsSent uint64
	// VolatileDropped is the volatile event packets dropped because the
	// client's transport could not take them at once (or the connection
	// was closing).
	VolatileDropped uint64
	// Undelivered is the other event packets that could not be queued:
	// the connection was closing, or its queue was over
	// Options.MaxBufferedBytes, which closes it.
	Undelivered uint64
	// PanicsRecovered is the panics recovered on a connection's
	// goroutines (an application's listener, the transport): each closed
	// its connection only and was logged with its stack.
	PanicsRecovered uint64
	// SlowWrites is the writes to a client that found its socket buffer
	// full (it reads slower than it is sent to): each went on in a
	// goroutine of that client's own, bounded by Options.WriteTimeout,
	// while the broadcasts to others went on.
	SlowWrites uint64
	// With PerMessageDeflate: Compressions is the messages compressed (a
	// broadcast once, however many receivers it has), CompressedSent the
	// messages written compressed (one per receiver) and
	// CompressedReceived the compressed messages clients sent.
	Compressions       uint64
	CompressedSent     uint64
	CompressedReceived uint64
}

// Stats returns the server's delivery counters. Reading them costs a few
// atomic loads; keeping them costs the delivery path one atomic add per
// counter and broadcast, whatever the number of recipients.
func (s *Server) Stats() Stats {
	st := Stats{
		EventsSent:      s.stats.sent.Load(),
		VolatileDropped: s.stats.dropped.Load(),
		Undelivered:     s.stats.undelivered.Load(),
		PanicsRecovered: s.engine.PanicsRecovered() + s.stats.panics.Load(),
		SlowWrites:      s.engine.SlowWrites(),
	}
	d := s.engine.DeflateStats()
	st.Compressions, st.CompressedSent, st.CompressedReceived = d.Compressions, d.Sent, d.Received
	return st
}

// counters are one server's Stats as they are kept.
type counters struct {
	sent        atomic.Uint64
	dropped     atomic.Uint64
	undelivered atomic.Uint64
	panics      atomic.Uint64 // recovered on the hub's own goroutines
}

// add records one delivery to many sockets: sent packets queued, failed
// ones not, volatile or not. A zero count costs nothing.
func (c *counters) add(sent, failed int, volatile bool) {
	if sent > 0 {
		c.sent.Add(uint64(sent))
	}
	if failed > 0 {
		if volatile {
			c.dropped.Add(uint64(failed))
		} else {
			c.undelivered.Add(uint64(failed))
		}
	}
}

// RecoveryStats count connection state recoveries (see RecoveryOptions)
// since the server was created.
type RecoveryStats struct {
	// Attempted is the CONNECTs that presented a session id.
	Attempted uint64
	// Recovered is those that got their socket back.
	Recovered uint64
	// Refused is the others by reason: the Reason of the RecoveryError
	// that refused them (ErrSessionUnknown...), RecoveryRefusedByMiddleware
	// or RecoveryUnavailable.
	Refused map[string]uint64
}

// recoveryReasons are the reasons RecoveryStats.Refused counts, in the
// order of recoveryCounters.refused.
var recoveryReasons = [...]string{
	ErrSessionUnknown.Reason,
	ErrOffsetUnknown.Reason,
	ErrOffsetExpired.Reason,
	ErrTooManyMissed.Reason,
	RecoveryRefusedByMiddleware,
	RecoveryUnavailable,
}

type recoveryCounters struct {
	attempted atomic.Uint64
	recovered atomic.Uint64
	refused   [len(recoveryReasons)]atomic.Uint64
}

func (c *recoveryCounters) refuse(reason string) {
	for i, r := range recoveryReasons {
		if r == reason {
			c.refused[i].Add(1)
			return
		}
	}
	c.refused[len(recoveryReasons)-1].Add(1) // a store's own failure
}

// RecoveryStats returns the server's recovery counters; every reason is
// in Refused, zero or not.
func (s *Server) RecoveryStats() RecoveryStats {
	st := RecoveryStats{
		Attempted: s.recovery.attempted.Load(),
		Recovered: s.recovery.recovered.Load(),
		Refused:   make(map[string]uint64, len(recoveryReasons)),
	}
	for i, r := range recoveryReasons {
		st.Refused[r] = s.recovery.refused[i].Load()
	}
	return st
}
