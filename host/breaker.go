package host

import (
	"sync"
	"sync/atomic"
	"time"
)

// breaker stops calling a plugin that keeps failing: after threshold
// consecutive failures it opens for a backoff that doubles up to max, then
// lets one call through to probe.
type breaker struct {
	// healthy is set while the last call succeeded and the breaker is
	// closed: the common case then takes no lock.
	healthy   atomic.Bool
	mu        sync.Mutex
	failures  int
	openUntil time.Time
	backoff   time.Duration
	probing   bool
}

const (
	breakerThreshold  = 5
	breakerMinBackoff = 250 * time.Millisecond
	breakerMaxBackoff = 30 * time.Second
)

// allow reports whether a call may go to the plugin now.
func (b *breaker) allow(now time.Time) bool {
	if b.healthy.Load() {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.openUntil.IsZero() {
		return true
	}
	if now.Before(b.openUntil) || b.probing {
		return false
	}
	b.probing = true
	return true
}

// done records a call's result.
func (b *breaker) done(ok bool, now time.Time) {
	if ok && b.healthy.Load() {
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
	b.healthy.Store(false)
	b.failures++
	if b.failures < breakerThreshold {
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
