package engine

import (
	"testing"
	"time"
)

// TestBackpressureWebSocket: a client that never reads is cut off once its
// queue passes MaxBufferedBytes; Send never blocks, and other sessions go
// on.
func TestBackpressureWebSocket(t *testing.T) {
	t.Parallel()
	const limit = 256 << 10
	e := newEnv(t, Config{MaxBufferedBytes: limit})
	_, sid, h := e.openWS() // never read again
	other, _, _ := e.openWS()

	chunk := Frame{Data: make([]byte, 16<<10), Binary: true} // shared by every send
	sent := 0
	for h.c.Send([]Frame{chunk}, false) {
		sent += len(chunk.Data)
		if sent > 1<<30 {
			t.Fatal("1 GiB queued without the session being closed")
		}
	}
	if sent < limit {
		t.Fatalf("closed after %d bytes, below the %d limit", sent, limit)
	}
	h.expectClose(t, ReasonTransportError)
	waitFor(t, "the session to leave the table", func() bool { return e.conn(sid) == nil })
	if h.c.Send([]Frame{chunk}, false) {
		t.Fatal("Send after the close succeeded")
	}

	writeText(t, other, "4alive")
	readText(t, other, "4alive")
}

// TestBackpressurePolling: the same for a polling client that stops
// polling.
func TestBackpressurePolling(t *testing.T) {
	t.Parallel()
	const limit = 64 << 10
	e := newEnv(t, Config{MaxBufferedBytes: limit})
	sid, h := e.openPolling()
	other, _ := e.openPolling()

	chunk := Text(4, make([]byte, 1000))
	n := 0
	for h.c.Send([]Frame{chunk}, false) {
		n += len(chunk.Data)
	}
	if n > limit || n+len(chunk.Data) <= limit {
		t.Fatalf("refused after %d bytes, limit %d", n, limit)
	}
	h.expectClose(t, ReasonTransportError)
	expectError(t, e.get(sid), 400, 1)

	e.postOK(other, "4alive")
	if got := e.getBody(other); got != "4alive" {
		t.Fatalf("GET %q", got)
	}
}

// TestBackpressureDrained: a queue that a reading client keeps draining
// never trips the limit, however much goes through it.
func TestBackpressureDrained(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{MaxBufferedBytes: 64 << 10})
	ws, _, h := e.openWS()
	chunk := Frame{Data: make([]byte, 8<<10), Binary: true}
	const n = 500 // 4 MB in all
	go func() {
		for i := 0; i < n; i++ {
			for !h.c.Send([]Frame{chunk}, true) { // volatile: only when idle
				if h.isClosed() {
					return
				}
				time.Sleep(50 * time.Microsecond)
			}
		}
	}()
	for i := 0; i < n; i++ {
		if _, data := readWS(t, ws); len(data) != len(chunk.Data) {
			t.Fatalf("frame of %d bytes", len(data))
		}
	}
	if h.isClosed() {
		t.Fatal("session closed")
	}
}
