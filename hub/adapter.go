package hub

import (
	"context"
	"encoding/json"
	"time"
)

// Adapter is a namespace's view of where its sockets are: it keeps the
// rooms of the local sockets and delivers packets to the sockets a
// broadcast targets. The in-memory adapter (MemoryAdapter) serves one node;
// a cluster adapter wraps it and carries broadcasts and requests to the
// other nodes, so that every method below covers the whole cluster unless
// the options say Local.
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
	// node sent p to; ack is called with each socket's answer.
	BroadcastWithAck(p *Packet, opts BroadcastOptions, clientCount func(int), ack func(Args)) error
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
