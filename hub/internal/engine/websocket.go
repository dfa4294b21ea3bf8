package engine

import (
	"errors"
	"io"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"github.com/hubd/hubd/hub/internal/eio"
)

var errStop = errors.New("engine: stop")

// serveWebSocket opens a session directly over WebSocket.
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request, v3 *eio3) {
	ws, response, err := s.acceptWebSocket(w, r, true)
	if err != nil {
		return // answered
	}
	c := s.newConn(false, v3)
	defer c.recoverPanic()
	c.watchControl(ws)
	c.ws = ws
	c.netConn = ws.nc
	// This goroutine writes the 101 response, and with it the open packet
	// and whatever OnConnection queued: no writer starts meanwhile.
	c.writing = true
	if s.cfg.OnConnection != nil {
		s.cfg.OnConnection(c, r)
	}
	s.publish(c)
	// Armed before the open packet goes out, so that a client that has it
	// finds the session complete.
	c.startHeartbeat()
	c.writeLoop(ws.nc, response)
	// Read on a goroutine of our own so that the HTTP server's goroutine,
	// and the buffers it holds, go away.
	go c.readLoop(ws, 0)
}

// watchControl answers a client's pings through the session's writer, the
// only one that writes.
func (c *Conn) watchControl(ws *wsConn) {
	ws.onPing = func(data []byte) {
		c.mu.Lock()
		if c.ws == ws && c.state == stateOpen {
			c.queue = append(c.queue, Frame{Data: data, op: opPong})
			c.kickLocked()
		}
		c.mu.Unlock()
	}
}

// serveUpgrade runs the upgrade of a polling session to WebSocket: probe,
// then the switch on the client's upgrade packet.
func (s *Server) serveUpgrade(c *Conn, w http.ResponseWriter, r *http.Request) {
	if s.cfg.DisableUpgrades {
		writeError(w, codeBadRequest, "")
		return
	}
	ws, response, err := s.acceptWebSocket(w, r, false)
	if err != nil {
		return
	}
	defer c.recoverPanic()
	if err := writeFrames(ws.nc, response, nil, c.srv.cfg.WriteTimeout); err != nil {
		_ = ws.nc.Close()
		return
	}
	c.watchControl(ws)
	c.mu.Lock()
	if c.state != stateOpen || c.upgrading || c.ws != nil {
		// The reference accepts a second WebSocket and closes it at once.
		c.mu.Unlock()
		_ = ws.nc.Close()
		return
	}
	c.upgrading = true
	c.probe = ws
	c.mu.Unlock()

	if !c.probeUpgrade(ws) {
		c.mu.Lock()
		if c.probe == ws {
			c.upgrading, c.probed, c.probe = false, false, nil
		}
		c.mu.Unlock()
		_ = ws.nc.Close()
		return
	}
	go c.readLoop(ws, 0)
}

// probeUpgrade answers the probe and waits for the upgrade packet; it
// reports whether the session now runs over ws.
func (c *Conn) probeUpgrade(ws *wsConn) bool {
	_ = ws.nc.SetReadDeadline(time.Now().Add(c.srv.cfg.UpgradeTimeout))
	for {
		p, err := c.readPacket(ws)
		if err != nil {
			return false
		}
		switch {
		case p.Type == eio.Ping && string(p.Data) == "probe":
			if err := writeFrames(ws.nc, nil, []Frame{{Data: []byte("3probe")}}, c.srv.cfg.WriteTimeout); err != nil {
				return false
			}
			c.mu.Lock()
			c.probed = true
			if c.poll != nil && len(c.queue) == 0 {
				// Release the paused poll so the client can send the upgrade.
				c.releasePollLocked([]Frame{noopFrame}, false)
			}
			c.mu.Unlock()
		case p.Type == eio.Upgrade:
			_ = ws.nc.SetReadDeadline(time.Time{})
			c.mu.Lock()
			if c.state == stateClosed {
				c.mu.Unlock()
				return false
			}
			if c.poll != nil {
				// The client polls no more once it upgrades; a poll still
				// parked here belongs to the old transport.
				c.poll.refused = true
				c.releasePollLocked(nil, false)
			}
			c.ws = ws
			c.netConn = ws.nc
			c.upgrading, c.probed, c.probe = false, false, nil
			if c.state == stateClosing {
				// Close was called during the upgrade, with no GET to
				// carry it: finish it over the new transport, as the
				// reference does, rather than wait for a GET that the
				// upgraded client will never send.
				if c.closeTimer != nil {
					c.closeTimer.Stop()
				}
				c.queue = append(c.queue, Frame{Data: closeNormal, op: opClose})
			}
			c.kickLocked()
			c.mu.Unlock()
			return true
		default:
			return false
		}
	}
}

// readPacket reads one WebSocket message as an Engine.IO packet.
func (c *Conn) readPacket(ws *wsConn) (eio.Packet, error) {
	binary, data, err := ws.next()
	if err != nil {
		return eio.Packet{}, err
	}
	if c.v3 != nil {
		return readPacketV3(binary, data)
	}
	if binary {
		return eio.Packet{Type: eio.Message, Data: data, Binary: true}, nil
	}
	return eio.DecodeText(data)
}

// maxHandoffs bounds how many times a session's reading moves to a fresh
// goroutine (see readLoop).
const maxHandoffs = 8

// readLoop reads the session's WebSocket until it ends; handoffs counts
// the goroutines that read it before this one.
func (c *Conn) readLoop(ws *wsConn, handoffs int) {
	c.mu.Lock()
	c.reading = ws
	c.mu.Unlock()
	c.readLoopEpoch(ws, handoffs, c.readEpoch.Load())
}

// readLoopEpoch is readLoop for the reader of generation epoch: it stops,
// leaving ws to the next one, once the reading moved (see RunInline).
func (c *Conn) readLoopEpoch(ws *wsConn, handoffs int, epoch uint64) {
	defer c.recoverPanic()
	for {
		// Wait for the next frame here, at the shallowest point, so that
		// an idle connection's goroutine fits its smallest stack (and
		// holds no read buffer, where the platform allows).
		ws.wait()
		p, err := c.readPacket(ws)
		switch {
		case err == nil:
			ok := c.dispatch(ws, p, epoch)
			if c.readEpoch.Load() != epoch {
				return // another goroutine reads ws now
			}
			if !ok {
				ws.discard()
				return
			}
			if handoffs < maxHandoffs && ws.buffered() == 0 {
				// About to wait for the client after one of its first
				// messages (namespace connects, joins): wait on a fresh
				// goroutine, whose small stack is then all an idle
				// connection costs; handling those messages grew this
				// one's, and a parked goroutine's stack rarely shrinks.
				// Busy connections stop handing over, since a fresh stack
				// grows again on their next message.
				go c.readLoopEpoch(ws, handoffs+1, epoch)
				return
			}
			continue
		case errors.Is(err, eio.ErrParse):
			c.closeNow(ReasonParseError, nil)
		case errors.Is(err, errTooBig):
			c.closeWith(websocket.CloseMessageTooBig)
			// As the reference (ws) does, read and drop what the client
			// still sends until it answers the close: closing a socket
			// with unread input resets the connection, and the client
			// would lose the 1009.
			var unread int64
			if tb, ok := errors.AsType[*tooBigError](err); ok {
				unread = tb.unread
			}
			ws.drain(unread, time.Second)
			c.closeNow(ReasonTransportClose, nil)
		case errors.Is(err, errBadDeflate):
			// As the reference (ws) does for data that does not inflate.
			c.closeWith(websocket.CloseInvalidFramePayloadData)
			ws.drain(0, time.Second)
			c.closeNow(ReasonTransportError, nil)
		default:
			if errors.Is(err, errPeerClosed) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				c.closeNow(ReasonTransportClose, nil)
			} else {
				c.closeNow(ReasonTransportError, nil)
			}
		}
		ws.discard()
		return
	}
}

// dispatch hands one packet from the WebSocket to the session and then
// writes, on this goroutine, what was queued meanwhile (typically the
// handler's replies), unless a writer already runs. A handler that blocks
// thus also holds up what others send to this client, as it holds up the
// client's own later messages.
func (c *Conn) dispatch(ws *wsConn, p eio.Packet, epoch uint64) bool {
	c.mu.Lock()
	c.dispatching = true
	c.mu.Unlock()
	ok := c.onPacket(p)
	c.mu.Lock()
	if c.readEpoch.Load() != epoch {
		// The reading moved while the handler ran (RunInline): the
		// dispatching flag is the new reader's now, and what was queued
		// has a writer.
		c.mu.Unlock()
		return ok
	}
	c.dispatching = false
	if c.ws == ws && !c.writing && len(c.queue) > 0 && c.state != stateClosed {
		c.writing = true
		nc := c.netConn
		c.mu.Unlock()
		c.writeLoop(nc, nil)
		return ok
	}
	c.mu.Unlock()
	return ok
}

// closeWith writes a close frame with code before the session ends. The
// session stops sending: queued frames are dropped and no more are taken.
func (c *Conn) closeWith(code int) {
	c.mu.Lock()
	nc := c.netConn
	if c.state == stateOpen {
		c.state = stateClosing
	}
	c.queue = nil
	c.queued = 0
	c.mu.Unlock()
	if nc != nil {
		body := websocket.FormatCloseMessage(code, "")
		_ = writeFrames(nc, nil, []Frame{{Data: body, op: opClose}}, time.Second)
	}
}
