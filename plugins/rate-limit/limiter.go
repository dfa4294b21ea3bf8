package main

import (
	"errors"
	"fmt"
	"math"
	"sync"
	"time"
)

// Config is the plugin's config. A rate of 0 (or absent) turns that limit
// off; a burst of 0 (or absent) defaults to the rate rounded up (at
// least 1).
type Config struct {
	EventsPerSecond float64 `json:"events_per_second"`
	Burst           float64 `json:"burst"`
	JoinsPerSecond  float64 `json:"joins_per_second"`
	JoinBurst       float64 `json:"join_burst"`
}

// limit is one kind's rate (tokens per second) and burst (bucket size).
type limit struct{ rate, burst float64 }

func (l limit) on() bool { return l.rate > 0 }

func newLimit(rateName string, rate float64, burstName string, burst float64) (limit, error) {
	switch {
	case math.IsNaN(rate) || math.IsInf(rate, 0) || rate < 0:
		return limit{}, fmt.Errorf("config.%s is %v: want a number >= 0", rateName, rate)
	case math.IsNaN(burst) || math.IsInf(burst, 0) || burst < 0:
		return limit{}, fmt.Errorf("config.%s is %v: want a number >= 0", burstName, burst)
	case burst > 0 && burst < 1:
		return limit{}, fmt.Errorf("config.%s is %v: want at least 1", burstName, burst)
	case rate == 0 && burst > 0:
		return limit{}, fmt.Errorf("config.%s is set without %s", burstName, rateName)
	}
	if burst == 0 {
		burst = math.Max(1, math.Ceil(rate))
	}
	return limit{rate, burst}, nil
}

type kind int

const (
	kindEvent kind = iota
	kindJoin
)

// bucket is a token bucket: tokens as of at.
type bucket struct {
	tokens float64
	at     time.Time
}

// refill brings b up to now under l.
func (b *bucket) refill(l limit, now time.Time) {
	if dt := now.Sub(b.at).Seconds(); dt > 0 {
		b.tokens = math.Min(l.burst, b.tokens+dt*l.rate)
	}
	b.at = now
}

// Limiter holds the buckets of every socket it has seen.
type Limiter struct {
	events, joins limit
	now           func() time.Time

	mu      sync.Mutex
	sockets map[string]*[2]bucket // by socket id; [kindEvent], [kindJoin]
}

// NewLimiter checks cfg and returns a limiter reading the clock now.
func NewLimiter(cfg Config, now func() time.Time) (*Limiter, error) {
	ev, err1 := newLimit("events_per_second", cfg.EventsPerSecond, "burst", cfg.Burst)
	jo, err2 := newLimit("joins_per_second", cfg.JoinsPerSecond, "join_burst", cfg.JoinBurst)
	if err := errors.Join(err1, err2); err != nil {
		return nil, err
	}
	if !ev.on() && !jo.on() {
		return nil, errors.New("config sets no limit: want events_per_second or joins_per_second")
	}
	return &Limiter{events: ev, joins: jo, now: now, sockets: map[string]*[2]bucket{}}, nil
}

func (l *Limiter) limit(k kind) limit {
	if k == kindJoin {
		return l.joins
	}
	return l.events
}

// Take spends one token of the socket's bucket of kind k. It reports
// whether there was one and, if not, how long until there is.
func (l *Limiter) Take(socket string, k kind) (bool, time.Duration) {
	lim := l.limit(k)
	if !lim.on() {
		return true, 0
	}
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	s := l.sockets[socket]
	if s == nil {
		s = &[2]bucket{{l.events.burst, now}, {l.joins.burst, now}}
		l.sockets[socket] = s
	}
	b := &s[k]
	b.refill(lim, now)
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	return false, time.Duration((1 - b.tokens) / lim.rate * float64(time.Second))
}

// Forget drops the socket's buckets (it disconnected).
func (l *Limiter) Forget(socket string) {
	l.mu.Lock()
	delete(l.sockets, socket)
	l.mu.Unlock()
}

// Len is the number of sockets with buckets.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.sockets)
}

// Sweep drops the sockets whose buckets are full again: forgetting them
// changes nothing, and it bounds the memory of sockets whose disconnect
// never arrived (an observed call hubd dropped, a restart of hubd).
func (l *Limiter) Sweep() {
	now := l.now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for id, s := range l.sockets {
		full := true
		for k := range s {
			lim := l.limit(kind(k))
			if !lim.on() {
				continue
			}
			s[k].refill(lim, now)
			full = full && s[k].tokens >= lim.burst
		}
		if full {
			delete(l.sockets, id)
		}
	}
}

// SweepEvery calls Sweep every d, forever.
func (l *Limiter) SweepEvery(d time.Duration) {
	for range time.Tick(d) {
		l.Sweep()
	}
}
