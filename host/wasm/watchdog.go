package wasm

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Call states kept in instance.deadline besides a deadline (> 0).
const (
	stateIdle     = 0
	stateTripping = -1 // the watchdog is stopping the call
	stateTripped  = -2 // the call has been told to stop
)

// watchdog stops calls that run past their deadline, or whose context was
// cancelled (their socket went). One goroutine serves
// every plugin of a Runtime: a call only stores its deadline in its
// instance before it starts and clears it when it ends (two atomic
// stores); the watchdog scans the running instances every tick. It runs
// while plugins are loaded and parks after a second without calls (the
// first call after that wakes it).
type watchdog struct {
	epoch time.Time

	mu      sync.Mutex
	insts   map[*instance]struct{}
	plugins map[*Plugin]struct{}
	period  time.Duration
	running bool

	asleep atomic.Bool
	wake   chan struct{}
	stop   chan struct{}
}

func newWatchdog() *watchdog {
	return &watchdog{
		epoch:   time.Now(),
		insts:   make(map[*instance]struct{}),
		plugins: make(map[*Plugin]struct{}),
		wake:    make(chan struct{}, 1),
	}
}

// now is the time on the watchdog's monotonic clock.
func (w *watchdog) now() int64 { return int64(time.Since(w.epoch)) }

// at converts a deadline to the watchdog's clock (always > 0).
func (w *watchdog) at(t time.Time) int64 {
	d := int64(t.Sub(w.epoch))
	if d <= 0 {
		return 1
	}
	return d
}

// addPlugin starts watching for p, whose calls last up to timeout.
func (w *watchdog) addPlugin(p *Plugin) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.plugins[p] = struct{}{}
	w.period = w.tick()
	if !w.running {
		w.running = true
		w.stop = make(chan struct{})
		w.asleep.Store(false)
		go w.loop(w.stop)
	}
}

func (w *watchdog) removePlugin(p *Plugin) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.plugins, p)
	for in := range w.insts {
		if in.p == p {
			delete(w.insts, in)
		}
	}
	if len(w.plugins) == 0 && w.running {
		w.running = false
		close(w.stop)
		return
	}
	w.period = w.tick()
}

// tick is a tenth of the shortest plugin timeout, within [1ms, 10ms].
func (w *watchdog) tick() time.Duration {
	t := 10 * time.Millisecond
	for p := range w.plugins {
		if d := p.timeout / 10; d < t {
			t = d
		}
	}
	if t < time.Millisecond {
		t = time.Millisecond
	}
	return t
}

func (w *watchdog) add(in *instance) {
	w.mu.Lock()
	w.insts[in] = struct{}{}
	w.mu.Unlock()
}

func (w *watchdog) remove(in *instance) {
	w.mu.Lock()
	delete(w.insts, in)
	w.mu.Unlock()
}

// kick wakes a parked watchdog; calls use it after storing their deadline.
func (w *watchdog) kick() {
	if w.asleep.Load() && w.asleep.CompareAndSwap(true, false) {
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
}

const idleTicksBeforeSleep = 100

func (w *watchdog) loop(stop chan struct{}) {
	w.mu.Lock()
	period := w.period
	w.mu.Unlock()
	t := time.NewTimer(period)
	defer t.Stop()
	idle := 0
	for {
		select {
		case <-stop:
			return
		case <-t.C:
		}
		w.mu.Lock()
		period = w.period
		w.mu.Unlock()
		if w.scan() {
			idle = 0
		} else if idle++; idle >= idleTicksBeforeSleep {
			// Park. A call stores its deadline, then reads asleep; we store
			// asleep, then scan again: one of the two sees the other.
			w.asleep.Store(true)
			if w.scan() {
				w.asleep.Store(false)
			} else {
				select {
				case <-stop:
					return
				case <-w.wake:
				}
			}
			idle = 0
		}
		t.Reset(period)
	}
}

// scan stops every call past its deadline and reports whether any call was
// running.
func (w *watchdog) scan() bool {
	now := w.now()
	busy := false
	w.mu.Lock()
	defer w.mu.Unlock()
	for in := range w.insts {
		d := in.deadline.Load()
		if d == stateIdle {
			continue
		}
		busy = true
		if d > 0 && (now >= d || in.cancelled()) && in.deadline.CompareAndSwap(d, stateTripping) {
			in.trip()
			in.deadline.Store(stateTripped)
		}
	}
	return busy
}

// waitTripped waits until the watchdog has finished stopping in.
func waitTripped(in *instance) {
	for in.deadline.Load() != stateTripped {
		runtime.Gosched()
	}
}
