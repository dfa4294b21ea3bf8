package hub

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/hub/internal/engine"
	"github.com/hubd/hubd/hub/internal/sio"
)

// Socket is one client's connection to one namespace.
//
// The socket's event hook, catch-all listeners, middlewares and listeners
// run on a goroutine of the socket's own, one event at a time, in the order
// the client sent them; so do its connect (middlewares, connect hook,
// connection listeners) before its first event, and the client's
// disconnect after its last. A listener that waits holds up its socket's
// later events and nothing else: the connection keeps being read, so a
// listener may wait for an ack of its own client (EmitWithAck), and the
// client's other sockets and heartbeat go on. Up to 1024 events (1 MiB)
// may wait behind a listener; past that the connection is not read until
// there is room. The goroutine exists only while there is something to
// run.
//
// Ack callbacks (an AckFunc given to Emit) run on the goroutine that reads
// the connection and must not block: to wait for an ack, use EmitWithAck.
type Socket struct {
	id        string
	nsp       *Namespace
	client    *client
	handshake Handshake

	connected atomic.Bool
	ownRoom   atomic.Bool // in the room named by its id (see MemoryAdapter)

	// Connection state recovery (recovery_nsp.go): the session's private
	// id and start, set before the socket connects; the session taken
	// back, until resumed; whether the store hears of its changes.
	pid       string
	start     string
	session   *Session
	recovered atomic.Bool
	tracked   atomic.Bool

	tasks taskQueue // what the socket's runner has to do (dispatch.go)

	mu          sync.Mutex
	rooms       map[string]struct{} // kept by the MemoryAdapter
	joinedList  []string            // JoinedRooms, made when asked; nil after a change to rooms
	gone        bool                // left every room for good
	outCounted  bool                // counted in nsp.outgoingSockets
	data        any
	handlers    map[string][]*listener              // lists are copied, never changed
	anyHandlers []*listener                         // copied, never changed
	outgoing    atomic.Pointer[[]*outgoingListener] // stored under mu
	middlewares []func(*Event) error
	onLeaving   []func(DisconnectReason)
	onLeft      []func(DisconnectReason)
	onError     []func(error)
	ctx         context.Context                 // made on first use (Context)
	ctxReady    atomic.Pointer[context.Context] // &ctx once made: Context's lock-free path
	cancel      context.CancelCauseFunc
	ended       error // why the context ends, once the socket is going

	ackMu      sync.Mutex
	acks       map[int64]pendingAck
	acksClosed bool // the client is gone: no ack can come
}

// AckFunc receives the answer to an emit that asked for an ack, or the
// error that ended the wait (ErrTimeout, ErrDisconnected).
type AckFunc func(args Args, err error)

// pendingAck is an ack the socket's client owes: the callback, and the
// timer of the emitter's Timeout if it set one.
type pendingAck struct {
	fn    AckFunc
	timer *time.Timer
}

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
	if s.nsp != nil {
		s.nsp.track(s)
	}
}

// Rooms returns the rooms the socket is in, its own room included.
func (s *Socket) Rooms() []string { return socketRooms(s) }

// JoinedRooms returns the rooms the socket is in but its own, sorted. The
// list is made once per change of the socket's rooms and shared: it must
// not be modified (Rooms returns a list of one's own).
func (s *Socket) JoinedRooms() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.joinedList == nil {
		list := make([]string, 0, len(s.rooms))
		for r := range s.rooms {
			if r != s.id {
				list = append(list, r)
			}
		}
		slices.Sort(list)
		s.joinedList = list[:len(list):len(list)]
	}
	return s.joinedList
}

// In reports whether the socket is in room.
func (s *Socket) In(room string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, in := s.rooms[room]
	return in
}

// Context returns a context that ends when the socket disconnects, for
// whatever reason (Server.Close included), and as soon as its client
// disconnects the namespace, before the listeners of the events it sent
// earlier have run: nothing the socket's client could answer will come.
// Give it to what a listener or hook waits for on the socket's behalf.
// context.Cause reports an error wrapping ErrDisconnected.
func (s *Socket) Context() context.Context {
	if p := s.ctxReady.Load(); p != nil {
		return *p // every event of a hooked socket asks: no lock
	}
	s.mu.Lock()
	if s.ctx == nil {
		s.ctx, s.cancel = context.WithCancelCause(context.Background())
		if s.ended != nil {
			s.cancel(s.ended)
		}
		ctx := s.ctx
		s.ctxReady.Store(&ctx)
	}
	ctx := s.ctx
	s.mu.Unlock()
	return ctx
}

// endContext ends the socket's context with cause, once.
func (s *Socket) endContext(cause error) {
	s.mu.Lock()
	if s.ended != nil {
		s.mu.Unlock()
		return
	}
	s.ended = cause
	cancel := s.cancel
	s.mu.Unlock()
	if cancel != nil {
		cancel(cause)
	}
}

func disconnected(reason DisconnectReason) error {
	return fmt.Errorf("%w: %s", ErrDisconnected, reason)
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
	s.client.conn.Send(encodeControl(s.nsp.srv.opts.Parser, sio.Disconnect, s.nsp.name, nil), false)
	// At once, as the reference's disconnect, even from a listener: the
	// events still queued are dropped.
	s.closeNow(ReasonServerNamespaceDisconnect)
}

// onClose ends the socket for the connection's end or the server's: at
// once when its runner is idle, else after the tasks queued before (the
// events the client sent before it went, which the reference dispatches
// first; the connection listeners of a socket still connecting, which the
// reference runs before anything else). Its context ends and its pending
// acks fail at once all the same, so that a listener waiting on the
// client's behalf returns.
func (s *Socket) onClose(reason DisconnectReason) {
	if !s.connected.Load() {
		return
	}
	if s.later(func() { s.closeNow(reason) }) {
		s.abandon(reason)
		return
	}
	s.closeNow(reason)
}

// abandon ends what waits on the client's behalf: the socket's context
// and its pending acks. The client is gone, or has left the namespace.
func (s *Socket) abandon(reason DisconnectReason) {
	s.endContext(disconnected(reason))
	s.closeAcks()
}

// closeNow ends the socket: queued events, context, listeners, hook,
// rooms, pending acks.
func (s *Socket) closeNow(reason DisconnectReason) {
	if !s.connected.CompareAndSwap(true, false) {
		return
	}
	// As in the reference, events not yet dispatched when the socket
	// disconnects reach no listener.
	s.tasks.close()
	s.endContext(disconnected(reason))
	s.mu.Lock()
	leaving := s.onLeaving
	s.mu.Unlock()
	for _, fn := range leaving {
		fn(reason)
	}
	if h := s.nsp.srv.hooks.Load(); h != nil && h.Disconnect != nil {
		h.Disconnect(s, reason)
	}
	s.nsp.endSession(s, reason)
	s.nsp.remove(s)
	s.client.remove(s)
	s.closeAcks()
	s.mu.Lock()
	left := s.onLeft
	s.mu.Unlock()
	for _, fn := range left {
		fn(reason)
	}
}

// addAck records fn as the callback of the client's ack id and reports
// whether it did. Once the client is gone, fn gets ErrDisconnected at once
// (and addAck reports false).
func (s *Socket) addAck(id int64, fn AckFunc) bool { return s.addAckTimeout(id, fn, 0) }

// addAckTimeout is addAck with a timeout (none when 0): whichever comes
// first takes the ack out of the table, the answer, the disconnect, the
// timer, or the caller (takeAck). It reports whether fn was recorded.
func (s *Socket) addAckTimeout(id int64, fn AckFunc, timeout time.Duration) bool {
	s.ackMu.Lock()
	if s.acksClosed {
		s.ackMu.Unlock()
		fn(Args{}, ErrDisconnected)
		return false
	}
	if s.acks == nil {
		s.acks = make(map[int64]pendingAck)
	}
	p := pendingAck{fn: fn}
	if timeout > 0 {
		// Made under the lock: the timer finds the entry.
		p.timer = time.AfterFunc(timeout, func() {
			defer s.client.srv.recoverPanic("an ack callback", s.client)
			if fn := s.takeAck(id); fn != nil {
				fn(Args{}, ErrTimeout)
			}
		})
	}
	s.acks[id] = p
	s.ackMu.Unlock()
	return true
}

// takeAck removes the ack id from the table, stopping its timer, and
// returns its callback (nil when it was no longer there).
func (s *Socket) takeAck(id int64) AckFunc {
	s.ackMu.Lock()
	p, ok := s.acks[id]
	if ok {
		delete(s.acks, id)
	}
	s.ackMu.Unlock()
	if p.timer != nil {
		p.timer.Stop()
	}
	return p.fn
}

// closeAcks fails the pending acks with ErrDisconnected and every later
// one at once: the client is gone.
func (s *Socket) closeAcks() {
	s.ackMu.Lock()
	pending := s.acks
	s.acks = nil
	s.acksClosed = true
	s.ackMu.Unlock()
	for _, p := range pending {
		if p.timer != nil {
			p.timer.Stop()
		}
		p.fn(Args{}, ErrDisconnected)
	}
}

// onPacket handles a packet for this socket from its client, on the
// goroutine that reads the connection: acks at once, events and the
// disconnect through the socket's runner (see dispatch.go). size is the
// packet's size on the wire.
func (s *Socket) onPacket(p *sio.Packet, atts [][]byte, size int) {
	switch p.Type {
	case sio.Event, sio.BinaryEvent:
		args := Args{list: p.Args, attachments: atts}
		if p.ArgsHi > 0 {
			// The packet's buffer is the event's alone: the comma before
			// the arguments becomes the bracket that opens their array.
			p.Data[p.ArgsLo] = '['
			args.array = p.Data[p.ArgsLo:p.ArgsHi:p.ArgsHi]
		}
		s.enqueue(task{ev: &Event{Name: p.Event, Args: args, socket: s, id: p.ID}, size: size})
	case sio.Ack, sio.BinaryAck:
		if fn := s.takeAck(p.ID); fn != nil {
			fn(Args{list: p.Args, attachments: atts}, nil)
		}
	case sio.Disconnect:
		// The client has left the namespace: it may connect to it again
		// at once, and it will answer no ack, so what waits for one on
		// this socket's behalf ends now. The socket itself disconnects
		// after the events the client sent before (the reference runs
		// their listeners as they arrive, before the disconnect).
		s.client.remove(s)
		s.abandon(ReasonClientNamespaceDisconnect)
		s.enqueue(task{fn: func() { s.closeNow(ReasonClientNamespaceDisconnect) }})
	}
}

// onEvent runs an event through the hook, the catch-all listeners, the
// middlewares and the event's listeners, on the socket's runner. As in the
// reference (socket.ts onevent, dispatch), the catch-all listeners and
// middlewares run even if an earlier one disconnected the socket; the
// event's listeners do not.
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
	for _, l := range anys {
		l.fn(ev)
	}
	for _, mw := range mws {
		if err := mw(ev); err != nil {
			s.emitError(err)
			return
		}
	}
	// The listeners are picked after the middlewares, which may rename.
	s.mu.Lock()
	list := s.handlers[ev.Name]
	s.mu.Unlock()
	if len(list) > 0 && s.connected.Load() {
		s.runListeners(ev.Name, list, ev)
	}
}

// describe returns the socket as FetchSockets reports it.
func (s *Socket) describe() *RemoteSocket {
	return &RemoteSocket{
		ID:        s.id,
		Handshake: s.handshake,
		Rooms:     s.Rooms(),
		Data:      s.viewData(),
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

// Ack answers the client's ack with args, once. When nothing else is
// writing to the connection, the answer is written before Ack returns, on
// the caller's goroutine (bounded by the write timeout).
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
	// Written on this goroutine when the connection is idle: an ack is
	// most often the last thing a listener does, on the socket's runner.
	var frames [2]engine.Frame
	e.socket.client.conn.SendNow(encodeAck(frames[:0], e.socket.nsp.srv.opts.Parser, e.socket.nsp.name, e.id, a))
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
	_, err := e.emit(event, args, ack)
	return err
}

// emit sends an event, asking for an ack when ack is not nil. It returns
// the ack's id while it is in the socket's ack table, else sio.NoID (ack
// has then been called, or the error says why not).
func (e SocketEmitter) emit(event string, args []any, ack AckFunc) (int64, error) {
	if sio.Reserved(event) {
		return sio.NoID, ErrReserved
	}
	a, err := NewArgs(args...)
	if err != nil {
		return sio.NoID, err
	}
	s := e.s
	if ack == nil && !e.volatile && s.pid != "" && s.ownRoom.Load() {
		// As the reference with recovery on: through the adapter to the
		// socket's own room, so that the store keeps it and gives it an
		// offset (the adapter runs the outgoing listeners).
		p := NewPacket(s.nsp.name, event, a)
		return sio.NoID, s.nsp.adapter.Broadcast(p, BroadcastOptions{Rooms: []string{s.id}, Flags: BroadcastFlags{Compress: e.compress}})
	}
	// As the reference's socket.emit: the outgoing listeners see every
	// event, before it is queued (and maybe dropped).
	s.notifyOutgoing(event, a)
	if ack == nil {
		if s.client.conn.Send(encodeEvent(s.nsp.srv.opts.Parser, s.nsp.name, sio.NoID, event, a, ""), e.volatile) {
			s.nsp.srv.stats.add(1, 0, e.volatile)
		} else {
			s.nsp.srv.stats.add(0, 1, e.volatile)
		}
		return sio.NoID, nil
	}
	id := s.nsp.nextAckID()
	if !s.connected.Load() {
		ack(Args{}, ErrDisconnected)
		return sio.NoID, nil
	}
	if !s.addAckTimeout(id, ack, e.timeout) {
		return sio.NoID, nil
	}
	if !s.client.conn.Send(encodeEvent(s.nsp.srv.opts.Parser, s.nsp.name, id, event, a, ""), e.volatile) {
		s.nsp.srv.stats.add(0, 1, e.volatile)
		if fn := s.takeAck(id); fn != nil {
			fn(Args{}, ErrDisconnected)
		}
		return sio.NoID, nil
	}
	s.nsp.srv.stats.add(1, 0, e.volatile)
	return id, nil
}

// EmitWithAck sends an event and waits for the ack, the timeout or the end
// of ctx. When ctx ends first, the ack is forgotten: an answer that comes
// later is dropped.
func (e SocketEmitter) EmitWithAck(ctx context.Context, event string, args ...any) (Args, error) {
	type result struct {
		args Args
		err  error
	}
	ch := make(chan result, 1)
	id, err := e.emit(event, args, func(a Args, err error) { ch <- result{a, err} })
	if err != nil {
		return Args{}, err
	}
	select {
	case r := <-ch:
		return r.args, r.err
	case <-ctx.Done():
		if id == sio.NoID || e.s.takeAck(id) == nil {
			// Answered (or failed) meanwhile: the callback was taken,
			// and has sent or is about to send its result.
			r := <-ch
			return r.args, r.err
		}
		return Args{}, ctx.Err()
	}
}
