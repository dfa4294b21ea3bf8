package js

import (
	"runtime"
	"runtime/metrics"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/host"
)

// The watchdog: one goroutine per plugin interrupts runtimes that run past
// their deadline or their memory limit, or whose call's context was
// cancelled (its socket went). It sleeps while no call is in flight and
// ticks (every timeout/20, between 1 and 5 ms) while some are, so a call
// pays two atomic stores, a lock for its context and no timer.
//
// A runtime's deadline word holds the call's deadline (nanoseconds since the
// plugin's epoch), stateIdle between calls, stateClaimed while the watchdog
// interrupts it and stateInterrupted once it has. A call ends by swapping
// its deadline back to stateIdle; if the watchdog claimed it first, the call
// waits for the interrupt to land and clears it, so an interrupt meant for
// one call never hits the next.
const (
	stateIdle        = 0
	stateClaimed     = -1
	stateInterrupted = -2
)

// slot holds the runtime at one pool position.
type slot struct {
	in atomic.Pointer[instance]
}

// enter counts a call or load in flight and wakes the watchdog; it fails
// once the plugin is closed.
func (p *Plugin) enter() bool {
	p.active.Add(1)
	if p.closed.Load() {
		p.active.Add(-1)
		return false
	}
	if p.sleeping.Load() && p.sleeping.CompareAndSwap(true, false) {
		p.wake <- struct{}{}
	}
	return true
}

func (p *Plugin) leave() { p.active.Add(-1) }

func (p *Plugin) wakeWatchdog() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

func (p *Plugin) watchdog() {
	for {
		// Sleep until a call starts. enter adds to active before it looks
		// at sleeping; we set sleeping before we look at active: one of
		// the two sees the other.
		p.sleeping.Store(true)
		// closed before active: a call that enters after we read active
		// sees closed and backs out, so none is left unwatched.
		if p.closed.Load() && p.active.Load() == 0 {
			return
		}
		if p.active.Load() == 0 {
			<-p.wake
		} else if !p.sleeping.CompareAndSwap(true, false) {
			<-p.wake // a call claimed the wake-up; take its token
		}
		for p.active.Load() > 0 {
			time.Sleep(p.tick)
			p.scan()
		}
	}
}

// scan interrupts every runtime past its deadline, or past its memory
// limit: the process's heap allocations since the watchdog first saw the
// call (the Go runtime counts per process, not per goroutine, so calls
// running at the same time count each other's allocations; a call's first
// tick is not counted).
func (p *Plugin) scan() {
	now := int64(time.Since(p.epoch))
	allocs := heapAllocs()
	for i := range p.slots {
		in := p.slots[i].in.Load()
		if in == nil {
			continue
		}
		d := in.deadline.Load()
		if d <= 0 {
			continue
		}
		var why any
		if now >= d {
			why = host.ErrTimeout
		} else if in.watchedCancelled() {
			why = cancelInterrupt{}
		} else if seq := in.calls.Load(); in.markedCall != seq {
			// A call the watchdog has not seen yet: its allocations
			// count from now.
			in.markedCall, in.allocMark = seq, allocs
		} else if allocs-in.allocMark > uint64(p.limits.bytes) {
			why = memoryInterrupt{}
		}
		if why != nil && in.deadline.CompareAndSwap(d, stateClaimed) {
			if _, ok := why.(cancelInterrupt); ok {
				in.cancelFired.Store(true)
			}
			in.rt.Interrupt(why)
			in.deadline.Store(stateInterrupted)
		}
	}
}

// memoryInterrupt is the value of the interrupt of a call that went over
// its memory limit.
type memoryInterrupt struct{}

var allocsMetric = "/gc/heap/allocs:bytes"

// heapAllocs is the bytes the process has allocated on the heap so far.
func heapAllocs() uint64 {
	s := [1]metrics.Sample{{Name: allocsMetric}}
	metrics.Read(s[:])
	if s[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return s[0].Value.Uint64()
}

// arm starts the watch over in until deadline.
func (in *instance) arm(deadline time.Time) {
	d := int64(deadline.Sub(in.p.epoch))
	if d <= 0 {
		d = 1
	}
	in.armed = d
	in.calls.Add(1)
	in.deadline.Store(d)
}

// disarm ends the watch and reports whether the watchdog interrupted the
// runtime (then the interrupt is cleared).
func (in *instance) disarm() bool {
	if in.deadline.CompareAndSwap(in.armed, stateIdle) {
		return false
	}
	for in.deadline.Load() != stateInterrupted {
		runtime.Gosched()
	}
	in.rt.ClearInterrupt()
	in.deadline.Store(stateIdle)
	return true
}
