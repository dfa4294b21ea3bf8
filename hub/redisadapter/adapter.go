package redisadapter

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
)

// Request types of the Node adapter.
const (
	typeSockets              = 0
	typeAllRooms             = 1
	typeRemoteJoin           = 2
	typeRemoteLeave          = 3
	typeRemoteDisconnect     = 4
	typeRemoteFetch          = 5
	typeServerSideEmit       = 6
	typeBroadcast            = 7
	typeBroadcastClientCount = 8
	typeBroadcastAck         = 9
)

// adapter is one namespace's cluster adapter: local delivery through the
// namespace's MemoryAdapter, the rest through Redis.
type adapter struct {
	c     *Cluster
	nsp   *hub.Namespace
	local hub.LocalAdapter
	uid   string

	channel                 string // <key>#<nsp>#, broadcasts to all or to several rooms
	pattern                 string
	requestChannel          string
	responseChannel         string
	specificResponseChannel string

	mu       sync.Mutex
	requests map[string]*request // requests awaiting answers, by id
	acks     map[string]*ackRequest
	closed   bool
}

// request is a FetchSockets, Rooms or ServerSideEmit awaiting answers.
type request struct {
	typ     int
	want    int // answers awaited
	got     int
	sockets []*hub.RemoteSocket
	rooms   []string
	acks    []hub.Args
	done    chan error // receives once, buffered
}

// ackRequest is a broadcast with acks whose other nodes' counts and acks
// are coming in.
type ackRequest struct {
	clientCount func(int)
	ack         func(hub.Args, error)
	timer       *time.Timer
}

func newAdapter(c *Cluster, nsp *hub.Namespace, local hub.LocalAdapter) *adapter {
	key, name := c.opts.Key, nsp.Name()
	a := &adapter{
		c: c, nsp: nsp, local: local, uid: newUID(6),
		channel:         key + "#" + name + "#",
		requestChannel:  key + "-request#" + name + "#",
		responseChannel: key + "-response#" + name + "#",
		requests:        make(map[string]*request),
		acks:            make(map[string]*ackRequest),
	}
	a.pattern = escapeGlob(a.channel) + "*"
	a.specificResponseChannel = a.responseChannel + a.uid + "#"
	return a
}

// handle routes a message from one of the namespace's channels.
func (a *adapter) handle(m *redis.Message) {
	switch {
	case m.Pattern != "":
		a.onBroadcast(m.Channel, []byte(m.Payload))
	case m.Channel == a.requestChannel:
		a.onRequest([]byte(m.Payload))
	default:
		a.onResponse([]byte(m.Payload))
	}
}

func (a *adapter) AddAll(s *hub.Socket, rooms []string) { a.local.AddAll(s, rooms) }
func (a *adapter) Del(s *hub.Socket, room string)       { a.local.Del(s, room) }
func (a *adapter) DelAll(s *hub.Socket)                 { a.local.DelAll(s) }

// wireOpts is the Node adapter's form of BroadcastOptions.
type wireOpts struct {
	Rooms  []string       `json:"rooms"`
	Except []string       `json:"except"`
	Flags  map[string]any `json:"flags,omitempty"`
}

func toWireOpts(o hub.BroadcastOptions) wireOpts {
	w := wireOpts{Rooms: o.Rooms, Except: o.Except}
	if w.Rooms == nil {
		w.Rooms = []string{}
	}
	if w.Except == nil {
		w.Except = []string{}
	}
	return w
}

// msgpackOpts is the opts map of a published broadcast.
func msgpackOpts(o hub.BroadcastOptions) map[string]any {
	flags := map[string]any{}
	if o.Flags.Volatile {
		flags["volatile"] = true
	}
	if o.Flags.Compress {
		flags["compress"] = true
	}
	if o.Flags.Timeout > 0 {
		flags["timeout"] = o.Flags.Timeout.Milliseconds()
	}
	w := toWireOpts(o)
	return map[string]any{"rooms": w.Rooms, "except": w.Except, "flags": flags}
}

// fromWireOpts reads a broadcast's opts; ok is false when they are not a
// map, so that a malformed message never reaches every socket.
func fromWireOpts(v any) (o hub.BroadcastOptions, ok bool) {
	m, ok := v.(map[string]any)
	if !ok {
		return o, false
	}
	o = hub.BroadcastOptions{Rooms: stringList(m["rooms"]), Except: stringList(m["except"]), Flags: flagsFrom(m["flags"])}
	return o, true
}

// flagsFrom reads a broadcast's flags map.
func flagsFrom(v any) (f hub.BroadcastFlags) {
	m, _ := v.(map[string]any)
	f.Volatile, _ = m["volatile"].(bool)
	f.Compress, _ = m["compress"].(bool)
	if ms, ok := number(m["timeout"]); ok && ms > 0 {
		f.Timeout = time.Duration(ms * float64(time.Millisecond))
	}
	return f
}

// packetMap is the Node adapter's form of an event packet: the
// unencoded Socket.IO packet {type: 2, data: [event, ...args], nsp}, binary
// values as msgpack bin, ready to go inside a message.
func packetMap(p *hub.Packet) (rawMsgpack, error) {
	return appendPacketMsgpack(nil, p)
}

// packetFrom reads a packet map; ok is false for anything but an event of
// this namespace.
func (a *adapter) packetFrom(v any) (*hub.Packet, bool) {
	m, _ := v.(map[string]any)
	if m == nil {
		return nil, false
	}
	nsp, has := m["nsp"].(string)
	if !has {
		nsp = "/"
	}
	if nsp != a.nsp.Name() {
		return nil, false
	}
	data, _ := m["data"].([]any)
	if len(data) == 0 {
		return nil, false
	}
	event, ok := data[0].(string)
	if !ok {
		return nil, false
	}
	args, err := hub.NewArgs(data[1:]...)
	if err != nil {
		return nil, false
	}
	return hub.NewPacket(nsp, event, args), true
}

// Broadcast delivers p to the local sockets and publishes it for the other
// nodes (to the room's own channel when exactly one room is targeted, as
// Node peers expect).
func (a *adapter) Broadcast(p *hub.Packet, opts hub.BroadcastOptions) error {
	err := a.local.Broadcast(p, opts)
	if opts.Flags.Local || err != nil {
		return err
	}
	return a.publishBroadcast(p, opts)
}

func (a *adapter) publishBroadcast(p *hub.Packet, opts hub.BroadcastOptions) error {
	msg := appendString(appendArrayHeader(nil, 3), a.uid)
	msg, err := appendPacketMsgpack(msg, p)
	if err != nil {
		return err
	}
	if msg, err = appendValue(msg, msgpackOpts(opts)); err != nil {
		return err
	}
	ch := a.channel
	if len(opts.Rooms) == 1 {
		ch += opts.Rooms[0] + "#"
	}
	return a.c.send(ch, msg)
}

// onBroadcast handles a message on the broadcast pattern.
func (a *adapter) onBroadcast(channel string, payload []byte) {
	room := ""
	if len(channel) > len(a.channel) {
		room = channel[len(a.channel) : len(channel)-1]
	}
	if room != "" && !a.local.HasRoom(room) {
		return
	}
	if a.fromSelf(payload) {
		return
	}
	uid, nsp, event, args, opts, err := decodeBroadcast(payload)
	if err != nil {
		a.c.log.Debug("redisadapter: malformed broadcast ignored", "channel", channel, "err", err)
		return
	}
	if uid == a.uid || nsp != a.nsp.Name() {
		return
	}
	_ = a.local.Broadcast(hub.NewPacket(nsp, event, args), opts)
}

// fromSelf reports whether a broadcast is this adapter's own, as it comes
// back from Redis, from its first bytes: a 3-element array whose first
// element is our 6-character uid. It saves decoding every message this
// node publishes.
func (a *adapter) fromSelf(payload []byte) bool {
	return len(payload) >= 2+len(a.uid) && payload[0] == 0x93 && payload[1] == 0xa0|byte(len(a.uid)) &&
		string(payload[2:2+len(a.uid)]) == a.uid
}

// BroadcastWithAck delivers p to the local sockets and asks the other
// nodes to do the same; each node reports its count, then its acks.
func (a *adapter) BroadcastWithAck(p *hub.Packet, opts hub.BroadcastOptions, clientCount func(int), ack func(hub.Args, error)) error {
	if !opts.Flags.Local {
		if !a.c.Healthy() {
			return ErrUnavailable
		}
		pm, err := packetMap(p)
		if err != nil {
			return err
		}
		id := newUID(6)
		msg, err := appendValue(nil, map[string]any{
			"uid": a.uid, "requestId": id, "type": int64(typeBroadcast),
			"packet": pm, "opts": msgpackOpts(opts),
		})
		if err != nil {
			return err
		}
		if err := a.publishAckRequest(id, msg, opts, clientCount, ack); err != nil {
			return err
		}
	}
	return a.local.BroadcastWithAck(p, opts, clientCount, ack)
}

// ackWait bounds the wait for other nodes' acks of a broadcast without a
// Timeout.
const ackWait = time.Minute

// publishAckRequest keeps clientCount and ack for the answers to the
// broadcast id, then publishes msg, the broadcast. Without a timeout the
// broadcast waits for every ack; the other nodes' answers are still only
// awaited for a bounded time (ackWait), after which the broadcast ends
// with an error wrapping hub.ErrTimeout: a target on another node that
// disconnects sends nothing (the Node protocol has no message for it), and
// the broadcast must end.
func (a *adapter) publishAckRequest(id string, msg []byte, opts hub.BroadcastOptions, clientCount func(int), ack func(hub.Args, error)) error {
	life := opts.Flags.Timeout
	if life <= 0 {
		life = ackWait
	}
	r := &ackRequest{clientCount: clientCount, ack: ack}
	forget := func() {
		a.mu.Lock()
		delete(a.acks, id)
		a.mu.Unlock()
	}
	expire := func() {
		forget()
		ack(hub.Args{}, fmt.Errorf("redisadapter: the other nodes' acks did not all come within %v: %w", life, hub.ErrTimeout))
	}
	a.mu.Lock()
	a.acks[id] = r
	r.timer = time.AfterFunc(life, expire)
	a.mu.Unlock()
	if err := a.c.send(a.requestChannel, msg); err != nil {
		forget()
		r.timer.Stop()
		return err
	}
	return nil
}

// ServerCount is the number of nodes subscribed to the namespace's request
// channel, this one included.
func (a *adapter) ServerCount(ctx context.Context) (int, error) {
	if !a.c.Healthy() {
		return 0, ErrUnavailable
	}
	return a.c.numSub(ctx, a.requestChannel)
}

// ask publishes a request and waits for want answers (or until ctx ends or
// the requests timeout passes).
func (a *adapter) ask(ctx context.Context, r *request, id string, msg []byte, timeout time.Duration) error {
	r.done = make(chan error, 1)
	a.mu.Lock()
	if a.closed {
		a.mu.Unlock()
		return ErrClosed
	}
	a.requests[id] = r
	a.mu.Unlock()
	defer func() {
		a.mu.Lock()
		delete(a.requests, id)
		a.mu.Unlock()
	}()
	if err := a.c.send(a.requestChannel, msg); err != nil {
		return err
	}
	t := time.NewTimer(timeout)
	defer t.Stop()
	select {
	case err := <-r.done:
		return err
	case <-t.C:
	case <-ctx.Done():
	}
	a.mu.Lock()
	got, want := r.got, r.want
	a.mu.Unlock()
	return fmt.Errorf("redisadapter: timeout reached: only %d responses received out of %d: %w", got, want, context.DeadlineExceeded)
}

// askSockets asks the other nodes for sockets (msg, a FETCH_SOCKETS
// request with id) and returns what the want nodes that answered in time
// described.
func (a *adapter) askSockets(ctx context.Context, id string, msg []byte, want int, timeout time.Duration) ([]*hub.RemoteSocket, error) {
	r := &request{typ: typeRemoteFetch, want: want}
	err := a.ask(ctx, r, id, msg, timeout)
	a.mu.Lock()
	defer a.mu.Unlock()
	return r.sockets, err
}

// askAcks sends msg, a server-side emit with id, and returns the answers
// of the want other nodes that answered in time.
func (a *adapter) askAcks(ctx context.Context, id string, msg []byte, want int, timeout time.Duration) ([]hub.Args, error) {
	r := &request{typ: typeServerSideEmit, want: want}
	err := a.ask(ctx, r, id, msg, timeout)
	a.mu.Lock()
	defer a.mu.Unlock()
	return r.acks, err
}

func (a *adapter) requestTimeout(d time.Duration) time.Duration {
	if d > 0 {
		return d
	}
	return a.c.opts.RequestsTimeout
}

// FetchSockets describes the targeted sockets of every node.
func (a *adapter) FetchSockets(ctx context.Context, opts hub.BroadcastOptions) ([]*hub.RemoteSocket, error) {
	out, err := a.local.FetchSockets(ctx, opts)
	if err != nil || opts.Flags.Local {
		return out, err
	}
	n, err := a.ServerCount(ctx)
	if err != nil {
		return out, err
	}
	if n <= 1 {
		return out, nil
	}
	id := newUID(6)
	msg, _ := json.Marshal(map[string]any{
		"uid": a.uid, "requestId": id, "type": typeRemoteFetch, "opts": toWireOpts(opts),
	})
	remote, err := a.askSockets(ctx, id, msg, n-1, a.requestTimeout(opts.Flags.Timeout))
	return append(out, remote...), err
}

// Rooms lists the rooms of every node.
func (a *adapter) Rooms(ctx context.Context) ([]string, error) {
	out, _ := a.local.Rooms(ctx)
	n, err := a.ServerCount(ctx)
	if err != nil {
		return out, err
	}
	if n <= 1 {
		return out, nil
	}
	id := newUID(6)
	msg, _ := json.Marshal(map[string]any{"uid": a.uid, "requestId": id, "type": typeAllRooms})
	r := &request{typ: typeAllRooms, want: n - 1}
	err = a.ask(ctx, r, id, msg, a.c.opts.RequestsTimeout)
	a.mu.Lock()
	out = append(out, r.rooms...)
	a.mu.Unlock()
	slices.Sort(out)
	return slices.Compact(out), err
}

// AddSockets makes the targeted sockets of every node join rooms. This
// node applies it at once; the others on receipt.
func (a *adapter) AddSockets(opts hub.BroadcastOptions, rooms []string) error {
	_ = a.local.AddSockets(opts, rooms)
	if opts.Flags.Local {
		return nil
	}
	return a.publishRemote(typeRemoteJoin, opts, map[string]any{"rooms": nonNil(rooms)})
}

// DelSockets makes the targeted sockets of every node leave rooms.
func (a *adapter) DelSockets(opts hub.BroadcastOptions, rooms []string) error {
	_ = a.local.DelSockets(opts, rooms)
	if opts.Flags.Local {
		return nil
	}
	return a.publishRemote(typeRemoteLeave, opts, map[string]any{"rooms": nonNil(rooms)})
}

// DisconnectSockets disconnects the targeted sockets of every node.
func (a *adapter) DisconnectSockets(opts hub.BroadcastOptions, close bool) error {
	_ = a.local.DisconnectSockets(opts, close)
	if opts.Flags.Local {
		return nil
	}
	return a.publishRemote(typeRemoteDisconnect, opts, map[string]any{"close": close})
}

func (a *adapter) publishRemote(typ int, opts hub.BroadcastOptions, extra map[string]any) error {
	m := map[string]any{"uid": a.uid, "type": typ, "opts": toWireOpts(opts)}
	for k, v := range extra {
		m[k] = v
	}
	msg, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return a.c.send(a.requestChannel, msg)
}

// ServerSideEmit sends an event to the namespace on the other nodes; with
// wantAck it waits for one answer from each (only their first argument).
func (a *adapter) ServerSideEmit(ctx context.Context, event string, args hub.Args, wantAck bool) ([]hub.Args, error) {
	values, err := args.Values()
	if err != nil {
		return nil, err
	}
	data := append([]any{event}, values...)
	if !wantAck {
		msg, err := json.Marshal(map[string]any{"uid": a.uid, "type": typeServerSideEmit, "data": data})
		if err != nil {
			return nil, err
		}
		return nil, a.c.send(a.requestChannel, msg)
	}
	n, err := a.ServerCount(ctx)
	if err != nil {
		return nil, err
	}
	if n-1 <= 0 {
		return nil, nil
	}
	id := newUID(6)
	msg, err := json.Marshal(map[string]any{"uid": a.uid, "requestId": id, "type": typeServerSideEmit, "data": data})
	if err != nil {
		return nil, err
	}
	return a.askAcks(ctx, id, msg, n-1, a.c.opts.RequestsTimeout)
}

// Close unsubscribes the namespace and ends its waiting requests.
func (a *adapter) Close() error {
	a.failPending(ErrClosed)
	a.mu.Lock()
	a.closed = true
	a.mu.Unlock()
	a.c.forget(a)
	return nil
}

// failPending ends every request waiting for answers with err, and every
// broadcast waiting for other nodes' acks.
func (a *adapter) failPending(err error) {
	a.mu.Lock()
	for _, r := range a.requests {
		select {
		case r.done <- err:
		default:
		}
	}
	acks := a.acks
	a.acks = make(map[string]*ackRequest)
	a.mu.Unlock()
	for _, r := range acks {
		r.timer.Stop()
		r.ack(hub.Args{}, err)
	}
}

// incoming is a request or response as the Node adapter writes them; a
// field is absent when the type does not use it.
type incoming struct {
	UID         string            `json:"uid"`
	RequestID   string            `json:"requestId"`
	Type        *int              `json:"type"`
	Opts        json.RawMessage   `json:"opts"`
	Rooms       []string          `json:"rooms"`
	Close       bool              `json:"close"`
	Data        json.RawMessage   `json:"data"`
	Sockets     []json.RawMessage `json:"sockets"`
	ClientCount *int              `json:"clientCount"`
	// The legacy single-socket form of join, leave and disconnect.
	SID  string `json:"sid"`
	Room string `json:"room"`
}

// opts reads the request's targets; ok is false when they are missing or
// malformed (Node throws on those too), so that a bad request never
// falls back to "every socket".
func (in *incoming) opts() (o hub.BroadcastOptions, ok bool) {
	var w wireOpts
	if len(in.Opts) == 0 || json.Unmarshal(in.Opts, &w) != nil {
		return o, false
	}
	return hub.BroadcastOptions{Rooms: w.Rooms, Except: w.Except}, true
}

// onRequest handles a message on the request channel.
func (a *adapter) onRequest(payload []byte) {
	if len(payload) > 0 && payload[0] != '{' {
		a.onBinaryRequest(payload)
		return
	}
	var in incoming
	if !utf8.Valid(payload) {
		a.c.log.Debug("redisadapter: malformed request ignored", "err", errNotUTF8JSON)
		return
	}
	if err := json.Unmarshal(payload, &in); err != nil || in.Type == nil {
		a.c.log.Debug("redisadapter: malformed request ignored", "err", err)
		return
	}
	if in.UID == a.uid {
		return // our own request; this node handled it already
	}
	ctx := context.Background()
	switch *in.Type {
	case typeSockets:
		var ids []string
		rs, _ := a.local.FetchSockets(ctx, hub.BroadcastOptions{Rooms: in.Rooms})
		for _, r := range rs {
			ids = append(ids, r.ID)
		}
		a.respond(in.UID, map[string]any{"requestId": in.RequestID, "sockets": nonNil(ids)})
	case typeAllRooms:
		rooms, _ := a.local.Rooms(ctx)
		a.respond(in.UID, map[string]any{"requestId": in.RequestID, "rooms": nonNil(rooms)})
	case typeRemoteJoin, typeRemoteLeave, typeRemoteDisconnect:
		if in.Opts == nil {
			a.onLegacyRemote(&in)
			return
		}
		opts, ok := in.opts()
		if !ok {
			return
		}
		switch *in.Type {
		case typeRemoteJoin:
			_ = a.local.AddSockets(opts, in.Rooms)
		case typeRemoteLeave:
			_ = a.local.DelSockets(opts, in.Rooms)
		default:
			_ = a.local.DisconnectSockets(opts, in.Close)
		}
	case typeRemoteFetch:
		opts, ok := in.opts()
		if !ok {
			return
		}
		rs, _ := a.local.FetchSockets(ctx, opts)
		a.respond(in.UID, map[string]any{"requestId": in.RequestID, "sockets": nonNil(rs)})
	case typeServerSideEmit:
		var data []any
		if err := json.Unmarshal(in.Data, &data); err != nil || len(data) == 0 {
			return
		}
		event, ok := data[0].(string)
		if !ok {
			return
		}
		args, err := hub.NewArgs(data[1:]...)
		if err != nil {
			return
		}
		var ack func(hub.Args)
		if in.RequestID != "" {
			id := in.RequestID
			ack = func(r hub.Args) {
				msg, err := json.Marshal(map[string]any{"type": typeServerSideEmit, "requestId": id, "data": firstValue(r)})
				if err == nil {
					// Node answers server-side emits on the shared channel.
					_ = a.c.send(a.responseChannel, msg)
				}
			}
		}
		// A listener may take its time: it must not hold up the
		// namespace's other messages.
		go a.local.HandleServerSideEmit(event, args, ack)
	}
}

// onLegacyRemote handles the single-socket join, leave and disconnect of
// older Node adapters, which expect an answer.
func (a *adapter) onLegacyRemote(in *incoming) {
	s := a.nsp.Socket(in.SID)
	if s == nil {
		return
	}
	switch *in.Type {
	case typeRemoteJoin:
		_ = s.Join(in.Room)
	case typeRemoteLeave:
		_ = s.Leave(in.Room)
	default:
		s.Disconnect(in.Close)
	}
	a.respond(in.UID, map[string]any{"requestId": in.RequestID})
}

// onBinaryRequest handles a msgpack request: a broadcast with acks.
func (a *adapter) onBinaryRequest(payload []byte) {
	v, err := decodeMsgpack(payload)
	if err != nil {
		a.c.log.Debug("redisadapter: malformed request ignored", "err", err)
		return
	}
	m, _ := v.(map[string]any)
	if t, _ := number(m["type"]); t != typeBroadcast {
		return
	}
	id, _ := m["requestId"].(string)
	uid, _ := m["uid"].(string)
	if uid == a.uid || id == "" {
		return
	}
	p, ok := a.packetFrom(m["packet"])
	if !ok {
		return
	}
	opts, ok := fromWireOpts(m["opts"])
	if !ok {
		return
	}
	_ = a.local.BroadcastWithAck(p, opts, func(n int) {
		msg, _ := json.Marshal(map[string]any{"type": typeBroadcastClientCount, "requestId": id, "clientCount": n})
		a.respondTo(uid, msg)
	}, func(r hub.Args, err error) {
		if err != nil {
			// The target disconnected: the protocol has no answer for
			// that; the requester's wait for this node ends on its
			// timeout, or on its bound (ackWait) without one.
			return
		}
		msg, err := appendValue(nil, map[string]any{"type": int64(typeBroadcastAck), "requestId": id, "packet": firstValue(r)})
		if err == nil {
			a.respondTo(uid, msg)
		}
	})
}

func (a *adapter) respond(uid string, v any) {
	msg, err := json.Marshal(v)
	if err != nil {
		a.c.log.Warn("redisadapter: cannot encode a response", "err", err)
		return
	}
	a.respondTo(uid, msg)
}

func (a *adapter) respondTo(uid string, msg []byte) {
	ch := a.responseChannel
	if a.c.opts.PublishOnSpecificResponseChannel {
		ch += uid + "#"
	}
	_ = a.c.send(ch, msg)
}

// onResponse handles a message on a response channel.
func (a *adapter) onResponse(payload []byte) {
	var in incoming
	if len(payload) > 0 && payload[0] != '{' {
		// A broadcast ack, in msgpack.
		v, err := decodeMsgpack(payload)
		if err != nil {
			return
		}
		m, _ := v.(map[string]any)
		id, _ := m["requestId"].(string)
		if t, _ := number(m["type"]); t != typeBroadcastAck {
			return
		}
		a.mu.Lock()
		r := a.acks[id]
		a.mu.Unlock()
		if r != nil {
			args, err := hub.NewArgs(m["packet"])
			if err == nil {
				r.ack(args, nil)
			}
		}
		return
	}
	if !utf8.Valid(payload) || json.Unmarshal(payload, &in) != nil || in.RequestID == "" {
		return
	}
	a.mu.Lock()
	if r := a.acks[in.RequestID]; r != nil {
		a.mu.Unlock()
		if in.Type != nil && *in.Type == typeBroadcastClientCount && in.ClientCount != nil {
			r.clientCount(*in.ClientCount)
		}
		return
	}
	defer a.mu.Unlock()
	r := a.requests[in.RequestID]
	if r == nil {
		return
	}
	switch r.typ {
	case typeRemoteFetch:
		if in.Sockets == nil {
			return
		}
		for _, raw := range in.Sockets {
			var s hub.RemoteSocket
			if json.Unmarshal(raw, &s) == nil {
				r.sockets = append(r.sockets, &s)
			}
		}
	case typeAllRooms:
		var rooms struct {
			Rooms []string `json:"rooms"`
		}
		if json.Unmarshal(payload, &rooms) != nil || rooms.Rooms == nil {
			return
		}
		r.rooms = append(r.rooms, rooms.Rooms...)
	case typeServerSideEmit:
		args, err := hub.RawArgs(append(append([]byte{'['}, orNull(in.Data)...), ']'), nil)
		if err != nil {
			return
		}
		r.acks = append(r.acks, args)
	default:
		return
	}
	r.got++
	if r.got >= r.want {
		select {
		case r.done <- nil:
		default:
		}
	}
}

// pendingRequest returns the request waiting under id, or nil.
func (a *adapter) pendingRequest(id string) *request {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.requests[id]
}

// answered counts one answer to r and ends its wait with the last.
func (a *adapter) answered(r *request) {
	a.mu.Lock()
	r.got++
	done := r.got >= r.want
	a.mu.Unlock()
	if done {
		select {
		case r.done <- nil:
		default:
		}
	}
}

// firstValue is the first argument of an ack as a Go value, binary kept
// as []byte (only the first argument crosses nodes, as in Node).
func firstValue(a hub.Args) any {
	values, err := a.Values()
	if err != nil || len(values) == 0 {
		return nil
	}
	return values[0]
}

func stringList(v any) []string {
	list, _ := v.([]any)
	out := make([]string, 0, len(list))
	for _, e := range list {
		switch x := e.(type) {
		case string:
			out = append(out, x)
		case int64:
			out = append(out, fmt.Sprint(x)) // Node allows numeric rooms
		}
	}
	return out
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case int64:
		return float64(x), true
	case uint64:
		return float64(x), true
	case float64:
		return x, true
	}
	return 0, false
}

func nonNil[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

var _ hub.Adapter = (*adapter)(nil)
