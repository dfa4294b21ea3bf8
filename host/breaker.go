package host

import (
	"sync"
	"sync/atomic"
	"time"
)

// A plugin's failures are charged to whoever caused them. The shared
// breaker stands for the plugin's own health: it opens only when at least
// breakerThreshold sockets (or socket-less calls) have failed and failures
// have kept coming for breakerQuiet with no call succeeding, which is what
// a dead or hung plugin looks like; a socket counts once until one of its
// calls succeeds. Each socket also has its own strikes: one whose calls
// keep failing gets the failure policy's answer without the plugin being
// called, for a backoff of its own, while every other socket is served.
// A call given up because its socket went (its context ended) is charged
// to nobody: it tells nothing of the plugin.

// breaker stops calling a plugin that keeps failing: once it opens it
// refuses calls for a backoff that doubles up to breakerMaxBackoff, then
// lets one call through to probe.
type breaker struct {
	// healthy is set while no counted failure followed the last success
	// and the breaker is closed: the common case then takes no lock.
	healthy   atomic.Bool
	mu        sync.Mutex
	failures  int       // counted failures since the last success
	since     time.Time // the first of them
	openUntil time.Time
	backoff   time.Duration
	probing   bool
}

// timeoutStrikes is what a timeout counts towards breakerThreshold.
const timeoutStrikes = (breakerThreshold + 1) / 2

const (
	breakerThreshold  = 5
	breakerQuiet      = breakerMinBackoff
	breakerMinBackoff = 250 * time.Millisecond
	breakerMaxBackoff = 30 * time.Second
)

// allow reports whether a call may go to the plugin now.
func (b *breaker) allow(now time.Time) bool {
	ok, _ := b.admit(now)
	return ok
}

// admit reports whether a call may go to the plugin now, and whether it
// is the probe of an open breaker (see abandon).
func (b *breaker) admit(now time.Time) (ok, probe bool) {
	if b.healthy.Load() {
		return true, false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true, false
	}
	if now.Before(b.openUntil) || b.probing {
		return false, false
	}
	b.probing = true
	return true, true
}

// abandon records a call that ended without saying anything of the
// plugin's health (its socket went, and the call was given up): neither a
// failure nor a success. When it was the probe, the next call may probe.
func (b *breaker) abandon(probe bool) {
	if !probe {
		return
	}
	b.mu.Lock()
	b.probing = false
	b.mu.Unlock()
}

// done records a call's result. A failure adds to the failures that open
// the breaker only when counted is set (the first of its socket's); any
// failure shows that failures keep coming.
func (b *breaker) done(ok, counted bool, now time.Time) {
	if b.healthy.Load() && (ok || !counted) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.failures, b.openUntil, b.backoff = 0, time.Time{}, 0
		b.healthy.Store(true)
		return
	}
	if counted {
		b.healthy.Store(false)
		if b.failures == 0 {
			b.since = now
		}
		b.failures++
	}
	if b.failures < breakerThreshold || now.Sub(b.since) < breakerQuiet || now.Before(b.openUntil) {
		return
	}
	switch {
	case b.backoff == 0:
		b.backoff = breakerMinBackoff
	case b.backoff < breakerMaxBackoff:
		b.backoff = min(2*b.backoff, breakerMaxBackoff)
	}
	b.openUntil = now.Add(b.backoff)
}

// maxStruckSockets bounds how many sockets one plugin keeps strikes for; a
// socket that fails when the table is full is not tracked, and its
// failures count towards the shared breaker as a socket-less call's do.
const maxStruckSockets = 10000

// strikes counts one plugin's failures per socket. An entry lives from a
// socket's first failure until one of its calls succeeds or it
// disconnects; entries left behind (a socket that vanished without a
// disconnect) are swept once the table is full.
type strikes struct {
	n     atomic.Int32 // entries: with none, the hot path takes no lock
	mu    sync.RWMutex
	m     map[string]strike
	swept time.Time
}

type strike struct {
	count   int
	last    time.Time // the last failure
	until   time.Time // end of the socket's backoff, once count reaches the threshold
	backoff time.Duration
}

// held reports whether socket id is in its backoff, and whether it has
// strikes at all.
func (t *strikes) held(id string, now time.Time) (held, struck bool) {
	if id == "" || t.n.Load() == 0 {
		return false, false
	}
	t.mu.RLock()
	s, ok := t.m[id]
	t.mu.RUnlock()
	return ok && s.count >= breakerThreshold && now.Before(s.until), ok
}

// fail records a failure of socket id, worth weight strikes, and reports
// whether it is the socket's first since its last success (or the socket
// is not tracked): such a failure counts towards the shared breaker.
func (t *strikes) fail(id string, now time.Time, weight int) (first bool) {
	if id == "" {
		return true
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	s, ok := t.m[id]
	if !ok {
		if t.m == nil {
			t.m = make(map[string]strike)
		}
		if len(t.m) >= maxStruckSockets && !t.sweep(now) {
			return true
		}
		t.n.Add(1)
	}
	first = s.count == 0
	s.count += weight
	s.last = now
	if s.count >= breakerThreshold {
		switch {
		case s.backoff == 0:
			s.backoff = breakerMinBackoff
		case s.backoff < breakerMaxBackoff:
			s.backoff = min(2*s.backoff, breakerMaxBackoff)
		}
		s.until = now.Add(s.backoff)
	}
	t.m[id] = s
	return first
}

// sweep drops the entries of sockets that have not failed for
// breakerMaxBackoff (their backoff is over), at most once a second, and
// reports whether there is room now. t.mu is held.
func (t *strikes) sweep(now time.Time) bool {
	if now.Sub(t.swept) >= time.Second {
		t.swept = now
		for id, s := range t.m {
			if now.Sub(s.last) > breakerMaxBackoff {
				delete(t.m, id)
				t.n.Add(-1)
			}
		}
	}
	return len(t.m) < maxStruckSockets
}

// forget drops socket id's strikes: one of its calls succeeded, or it
// disconnected.
func (t *strikes) forget(id string) {
	if id == "" || t.n.Load() == 0 {
		return
	}
	t.mu.RLock()
	_, ok := t.m[id]
	t.mu.RUnlock()
	if !ok {
		return
	}
	t.mu.Lock()
	if _, ok := t.m[id]; ok {
		delete(t.m, id)
		t.n.Add(-1)
	}
	t.mu.Unlock()
}

// len returns the number of sockets with strikes.
func (t *strikes) len() int { return int(t.n.Load()) }
