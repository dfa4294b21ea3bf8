package hub

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
	"weak"
)

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
}

// Stats returns the server's delivery counters. Reading them costs a few
// atomic loads; keeping them costs the delivery path one atomic add per
// counter and broadcast, whatever the number of recipients.
func (s *Server) Stats() Stats {
	c := lookupCounters(s)
	if c == nil {
		return Stats{}
	}
	return Stats{
		EventsSent:      c.sent.Load(),
		VolatileDropped: c.dropped.Load(),
		Undelivered:     c.undelivered.Load(),
	}
}

// counters are one server's Stats as they are kept.
type counters struct {
	sent        atomic.Uint64
	dropped     atomic.Uint64
	undelivered atomic.Uint64
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

// The counters are kept beside the Server rather than in it, in a table
// keyed by the server's address: the delivery paths (the memory adapter,
// the socket's emits) own them, and Server's struct stays as it is. An
// entry holds its server weakly and goes when the server is collected; an
// entry found under a reused address, whose server is gone, is replaced.
var statsTable sync.Map // uintptr → *statsEntry

type statsEntry struct {
	srv weak.Pointer[Server]
	c   counters
}

func statsKey(s *Server) uintptr { return uintptr(unsafe.Pointer(s)) }

// lookupCounters returns s's counters, or nil if nothing was counted yet.
func lookupCounters(s *Server) *counters {
	if v, ok := statsTable.Load(statsKey(s)); ok {
		if e := v.(*statsEntry); e.srv.Value() == s {
			return &e.c
		}
	}
	return nil
}

// countersOf returns s's counters, making them on first use. After the
// first use it costs a lock-free map read: no lock, no allocation.
func countersOf(s *Server) *counters {
	if c := lookupCounters(s); c != nil {
		return c
	}
	key := statsKey(s)
	e := &statsEntry{srv: weak.Make(s)}
	for {
		v, loaded := statsTable.LoadOrStore(key, e)
		if !loaded {
			runtime.AddCleanup(s, func(e *statsEntry) { statsTable.CompareAndDelete(key, e) }, e)
			return &e.c
		}
		old := v.(*statsEntry)
		if old.srv.Value() == s {
			return &old.c // made by another goroutine meanwhile
		}
		// A collected server's entry under the same address.
		if statsTable.CompareAndSwap(key, old, e) {
			runtime.AddCleanup(s, func(e *statsEntry) { statsTable.CompareAndDelete(key, e) }, e)
			return &e.c
		}
	}
}
