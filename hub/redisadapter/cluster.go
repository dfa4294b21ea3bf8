package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
)

// Message types of Node's ClusterAdapter (socket.io-adapter), which the
// sharded and the streams flavours speak.
const (
	msgBroadcast              = 3
	msgSocketsJoin            = 4
	msgSocketsLeave           = 5
	msgDisconnectSockets      = 6
	msgFetchSockets           = 7
	msgFetchSocketsResponse   = 8
	msgServerSideEmit         = 9
	msgServerSideEmitResponse = 10
	msgBroadcastClientCount   = 11
	msgBroadcastAck           = 12
)

// clusterAdapter is a namespace's adapter as Node's ClusterAdapter
// protocol has it, the part the sharded and the streams flavours share:
// the messages {uid, nsp, type, data} a node handles, the requests that
// wait for the other nodes' answers (with the classic adapter's
// bookkeeping), and the answers, sent to the requesting node's own
// channel <channel><uid>#. Each flavour embeds it and says, through wire,
// how its messages are written and where they go; each defines its own
// handle, Broadcast, ServerCount, Rooms and Close, since those of the
// embedded classic adapter speak the classic protocol.
type clusterAdapter struct {
	*adapter
	wire clusterWire
}

// clusterWire is what the flavours of the protocol do each their own way.
type clusterWire interface {
	// encode returns the message {uid, nsp, type, data}; binary says
	// whether data holds binary values.
	encode(typ int, data map[string]any, binary bool) ([]byte, error)
	// healthy reports whether Redis answers.
	healthy() bool
	// ServerCount is the number of nodes, this one included.
	ServerCount(ctx context.Context) (int, error)
	// targets is the form of a message's opts (the sockets it acts on).
	targets(opts hub.BroadcastOptions) any
	// packet is the form of a broadcast's packet inside data.
	packet(p *hub.Packet) (v any, binary bool, err error)
	// eventPacket is the form of a server-side emit's [event, ...args].
	eventPacket(event string, args hub.Args) (v any, binary bool, err error)
	// publish sends a message every other node applies: a join, a leave,
	// a disconnect.
	publish(typ int, data map[string]any) error
	// roomsChanged tells that local sockets joined or left rooms.
	roomsChanged(rooms []string)
}

// decodeMessage reads a message from one of the namespace's channels; ok
// is false for one that is malformed, this node's own or another
// namespace's.
func (a *clusterAdapter) decodeMessage(m *redis.Message) (*clusterMessage, bool) {
	var msg clusterMessage
	if !msg.decode([]byte(m.Payload)) || msg.UID == a.uid || msg.Nsp != a.nsp.Name() {
		return nil, false
	}
	return &msg, true
}

// onClusterMessage handles a message from another node.
func (a *clusterAdapter) onClusterMessage(m *clusterMessage) {
	switch m.Type {
	case msgBroadcast:
		p, ok := m.packet(a.nsp.Name())
		if !ok {
			return
		}
		opts, ok := m.opts()
		if !ok {
			return
		}
		if id, ok := m.requestID(); ok {
			a.broadcastForAcks(m.UID, id, p, opts)
			return
		}
		// A broadcast outside a stream has no offset.
		_ = a.local.Broadcast(p, opts)
	case msgSocketsJoin, msgSocketsLeave:
		opts, ok := m.opts()
		var rooms []string
		if !ok || !m.field("rooms", &rooms) {
			return
		}
		if m.Type == msgSocketsJoin {
			_ = a.local.AddSockets(opts, rooms)
		} else {
			_ = a.local.DelSockets(opts, rooms)
		}
		a.wire.roomsChanged(rooms)
	case msgDisconnectSockets:
		opts, ok := m.opts()
		if !ok {
			return
		}
		var close bool
		m.field("close", &close)
		_ = a.local.DisconnectSockets(opts, close)
	case msgFetchSockets:
		opts, ok := m.opts()
		var id string
		if !ok || !m.field("requestId", &id) {
			return
		}
		rs, _ := a.local.FetchSockets(context.Background(), opts)
		sockets, err := json.Marshal(nonNil(rs))
		if err != nil {
			a.c.log.Warn("redisadapter: cannot encode a response", "err", err)
			return
		}
		a.respond(m.UID, msgFetchSocketsResponse, map[string]any{"requestId": id, "sockets": json.RawMessage(sockets)}, false)
	case msgServerSideEmit:
		event, args, ok := m.args("packet")
		if !ok {
			return
		}
		var ack func(hub.Args)
		if id, ok := m.requestID(); ok {
			requester := m.UID
			ack = func(r hub.Args) {
				a.respond(requester, msgServerSideEmitResponse, map[string]any{"requestId": id, "packet": firstValue(r)}, len(r.Attachments()) > 0)
			}
		}
		// A listener may take its time: it must not hold up the
		// namespace's other messages.
		go a.local.HandleServerSideEmit(event, args, ack)
	case msgFetchSocketsResponse, msgServerSideEmitResponse, msgBroadcastClientCount, msgBroadcastAck:
		a.onClusterResponse(m)
	}
}

// broadcastForAcks delivers another node's broadcast with acks and
// answers it: the count, then each ack.
func (a *clusterAdapter) broadcastForAcks(requester, id string, p *hub.Packet, opts hub.BroadcastOptions) {
	_ = a.local.BroadcastWithAck(p, opts, func(n int) {
		a.respond(requester, msgBroadcastClientCount, map[string]any{"requestId": id, "clientCount": int64(n)}, false)
	}, func(r hub.Args, err error) {
		if err != nil {
			// The target disconnected: the protocol has no answer for
			// that; the requester's wait for this node ends on its
			// timeout, or on its bound (ackWait) without one.
			return
		}
		a.respond(requester, msgBroadcastAck, map[string]any{"requestId": id, "packet": firstValue(r)}, len(r.Attachments()) > 0)
	})
}

// respond sends an answer to the requesting node's own channel.
func (a *clusterAdapter) respond(requester string, typ int, data map[string]any, binary bool) {
	msg, err := a.wire.encode(typ, data, binary)
	if err != nil {
		a.c.log.Warn("redisadapter: cannot encode a response", "err", err)
		return
	}
	_ = a.c.send(a.channel+requester+"#", msg)
}

// onClusterResponse handles an answer to one of this node's requests.
func (a *clusterAdapter) onClusterResponse(m *clusterMessage) {
	var id string
	if !m.field("requestId", &id) {
		return
	}
	a.mu.Lock()
	if r := a.acks[id]; r != nil {
		a.mu.Unlock()
		switch m.Type {
		case msgBroadcastClientCount:
			var n int
			if m.field("clientCount", &n) {
				r.clientCount(n)
			}
		case msgBroadcastAck:
			if v, ok := m.value("packet"); ok {
				r.ack(v, nil)
			}
		}
		return
	}
	a.mu.Unlock()
	r := a.pendingRequest(id)
	if r == nil {
		return
	}
	switch {
	case m.Type == msgFetchSocketsResponse && r.typ == typeRemoteFetch:
		var sockets []*hub.RemoteSocket
		if !m.field("sockets", &sockets) {
			return
		}
		a.mu.Lock()
		r.sockets = append(r.sockets, sockets...)
		a.mu.Unlock()
	case m.Type == msgServerSideEmitResponse && r.typ == typeServerSideEmit:
		v, ok := m.value("packet")
		if !ok {
			return
		}
		a.mu.Lock()
		r.acks = append(r.acks, v)
		a.mu.Unlock()
	default:
		return
	}
	a.answered(r)
}

// BroadcastWithAck delivers p to the local sockets and asks the other
// nodes to do the same; each node reports its count, then its acks.
func (a *clusterAdapter) BroadcastWithAck(p *hub.Packet, opts hub.BroadcastOptions, clientCount func(int), ack func(hub.Args, error)) error {
	if !opts.Flags.Local {
		if !a.wire.healthy() {
			return ErrUnavailable
		}
		pd, binary, err := a.wire.packet(p)
		if err != nil {
			return err
		}
		id := newHexID()
		msg, err := a.wire.encode(msgBroadcast, map[string]any{"packet": pd, "requestId": id, "opts": msgpackOpts(opts)}, binary)
		if err != nil {
			return err
		}
		if err := a.publishAckRequest(id, msg, opts, clientCount, ack); err != nil {
			return err
		}
	}
	return a.local.BroadcastWithAck(p, opts, clientCount, ack)
}

// FetchSockets describes the targeted sockets of every node.
func (a *clusterAdapter) FetchSockets(ctx context.Context, opts hub.BroadcastOptions) ([]*hub.RemoteSocket, error) {
	out, err := a.local.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return out, err
	}
	n, err := a.wire.ServerCount(ctx)
	if err != nil || n <= 1 {
		return out, err
	}
	id := newHexID()
	msg, err := a.wire.encode(msgFetchSockets, map[string]any{"opts": a.wire.targets(opts), "requestId": id}, false)
	if err != nil {
		return out, err
	}
	remote, err := a.askSockets(ctx, id, msg, n-1, a.requestTimeout(opts.Flags.Timeout))
	return append(out, remote...), err
}

// AddSockets makes the targeted sockets of every node join rooms. This
// node applies it at once; the others when they get it.
func (a *clusterAdapter) AddSockets(opts hub.BroadcastOptions, rooms []string) error {
	return a.changeRooms(msgSocketsJoin, a.local.AddSockets, opts, rooms)
}

// DelSockets makes the targeted sockets of every node leave rooms.
func (a *clusterAdapter) DelSockets(opts hub.BroadcastOptions, rooms []string) error {
	return a.changeRooms(msgSocketsLeave, a.local.DelSockets, opts, rooms)
}

// changeRooms applies a join or a leave here, then sends it to the other
// nodes.
func (a *clusterAdapter) changeRooms(typ int, apply func(hub.BroadcastOptions, []string) error, opts hub.BroadcastOptions, rooms []string) error {
	_ = apply(opts, rooms)
	a.wire.roomsChanged(rooms)
	if opts.Flags.Local {
		return nil
	}
	return a.wire.publish(typ, map[string]any{"opts": a.wire.targets(opts), "rooms": nonNil(rooms)})
}

// DisconnectSockets disconnects the targeted sockets of every node.
func (a *clusterAdapter) DisconnectSockets(opts hub.BroadcastOptions, close bool) error {
	_ = a.local.DisconnectSockets(opts, close)
	if opts.Flags.Local {
		return nil
	}
	return a.wire.publish(msgDisconnectSockets, map[string]any{"opts": a.wire.targets(opts), "close": close})
}

// ServerSideEmit sends an event to the other nodes, on the namespace's
// channel; with wantAck it waits for one answer from each (only their
// first argument).
func (a *clusterAdapter) ServerSideEmit(ctx context.Context, event string, args hub.Args, wantAck bool) ([]hub.Args, error) {
	packet, binary, err := a.wire.eventPacket(event, args)
	if err != nil {
		return nil, err
	}
	if !wantAck {
		msg, err := a.wire.encode(msgServerSideEmit, map[string]any{"packet": packet}, binary)
		if err != nil {
			return nil, err
		}
		return nil, a.c.send(a.channel, msg)
	}
	n, err := a.wire.ServerCount(ctx)
	if err != nil || n <= 1 {
		return nil, err
	}
	id := newHexID()
	msg, err := a.wire.encode(msgServerSideEmit, map[string]any{"packet": packet, "requestId": id}, binary)
	if err != nil {
		return nil, err
	}
	return a.askAcks(ctx, id, msg, n-1, a.c.opts.RequestsTimeout)
}

// clusterMessage is {uid, nsp, type, data} with data still raw: JSON, or
// a decoded msgpack map.
type clusterMessage struct {
	UID  string          `json:"uid"`
	Nsp  string          `json:"nsp"`
	Type int             `json:"type"`
	Data json.RawMessage `json:"data"`
	mp   map[string]any  // data, when the message was msgpack
}

func (m *clusterMessage) decode(b []byte) bool {
	if len(b) > 0 && b[0] == '{' {
		// Raw parts (data) would keep bytes that are not UTF-8.
		return utf8.Valid(b) && json.Unmarshal(b, m) == nil
	}
	v, err := decodeMsgpack(b)
	if err != nil {
		return false
	}
	top, _ := v.(map[string]any)
	if top == nil {
		return false
	}
	m.UID, _ = top["uid"].(string)
	m.Nsp, _ = top["nsp"].(string)
	t, ok := number(top["type"])
	if !ok {
		return false
	}
	m.Type = int(t)
	m.mp, _ = top["data"].(map[string]any)
	return m.mp != nil
}

// isResponse reports whether the message answers a request.
func (m *clusterMessage) isResponse() bool {
	switch m.Type {
	case msgFetchSocketsResponse, msgServerSideEmitResponse, msgBroadcastClientCount, msgBroadcastAck:
		return true
	}
	return false
}

// requestID is data.requestId, when the message is a request that wants
// answers: one without an id could not be answered.
func (m *clusterMessage) requestID() (string, bool) {
	var id string
	return id, m.field("requestId", &id) && id != ""
}

// field decodes data[key] into dst (JSON form) and reports whether it was
// there.
func (m *clusterMessage) field(key string, dst any) bool {
	if m.mp != nil {
		v, ok := m.mp[key]
		if !ok {
			return false
		}
		raw, err := json.Marshal(jsonSafe(v))
		return err == nil && json.Unmarshal(raw, dst) == nil
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(m.Data, &fields) != nil {
		return false
	}
	raw, ok := fields[key]
	return ok && json.Unmarshal(raw, dst) == nil
}

// args reads data[key], a list whose first element is an event name, as
// the event and its hub arguments (binary kept).
func (m *clusterMessage) args(key string) (event string, args hub.Args, ok bool) {
	var list []any
	if m.mp != nil {
		list, _ = m.mp[key].([]any)
	} else {
		var raw json.RawMessage
		if !m.field(key, &raw) {
			return "", hub.Args{}, false
		}
		a, err := hub.RawArgs(raw, nil)
		if err != nil || a.Len() == 0 {
			return "", hub.Args{}, false
		}
		if json.Unmarshal(a.At(0), &event) != nil {
			return "", hub.Args{}, false
		}
		return event, a.From(1), true
	}
	if len(list) == 0 {
		return "", hub.Args{}, false
	}
	event, ok = list[0].(string)
	if !ok {
		return "", hub.Args{}, false
	}
	a, err := hub.NewArgs(list[1:]...)
	return event, a, err == nil
}

// packet reads data.packet, a Socket.IO event packet.
func (m *clusterMessage) packet(nsp string) (*hub.Packet, bool) {
	if m.mp != nil {
		pm, _ := m.mp["packet"].(map[string]any)
		inner := clusterMessage{mp: pm}
		event, args, ok := inner.args("data")
		if !ok {
			return nil, false
		}
		return hub.NewPacket(nsp, event, args), true
	}
	var raw json.RawMessage
	if !m.field("packet", &raw) {
		return nil, false
	}
	inner := clusterMessage{Data: raw}
	event, args, ok := inner.args("data")
	if !ok {
		return nil, false
	}
	return hub.NewPacket(nsp, event, args), true
}

func (m *clusterMessage) opts() (hub.BroadcastOptions, bool) {
	if m.mp != nil {
		return fromWireOpts(m.mp["opts"])
	}
	var w struct {
		Rooms  []string       `json:"rooms"`
		Except []string       `json:"except"`
		Flags  map[string]any `json:"flags"`
	}
	if !m.field("opts", &w) {
		return hub.BroadcastOptions{}, false
	}
	o := hub.BroadcastOptions{Rooms: w.Rooms, Except: w.Except}
	o.Flags.Volatile, _ = w.Flags["volatile"].(bool)
	o.Flags.Compress, _ = w.Flags["compress"].(bool)
	if ms, ok := w.Flags["timeout"].(float64); ok && ms > 0 {
		o.Flags.Timeout = time.Duration(ms * float64(time.Millisecond))
	}
	return o, true
}

// value reads data[key], one value, as hub arguments (binary kept).
func (m *clusterMessage) value(key string) (hub.Args, bool) {
	if m.mp != nil {
		a, err := hub.NewArgs(m.mp[key])
		return a, err == nil
	}
	var raw json.RawMessage
	if !m.field(key, &raw) {
		raw = json.RawMessage("null")
	}
	a, err := hub.RawArgs(append(append([]byte{'['}, raw...), ']'), nil)
	return a, err == nil
}

// jsonSafe turns decoded msgpack values into what encoding/json writes as
// Node would see them (binary as Node's Buffer JSON form).
func jsonSafe(v any) any {
	switch x := v.(type) {
	case []byte:
		ints := make([]int, len(x))
		for i, b := range x {
			ints[i] = int(b)
		}
		return map[string]any{"type": "Buffer", "data": ints}
	case []any:
		out := make([]any, len(x))
		for i := range x {
			out[i] = jsonSafe(x[i])
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(x))
		for k := range x {
			out[k] = jsonSafe(x[k])
		}
		return out
	}
	return v
}

// newHexID returns a random id of 16 hexadecimal digits, as Node's
// ClusterAdapter makes its uids and request ids.
func newHexID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
