package engine

import (
	"context"
	"net/http"
)

// messageShuttingDown is the error message of a handshake refused by a
// draining server.
const messageShuttingDown = "Server shutting down"

// Drain starts a graceful shutdown. From its call on, new sessions are
// refused (HTTP 503, see ServeHTTP) while requests of existing sessions
// are still served, and every session is closed as by Conn.Close: what it
// has queued is flushed first, then the transport is closed (a WebSocket
// with a close frame; a polling session's next GET takes the queue and
// the one after it the close packet). Every session that ends from then
// on reports reason to its handler, whatever ended it, so that a handler
// sees one reason for a shutdown. The clients see their transport close
// and reconnect. Drain does not wait: Wait does. Calling it again does
// nothing.
func (s *Server) Drain(reason string) {
	s.mu.Lock()
	if s.draining.Load() {
		s.mu.Unlock()
		return
	}
	s.drainReason = reason
	s.draining.Store(true)
	all := s.sessionsLocked()
	s.noteDrainedLocked()
	s.mu.Unlock()
	for _, c := range all {
		c.Close()
		c.mu.Lock()
		gone := c.state == stateClosed
		c.mu.Unlock()
		if gone {
			// Closed by its client and lingering for a racing GET
			// (lingerTime): a shutdown does not wait for that.
			s.remove(c)
		}
	}
}

// Wait waits, after Drain, until every session has flushed its queue to its
// client and closed, and returns nil. When ctx ends first, the sessions
// left are closed at once, dropping what they still had to send, and
// ctx.Err() is returned. Without Drain, it waits for the sessions to end
// by themselves.
func (s *Server) Wait(ctx context.Context) error {
	select {
	case <-s.drained:
		return nil
	default:
	}
	select {
	case <-s.drained:
		return nil
	case <-ctx.Done():
	}
	s.mu.RLock()
	left := s.sessionsLocked()
	s.mu.RUnlock()
	for _, c := range left {
		c.closeNow(ReasonForcedClose, nil)
		s.remove(c) // one lingering for a racing GET too
	}
	return ctx.Err()
}

// Draining reports whether Drain was called.
func (s *Server) Draining() bool { return s.draining.Load() }

func (s *Server) sessionsLocked() []*Conn {
	all := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		all = append(all, c)
	}
	return all
}

// noteDrainedLocked closes drained once the server drains and has no
// session left.
func (s *Server) noteDrainedLocked() {
	if s.draining.Load() && !s.drainedDone && len(s.sessions) == 0 {
		s.drainedDone = true
		close(s.drained)
	}
}

// closeReason is the reason a session ending now reports: reason, or the
// Drain's reason once the server drains.
func (s *Server) closeReason(reason string) string {
	if !s.draining.Load() {
		return reason
	}
	return s.drainReason // written before draining was set
}

// refuseDraining answers a handshake that came after Drain: 503, with the
// reference's error shape and code 4 (Forbidden, the code of a refused
// handshake), so that clients back off and retry, elsewhere or later.
func (s *Server) refuseDraining(w http.ResponseWriter, r *http.Request) {
	s.reportRefusal(r, codeForbidden, map[string]any{"name": "SERVER_SHUTTING_DOWN", "message": messageShuttingDown})
	writeErrorStatus(w, http.StatusServiceUnavailable, codeForbidden, messageShuttingDown)
}
