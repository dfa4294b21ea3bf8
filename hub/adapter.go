package hub

import (
	"context"
	"encoding/json"
	"time"
)

// Adapter is a namespace's view of where its sockets are: it keeps the
// rooms of the local sockets and delivers packets to the sockets a
// broadcast targets. The in-memory adapter (MemoryAdapter) serves one node;
// a cluster adapter wraps it (see LocalAdapter) and carries broadcasts and
// requests to the other nodes, so that every method below covers the whole
// cluster unless the options say Local.
//
// Every namespace has its own adapter, made by Options.Adapter.
type Adapter interface {
	// AddAll adds a local socket to rooms.
	AddAll(s *Socket, rooms []string)
	// Del removes a local socket from a room.
	Del(s *Socket, room string)
	// DelAll removes a local socket from all its rooms.
	DelAll(s *Socket)

	// Broadcast delivers p to every socket opts targets.
	Broadcast(p *Packet, opts BroadcastOptions) error
	// BroadcastWithAck delivers p asking each recipient for an ack.
	// clientCount is called once per node with the number of sockets that
	// node sent p to; then ack once for each of them: with the socket's
	// answer and a nil error, or with an error wrapping ErrDisconnected
	// when the socket disconnected before it answered. Any other error
	// given to ack ends the whole broadcast with that error (a cluster
	// adapter that stops waiting for the other nodes says so with it).
	BroadcastWithAck(p *Packet, opts BroadcastOptions, clientCount func(int), ack func(Args, error)) error
	// ServerCount is the number of nodes, this one included.
	ServerCount(ctx context.Context) (int, error)

	// FetchSockets describes the sockets opts targets.
	FetchSockets(ctx context.Context, opts BroadcastOptions) ([]*RemoteSocket, error)
	// AddSockets makes the sockets opts targets join rooms.
	AddSockets(opts BroadcastOptions, rooms []string) error
	// DelSockets makes the sockets opts targets leave rooms.
	DelSockets(opts BroadcastOptions, rooms []string) error
	// DisconnectSockets disconnects the sockets opts targets; with close,
	// their whole connections are closed.
	DisconnectSockets(opts BroadcastOptions, close bool) error
	// Rooms lists every room with at least one socket.
	Rooms(ctx context.Context) ([]string, error)

	// ServerSideEmit sends an event to the other nodes' namespace (never to
	// this node). With wantAck it waits, within ctx, for one answer per
	// other node.
	ServerSideEmit(ctx context.Context, event string, args Args, wantAck bool) ([]Args, error)

	// Close releases the adapter's resources.
	Close() error
}

// AdapterFactory makes the adapter of nsp (see Options.Adapter). local is
// the namespace's in-memory adapter, for a cluster adapter to wrap.
//
// The factory runs outside the server's locks, on the runner of the
// socket whose CONNECT creates the namespace (or on the caller of
// Server.Of): it may subscribe over the network and wait for the answer.
// Other namespaces' connects go on meanwhile; connects to the namespace
// being made wait for it. An error means the namespace could not be made:
// see Options.Adapter for what follows.
type AdapterFactory func(nsp *Namespace, local LocalAdapter) (Adapter, error)

// LocalAdapter is what a namespace hands its adapter factory: this node's
// share of the namespace. Its Adapter methods are those of the in-memory
// adapter and act on this node's sockets only (ServerCount is 1,
// ServerSideEmit does nothing): a cluster adapter calls them to serve its
// own node and to carry out the broadcasts and requests of other nodes.
// The two methods below exist for cluster adapters only.
type LocalAdapter interface {
	Adapter
	// HasRoom reports whether a local socket is in room (a socket's id
	// names its own room): a cluster adapter may skip a broadcast to a
	// single room that has no member here.
	HasRoom(room string) bool
	// HandleServerSideEmit hands an event from another node to this
	// node's listener (Namespace.OnServerSideEmit) and returns when the
	// listener has. ack is nil when the sending node awaits no answer;
	// otherwise it is called at most once, with the listener's answer.
	HandleServerSideEmit(event string, args Args, ack func(Args))
}

// localAdapter is the LocalAdapter of a namespace: its MemoryAdapter and
// the calls only cluster adapters need.
type localAdapter struct {
	*MemoryAdapter
}

func (l localAdapter) HasRoom(room string) bool { return l.hasRoom(room) }

func (l localAdapter) HandleServerSideEmit(event string, args Args, ack func(Args)) {
	l.nsp.handleServerSideEmit(event, args, ack)
}

// BroadcastOptions says which sockets a broadcast or a request targets:
// those in any of Rooms (all the namespace's sockets when Rooms is empty)
// and in none of Except.
type BroadcastOptions struct {
	Rooms  []string
	Except []string
	Flags  BroadcastFlags
}

// BroadcastFlags change how a broadcast is delivered.
type BroadcastFlags struct {
	// Volatile drops the packet for sockets that cannot take it at once.
	Volatile bool
	// Compress asks for compression where the transport offers it.
	Compress bool
	// Local keeps the broadcast on this node.
	Local bool
	// Timeout bounds the wait for acks (and for cluster requests).
	Timeout time.Duration
}

// RemoteSocket describes a socket found by FetchSockets, on this node or
// another. Its methods act on the socket wherever it is.
type RemoteSocket struct {
	ID        string    `json:"id"`
	Handshake Handshake `json:"handshake"`
	Rooms     []string  `json:"rooms"`
	// Data is the socket's data (SetData) as JSON: {} when it has none,
	// as Node's socket.data, or when it cannot be marshalled.
	Data json.RawMessage `json:"data"`

	nsp *Namespace
}

// Emit sends an event to the socket.
func (r *RemoteSocket) Emit(event string, args ...any) error {
	return r.nsp.To(r.ID).Emit(event, args...)
}

// Join makes the socket join rooms.
func (r *RemoteSocket) Join(rooms ...string) error { return r.nsp.In(r.ID).SocketsJoin(rooms...) }

// Leave makes the socket leave rooms.
func (r *RemoteSocket) Leave(rooms ...string) error { return r.nsp.In(r.ID).SocketsLeave(rooms...) }

// Disconnect disconnects the socket; with close, its whole connection.
func (r *RemoteSocket) Disconnect(close bool) error {
	return r.nsp.In(r.ID).DisconnectSockets(close)
}
