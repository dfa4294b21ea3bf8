package redisadapter

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
)

// Message types of the Node ClusterAdapter, which the sharded flavour
// speaks.
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

// shardedAdapter is a namespace's adapter in the sharded flavour: every
// message goes to the namespace's main channel (or, in the dynamic modes,
// a one-room broadcast to that room's channel), answers to the requesting
// node's own channel; messages are JSON, or msgpack when they carry
// binary. It reuses the classic adapter's request bookkeeping.
type shardedAdapter struct {
	*adapter

	subMu      sync.Mutex
	subscribed map[string]bool // room channels this node listens on
	dirty      map[string]bool // rooms whose subscription may be stale
	wake       chan struct{}
	stop       chan struct{}
	done       chan struct{}
}

// newShardedAdapter makes a namespace's adapter and subscribes it; see
// Cluster.Adapter.
func newShardedAdapter(c *Cluster, nsp *hub.Namespace, local hub.LocalAdapter) (*shardedAdapter, error) {
	base := newAdapter(c, nsp, local)
	var id [8]byte
	_, _ = rand.Read(id[:])
	base.uid = hex.EncodeToString(id[:])
	base.responseChannel = base.channel + base.uid + "#"
	base.requestChannel = base.channel // requests go to the main channel
	s := &shardedAdapter{
		adapter:    base,
		subscribed: make(map[string]bool),
		dirty:      make(map[string]bool),
		wake:       make(chan struct{}, 1),
		stop:       make(chan struct{}),
		done:       make(chan struct{}),
	}
	c.mu.Lock()
	c.channels[base.channel] = s
	c.channels[base.responseChannel] = s
	c.mu.Unlock()
	go s.maintain()
	if err := c.subscribe(subscribeGroup{"ssubscribe", []string{base.channel, base.responseChannel}}); err != nil {
		_ = s.Close()
		return nil, err
	}
	return s, nil
}

// handle routes a message from one of the namespace's channels.
func (s *shardedAdapter) handle(m *redis.Message) {
	payload := []byte(m.Payload)
	var msg clusterMessage
	if !msg.decode(payload) || msg.UID == s.uid || msg.Nsp != s.nsp.Name() {
		return
	}
	if m.Channel == s.responseChannel || msg.Type >= msgBroadcastClientCount || msg.Type == msgFetchSocketsResponse || msg.Type == msgServerSideEmitResponse {
		s.onClusterResponse(&msg)
		return
	}
	s.onClusterMessage(&msg)
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

// args reads data[key], a list whose first element is an event name when
// withEvent, as hub arguments (binary kept).
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

// encodeMessage returns {uid, nsp, type, data}: JSON, or msgpack when data
// holds binary (as Node's encode does).
func (s *shardedAdapter) encodeMessage(typ int, data map[string]any, binary bool) ([]byte, error) {
	if binary {
		return appendValue(nil, map[string]any{"uid": s.uid, "nsp": s.nsp.Name(), "type": int64(typ), "data": data})
	}
	return json.Marshal(map[string]any{"uid": s.uid, "nsp": s.nsp.Name(), "type": typ, "data": data})
}

// publishMessage sends an encoded message to channel.
func (s *shardedAdapter) publishMessage(channel string, typ int, data map[string]any, binary bool) error {
	msg, err := s.encodeMessage(typ, data, binary)
	if err != nil {
		return err
	}
	return s.c.send(channel, msg)
}

// packetData is a packet's form inside a message: JSON values as they
// are, or Go values for msgpack when it carries binary.
func packetData(p *hub.Packet) (v any, binary bool, err error) {
	if len(p.Args.Attachments()) == 0 {
		list := append([]byte(nil), '[')
		ev, _ := json.Marshal(p.Event)
		list = append(list, ev...)
		if inner := p.Args.JSON(); len(inner) > 2 {
			list = append(list, ',')
			list = append(list, inner[1:len(inner)-1]...)
		}
		list = append(list, ']')
		return map[string]any{"type": 2, "data": json.RawMessage(list), "nsp": p.Nsp}, false, nil
	}
	pm, err := packetMap(p)
	return pm, true, err
}

// Broadcast delivers p locally and publishes it.
func (s *shardedAdapter) Broadcast(p *hub.Packet, opts hub.BroadcastOptions) error {
	err := s.local.Broadcast(p, opts)
	if opts.Flags.Local || err != nil {
		return err
	}
	pd, binary, err := packetData(p)
	if err != nil {
		return err
	}
	ch := s.channel
	if len(opts.Rooms) == 1 && s.usesRoomChannel(opts.Rooms[0]) {
		ch += opts.Rooms[0] + "#"
	}
	return s.publishMessage(ch, msgBroadcast, map[string]any{"packet": pd, "opts": msgpackOpts(opts)}, binary)
}

// usesRoomChannel is the Node publisher's rule for a one-room broadcast.
func (s *shardedAdapter) usesRoomChannel(room string) bool {
	switch s.c.opts.SubscriptionMode {
	case ModeDynamic:
		return len(room) != 20 // "looks like a socket id"
	case ModeDynamicPrivate:
		return true
	}
	return false
}

// BroadcastWithAck delivers p locally and asks the other nodes to.
func (s *shardedAdapter) BroadcastWithAck(p *hub.Packet, opts hub.BroadcastOptions, clientCount func(int), ack func(hub.Args, error)) error {
	if !opts.Flags.Local {
		if !s.c.Healthy() {
			return ErrUnavailable
		}
		pd, binary, err := packetData(p)
		if err != nil {
			return err
		}
		id := newHexID()
		msg, err := s.encodeMessage(msgBroadcast, map[string]any{"packet": pd, "requestId": id, "opts": msgpackOpts(opts)}, binary)
		if err != nil {
			return err
		}
		if err := s.publishAckRequest(id, msg, opts, clientCount, ack); err != nil {
			return err
		}
	}
	return s.local.BroadcastWithAck(p, opts, clientCount, ack)
}

// ServerCount is the number of nodes on the namespace's main channel.
func (s *shardedAdapter) ServerCount(ctx context.Context) (int, error) {
	if !s.c.Healthy() {
		return 0, ErrUnavailable
	}
	res, err := s.c.rdb.PubSubShardNumSub(ctx, s.channel).Result()
	if err != nil {
		return 0, err
	}
	return int(res[s.channel]), nil
}

// FetchSockets describes the targeted sockets of every node.
func (s *shardedAdapter) FetchSockets(ctx context.Context, opts hub.BroadcastOptions) ([]*hub.RemoteSocket, error) {
	out, err := s.local.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return out, err
	}
	n, err := s.ServerCount(ctx)
	if err != nil || n <= 1 {
		return out, err
	}
	id := newHexID()
	msg, err := s.encodeMessage(msgFetchSockets, map[string]any{"opts": toWireOpts(opts), "requestId": id}, false)
	if err != nil {
		return out, err
	}
	r := &request{typ: typeRemoteFetch, want: n - 1}
	err = s.ask(ctx, r, id, msg, s.requestTimeout(opts.Flags.Timeout))
	s.mu.Lock()
	out = append(out, r.sockets...)
	s.mu.Unlock()
	return out, err
}

// Rooms lists this node's rooms: the Node sharded adapter has no request
// for the rooms of other nodes.
func (s *shardedAdapter) Rooms(ctx context.Context) ([]string, error) {
	return s.local.Rooms(ctx)
}

// AddSockets makes the targeted sockets of every node join rooms.
func (s *shardedAdapter) AddSockets(opts hub.BroadcastOptions, rooms []string) error {
	_ = s.local.AddSockets(opts, rooms)
	s.touch(rooms...)
	if opts.Flags.Local {
		return nil
	}
	return s.publishMessage(s.channel, msgSocketsJoin, map[string]any{"opts": toWireOpts(opts), "rooms": nonNil(rooms)}, false)
}

// DelSockets makes the targeted sockets of every node leave rooms.
func (s *shardedAdapter) DelSockets(opts hub.BroadcastOptions, rooms []string) error {
	_ = s.local.DelSockets(opts, rooms)
	s.touch(rooms...)
	if opts.Flags.Local {
		return nil
	}
	return s.publishMessage(s.channel, msgSocketsLeave, map[string]any{"opts": toWireOpts(opts), "rooms": nonNil(rooms)}, false)
}

// DisconnectSockets disconnects the targeted sockets of every node.
func (s *shardedAdapter) DisconnectSockets(opts hub.BroadcastOptions, close bool) error {
	_ = s.local.DisconnectSockets(opts, close)
	if opts.Flags.Local {
		return nil
	}
	return s.publishMessage(s.channel, msgDisconnectSockets, map[string]any{"opts": toWireOpts(opts), "close": close}, false)
}

// ServerSideEmit sends an event to the other nodes.
func (s *shardedAdapter) ServerSideEmit(ctx context.Context, event string, args hub.Args, wantAck bool) ([]hub.Args, error) {
	values, err := args.Values()
	if err != nil {
		return nil, err
	}
	packet := append([]any{event}, values...)
	binary := len(args.Attachments()) > 0
	if !wantAck {
		return nil, s.publishMessage(s.channel, msgServerSideEmit, map[string]any{"packet": packet}, binary)
	}
	n, err := s.ServerCount(ctx)
	if err != nil || n <= 1 {
		return nil, err
	}
	id := newHexID()
	msg, err := s.encodeMessage(msgServerSideEmit, map[string]any{"packet": packet, "requestId": id}, binary)
	if err != nil {
		return nil, err
	}
	r := &request{typ: typeServerSideEmit, want: n - 1}
	err = s.ask(ctx, r, id, msg, s.c.opts.RequestsTimeout)
	s.mu.Lock()
	out := r.acks
	s.mu.Unlock()
	return out, err
}

func (s *shardedAdapter) respond(requester string, typ int, data map[string]any, binary bool) {
	_ = s.publishMessage(s.channel+requester+"#", typ, data, binary)
}

func (s *shardedAdapter) onClusterMessage(m *clusterMessage) {
	switch m.Type {
	case msgBroadcast:
		p, ok := m.packet(s.nsp.Name())
		if !ok {
			return
		}
		opts, ok := m.opts()
		if !ok {
			return
		}
		var id string
		if !m.field("requestId", &id) {
			_ = s.local.Broadcast(p, opts)
			return
		}
		requester := m.UID
		_ = s.local.BroadcastWithAck(p, opts, func(n int) {
			s.respond(requester, msgBroadcastClientCount, map[string]any{"requestId": id, "clientCount": n}, false)
		}, func(r hub.Args, err error) {
			if err != nil {
				// The target disconnected: the protocol has no answer
				// for that; the requester's wait for this node ends on
				// its timeout, or on its bound without one.
				return
			}
			s.respond(requester, msgBroadcastAck, map[string]any{"requestId": id, "packet": firstValue(r)}, len(r.Attachments()) > 0)
		})
	case msgSocketsJoin, msgSocketsLeave:
		opts, ok := m.opts()
		var rooms []string
		if !ok || !m.field("rooms", &rooms) {
			return
		}
		if m.Type == msgSocketsJoin {
			_ = s.local.AddSockets(opts, rooms)
		} else {
			_ = s.local.DelSockets(opts, rooms)
		}
		s.touch(rooms...)
	case msgDisconnectSockets:
		opts, ok := m.opts()
		if !ok {
			return
		}
		var close bool
		m.field("close", &close)
		_ = s.local.DisconnectSockets(opts, close)
	case msgFetchSockets:
		opts, ok := m.opts()
		var id string
		if !ok || !m.field("requestId", &id) {
			return
		}
		rs, _ := s.local.FetchSockets(context.Background(), opts)
		s.respond(m.UID, msgFetchSocketsResponse, map[string]any{"requestId": id, "sockets": nonNil(rs)}, false)
	case msgServerSideEmit:
		event, args, ok := m.args("packet")
		if !ok {
			return
		}
		var ack func(hub.Args)
		var id string
		if m.field("requestId", &id) {
			requester := m.UID
			ack = func(r hub.Args) {
				s.respond(requester, msgServerSideEmitResponse, map[string]any{"requestId": id, "packet": firstValue(r)}, len(r.Attachments()) > 0)
			}
		}
		go s.local.HandleServerSideEmit(event, args, ack)
	}
}

func (s *shardedAdapter) onClusterResponse(m *clusterMessage) {
	var id string
	if !m.field("requestId", &id) {
		return
	}
	s.mu.Lock()
	if r := s.acks[id]; r != nil {
		s.mu.Unlock()
		switch m.Type {
		case msgBroadcastClientCount:
			var n int
			if m.field("clientCount", &n) {
				r.clientCount(n)
			}
		case msgBroadcastAck:
			if a, ok := m.value("packet"); ok {
				r.ack(a, nil)
			}
		}
		return
	}
	s.mu.Unlock()
	r := s.pendingRequest(id)
	if r == nil {
		return
	}
	switch m.Type {
	case msgFetchSocketsResponse:
		var sockets []*hub.RemoteSocket
		if !m.field("sockets", &sockets) {
			return
		}
		s.mu.Lock()
		r.sockets = append(r.sockets, sockets...)
		s.mu.Unlock()
	case msgServerSideEmitResponse:
		a, ok := m.value("packet")
		if !ok {
			return
		}
		s.mu.Lock()
		r.acks = append(r.acks, a)
		s.mu.Unlock()
	default:
		return
	}
	s.answered(r)
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

// touch marks rooms whose room-channel subscription may need to change.
func (s *shardedAdapter) touch(rooms ...string) {
	if s.c.opts.SubscriptionMode == ModeStatic || len(rooms) == 0 {
		return
	}
	s.subMu.Lock()
	for _, r := range rooms {
		s.dirty[r] = true
	}
	s.subMu.Unlock()
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// maintain subscribes to the channels of the rooms this node has members
// in, and unsubscribes from the others, off the sockets' goroutines.
func (s *shardedAdapter) maintain() {
	defer close(s.done)
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		}
		s.subMu.Lock()
		rooms := make([]string, 0, len(s.dirty))
		for r := range s.dirty {
			rooms = append(rooms, r)
		}
		clear(s.dirty)
		s.subMu.Unlock()
		var add, drop []string
		for _, r := range rooms {
			want := s.local.HasRoom(r) && (s.c.opts.SubscriptionMode == ModeDynamicPrivate || s.nsp.Socket(r) == nil)
			ch := s.channel + r + "#"
			if want == s.subscribed[ch] {
				continue
			}
			s.subscribed[ch] = want
			if want {
				add = append(add, ch)
			} else {
				delete(s.subscribed, ch)
				drop = append(drop, ch)
			}
		}
		s.c.mu.Lock()
		for _, ch := range add {
			s.c.channels[ch] = s
		}
		for _, ch := range drop {
			delete(s.c.channels, ch)
		}
		s.c.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		if len(add) > 0 {
			_ = s.c.ps.SSubscribe(ctx, add...)
		}
		if len(drop) > 0 {
			_ = s.c.ps.SUnsubscribe(ctx, drop...)
		}
		cancel()
	}
}

func (s *shardedAdapter) AddAll(sock *hub.Socket, rooms []string) {
	s.local.AddAll(sock, rooms)
	s.touch(rooms...)
}

func (s *shardedAdapter) Del(sock *hub.Socket, room string) {
	s.local.Del(sock, room)
	s.touch(room)
}

func (s *shardedAdapter) DelAll(sock *hub.Socket) {
	rooms := sock.Rooms()
	s.local.DelAll(sock)
	s.touch(rooms...)
}

// Close unsubscribes the namespace's channels and ends its requests.
func (s *shardedAdapter) Close() error {
	s.failPending(ErrClosed)
	s.mu.Lock()
	already := s.closed
	s.closed = true
	s.mu.Unlock()
	if already {
		return nil
	}
	close(s.stop)
	<-s.done
	s.c.mu.Lock()
	chans := []string{s.channel, s.responseChannel}
	for ch := range s.subscribed {
		chans = append(chans, ch)
	}
	for _, ch := range chans {
		delete(s.c.channels, ch)
	}
	s.c.mu.Unlock()
	if !s.c.closed.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = s.c.ps.SUnsubscribe(ctx, chans...)
	}
	return nil
}

func newHexID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

var _ hub.Adapter = (*shardedAdapter)(nil)
