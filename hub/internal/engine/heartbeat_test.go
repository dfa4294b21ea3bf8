package engine

import (
	"testing"
	"time"
)

// TestHeartbeatWebSocket: the server pings every PingInterval, measured
// from the last pong, and pongs keep the session alive.
func TestHeartbeatWebSocket(t *testing.T) {
	t.Parallel()
	const interval = 40 * time.Millisecond
	e := newEnv(t, Config{PingInterval: interval, PingTimeout: 10 * time.Second})
	start := time.Now()
	ws, _, h := e.openWS()
	for i := 0; i < 6; i++ {
		readText(t, ws, "2")
		// Timers never fire early; the first one started a little before
		// the client saw the open packet.
		if d := time.Since(start); (i > 0 && d < interval) || d < interval/2 {
			t.Fatalf("ping %d came %v after the previous pong", i, d)
		}
		// Before the pong is written: the server's timer starts when it
		// reads the pong, which is after this, however the two goroutines
		// are scheduled.
		start = time.Now()
		writeText(t, ws, "3")
	}
	if h.isClosed() {
		t.Fatal("session closed although every ping was answered")
	}
	// Messages flow between heartbeats as usual.
	writeText(t, ws, "4x")
	for {
		_, data := readWS(t, ws)
		if data == "4x" {
			break
		}
		if data != "2" {
			t.Fatalf("got %q", data)
		}
		writeText(t, ws, "3")
	}
}

func TestHeartbeatPolling(t *testing.T) {
	t.Parallel()
	const interval = 40 * time.Millisecond
	e := newEnv(t, Config{PingInterval: interval, PingTimeout: 10 * time.Second})
	sid, h := e.openPolling()
	for i := 0; i < 6; i++ {
		if got := e.getBody(sid); got != "2" {
			t.Fatalf("GET %q, want a ping", got)
		}
		e.postOK(sid, "3")
	}
	if h.isClosed() {
		t.Fatal("session closed although every ping was answered")
	}
}

// TestPingTimeout: an unanswered ping ends the session on both transports.
func TestPingTimeout(t *testing.T) {
	t.Parallel()
	cfg := Config{PingInterval: 30 * time.Millisecond, PingTimeout: 30 * time.Millisecond}
	t.Run("websocket", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cfg)
		ws, sid, h := e.openWS()
		readText(t, ws, "2")
		h.expectClose(t, ReasonPingTimeout)
		expectWSClosed(t, ws)
		if e.conn(sid) != nil {
			t.Fatal("session still in the table")
		}
	})
	t.Run("polling, GET parked", func(t *testing.T) {
		t.Parallel()
		// The heartbeat is driven by hand, so that the timeout comes once
		// the second GET is parked, however slow the machine.
		e := newEnv(t, Config{PingInterval: time.Hour, PingTimeout: time.Hour})
		sid, h := e.openPolling()
		c := e.conn(sid)
		fire := func() {
			// As the timer would at its deadline: pingAt is past.
			c.mu.Lock()
			c.pingAt = time.Now().Add(-time.Second)
			c.mu.Unlock()
			c.onHeartbeat()
		}
		fire() // the ping
		if got := e.getBody(sid); got != "2" {
			t.Fatalf("GET %q, want a ping", got)
		}
		pending := e.asyncGet(sid)
		e.waitParked(sid)
		fire() // its timeout
		h.expectClose(t, ReasonPingTimeout)
		if r := recv(t, pending); r.status != 200 || r.body != "1" {
			t.Fatalf("pending GET: %d %q, want \"1\"", r.status, r.body)
		}
		expectError(t, e.get(sid), 400, 1)
	})
	t.Run("polling, no request", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cfg)
		sid, h := e.openPolling()
		h.expectClose(t, ReasonPingTimeout)
		expectError(t, e.get(sid), 400, 1)
		expectError(t, e.post(sid, "3"), 400, 1)
	})
	t.Run("late pong", func(t *testing.T) {
		t.Parallel()
		e := newEnv(t, cfg)
		sid, h := e.openPolling()
		if got := e.getBody(sid); got != "2" {
			t.Fatalf("GET %q, want a ping", got)
		}
		h.expectClose(t, ReasonPingTimeout)
		expectError(t, e.post(sid, "3"), 400, 1)
	})
}

// TestPingTimeoutFromQueueTime: the timeout runs from when the ping is
// queued, not from when a GET carries it, and a request past the deadline
// ends the session even before the timer fires.
func TestPingTimeoutFromQueueTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PingInterval: 20 * time.Millisecond, PingTimeout: time.Hour})
	sid, _ := e.openPolling()
	c := e.conn(sid)
	waitFor(t, "the ping", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.awaitingPong
	})
	// Pretend the ping was queued long ago: its deadline is gone although
	// the timer (an hour) has not fired.
	c.mu.Lock()
	c.pingAt = c.pingAt.Add(-2 * time.Hour)
	c.mu.Unlock()
	expectError(t, e.get(sid), 400, 1)
	e.handler(sid).expectClose(t, ReasonPingTimeout)
}

// TestHeartbeatStaleTimer: a timer call that lost the race with a pong
// (the timeout fired while the pong held the lock) sends no early ping.
func TestHeartbeatStaleTimer(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PingInterval: time.Hour, PingTimeout: time.Hour})
	ws, sid, h := e.openWS()
	c := e.conn(sid)
	// Make the first ping due now and send it, as its timer would.
	c.mu.Lock()
	c.pingAt = time.Now()
	c.mu.Unlock()
	c.onHeartbeat()
	readText(t, ws, "2")
	writeText(t, ws, "3")
	waitFor(t, "the pong", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.awaitingPong
	})
	c.onHeartbeat() // what the timeout timer runs when it loses the race
	writeText(t, ws, "4x")
	readText(t, ws, "4x") // not a ping
	if h.isClosed() {
		t.Fatal("session closed")
	}
}

// TestPingTimeoutFromSendTime: a ping whose timer fired late still gives
// the client the whole PingTimeout, counted from when the ping is queued,
// as engine.io 6.6 does (the old rule counted from when the ping was due,
// and a timer late by more than PingTimeout left the client no time).
func TestPingTimeoutFromSendTime(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{PingInterval: time.Hour, PingTimeout: time.Hour})
	sid, h := e.openPolling()
	c := e.conn(sid)
	// The ping was due two hours ago: its timer fires only now.
	c.mu.Lock()
	c.pingAt = time.Now().Add(-2 * time.Hour)
	c.mu.Unlock()
	before := time.Now()
	c.onHeartbeat()
	c.mu.Lock()
	awaiting, deadline := c.awaitingPong, c.pingAt
	c.mu.Unlock()
	if !awaiting {
		t.Fatal("no ping sent")
	}
	if deadline.Before(before.Add(time.Hour)) {
		t.Fatalf("the ping times out %v after it was queued, want the whole PingTimeout (1h)", deadline.Sub(before))
	}
	// The client fetches the ping and answers it in time.
	if got := e.getBody(sid); got != "2" {
		t.Fatalf("GET %q, want the ping", got)
	}
	e.postOK(sid, "3")
	if h.isClosed() {
		t.Fatalf("session closed: %s", h.waitClose(t))
	}
	c.mu.Lock()
	awaiting = c.awaitingPong
	c.mu.Unlock()
	if awaiting {
		t.Fatal("the pong was not taken")
	}
}
