package hub

import (
	"github.com/hubd/hubd/hub/internal/engine"
)

// nspRecovery is a namespace's connection state recovery: its options and
// the store that keeps its sessions and packets.
type nspRecovery struct {
	opts    RecoveryOptions
	store   SessionStore
	tracker SessionTracker // the store, when it tracks connected sockets
}

// setupRecovery gives the namespace its store when recovery is on: its
// adapter if that is a SessionStore, else a memory store when the memory
// adapter serves it alone.
func (n *Namespace) setupRecovery() {
	opts := n.srv.opts.ConnectionStateRecovery
	if opts == nil {
		return
	}
	r := &nspRecovery{opts: *opts}
	switch st, ok := n.adapter.(SessionStore); {
	case ok:
		r.store = st
	case n.adapter == Adapter(n.local):
		m := newMemoryStore(*opts)
		m.parser = n.srv.opts.Parser
		n.local.store = m
		r.store = m
	default:
		n.srv.opts.Logger.Warn("hub: connection state recovery is off in this namespace: its adapter keeps no sessions",
			"namespace", n.name)
		return
	}
	r.tracker, _ = r.store.(SessionTracker)
	n.recovery = r
}

// prepareRecovery gives a connecting socket its session: the one its
// client asks back (pid and offset in its auth, which are taken out of
// Handshake.Auth), or a new one. It runs before the middlewares, which may
// look at Socket.Recovered.
func (n *Namespace) prepareRecovery(s *Socket) {
	r := n.recovery
	if r == nil {
		return
	}
	pid, offset, auth, asked := recoveryAuth(s.handshake.Auth)
	s.handshake.Auth = auth
	if asked {
		n.srv.recovery.attempted.Add(1)
		sess, err := r.store.TakeSession(s.Context(), pid, offset)
		if err == nil {
			s.id, s.pid, s.start, s.data = sess.ID, sess.PID, sess.Start, sess.Data
			s.session = sess
			s.recovered.Store(true)
			return
		}
		n.refuseRecovery(err)
	}
	s.pid = engine.NewID()
	s.start = r.store.Position()
}

// refuseRecovery counts and logs a recovery that gave a fresh session.
func (n *Namespace) refuseRecovery(err error) {
	reason := recoveryReason(err)
	n.srv.recovery.refuse(reason)
	// At debug level: a stale or forged session id is ordinary input.
	n.srv.opts.Logger.Debug("hub: connection state not recovered; the client gets a fresh session",
		"namespace", n.name, "reason", reason, "error", err)
}

// resume gives a recovered socket back its rooms and the packets it
// missed, before any later packet. When the store fails now, the socket
// goes on with its id, rooms and data but as a fresh session (a new
// private id, Recovered false): its client must not think it missed
// nothing.
func (n *Namespace) resume(s *Socket) {
	sess := s.session
	s.session = nil
	rooms := append([]string{s.id}, sess.Rooms...)
	err := n.recovery.store.ResumeSession(s.Context(), sess, func(missed []*Packet) {
		n.adapter.AddAll(s, rooms)
		sent, failed := 0, 0
		for _, p := range missed {
			if s.client.conn.Send(p.wire(n.srv.opts.Parser), false) {
				sent++
			} else {
				failed++
			}
		}
		n.srv.stats.add(sent, failed, false)
	})
	if err != nil {
		s.recovered.Store(false)
		s.pid = engine.NewID()
		n.adapter.AddAll(s, rooms)
		n.refuseRecovery(errReplay(err))
		return
	}
	n.srv.recovery.recovered.Add(1)
}

// recoverableReasons are the disconnects a client comes back from by
// itself, as the reference's RECOVERABLE_DISCONNECT_REASONS.
var recoverableReasons = map[DisconnectReason]bool{
	ReasonTransportError:     true,
	ReasonTransportClose:     true,
	ReasonForcedClose:        true,
	ReasonPingTimeout:        true,
	ReasonServerShuttingDown: true,
	ReasonForcedServerClose:  true,
}

// endSession keeps the session of a socket that disconnected for a reason
// its client recovers from, and forgets it otherwise. It runs while the
// socket is still in its rooms.
func (n *Namespace) endSession(s *Socket, reason DisconnectReason) {
	r := n.recovery
	if r == nil || s.pid == "" {
		return
	}
	s.tracked.Store(false)
	if !recoverableReasons[reason] {
		r.store.DropSession(s.pid)
		return
	}
	r.store.PersistSession(s.sessionState())
}

// track tells a tracking store of a connected socket's new state.
func (n *Namespace) track(s *Socket) {
	if r := n.recovery; r != nil && r.tracker != nil && s.tracked.Load() {
		r.tracker.TrackSession(s.sessionState())
	}
}

// sessionState is the socket's session as it is now.
func (s *Socket) sessionState() *Session {
	return &Session{ID: s.id, PID: s.pid, Rooms: s.Rooms(), Data: s.Data(), Start: s.start}
}

// Recovered reports whether the socket is one its client got back after a
// disconnection (see RecoveryOptions): same id, rooms and data, and the
// packets it missed.
func (s *Socket) Recovered() bool { return s.recovered.Load() }
