package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// RecoveryOptions turn on connection state recovery (Node's
// connectionStateRecovery): a client that loses its connection and comes
// back within MaxDisconnectionDuration gets its socket back — the same id,
// rooms and data — and every packet it missed, once and in order; its
// Socket.Recovered reports true, and so does the client's
// socket.recovered.
//
// What is covered: the broadcasts and Socket emits that ask for no ack and
// are not volatile (an ack cannot be carried over to a new connection; a
// volatile packet may be dropped anyway). Each such packet carries an
// offset as its last argument, which the client sends back when it
// reconnects, with its session's private id.
//
// Where the sessions and the packets are kept is the namespace's
// SessionStore: its adapter when the adapter is one (a cluster adapter
// that keeps them across nodes), else the in-memory adapter, when it is
// the namespace's adapter. A namespace whose cluster adapter keeps no
// sessions has no recovery; its clients get no session id.
//
// Every bound below is a promise about what recovery never does: a client
// past one gets a fresh session (Socket.Recovered false), never part of
// what it missed presented as all of it.
type RecoveryOptions struct {
	// MaxDisconnectionDuration is how long a disconnected socket's session
	// and the packets it may miss are kept (2 minutes).
	MaxDisconnectionDuration time.Duration
	// RunMiddlewares runs the middlewares and the connect hook for a
	// recovered socket too (Socket.Recovered tells them, and they may
	// refuse it). By default they are skipped, as Node's skipMiddlewares:
	// the socket passed them when it first connected. Either way the
	// connection listeners run, so set a socket up (its listeners, its
	// Use) there rather than in a middleware. The socket's rooms come
	// back after the middlewares, before the listeners.
	RunMiddlewares bool
	// MaxPackets and MaxBytes bound the packets a namespace's in-memory
	// store keeps (100,000 and 64 MiB); past them the oldest go first.
	MaxPackets int
	MaxBytes   int64
	// MaxSessions bounds the disconnected sessions a namespace's
	// in-memory store keeps (100,000); past it the oldest go first.
	MaxSessions int
	// MaxSessionPackets and MaxSessionBytes bound what one recovery
	// replays (10,000 packets, 4 MiB; the bytes never more than half of
	// Options.MaxBufferedBytes, which would close the connection).
	MaxSessionPackets int
	MaxSessionBytes   int
}

// Defaults of RecoveryOptions.
const (
	DefaultMaxDisconnectionDuration = 2 * time.Minute
	DefaultRecoveryMaxPackets       = 100_000
	DefaultRecoveryMaxBytes         = 64 << 20
	DefaultRecoveryMaxSessions      = 100_000
	DefaultRecoveryMaxSessionPkts   = 10_000
	DefaultRecoveryMaxSessionBytes  = 4 << 20
)

func (o RecoveryOptions) withDefaults(maxBuffered int) RecoveryOptions {
	if o.MaxDisconnectionDuration <= 0 {
		o.MaxDisconnectionDuration = DefaultMaxDisconnectionDuration
	}
	if o.MaxPackets <= 0 {
		o.MaxPackets = DefaultRecoveryMaxPackets
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultRecoveryMaxBytes
	}
	if o.MaxSessions <= 0 {
		o.MaxSessions = DefaultRecoveryMaxSessions
	}
	if o.MaxSessionPackets <= 0 {
		o.MaxSessionPackets = DefaultRecoveryMaxSessionPkts
	}
	if o.MaxSessionBytes <= 0 {
		o.MaxSessionBytes = DefaultRecoveryMaxSessionBytes
	}
	if maxBuffered > 0 && o.MaxSessionBytes > maxBuffered/2 {
		o.MaxSessionBytes = maxBuffered / 2
	}
	return o
}

// Session is a socket's recoverable state: what a store keeps of it and
// gives back to the client that presents its private id.
type Session struct {
	// ID is the socket's id, which a recovered socket keeps.
	ID string
	// PID is the session's private id: only its client knows it, and it
	// is never shown in a handshake (hub removes it from Handshake.Auth).
	PID string
	// Rooms are the socket's rooms, its own room included.
	Rooms []string
	// Data is the socket's data (Socket.SetData). A store that keeps
	// sessions outside the process gives it back as a json.RawMessage.
	Data any
	// Start is the store's position when the socket first connected
	// (SessionStore.Position): the replay starts there when the client
	// comes back without an offset, having received no packet that had
	// one.
	Start string
	// Offset is the last packet the client received, as it said when it
	// came back (TakeSession fills it; Start when the client sent none).
	Offset string
}

// SessionStore keeps, for connection state recovery, the sessions of
// disconnected sockets and the packets their rooms were sent. A cluster
// adapter that implements it keeps them for every node (a client may come
// back to another node); otherwise the in-memory adapter keeps them for
// its node.
//
// A store gives each packet it keeps an offset, set in Packet.Offset
// before the packet is delivered to any socket, and delivers the packets
// of a namespace to its sockets in offset order: a client that saw offset
// x saw every packet before x that was meant for it.
type SessionStore interface {
	// Position returns the offset of the last packet kept so far (it
	// may name no packet: the store is empty).
	Position() string
	// PersistSession keeps the session of a socket that disconnected for
	// a reason its client recovers from (a transport's end, a ping
	// timeout, the server shutting down), for MaxDisconnectionDuration.
	PersistSession(s *Session)
	// DropSession forgets the session pid: its socket left for good.
	DropSession(pid string)
	// TakeSession removes the session pid and checks that what the
	// client missed after offset (s.Start when offset is "") is still
	// kept and within the bounds of one recovery. A session can be taken
	// once. The error wraps one of ErrSessionUnknown, ErrOffsetUnknown,
	// ErrOffsetExpired, ErrTooManyMissed when the client must start a
	// fresh session, any other error when the store failed.
	TakeSession(ctx context.Context, pid, offset string) (*Session, error)
	// ResumeSession calls attach with the packets s's rooms were sent
	// after s.Offset, in order, at a point where no packet is being
	// delivered to the namespace: attach joins the rooms and queues the
	// packets, and every later packet reaches the socket after them.
	ResumeSession(ctx context.Context, s *Session, attach func(missed []*Packet)) error
}

// SessionTracker is implemented by a SessionStore that keeps the sessions
// of connected sockets too, so that a client can recover when the node
// that served it dies without a word. It is told when a socket with a
// session has connected (recovered or not) and each time its rooms or
// data change; the store keeps the latest state.
type SessionTracker interface {
	TrackSession(s *Session)
}

// Why a client that asked to recover got a fresh session. TakeSession's
// errors wrap them; Server.RecoveryStats counts them by Reason.
var (
	// ErrSessionUnknown: no such session — never issued, expired,
	// already recovered, from another namespace, or still connected.
	ErrSessionUnknown = &RecoveryError{Reason: "unknown_session"}
	// ErrOffsetUnknown: the offset was never issued by this store.
	ErrOffsetUnknown = &RecoveryError{Reason: "unknown_offset"}
	// ErrOffsetExpired: packets the client missed are no longer kept.
	ErrOffsetExpired = &RecoveryError{Reason: "offset_expired"}
	// ErrTooManyMissed: the client missed more than one recovery replays.
	ErrTooManyMissed = &RecoveryError{Reason: "too_many_missed"}
)

// RecoveryError is why a recovery was refused; Reason names it in
// metrics.
type RecoveryError struct {
	Reason string
}

func (e *RecoveryError) Error() string { return "hub: connection state not recovered: " + e.Reason }

// Reasons Server.RecoveryStats counts besides the RecoveryErrors.
const (
	// RecoveryRefusedByMiddleware: a middleware or the connect hook
	// refused the recovered socket (RecoveryOptions.RunMiddlewares).
	RecoveryRefusedByMiddleware = "refused"
	// RecoveryUnavailable: the store failed (its Redis is down).
	RecoveryUnavailable = "unavailable"
)

// recoveryReason names err for the metrics.
func recoveryReason(err error) string {
	var re *RecoveryError
	if errors.As(err, &re) {
		return re.Reason
	}
	return RecoveryUnavailable
}

// recoveryAuth reads the session id and offset a client sends back in its
// CONNECT's auth ({"pid": "...", "offset": "..."}) and returns the auth
// without them: the private id must not reach middlewares, FetchSockets
// or the HTTP API. ok is false when the auth holds no string pid.
func recoveryAuth(auth json.RawMessage) (pid, offset string, rest json.RawMessage, ok bool) {
	var m map[string]json.RawMessage
	if json.Unmarshal(auth, &m) != nil {
		return "", "", auth, false
	}
	rawPID, hasPID := m["pid"]
	rawOffset, hasOffset := m["offset"]
	if !hasPID && !hasOffset {
		return "", "", auth, false
	}
	delete(m, "pid")
	delete(m, "offset")
	if b, err := json.Marshal(m); err == nil {
		rest = b
	} else {
		rest = auth
	}
	if json.Unmarshal(rawPID, &pid) != nil || pid == "" {
		return "", "", rest, false
	}
	if hasOffset && json.Unmarshal(rawOffset, &offset) != nil {
		// Not a string, so no offset a store issued: one no store
		// knows ("" would mean the replay starts at the session's start).
		return pid, "\x00", rest, true
	}
	return pid, offset, rest, true
}

// errReplay wraps a failed ResumeSession.
func errReplay(err error) error { return fmt.Errorf("hub: replaying missed packets: %w", err) }
