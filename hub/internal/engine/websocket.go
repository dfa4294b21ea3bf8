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
func (s *Server) serveWebSocket(w http.ResponseWriter, r *http.Request) {
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered
	}
	c := s.newConn(false)
	c.watchControl(ws)
	c.ws = ws
	c.netConn = ws.NetConn()
	if s.cfg.OnConnection != nil {
		s.cfg.OnConnection(c, r)
	}
	s.publish(c)
	c.mu.Lock()
	c.kickLocked()
	c.mu.Unlock()
	c.startHeartbeat()
	// Read on a goroutine of our own so that the HTTP server's goroutine,
	// and the buffers it holds, go away.
	go c.readLoop(ws)
}

// watchControl installs control-frame handlers that never write on their
// own: every write goes through the session's writer.
func (c *Conn) watchControl(ws *websocket.Conn) {
	ws.SetCloseHandler(func(int, string) error { return nil })
	ws.SetPingHandler(func(data string) error {
		c.mu.Lock()
		if c.ws == ws && c.state == stateOpen {
			c.queue = append(c.queue, Frame{Data: []byte(data), op: opPong})
			c.kickLocked()
		}
		c.mu.Unlock()
		return nil
	})
}

// serveUpgrade runs the upgrade of a polling session to WebSocket: probe,
// then the switch on the client's upgrade packet.
func (s *Server) serveUpgrade(c *Conn, w http.ResponseWriter, r *http.Request) {
	if s.cfg.DisableUpgrades {
		writeError(w, codeBadRequest, "")
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	c.watchControl(ws)
	c.mu.Lock()
	if c.state != stateOpen || c.upgrading || c.ws != nil {
		// The reference accepts a second WebSocket and closes it at once.
		c.mu.Unlock()
		_ = ws.Close()
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
		_ = ws.Close()
		return
	}
	go c.readLoop(ws)
}

// probeUpgrade answers the probe and waits for the upgrade packet; it
// reports whether the session now runs over ws.
func (c *Conn) probeUpgrade(ws *websocket.Conn) bool {
	_ = ws.SetReadDeadline(time.Now().Add(c.srv.cfg.UpgradeTimeout))
	for {
		p, err := c.readPacket(ws)
		if err != nil {
			return false
		}
		switch {
		case p.Type == eio.Ping && string(p.Data) == "probe":
			if err := writeFrames(ws.NetConn(), []Frame{{Data: []byte("3probe")}}, c.srv.cfg.WriteTimeout); err != nil {
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
			_ = ws.SetReadDeadline(time.Time{})
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
			c.netConn = ws.NetConn()
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
func (c *Conn) readPacket(ws *websocket.Conn) (eio.Packet, error) {
	mt, r, err := ws.NextReader()
	if err != nil {
		return eio.Packet{}, err
	}
	limit := c.srv.cfg.MaxPayload
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return eio.Packet{}, err
	}
	if int64(len(data)) > limit {
		return eio.Packet{}, errTooBig
	}
	if mt == websocket.BinaryMessage {
		return eio.Packet{Type: eio.Message, Data: data, Binary: true}, nil
	}
	return eio.DecodeText(data)
}

var errTooBig = errors.New("engine: message too big")

// readLoop reads the session's WebSocket until it ends.
func (c *Conn) readLoop(ws *websocket.Conn) {
	for {
		p, err := c.readPacket(ws)
		switch {
		case err == nil:
			if !c.onPacket(p) {
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
			drain(ws, time.Second)
			c.closeNow(ReasonTransportClose, nil)
		default:
			var ce *websocket.CloseError
			if errors.As(err, &ce) || errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				c.closeNow(ReasonTransportClose, nil)
			} else {
				c.closeNow(ReasonTransportError, nil)
			}
		}
		return
	}
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
		_ = writeFrames(nc, []Frame{{Data: body, op: opClose}}, time.Second)
	}
}

// drain reads and drops messages until the peer's close frame, an error or
// the timeout.
func drain(ws *websocket.Conn, timeout time.Duration) {
	_ = ws.SetReadDeadline(time.Now().Add(timeout))
	for {
		_, r, err := ws.NextReader()
		if err != nil {
			return
		}
		if _, err := io.Copy(io.Discard, r); err != nil {
			return
		}
	}
}
