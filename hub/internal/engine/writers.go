package engine

import (
	"bytes"
	"errors"
	"net"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// writerPool writes the WebSocket sessions of a server whose connections
// allow non-blocking writes (plain TCP and Unix sockets): a few goroutines
// shared by all sessions, instead of a goroutine started per session each
// time its queue gets frames.
//
// A session with frames queued waits once in a first-in, first-out list; a
// worker takes the next session and writes all that it has queued with one
// non-blocking write(2). A session that got more frames meanwhile goes to
// the back of the list. So a broadcast to a big room costs no goroutine per
// member, and while the workers go round the room, further broadcasts pile
// up in each member's queue and leave in the same write: the bigger the
// room, the more each write carries. A session whose socket buffer is full
// (a client that reads slowly or not at all) gets a goroutine of its own
// for the rest, which blocks under the write timeout as before: it never
// holds a worker, so it never slows the others.
//
// Workers start when the list gets work and end when it is empty, so an
// idle server holds none and a closed one leaks none. RATIONALE.md tells
// which write strategies were measured against this one.
type writerPool struct {
	mu      sync.Mutex
	ready   []*Conn // ready[head:] wait, in order
	head    int
	workers int // running
	max     int

	handoffs atomic.Uint64 // turns that found a socket buffer full
}

func newWriterPool(max int) *writerPool {
	if max <= 0 {
		max = runtime.GOMAXPROCS(0)
	}
	return &writerPool{max: max}
}

// push puts c, whose writing flag the caller set, at the back of the list.
func (p *writerPool) push(c *Conn) {
	p.mu.Lock()
	p.ready = append(p.ready, c)
	start := p.workers < p.max
	if start {
		p.workers++
	}
	p.mu.Unlock()
	if start {
		go p.work()
	}
}

// next takes the session at the front of the list; nil when the list is
// empty, and then the worker ends.
func (p *writerPool) next() *Conn {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.head == len(p.ready) {
		p.ready, p.head = p.ready[:0], 0
		p.workers--
		return nil
	}
	c := p.ready[p.head]
	p.ready[p.head] = nil
	p.head++
	if p.head > 1024 && 2*p.head > len(p.ready) {
		// Under steady load the list never empties: move what waits
		// to the front rather than let the slice grow.
		n := copy(p.ready, p.ready[p.head:])
		clear(p.ready[n:])
		p.ready, p.head = p.ready[:n], 0
	}
	return c
}

func (p *writerPool) work() {
	var s turnScratch
	for c := p.next(); c != nil; c = p.next() {
		c.writeTurn(p, &s)
		s.reset()
	}
}

// turnScratch is a worker's memory, kept from turn to turn: the buffer the
// frames are laid out in and the pieces of one writev.
type turnScratch struct {
	buf []byte
	iov [][]byte
}

// reset readies s for the next turn: it lets go of the frames the pieces
// pointed at, and of a buffer a big batch grew.
func (s *turnScratch) reset() {
	if cap(s.buf) > 4*copyLimit {
		s.buf = nil
	}
	s.buf = s.buf[:0]
	clear(s.iov)
	s.iov = s.iov[:0]
}

// pooled reports whether nc's writes can go through the writer pool: a
// plain socket whose non-blocking write(2) is its Write. A wrapper (TLS, a
// connection counter) may do more in Write, so it gets goroutine writers.
func pooled(nc net.Conn) bool {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		return rawWriteSupported
	}
	return false
}

// startWriterLocked makes a writer take the queue: the pool when the
// connection allows it, else a goroutine of the session's own. c.mu is
// held and no writer runs.
func (c *Conn) startWriterLocked() {
	c.writing = true
	if pooled(c.netConn) {
		c.srv.writers.push(c)
		return
	}
	go c.startedWriteLoop(c.netConn)
}

// writeTurn is one turn of a pool worker on c: it writes what c has queued
// without blocking and puts c back in the list if more came meanwhile. s
// is the worker's scratch memory.
func (c *Conn) writeTurn(p *writerPool, s *turnScratch) {
	defer c.recoverPanic()
	c.mu.Lock()
	if c.state == stateClosed || len(c.queue) == 0 {
		c.writing = false
		c.mu.Unlock()
		return
	}
	nc := c.netConn
	if c.queue[len(c.queue)-1].op == opClose {
		// The close handshake: the goroutine writer, which ends the
		// session once the close frame is out.
		c.mu.Unlock()
		go c.startedWriteLoop(nc)
		return
	}
	batch := c.takeLocked()
	z := c.deflaterLocked()
	c.mu.Unlock()
	if z != nil {
		z.compress(batch)
	}

	s.iov, s.buf = layoutFrames(s.iov, s.buf, batch)
	iov := s.iov
	err := c.tryWrite(nc, &iov)
	switch {
	case err == nil:
	case errors.Is(err, errWouldBlock):
		// The client is not reading as fast: the rest goes out on a
		// goroutine of this session's own, with what is queued after it.
		p.handoffs.Add(1)
		rest := bytes.Join(iov, nil)
		go func() {
			defer c.recoverPanic()
			c.writeLoop(nc, rest)
		}()
		return
	default:
		c.closeNow(ReasonTransportError, nil)
		return
	}
	c.mu.Lock()
	again := len(c.queue) > 0 && c.state != stateClosed
	if !again {
		c.writing = false
	}
	c.mu.Unlock()
	if again {
		p.push(c)
	}
}

// bigFrame is the payload size from which a frame is written from where it
// lies (writev) rather than copied into the worker's buffer.
const bigFrame = 4 << 10

// layoutFrames lays frames out for one writev: headers and small payloads
// copied into buf, big payloads referenced as they are. It appends the
// pieces, in order, to iov and returns it with buf, which they may point
// into.
func layoutFrames(iov [][]byte, buf []byte, frames []Frame) ([][]byte, []byte) {
	small := true
	for i := range frames {
		if len(frames[i].Data) >= bigFrame {
			small = false
			break
		}
	}
	if small {
		buf = appendFrames(buf, nil, frames)
		return append(iov, buf), buf
	}
	// Copy first, then cut: buf may move while it grows.
	ends := make([]int, len(frames))
	for i := range frames {
		f := &frames[i]
		buf = appendFrameHeader(buf, f.opcode(), len(f.Data))
		if len(f.Data) < bigFrame {
			buf = append(buf, f.Data...)
		}
		ends[i] = len(buf)
	}
	from := 0
	for i := range frames {
		if f := &frames[i]; len(f.Data) >= bigFrame {
			iov = append(iov, buf[from:ends[i]], f.Data)
			from = ends[i]
		}
	}
	if from < len(buf) {
		iov = append(iov, buf[from:])
	}
	return iov, buf
}

// errWouldBlock is a non-blocking write that found the socket buffer full.
var errWouldBlock = errors.New("engine: write would block")

// tryWrite writes *iov without waiting for the socket to become writable:
// it returns errWouldBlock when the socket buffer filled first, and leaves
// in *iov what it did not write. Only the session's writer calls it.
func (c *Conn) tryWrite(nc net.Conn, iov *[][]byte) error {
	n, err := rawWritev(nc, iov)
	if n == 0 && errors.Is(err, os.ErrDeadlineExceeded) {
		// A write deadline set by an earlier blocking write (see
		// armWriteDeadline) has passed; it means nothing to a write
		// that does not wait. Clear it and try again.
		if err := nc.SetWriteDeadline(time.Time{}); err != nil {
			return err
		}
		c.deadlineConn, c.writeDeadline = nil, time.Time{}
		_, err = rawWritev(nc, iov)
	}
	return err
}
