package hub

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/internal/jsonstr"
)

// Namespace is a Socket.IO namespace: a named channel that clients connect
// to, with its own middlewares, sockets, rooms and adapter.
type Namespace struct {
	name     string
	srv      *Server
	parent   *ParentNamespace
	local    *MemoryAdapter
	adapter  Adapter
	recovery *nspRecovery // nil when the namespace has no recovery

	ackID   atomic.Int64
	count   atomic.Int64 // connected sockets
	pending atomic.Int64 // sockets resolved to this namespace, not yet through add
	joined  atomic.Bool  // a socket has connected (children only)
	// outgoingSockets counts the sockets of the namespace that have an
	// outgoing listener (see Socket.setOutgoingLocked); while there is
	// none, a broadcast checks no socket for one.
	outgoingSockets atomic.Int64

	mu           sync.Mutex
	middlewares  []func(*Socket) error
	onConnection []func(*Socket)
	serverEvents map[string]func(*ServerEvent)
}

// newNamespace makes the namespace name and, unless memoryOnly, its
// adapter with Options.Adapter; an error is the factory's.
func newNamespace(srv *Server, name string, parent *ParentNamespace, memoryOnly bool) (*Namespace, error) {
	n := &Namespace{name: name, srv: srv, parent: parent}
	n.local = newMemoryAdapter(n)
	n.adapter = n.local
	if f := srv.opts.Adapter; f != nil && !memoryOnly {
		a, err := f(n, localAdapter{n.local})
		if err == nil && a == nil {
			err = errors.New("the factory returned no adapter")
		}
		if err != nil {
			return nil, fmt.Errorf("hub: making the adapter of namespace %q: %w", name, err)
		}
		n.adapter = a
	}
	n.setupRecovery()
	return n, nil
}

// Name returns the namespace's name, e.g. "/" or "/chat".
func (n *Namespace) Name() string { return n.name }

// Server returns the server the namespace belongs to.
func (n *Namespace) Server() *Server { return n.srv }

// Adapter returns the namespace's adapter: the one Options.Adapter made,
// or a *MemoryAdapter.
func (n *Namespace) Adapter() Adapter { return n.adapter }

// SetRoomEvents sets the listeners of create-room, delete-room, join-room
// and leave-room for this node's sockets.
func (n *Namespace) SetRoomEvents(ev RoomEvents) { n.local.setRoomEvents(ev) }

// AddRoomEvents adds listeners of the same events beside those
// SetRoomEvents sets, which it leaves alone (as Node's adapter.on adds
// one): for a library that watches the rooms of an application that may
// set its own. They run after the SetRoomEvents ones, in the order added;
// the returned function removes them.
func (n *Namespace) AddRoomEvents(ev RoomEvents) (off func()) { return n.local.addRoomEvents(ev) }

// Use adds a middleware run for every socket that connects, after the
// server's middlewares. An error refuses the connection: the client gets a
// connect_error with the error's message (and data, for *ConnectError).
func (n *Namespace) Use(fn func(*Socket) error) {
	n.mu.Lock()
	n.middlewares = append(slices.Clip(n.middlewares), fn)
	n.mu.Unlock()
}

// OnConnection adds a listener called for every socket once it is
// connected; it is where a socket's listeners are set.
func (n *Namespace) OnConnection(fn func(*Socket)) {
	n.mu.Lock()
	n.onConnection = append(slices.Clip(n.onConnection), fn)
	n.mu.Unlock()
}

// Len returns the number of sockets connected to the namespace on this node.
func (n *Namespace) Len() int { return int(n.count.Load()) }

// Socket returns the local socket with id, or nil.
func (n *Namespace) Socket(id string) *Socket { return n.local.lookup(id) }

// Sockets returns the namespace's local sockets.
func (n *Namespace) Sockets() []*Socket { return n.local.targets(BroadcastOptions{}) }

func (n *Namespace) nextAckID() int64 { return n.ackID.Add(1) - 1 }

func (n *Namespace) op() BroadcastOperator { return BroadcastOperator{nsp: n} }

// To targets the sockets in rooms.
func (n *Namespace) To(rooms ...string) BroadcastOperator { return n.op().To(rooms...) }

// In is To.
func (n *Namespace) In(rooms ...string) BroadcastOperator { return n.op().To(rooms...) }

// Except targets every socket but those in rooms.
func (n *Namespace) Except(rooms ...string) BroadcastOperator { return n.op().Except(rooms...) }

// Volatile targets every socket, dropping the event where it cannot go at
// once.
func (n *Namespace) Volatile() BroadcastOperator { return n.op().Volatile() }

// Local targets every socket on this node.
func (n *Namespace) Local() BroadcastOperator { return n.op().Local() }

// Compress targets every socket with the compress flag set.
func (n *Namespace) Compress(on bool) BroadcastOperator { return n.op().Compress(on) }

// Timeout targets every socket, waiting at most d for acks.
func (n *Namespace) Timeout(d time.Duration) BroadcastOperator { return n.op().Timeout(d) }

// Emit sends an event to every socket of the namespace.
func (n *Namespace) Emit(event string, args ...any) error { return n.op().Emit(event, args...) }

// EmitWithAck sends an event to every socket and collects their acks.
func (n *Namespace) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return n.op().EmitWithAck(ctx, event, args...)
}

// FetchSockets describes every socket of the namespace, on every node.
func (n *Namespace) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return n.op().FetchSockets(ctx)
}

// SocketsJoin makes every socket join rooms.
func (n *Namespace) SocketsJoin(rooms ...string) error { return n.op().SocketsJoin(rooms...) }

// SocketsLeave makes every socket leave rooms.
func (n *Namespace) SocketsLeave(rooms ...string) error { return n.op().SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket.
func (n *Namespace) DisconnectSockets(close bool) error { return n.op().DisconnectSockets(close) }

// Rooms lists the namespace's rooms on every node, sockets' own rooms
// included.
func (n *Namespace) Rooms(ctx context.Context) ([]string, error) { return n.adapter.Rooms(ctx) }

// LocalRooms lists, sorted, the rooms with a socket on this node, sockets'
// own rooms included; unlike Rooms it never asks other nodes.
func (n *Namespace) LocalRooms() []string {
	rooms, _ := n.local.Rooms(context.Background())
	return rooms
}

// ServerEvent is an event from another node (ServerSideEmit).
type ServerEvent struct {
	Name string
	Args Args
	ack  func(Args)
}

// WantsAck reports whether the sending node waits for an answer.
func (e *ServerEvent) WantsAck() bool { return e.ack != nil }

// Ack answers the sending node; only the first argument travels.
func (e *ServerEvent) Ack(args ...any) error {
	if e.ack == nil {
		return ErrNoAck
	}
	a, err := NewArgs(args...)
	if err != nil {
		return err
	}
	fn := e.ack
	e.ack = nil
	fn(a)
	return nil
}

// reservedServerEvents may not be sent with ServerSideEmit.
var reservedServerEvents = map[string]bool{"connect": true, "connection": true, "new_namespace": true}

// ErrReservedServerEvent reports a reserved name given to ServerSideEmit.
var ErrReservedServerEvent = errors.New("hub: reserved server-side event name")

// ServerSideEmit sends an event to this namespace on every other node.
func (n *Namespace) ServerSideEmit(event string, args ...any) error {
	if reservedServerEvents[event] {
		return ErrReservedServerEvent
	}
	a, err := NewArgs(args...)
	if err != nil {
		return err
	}
	_, err = n.adapter.ServerSideEmit(context.Background(), event, a, false)
	return err
}

// ServerSideEmitWithAck sends an event to every other node and waits,
// until ctx ends, for one answer from each.
func (n *Namespace) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	if reservedServerEvents[event] {
		return nil, ErrReservedServerEvent
	}
	a, err := NewArgs(args...)
	if err != nil {
		return nil, err
	}
	return n.adapter.ServerSideEmit(ctx, event, a, true)
}

// OnServerSideEmit sets the listener of an event sent by other nodes.
func (n *Namespace) OnServerSideEmit(event string, fn func(*ServerEvent)) {
	n.mu.Lock()
	if n.serverEvents == nil {
		n.serverEvents = make(map[string]func(*ServerEvent))
	}
	n.serverEvents[event] = fn
	n.mu.Unlock()
}

// handleServerSideEmit delivers an event from another node to this node's
// listener (see LocalAdapter.HandleServerSideEmit).
func (n *Namespace) handleServerSideEmit(event string, args Args, ack func(Args)) {
	n.mu.Lock()
	fn := n.serverEvents[event]
	n.mu.Unlock()
	if fn != nil {
		defer n.srv.recoverPanic("a server-side event listener", nil)
		fn(&ServerEvent{Name: event, Args: args, ack: ack})
	}
}

// middlewareChain returns the server's, the parent's and the namespace's
// middlewares, in that order.
func (n *Namespace) middlewareChain() []func(*Socket) error {
	var chain []func(*Socket) error
	chain = append(chain, n.srv.middlewareList()...)
	if n.parent != nil {
		n.parent.mu.Lock()
		chain = append(chain, n.parent.middlewares...)
		n.parent.mu.Unlock()
	}
	n.mu.Lock()
	chain = append(chain, n.middlewares...)
	n.mu.Unlock()
	return chain
}

func (n *Namespace) connectionListeners() []func(*Socket) {
	var out []func(*Socket)
	if n.parent != nil {
		n.parent.mu.Lock()
		out = append(out, n.parent.onConnection...)
		n.parent.mu.Unlock()
	}
	n.mu.Lock()
	out = append(out, n.onConnection...)
	n.mu.Unlock()
	return out
}

// add runs the connection of a new socket: middlewares, hook, own room,
// CONNECT reply, listeners. It reports the error that refused it. A
// recovered socket (see prepareRecovery) skips the middlewares and the
// hook unless RecoveryOptions.RunMiddlewares, and gets back its rooms and
// the packets it missed before its CONNECT reply.
func (n *Namespace) add(s *Socket) error {
	s.connected.Store(true)
	recovered := s.recovered.Load()
	attached := false
	fail := func(err error) error {
		s.connected.Store(false)
		n.adapter.DelAll(s)
		n.settle()
		return err
	}
	refused := func(err error) error {
		if recovered {
			n.srv.recovery.refuse(RecoveryRefusedByMiddleware)
		}
		return fail(err)
	}
	if recovered {
		// A taken session that goes unused: its store may forget it now.
		defer func() {
			if !attached {
				n.recovery.store.DropSession(s.pid)
			}
		}()
	}
	if !recovered || n.recovery.opts.RunMiddlewares {
		for _, mw := range n.middlewareChain() {
			if err := mw(s); err != nil {
				return refused(err)
			}
		}
		if h := n.srv.hooks.Load(); h != nil && h.Connect != nil {
			if err := h.Connect(s); err != nil {
				return refused(err)
			}
		}
	}
	if !s.client.attach(s) {
		return fail(errors.New("connection closed"))
	}
	attached = true
	n.joined.Store(true)
	n.count.Add(1)
	n.pending.Add(-1)
	n.local.register(s)
	if recovered {
		// Its own room too is joined inside ResumeSession: a packet to
		// its id must come either in the replay or after it, not both.
		n.resume(s)
	} else {
		n.adapter.AddAll(s, []string{s.id})
	}
	payload := jsonstr.Append([]byte(`{"sid":`), s.id)
	if s.pid != "" {
		payload = append(payload, `,"pid":`...)
		payload = jsonstr.Append(payload, s.pid)
	}
	payload = append(payload, '}')
	if s.client.v2 {
		payload = nil // a 2.x client's CONNECT reply carries no sid
	}
	// Written on this goroutine (the socket's runner) when the connection
	// is idle: the client needs it before the listeners' emits anyway.
	s.client.conn.SendNow(encodeControl(n.srv.opts.Parser, 0, n.name, payload))
	if s.pid != "" {
		s.tracked.Store(true)
		n.track(s)
	}
	for _, fn := range n.connectionListeners() {
		fn(s)
	}
	return nil
}

// settle ends a refused connect: the child it was for is dropped when that
// leaves it empty and no socket ever joined it (or cleanup is on), so that
// refused clients leave no namespace behind.
func (n *Namespace) settle() {
	if n.pending.Add(-1) == 0 && n.parent != nil && n.count.Load() == 0 &&
		(!n.joined.Load() || n.srv.opts.CleanupEmptyChildNamespaces) {
		n.srv.dropChild(n)
	}
}

// remove forgets a disconnected socket.
func (n *Namespace) remove(s *Socket) {
	n.adapter.DelAll(s)
	if n.count.Add(-1) == 0 && n.parent != nil && n.srv.opts.CleanupEmptyChildNamespaces {
		n.srv.dropChild(n)
	}
}

// ParentNamespace creates child namespaces on demand: when a client asks
// for a namespace that does not exist and the parent's matcher accepts the
// name. Middlewares and connection listeners set on the parent apply to
// every child.
type ParentNamespace struct {
	srv   *Server
	match func(name string, auth json.RawMessage) bool

	mu           sync.Mutex
	middlewares  []func(*Socket) error
	onConnection []func(*Socket)
	children     map[string]*Namespace
}

// Use adds a middleware for every child.
func (p *ParentNamespace) Use(fn func(*Socket) error) {
	p.mu.Lock()
	p.middlewares = append(slices.Clip(p.middlewares), fn)
	p.mu.Unlock()
}

// OnConnection adds a connection listener for every child.
func (p *ParentNamespace) OnConnection(fn func(*Socket)) {
	p.mu.Lock()
	p.onConnection = append(slices.Clip(p.onConnection), fn)
	p.mu.Unlock()
}

// Children returns the child namespaces created so far.
func (p *ParentNamespace) Children() []*Namespace {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]*Namespace, 0, len(p.children))
	for _, c := range p.children {
		out = append(out, c)
	}
	return out
}

// Emit sends an event to every socket of every child.
func (p *ParentNamespace) Emit(event string, args ...any) error {
	for _, c := range p.Children() {
		if err := c.Emit(event, args...); err != nil {
			return err
		}
	}
	return nil
}
