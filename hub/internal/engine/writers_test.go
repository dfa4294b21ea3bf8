package engine

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gorilla/websocket"
)

// TestWriterPoolSlowReader: a pool worker that finds a session's socket
// buffer full hands the rest to a goroutine of the session's own and goes
// on at once; other sessions are served meanwhile, and the slow client,
// once it reads, gets every frame once and in order, those queued after
// the hand-off included.
func TestWriterPoolSlowReader(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, _, h := e.openWS() // not read until the end
	other, _, _ := e.openWS()
	c := h.c
	if !pooled(c.netConn) {
		t.Skip("no non-blocking writes on this system: every session has goroutine writers")
	}
	// Small buffers on both sides, so that the socket fills soon.
	if err := ws.UnderlyingConn().(*net.TCPConn).SetReadBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}
	if err := c.netConn.(*net.TCPConn).SetWriteBuffer(16 << 10); err != nil {
		t.Fatal(err)
	}

	const frameSize = 6000
	seq := 0
	frame := func() Frame {
		b := make([]byte, frameSize)
		binary.BigEndian.PutUint32(b, uint32(seq))
		seq++
		return Frame{Data: b, Binary: true}
	}
	// Turns of 10 frames (60 kB, written from the worker's buffer) run
	// on this goroutine, as a worker runs them, until one finds the
	// socket full: it must return rather than wait for the client.
	p := c.srv.writers
	// The writer of the open packet may still be ending its loop after
	// the client has the packet.
	waitFor(t, "the open packet's writer to end", func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		return !c.writing
	})
	for p.handoffs.Load() == 0 {
		if seq > 100_000 {
			t.Fatal("600 MB written to a client that does not read: the socket never filled")
		}
		c.mu.Lock()
		if c.writing {
			c.mu.Unlock()
			t.Fatal("a writer runs between turns")
		}
		c.writing = true
		for range 10 {
			f := frame()
			c.queue = append(c.queue, f)
			c.queued += len(f.Data)
		}
		c.mu.Unlock()
		c.writeTurn(p, &turnScratch{})
	}
	t.Logf("handoff after %d frames", seq)
	c.mu.Lock()
	owned := c.writing
	c.mu.Unlock()
	if !owned {
		t.Fatal("after the hand-off no writer owns the session")
	}
	// Queued behind the hand-off: written by the session's goroutine once
	// the rest is out.
	for range 20 {
		if !c.Send([]Frame{frame()}, false) {
			t.Fatal("Send refused")
		}
	}

	// Others are served while the slow client's writer waits.
	writeText(t, other, "4alive")
	readText(t, other, "4alive")

	for want := range seq {
		mt, data := readWS(t, ws)
		if mt != websocket.BinaryMessage || len(data) != frameSize {
			t.Fatalf("frame %d: type %d, %d bytes", want, mt, len(data))
		}
		if got := binary.BigEndian.Uint32([]byte(data)); got != uint32(want) {
			t.Fatalf("frame %d carries %d", want, got)
		}
	}
	if h.isClosed() {
		t.Fatal("the slow session was closed")
	}
}

// TestWriterPoolIdle: the pool's workers end once no session has frames
// waiting, so an idle server holds none.
func TestWriterPoolIdle(t *testing.T) {
	t.Parallel()
	e := newEnv(t, Config{})
	ws, _, h := e.openWS()
	if !pooled(h.c.netConn) {
		t.Skip("no non-blocking writes on this system: every session has goroutine writers")
	}
	for i := range 100 {
		h.c.Send([]Frame{Text(4, []byte{byte('a' + i%26)})}, false)
	}
	for i := range 100 {
		readText(t, ws, "4"+string(rune('a'+i%26)))
	}
	p := e.srv.writers
	waitFor(t, "the workers to end", func() bool {
		p.mu.Lock()
		defer p.mu.Unlock()
		return p.workers == 0 && len(p.ready) == 0
	})
}

// The write loop hands its written batch back as the queue's next array,
// but not one past maxReusedBatch frames: a burst does not leave a large
// array held for the session's life.
func TestWrittenBatchReuseBounded(t *testing.T) {
	e := newEnv(t, Config{})
	ws, sid, _ := e.openWS()
	c := e.conn(sid)
	queueCap := func() int {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.writing {
			return -1
		}
		return cap(c.queue)
	}
	burst := make([]Frame, 4*maxReusedBatch)
	for i := range burst {
		burst[i] = Frame{Data: []byte("4burst")}
	}
	// SendNow on an idle connection writes on this goroutine through the
	// write loop (Send would hand the burst to the writer pool).
	idle := func() bool { return queueCap() >= 0 }
	waitFor(t, "the open packet's writer to finish", idle)
	if !c.SendNow(burst) {
		t.Fatal("burst refused")
	}
	for range burst {
		readText(t, ws, "4burst")
	}
	waitFor(t, "the writer to finish", idle)
	if n := queueCap(); n > maxReusedBatch {
		t.Fatalf("after a burst of %d frames the queue keeps an array of %d", len(burst), n)
	}
	// A small batch's array is kept for the next.
	if !c.SendNow([]Frame{{Data: []byte("4one")}}) {
		t.Fatal("frame refused")
	}
	readText(t, ws, "4one")
	waitFor(t, "the small batch's array to be kept", func() bool { n := queueCap(); return n > 0 && n <= maxReusedBatch })
}
