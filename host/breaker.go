package host

import (
	"sync"
	"time"
)

// breaker stops calling a plugin that keeps failing: after threshold
// consecutive failures it opens for a backoff that doubles up to max, then
// lets one call through to probe.
type breaker struct {
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
	b.mu.Lock()
	defer b.mu.Unlock()
	b.probing = false
	if ok {
		b.failures, b.openUntil, b.backoff = 0, time.Time{}, 0
		return
	}
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
