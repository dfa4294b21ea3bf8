package engine

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/hub/internal/eio"
)

// Handler receives a session's messages and its end. OnMessage runs on the
// goroutine that read the message, one call at a time per session, in the
// order the client sent them; data is owned by the handler. Messages that
// arrive once the session is closing or closed are dropped, as the
// reference does. OnClose runs once; it may overlap an OnMessage call that
// began before the session ended. A panic in either is recovered: it
// closes that session only (see Server.PanicsRecovered).
type Handler interface {
	OnMessage(data []byte, binary bool)
	OnClose(reason string)
}

// Close reasons, as the reference server names them.
const (
	ReasonTransportClose = "transport close"
	ReasonTransportError = "transport error"
	ReasonPingTimeout    = "ping timeout"
	ReasonParseError     = "parse error"
	ReasonForcedClose    = "forced close"
)

// ErrClosed is returned when sending on a closed session.
var ErrClosed = errors.New("engine: session closed")

type state uint8

const (
	stateOpen state = iota
	stateClosing
	stateClosed
)

// pollWait is a pending long-polling GET.
type pollWait struct {
	ready   chan struct{} // receives when the GET should answer
	reply   []Frame       // frames to add after the queue (noop or close)
	done    bool          // the session ends with this answer
	refused bool          // the transport changed: answer 400
}

// Conn is one Engine.IO session.
type Conn struct {
	id      string
	srv     *Server
	handler Handler
	v3      *eio3 // set for a revision 3 session (see eio3.go); never changes

	mu          sync.Mutex
	state       state
	ws          *wsConn // the current transport when not nil
	netConn     net.Conn
	queue       []Frame
	queued      int     // bytes in queue
	writing     bool    // a WebSocket writer runs or waits in the writer pool
	dispatching bool    // the WebSocket reader is in the handler
	reading     *wsConn // the WebSocket being read (see readLoop)

	// See inline.go: whether the reader runs application code, and the
	// generation of the reader, bumped when the reading moves.
	inline    atomic.Int32
	readEpoch atomic.Uint64

	// Owned by the goroutine that writes (writing is set).
	deadlineConn  net.Conn
	writeDeadline time.Time
	poll          *pollWait
	posting       bool
	upgrading     bool
	probed        bool
	probe         *wsConn
	awaitingPong  bool
	pingAt        time.Time // the next ping is due; while awaitingPong: the ping times out
	timer         *time.Timer
	noopTimer     *time.Timer // answers GETs parked during an upgrade
	lingerNoop    bool        // closed by the client: a racing GET gets a noop
	closeSent     bool        // the WebSocket close frame is being written
	closeTimer    *time.Timer

	traffic traffic // under mu (see Server.Traffic)
}

// ID returns the session id.
func (c *Conn) ID() string { return c.id }

// SetHandler sets the receiver of the session's messages. It must be called
// from Config.OnConnection.
func (c *Conn) SetHandler(h Handler) { c.handler = h }

// Transport returns "websocket" or "polling".
func (c *Conn) Transport() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ws != nil {
		return "websocket"
	}
	return "polling"
}

// Send queues frames to go out together, in order. Frames must not be
// modified afterwards. With volatile set, the frames are dropped unless the
// transport can write at once. It reports whether the frames were queued.
func (c *Conn) Send(frames []Frame, volatile bool) bool {
	if c.v3 != nil {
		frames = framesV3(frames)
	}
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return false
	}
	if volatile && !c.writableLocked() {
		c.mu.Unlock()
		return false
	}
	n := 0
	for i := range frames {
		n += len(frames[i].Data)
	}
	if c.queued+n > c.srv.cfg.MaxBufferedBytes {
		c.mu.Unlock()
		// The caller may hold locks the close path needs.
		go func() {
			defer c.recoverPanic()
			c.closeNow(ReasonTransportError, nil)
		}()
		return false
	}
	c.queue = append(c.queue, frames...)
	c.queued += n
	c.traffic.sent(len(frames), n)
	c.kickLocked()
	c.mu.Unlock()
	return true
}

// SendNow is Send that, over WebSocket, writes the frames on the caller's
// goroutine when no writer is running, rather than starting one: for a
// reply sent by a goroutine that has nothing else to do meanwhile (the
// goroutine that ran a client's event, answering it), which saves a
// goroutine and a wake-up per reply. The write is bounded by the write
// timeout, as any.
func (c *Conn) SendNow(frames []Frame) bool {
	if c.v3 != nil {
		return c.Send(frames, false) // which adds revision 3's type bytes
	}
	c.mu.Lock()
	if c.ws == nil || c.writing || c.dispatching || c.state != stateOpen || len(c.queue) > 0 {
		c.mu.Unlock()
		return c.Send(frames, false)
	}
	n := 0
	for i := range frames {
		n += len(frames[i].Data)
	}
	if n > c.srv.cfg.MaxBufferedBytes {
		c.mu.Unlock()
		return c.Send(frames, false) // which refuses it as it would
	}
	c.queue = append(c.queue, frames...)
	c.queued += n
	c.traffic.sent(len(frames), n)
	c.writing = true
	nc := c.netConn
	c.mu.Unlock()
	c.writeLoop(nc, nil)
	return true
}

func (c *Conn) writableLocked() bool {
	if c.ws != nil {
		return !c.writing && len(c.queue) == 0
	}
	return c.poll != nil && len(c.queue) == 0
}

// kickLocked makes queued frames move: it starts a WebSocket writer or
// releases a pending GET.
func (c *Conn) kickLocked() {
	if c.ws != nil {
		// While the reading goroutine hands a message to the handler, it
		// writes what was queued itself once the handler returns (see
		// dispatch): replies then cost no goroutine.
		if !c.writing && len(c.queue) > 0 && !c.dispatching {
			c.startWriterLocked()
		}
		return
	}
	if c.poll != nil {
		c.releasePollLocked(nil, false)
	}
}

func (c *Conn) releasePollLocked(reply []Frame, done bool) {
	p := c.poll
	c.poll = nil
	p.reply = reply
	p.done = done
	p.ready <- struct{}{}
}

// takeLocked empties the queue.
func (c *Conn) takeLocked() []Frame {
	q := c.queue
	c.queue = nil
	c.queued = 0
	return q
}

// startedWriteLoop is writeLoop on a goroutine of its own.
func (c *Conn) startedWriteLoop(nc net.Conn) {
	defer c.recoverPanic()
	c.writeLoop(nc, nil)
}

// writeLoop writes the queue to nc until it is empty; prefix (the 101
// response of a new WebSocket session) goes out first, in the same write as
// the first batch.
func (c *Conn) writeLoop(nc net.Conn, prefix []byte) {
	var done []Frame // the batch last written, emptied: the queue's next array
	for {
		c.mu.Lock()
		if c.queue == nil && done != nil {
			c.queue = done
		}
		if c.state == stateClosed || len(c.queue) == 0 && prefix == nil {
			c.writing = false
			c.mu.Unlock()
			return
		}
		batch := c.takeLocked()
		closing := len(batch) > 0 && batch[len(batch)-1].op == opClose
		if closing {
			c.closeSent = true
		}
		z := c.deflaterLocked()
		c.mu.Unlock()
		if z != nil {
			z.compress(batch)
		}
		if err := c.armWriteDeadline(nc); err != nil {
			c.closeNow(ReasonTransportError, nil)
			return
		}
		if err := writeFrames(nc, prefix, batch, 0); err != nil {
			c.closeNow(ReasonTransportError, nil)
			return
		}
		prefix = nil
		if closing {
			c.closeNow(ReasonForcedClose, nil)
			return
		}
		if cap(batch) <= maxReusedBatch {
			clear(batch) // the frames' data is not the queue's to keep
			done = batch[:0]
		}
	}
}

// maxReusedBatch bounds the array writeLoop hands back to the queue, so
// that one burst does not leave a large one held for the session's life.
const maxReusedBatch = 64

// armWriteDeadline keeps a write deadline between half and all of
// WriteTimeout ahead, moving it only when less than half is left: setting
// a deadline costs a timer update, and most batches are small and quick.
// Only the goroutine that writes (see writing) calls it.
func (c *Conn) armWriteDeadline(nc net.Conn) error {
	now := time.Now()
	timeout := c.srv.cfg.WriteTimeout
	if nc == c.deadlineConn && c.writeDeadline.Sub(now) >= timeout/2 {
		return nil
	}
	c.deadlineConn, c.writeDeadline = nc, now.Add(timeout)
	return nc.SetWriteDeadline(c.writeDeadline)
}

// Close ends the session from the server side: queued frames are flushed
// first, then the transport is closed.
func (c *Conn) Close() {
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.state = stateClosing
	switch {
	case c.ws != nil:
		c.queue = append(c.queue, Frame{Data: closeNormal, op: opClose})
		if !c.writing {
			c.startWriterLocked()
		}
		c.mu.Unlock()
	case c.poll != nil && len(c.queue) == 0:
		c.releasePollLocked([]Frame{{Data: []byte("1")}}, true)
		c.mu.Unlock()
	default:
		if c.poll != nil {
			// The pending GET takes what is queued; the close goes in
			// the next one, never in the same payload (see serveGet).
			c.releasePollLocked(nil, false)
		}
		// Give up waiting for that GET after a while.
		c.closeTimer = time.AfterFunc(30*time.Second, func() {
			defer c.recoverPanic()
			c.closeNow(ReasonForcedClose, nil)
		})
		c.mu.Unlock()
	}
}

var closeNormal = []byte{0x03, 0xe8} // status 1000

// lingerTime is how long a session closed by its client still answers one
// racing GET.
const lingerTime = time.Second

// closeNow ends the session at once. A pending GET is answered with reply
// (close when nil). The handler's OnClose runs once, after the session left
// the server's table.
func (c *Conn) closeNow(reason string, reply []Frame) {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	if c.closeSent {
		// The server's close is under way: that is why the session ends,
		// even if the client's answer to the close frame (or its hang-up)
		// is seen before the writer is done.
		reason = ReasonForcedClose
	}
	reason = c.srv.closeReason(reason)
	c.state = stateClosed
	ended := c.traffic
	c.traffic = traffic{} // the server's totals take it over
	// A client that closes a polling session while its GET is still on the
	// way gets the noop it would have got had the GET arrived first; not
	// during a shutdown, which waits for the table to empty.
	linger := reply != nil && c.ws == nil && c.poll == nil && !c.srv.draining.Load()
	c.lingerNoop = linger
	if c.poll != nil {
		if reply == nil {
			reply = []Frame{{Data: []byte("1")}}
		}
		c.releasePollLocked(reply, true)
	}
	c.queue = nil
	c.queued = 0
	if c.timer != nil {
		c.timer.Stop()
	}
	if c.closeTimer != nil {
		c.closeTimer.Stop()
	}
	if c.noopTimer != nil {
		c.noopTimer.Stop()
	}
	nc := c.netConn
	probe := c.upgradingConnLocked()
	c.mu.Unlock()

	if linger {
		d := lingerTime
		if c.srv.cfg.testLinger > 0 {
			d = c.srv.cfg.testLinger
		}
		time.AfterFunc(d, func() {
			defer c.recoverPanic()
			c.srv.remove(c)
		})
	} else {
		c.srv.remove(c)
	}
	c.srv.traffic.end(reason, ended)
	if nc != nil {
		_ = nc.Close()
	}
	if probe != nil {
		_ = probe.Close()
	}
	if c.handler != nil {
		c.handler.OnClose(reason)
	}
}

// upgradingConnLocked is the probe WebSocket of an upgrade in progress, kept
// so that closing the session also ends the probe.
func (c *Conn) upgradingConnLocked() net.Conn {
	if c.upgrading && c.probe != nil {
		return c.probe.nc
	}
	return nil
}

// onPacket handles one decoded packet from the client. It reports whether
// the session goes on. As in the reference, a session that is no longer
// open ignores what it receives, so no message read after Close or after
// the session ended reaches the handler.
func (c *Conn) onPacket(p eio.Packet) bool {
	c.mu.Lock()
	st := c.state
	if st == stateOpen && p.Type == eio.Message {
		c.traffic.received(len(p.Data))
	}
	c.mu.Unlock()
	if st != stateOpen {
		if st == stateClosing && p.Type == eio.Close {
			// The client closes too while the server's close waits for
			// a poll to carry it (a shutdown, Conn.Close): nothing is
			// left to say, and no poll will come. As the reference,
			// whose polling transport acts on a close packet whatever
			// the socket's state.
			c.closeNow(ReasonTransportClose, []Frame{noopFrame})
			return false
		}
		return st != stateClosed
	}
	switch p.Type {
	case eio.Message:
		if c.handler != nil {
			c.handler.OnMessage(p.Data, p.Binary)
		}
	case eio.Pong:
		if c.v3 != nil {
			// Revision 3 clients ping: invalid heartbeat direction.
			c.closeNow(ReasonTransportError, nil)
			return false
		}
		c.mu.Lock()
		if c.awaitingPong && c.state == stateOpen {
			c.awaitingPong = false
			c.pingAt = time.Now().Add(c.srv.cfg.PingInterval)
			c.timer.Reset(c.srv.cfg.PingInterval)
		}
		c.mu.Unlock()
	case eio.Close:
		c.closeNow(ReasonTransportClose, []Frame{noopFrame})
		return false
	case eio.Ping:
		if c.v3 != nil {
			c.onPingV3()
			break
		}
		// Version 4 clients do not ping: invalid heartbeat direction.
		c.closeNow(ReasonTransportError, nil)
		return false
	}
	return true
}

// heartbeatExpiredLocked reports whether the last ping went unanswered
// past its timeout, even if the timer has not fired yet.
func (c *Conn) heartbeatExpiredLocked() bool {
	return c.awaitingPong && time.Now().After(c.pingAt)
}

// startHeartbeat arms the ping timer of an open session.
func (c *Conn) startHeartbeat() {
	if c.v3 != nil {
		c.startHeartbeatV3()
		return
	}
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	c.pingAt = time.Now().Add(c.srv.cfg.PingInterval)
	c.timer = time.AfterFunc(c.srv.cfg.PingInterval, c.onHeartbeat)
	c.mu.Unlock()
}

// onHeartbeat is the heartbeat timer: it sends a ping when one is due and
// ends the session when the last one timed out.
func (c *Conn) onHeartbeat() {
	defer c.recoverPanic()
	c.mu.Lock()
	if c.state != stateOpen {
		c.mu.Unlock()
		return
	}
	// A timer never fires before pingAt: a call that finds pingAt ahead
	// comes from an arming that a pong (or a ping) replaced while this
	// call waited for the lock; the current arming is still to fire.
	if time.Now().Before(c.pingAt) {
		c.mu.Unlock()
		return
	}
	if c.awaitingPong {
		c.mu.Unlock()
		c.closeNow(ReasonPingTimeout, nil)
		return
	}
	c.awaitingPong = true
	// As engine.io 6.6 (lib/socket.ts, schedulePing then
	// resetPingTimeout), the client gets the full PingTimeout from the
	// moment the ping is queued, however late this timer fired: the
	// deadline does not run from when the ping was due.
	c.pingAt = time.Now().Add(c.srv.cfg.PingTimeout)
	c.timer.Reset(c.srv.cfg.PingTimeout)
	c.queue = append(c.queue, pingFrame)
	c.queued++
	if c.ws != nil && !c.writing && !c.dispatching {
		// This timer's goroutine is ours: write the ping on it rather
		// than start a writer, so a ping round over thousands of idle
		// connections does not start thousands of goroutines.
		c.writing = true
		nc := c.netConn
		c.mu.Unlock()
		c.writeLoop(nc, nil)
		return
	}
	c.kickLocked()
	c.mu.Unlock()
}
