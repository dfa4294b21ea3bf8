package hub

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/hub/internal/sio"
)

// Socket is one client's connection to one namespace. Its listeners run on
// the goroutine that reads the client's connection, one event at a time in
// the order the client sent them; a listener that blocks holds up that
// client's later events (and nobody else's).
type Socket struct {
	id        string
	nsp       *Namespace
	client    *client
	handshake Handshake

	connected atomic.Bool
	ownRoom   atomic.Bool // in the room named by its id (see MemoryAdapter)

	mu          sync.Mutex
	rooms       map[string]struct{} // kept by the MemoryAdapter
	gone        bool                // left every room for good
	data        any
	handlers    map[string]func(*Event)
	anyHandlers []func(*Event)
	middlewares []func(*Event) error
	onLeaving   []func(DisconnectReason)
	onLeft      []func(DisconnectReason)
	onError     []func(error)

	ackMu sync.Mutex
	acks  map[int64]AckFunc
}

// AckFunc receives the answer to an emit that asked for an ack, or the
// error that ended the wait (ErrTimeout, ErrDisconnected).
type AckFunc func(args Args, err error)

// ID returns the socket's id: 20 random URL-safe characters, unguessable,
// and the name of the room only this socket is in.
func (s *Socket) ID() string { return s.id }

// Namespace returns the socket's namespace.
func (s *Socket) Namespace() *Namespace { return s.nsp }

// Handshake returns what the client sent when it connected.
func (s *Socket) Handshake() Handshake { return s.handshake }

// Connected reports whether the socket is still connected.
func (s *Socket) Connected() bool { return s.connected.Load() }

// Transport returns the connection's current transport, "websocket" or
// "polling".
func (s *Socket) Transport() string { return s.client.conn.Transport() }

// Data returns the value attached with SetData.
func (s *Socket) Data() any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.data
}

// SetData attaches a value to the socket (socket.data in Node). FetchSockets
// reports it as JSON.
func (s *Socket) SetData(v any) {
	s.mu.Lock()
	s.data = v
	s.mu.Unlock()
}

// Rooms returns the rooms the socket is in, its own room included.
func (s *Socket) Rooms() []string { return socketRooms(s) }

// In reports whether the socket is in room.
func (s *Socket) In(room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, in := s.rooms[room]
	return in
}

// On sets the listener of event, replacing any earlier one.
func (s *Socket) On(event string, fn func(*Event)) {
	s.mu.Lock()
	if s.handlers == nil {
		s.handlers = make(map[string]func(*Event))
	}
	s.handlers[event] = fn
	s.mu.Unlock()
}

// OnAny adds a listener for every event, run before the socket's
// middlewares and the event's own listener.
func (s *Socket) OnAny(fn func(*Event)) {
	s.mu.Lock()
	s.anyHandlers = append(slices.Clip(s.anyHandlers), fn)
	s.mu.Unlock()
}

// Use adds a middleware run for every incoming event, after the catch-all
// listeners. An error stops the event and goes to the OnError listeners
// (ErrDrop stops it silently).
func (s *Socket) Use(fn func(*Event) error) {
	s.mu.Lock()
	s.middlewares = append(slices.Clip(s.middlewares), fn)
	s.mu.Unlock()
}

// OnDisconnecting adds a listener called when the socket is about to
// disconnect, while it is still in its rooms.
func (s *Socket) OnDisconnecting(fn func(DisconnectReason)) {
	s.mu.Lock()
	s.onLeaving = append(slices.Clip(s.onLeaving), fn)
	s.mu.Unlock()
}

// OnDisconnect adds a listener called once the socket has disconnected.
func (s *Socket) OnDisconnect(fn func(DisconnectReason)) {
	s.mu.Lock()
	s.onLeft = append(slices.Clip(s.onLeft), fn)
	s.mu.Unlock()
}

// OnError adds a listener for the errors of the socket's middlewares and
// hooks, and for a malformed packet that ends the connection.
func (s *Socket) OnError(fn func(error)) {
	s.mu.Lock()
	s.onError = append(slices.Clip(s.onError), fn)
	s.mu.Unlock()
}

func (s *Socket) emitError(err error) {
	if errors.Is(err, ErrDrop) {
		return
	}
	s.mu.Lock()
	fns := s.onError
	s.mu.Unlock()
	for _, fn := range fns {
		fn(err)
	}
}

// Emit sends an event to this socket. When the last argument is an AckFunc
// (or a func(Args, error)), the client is asked for an ack and the function
// receives it.
func (s *Socket) Emit(event string, args ...any) error {
	return s.Emitter().Emit(event, args...)
}

// EmitWithAck sends an event and waits for the client's ack, until ctx ends.
func (s *Socket) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	return s.Emitter().EmitWithAck(ctx, event, args...)
}

// Emitter returns an emitter for this socket with no flags set.
func (s *Socket) Emitter() SocketEmitter { return SocketEmitter{s: s} }

// Timeout returns an emitter whose acks fail with ErrTimeout after d.
func (s *Socket) Timeout(d time.Duration) SocketEmitter { return SocketEmitter{s: s, timeout: d} }

// Volatile returns an emitter that drops the event if the transport cannot
// take it at once.
func (s *Socket) Volatile() SocketEmitter { return SocketEmitter{s: s, volatile: true} }

// Compress returns an emitter with the compress flag set; it matters only
// where the transport compresses.
func (s *Socket) Compress(on bool) SocketEmitter { return SocketEmitter{s: s, compress: on} }

// Join adds the socket to rooms. The server's join hook may refuse or
// replace them.
func (s *Socket) Join(rooms ...string) error {
	if h := s.nsp.srv.hooks.Load(); h != nil && h.Join != nil {
		var err error
		if rooms, err = h.Join(s, rooms); err != nil {
			return err
		}
	}
	s.nsp.adapter.AddAll(s, rooms)
	return nil
}

// Leave removes the socket from rooms; leaving a room it is not in does
// nothing.
func (s *Socket) Leave(rooms ...string) error {
	if h := s.nsp.srv.hooks.Load(); h != nil && h.Leave != nil {
		h.Leave(s, rooms)
	}
	for _, r := range rooms {
		s.nsp.adapter.Del(s, r)
	}
	return nil
}

// To targets rooms for a broadcast that leaves this socket out.
func (s *Socket) To(rooms ...string) BroadcastOperator { return s.Broadcast().To(rooms...) }

// Except targets every socket of the namespace but those in rooms and this
// one.
func (s *Socket) Except(rooms ...string) BroadcastOperator { return s.Broadcast().Except(rooms...) }

// Broadcast targets every other socket of the namespace.
func (s *Socket) Broadcast() BroadcastOperator {
	return BroadcastOperator{nsp: s.nsp, except: []string{s.id}}
}

// Disconnect disconnects the socket from its namespace, telling the client
// (which will not reconnect by itself). With close, the client's whole
// connection is closed, all its namespaces with it.
func (s *Socket) Disconnect(close bool) {
	if close {
		s.client.disconnectAll()
		return
	}
	if !s.connected.Load() {
		return
	}
	s.client.conn.Send(encodeControl(sio.Disconnect, s.nsp.name, nil), false)
	s.onClose(ReasonServerNamespaceDisconnect)
}

// onClose ends the socket: listeners, hook, rooms, pending acks.
func (s *Socket) onClose(reason DisconnectReason) {
	if !s.connected.CompareAndSwap(true, false) {
		return
	}
	s.mu.Lock()
	leaving := s.onLeaving
	s.mu.Unlock()
	for _, fn := range leaving {
		fn(reason)
	}
	if h := s.nsp.srv.hooks.Load(); h != nil && h.Disconnect != nil {
		h.Disconnect(s, reason)
	}
	s.nsp.remove(s)
	s.client.remove(s)
	s.ackMu.Lock()
	pending := s.acks
	s.acks = nil
	s.ackMu.Unlock()
	for _, fn := range pending {
		fn(Args{}, ErrDisconnected)
	}
	s.mu.Lock()
	left := s.onLeft
	s.mu.Unlock()
	for _, fn := range left {
		fn(reason)
	}
}

func (s *Socket) addAck(id int64, fn AckFunc) {
	s.ackMu.Lock()
	if s.acks == nil {
		s.acks = make(map[int64]AckFunc)
	}
	s.acks[id] = fn
	s.ackMu.Unlock()
}

func (s *Socket) takeAck(id int64) AckFunc {
	s.ackMu.Lock()
	fn := s.acks[id]
	delete(s.acks, id)
	s.ackMu.Unlock()
	return fn
}

// onPacket handles a packet for this socket from its client.
func (s *Socket) onPacket(p *sio.Packet, atts [][]byte) {
	switch p.Type {
	case sio.Event, sio.BinaryEvent:
		s.onEvent(&Event{Name: p.Event, Args: Args{list: p.Args, attachments: atts}, socket: s, id: p.ID})
	case sio.Ack, sio.BinaryAck:
		if fn := s.takeAck(p.ID); fn != nil {
			fn(Args{list: p.Args, attachments: atts}, nil)
		}
	case sio.Disconnect:
		s.onClose(ReasonClientNamespaceDisconnect)
	}
}

func (s *Socket) onEvent(ev *Event) {
	if h := s.nsp.srv.hooks.Load(); h != nil && h.Event != nil {
		if err := h.Event(ev); err != nil {
			s.emitError(err)
			return
		}
	}
	s.mu.Lock()
	anys, mws := s.anyHandlers, s.middlewares
	s.mu.Unlock()
	for _, any := range anys {
		any(ev)
	}
	for _, mw := range mws {
		if err := mw(ev); err != nil {
			s.emitError(err)
			return
		}
	}
	// The listener is picked after the middlewares, which may rename.
	s.mu.Lock()
	fn := s.handlers[ev.Name]
	s.mu.Unlock()
	if fn != nil && s.connected.Load() {
		fn(ev)
	}
}

// describe returns the socket as FetchSockets reports it.
func (s *Socket) describe() *RemoteSocket {
	return &RemoteSocket{
		ID:        s.id,
		Handshake: s.handshake,
		Rooms:     s.Rooms(),
		Data:      marshalData(s.Data()),
		nsp:       s.nsp,
	}
}

// Event is an event a client sent.
type Event struct {
	// Name and Args may be changed by hooks and middlewares; later
	// listeners see the change.
	Name string
	Args Args
	// Route, when a hook sets it, says where a relaying listener should
	// send the event instead of its default targets.
	Route *Route

	socket *Socket
	id     int64
	acked  atomic.Bool
}

// Route is where an event should be relayed: the sockets in any of Rooms
// and in none of Except. Nil Rooms keeps the relay's default targets (an
// empty, non-nil list reaches nobody); nil ToSender keeps its default on
// sending the event back to its sender.
type Route struct {
	Rooms    []string
	Except   []string
	ToSender *bool
}

// Socket returns the socket the event came from.
func (e *Event) Socket() *Socket { return e.socket }

// WantsAck reports whether the client asked for an ack.
func (e *Event) WantsAck() bool { return e.id != sio.NoID }

// Acked reports whether the event has been acknowledged.
func (e *Event) Acked() bool { return e.acked.Load() }

// Ack answers the client's ack with args, once.
func (e *Event) Ack(args ...any) error {
	if e.id == sio.NoID {
		return ErrNoAck
	}
	a, err := NewArgs(args...)
	if err != nil {
		return err
	}
	if !e.acked.CompareAndSwap(false, true) {
		return ErrAcked
	}
	e.socket.client.conn.Send(encodeAck(e.socket.nsp.name, e.id, a), false)
	return nil
}

// SocketEmitter emits to one socket with flags; Socket.Timeout, Volatile
// and Compress return one. The zero value is not usable.
type SocketEmitter struct {
	s        *Socket
	timeout  time.Duration
	volatile bool
	compress bool
}

// Timeout sets how long an ack may take.
func (e SocketEmitter) Timeout(d time.Duration) SocketEmitter { e.timeout = d; return e }

// Volatile drops the event if the transport cannot take it at once.
func (e SocketEmitter) Volatile() SocketEmitter { e.volatile = true; return e }

// Compress sets the compress flag.
func (e SocketEmitter) Compress(on bool) SocketEmitter { e.compress = on; return e }

// Emit sends an event; a trailing AckFunc (or func(Args, error)) asks for
// an ack.
func (e SocketEmitter) Emit(event string, args ...any) error {
	var ack AckFunc
	if n := len(args); n > 0 {
		switch fn := args[n-1].(type) {
		case AckFunc:
			ack, args = fn, args[:n-1]
		case func(Args, error):
			ack, args = fn, args[:n-1]
		}
	}
	if sio.Reserved(event) {
		return ErrReserved
	}
	a, err := NewArgs(args...)
	if err != nil {
		return err
	}
	s := e.s
	if ack == nil {
		if s.client.conn.Send(encodeEvent(s.nsp.name, sio.NoID, event, a), e.volatile) {
			s.nsp.srv.stats.add(1, 0, e.volatile)
		} else {
			s.nsp.srv.stats.add(0, 1, e.volatile)
		}
		return nil
	}
	id := s.nsp.nextAckID()
	if !s.connected.Load() {
		ack(Args{}, ErrDisconnected)
		return nil
	}
	s.addAck(id, ack)
	if e.timeout > 0 {
		// Whichever comes first takes the ack out of the table: the
		// answer, the disconnect or this timer.
		time.AfterFunc(e.timeout, func() {
			defer s.nsp.srv.recoverPanic("an ack callback", s.client)
			if fn := s.takeAck(id); fn != nil {
				fn(Args{}, ErrTimeout)
			}
		})
	}
	if !s.client.conn.Send(encodeEvent(s.nsp.name, id, event, a), e.volatile) {
		s.nsp.srv.stats.add(0, 1, e.volatile)
		if fn := s.takeAck(id); fn != nil {
			fn(Args{}, ErrDisconnected)
		}
		return nil
	}
	s.nsp.srv.stats.add(1, 0, e.volatile)
	return nil
}

// EmitWithAck sends an event and waits for the ack, the timeout or the end
// of ctx.
func (e SocketEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	type result struct {
		args Args
		err  error
	}
	ch := make(chan result, 1)
	args = append(slices.Clip(args), AckFunc(func(a Args, err error) { ch <- result{a, err} }))
	if err := e.Emit(event, args...); err != nil {
		return Args{}, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		return Args{}, ctx.Err()
	}
}
