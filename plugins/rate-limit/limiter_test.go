package main

import (
	"strings"
	"testing"
	"time"
)

// clock is a fake clock the tests move by hand.
type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

func TestLimiter(t *testing.T) {
	c := &clock{t: time.Unix(1000, 0)}
	l, err := NewLimiter(Config{EventsPerSecond: 4, Burst: 2}, c.now)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 2 {
		if ok, _ := l.Take("A", kindEvent); !ok {
			t.Fatalf("#%d denied", i+1)
		}
	}
	if ok, wait := l.Take("A", kindEvent); ok || wait != 250*time.Millisecond {
		t.Fatalf("third: %v %v, want denied for 250ms", ok, wait)
	}
	c.t = c.t.Add(100 * time.Millisecond)
	if ok, wait := l.Take("A", kindEvent); ok || wait != 150*time.Millisecond {
		t.Fatalf("after 100ms: %v %v, want denied for 150ms", ok, wait)
	}
	c.t = c.t.Add(150 * time.Millisecond)
	if ok, _ := l.Take("A", kindEvent); !ok {
		t.Fatal("after 250ms: denied")
	}
	if ok, _ := l.Take("A", kindJoin); !ok {
		t.Fatal("joins are not limited")
	}

	// Sweep forgets only the sockets whose buckets are full again.
	if ok, _ := l.Take("B", kindEvent); !ok {
		t.Fatal("B denied")
	}
	c.t = c.t.Add(300 * time.Millisecond) // B full (1 + 1.2), A not (0 + 1.2)
	l.Sweep()
	if n := l.Len(); n != 1 {
		t.Fatalf("after sweep: %d sockets, want 1 (A)", n)
	}
	c.t = c.t.Add(time.Second)
	l.Sweep()
	if n := l.Len(); n != 0 {
		t.Fatalf("after a second: %d sockets, want 0", n)
	}
	l.Take("C", kindEvent)
	l.Forget("C")
	if n := l.Len(); n != 0 {
		t.Fatalf("after Forget: %d sockets", n)
	}
}

func TestDefaultBurst(t *testing.T) {
	for rate, want := range map[float64]float64{0.5: 1, 1: 1, 2.5: 3, 10: 10} {
		l, err := NewLimiter(Config{JoinsPerSecond: rate}, time.Now)
		if err != nil {
			t.Fatal(err)
		}
		if l.joins.burst != want || l.events.on() {
			t.Errorf("rate %v: burst %v (events on %v), want %v", rate, l.joins.burst, l.events.on(), want)
		}
	}
}

// TestConfigErrors: the errors name the key at fault.
func TestConfigErrors(t *testing.T) {
	for want, cfg := range map[string]Config{
		"config sets no limit":                          {},
		"config.events_per_second is -1":                {EventsPerSecond: -1},
		"config.burst is set without events_per_second": {Burst: 5},
		"config.join_burst is 0.5: want at least 1":     {JoinsPerSecond: 1, JoinBurst: 0.5},
	} {
		if _, err := NewLimiter(cfg, time.Now); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%+v: %v, want %q", cfg, err, want)
		}
	}
}
