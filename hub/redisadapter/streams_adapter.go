package redisadapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/internal/jsonstr"
)

// streamsAdapter is a namespace's adapter in the streams flavour: local
// delivery through the namespace's MemoryAdapter; broadcasts, joins,
// leaves and disconnects through the namespace's stream; requests through
// pub/sub, on the namespace's channel <prefix>#<nsp>#, answers on the
// requesting node's own <prefix>#<nsp>#<uid>#, in msgpack (the
// ClusterAdapter protocol, cluster.go). It keeps the namespace's recovery
// sessions (streams_session.go).
type streamsAdapter struct {
	clusterAdapter
	s      *Streams
	reader *streamReader

	// Connection state recovery; recovery is nil when the server has none.
	recovery *hub.RecoveryOptions
	liveTTL  time.Duration // a connected socket's session
	restTTL  time.Duration // a disconnected socket's session

	closeOnce sync.Once
}

func newStreamsAdapter(s *Streams, r *streamReader, nsp *hub.Namespace, local hub.LocalAdapter) *streamsAdapter {
	base := newAdapter(s.pubsub, nsp, local)
	base.uid = newHexID()
	base.channel = s.opts.ChannelPrefix + "#" + nsp.Name() + "#"
	base.requestChannel = base.channel // requests go to the namespace's channel
	base.responseChannel = base.channel + base.uid + "#"
	base.pattern, base.specificResponseChannel = "", ""
	a := &streamsAdapter{clusterAdapter: clusterAdapter{adapter: base}, s: s, reader: r}
	a.wire = a
	if ro := nsp.Server().Options().ConnectionStateRecovery; ro != nil {
		a.recovery = ro
		period := refreshPeriod(ro.MaxDisconnectionDuration)
		a.restTTL = ro.MaxDisconnectionDuration
		a.liveTTL = ro.MaxDisconnectionDuration + period
		s.sessions.notePeriod(period)
	}
	return a
}

// handle routes a message from one of the namespace's channels.
func (a *streamsAdapter) handle(m *redis.Message) {
	if msg, ok := a.decodeMessage(m); ok {
		a.onClusterMessage(msg)
	}
}

// onEntry handles an entry of the namespace's stream, on the reader's
// deliverer goroutine.
func (a *streamsAdapter) onEntry(e *streamEntry) {
	if e.typ == msgBroadcast {
		a.onBroadcastEntry(e)
		return
	}
	if e.uid == a.uid {
		return // applied here when it was sent
	}
	m, ok := e.message()
	if !ok {
		a.s.log.Debug("redisadapter: malformed stream entry ignored", "stream", a.reader.name, "id", e.id)
		return
	}
	a.onClusterMessage(m)
}

// onBroadcastEntry delivers a broadcast entry to the local sockets, with
// its id as offset when recovery covers it.
func (a *streamsAdapter) onBroadcastEntry(e *streamEntry) {
	if e.uid == a.uid {
		if id, ok := parseStreamID(e.id); ok {
			if own, ok := a.reader.takeOwn(id); ok {
				a.deliver(own.p, own.opts, e.id)
				return
			}
		}
	}
	if !e.decoded {
		e.decoded = true
		e.p, e.opts, e.requestID, e.okPkt = decodeBroadcastEntry(e.nsp, e.data)
	}
	if !e.okPkt {
		a.s.log.Debug("redisadapter: malformed broadcast entry ignored", "stream", a.reader.name, "id", e.id)
		return
	}
	if e.requestID != "" {
		if e.uid != a.uid {
			a.broadcastForAcks(e.uid, e.requestID, e.p, e.opts)
		}
		return
	}
	a.deliver(e.p, e.opts, e.id)
}

// deliver hands a broadcast read from the stream to the local sockets.
func (a *streamsAdapter) deliver(p *hub.Packet, opts hub.BroadcastOptions, id string) {
	if a.recovery != nil && !opts.Flags.Volatile {
		p.Offset = id
	}
	_ = a.local.Broadcast(p, opts)
}

// decodeBroadcastEntry reads the data of a broadcast entry: {packet,
// opts, requestId?} in JSON, or base64 msgpack.
func decodeBroadcastEntry(nsp, data string) (p *hub.Packet, opts hub.BroadcastOptions, requestID string, ok bool) {
	if len(data) > 0 && data[0] == '{' {
		var w struct {
			Packet struct {
				Data json.RawMessage `json:"data"`
			} `json:"packet"`
			Opts *struct {
				Rooms  []json.RawMessage `json:"rooms"`
				Except []json.RawMessage `json:"except"`
				Flags  map[string]any    `json:"flags"`
			} `json:"opts"`
			RequestID string `json:"requestId"`
		}
		if json.Unmarshal([]byte(data), &w) != nil || w.Opts == nil {
			return nil, opts, "", false
		}
		args, err := hub.RawArgs(w.Packet.Data, nil) // refuses what is not UTF-8
		if err != nil || args.Len() == 0 {
			return nil, opts, "", false
		}
		var event string
		if json.Unmarshal(args.At(0), &event) != nil {
			return nil, opts, "", false
		}
		opts = hub.BroadcastOptions{Rooms: roomsOf(w.Opts.Rooms), Except: roomsOf(w.Opts.Except), Flags: flagsFrom(w.Opts.Flags)}
		return hub.NewPacket(nsp, event, args.From(1)), opts, w.RequestID, true
	}
	m, ok := msgpackData(data)
	if !ok {
		return nil, opts, "", false
	}
	if p, ok = m.packet(nsp); !ok {
		return nil, opts, "", false
	}
	if opts, ok = m.opts(); !ok {
		return nil, opts, "", false
	}
	m.field("requestId", &requestID)
	return p, opts, requestID, true
}

// roomsOf reads a JSON list of rooms, strings or numbers (Node allows
// numeric room names).
func roomsOf(list []json.RawMessage) []string {
	out := make([]string, 0, len(list))
	for _, raw := range list {
		var s string
		if json.Unmarshal(raw, &s) == nil {
			out = append(out, s)
			continue
		}
		var n json.Number
		if json.Unmarshal(raw, &n) == nil {
			out = append(out, n.String())
		}
	}
	return out
}

// msgpackData reads the base64 msgpack data of an entry.
func msgpackData(data string) (*clusterMessage, bool) {
	raw, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return nil, false
	}
	v, err := decodeMsgpack(raw)
	if err != nil {
		return nil, false
	}
	mp, _ := v.(map[string]any)
	if mp == nil {
		return nil, false
	}
	return &clusterMessage{mp: mp}, true
}

// message is the entry as a cluster message, its data decoded.
func (e *streamEntry) message() (*clusterMessage, bool) {
	m := &clusterMessage{UID: e.uid, Nsp: e.nsp, Type: e.typ}
	if e.data == "" {
		return m, true
	}
	if e.data[0] == '{' {
		raw := []byte(e.data)
		if !utf8.Valid(raw) || !json.Valid(raw) {
			return nil, false
		}
		m.Data = raw
		return m, true
	}
	d, ok := msgpackData(e.data)
	if !ok {
		return nil, false
	}
	m.mp = d.mp
	return m, true
}

// encode returns the msgpack message {uid, nsp, type, data}, the form
// of every pub/sub message of the flavour.
func (a *streamsAdapter) encode(typ int, data map[string]any, _ bool) ([]byte, error) {
	return appendValue(nil, map[string]any{"uid": a.uid, "nsp": a.nsp.Name(), "type": int64(typ), "data": data})
}

func (a *streamsAdapter) healthy() bool { return a.s.Healthy() }

// targets is the opts of a message, flags included.
func (a *streamsAdapter) targets(opts hub.BroadcastOptions) any { return msgpackOpts(opts) }

func (a *streamsAdapter) packet(p *hub.Packet) (any, bool, error) {
	pm, err := packetMap(p)
	return pm, true, err
}

func (a *streamsAdapter) eventPacket(event string, args hub.Args) (any, bool, error) {
	packet, err := appendEventMsgpack(nil, event, args)
	return rawMsgpack(packet), true, err
}

func (a *streamsAdapter) roomsChanged([]string) {}

// Broadcast adds p to the stream; it reaches this node's sockets too when
// the reader reads it back. With the Local flag, or while Redis cannot be
// reached, it is delivered here only (without an offset).
func (a *streamsAdapter) Broadcast(p *hub.Packet, opts hub.BroadcastOptions) error {
	if opts.Flags.Local {
		return a.local.Broadcast(p, opts)
	}
	data, err := encodeBroadcastEntry(p, opts)
	if err != nil {
		_ = a.local.Broadcast(p, opts)
		return err
	}
	return a.s.xadd(xaddJob{a: a, typ: msgBroadcast, data: data, p: p, opts: opts})
}

// encodeBroadcastEntry writes the data of a broadcast entry: {packet,
// opts} in JSON, or base64 msgpack when the packet holds binary.
func encodeBroadcastEntry(p *hub.Packet, opts hub.BroadcastOptions) (string, error) {
	if len(p.Args.Attachments()) > 0 {
		pm, err := packetMap(p)
		if err != nil {
			return "", err
		}
		b, err := appendValue(nil, map[string]any{"packet": pm, "opts": msgpackOpts(opts)})
		if err != nil {
			return "", err
		}
		return base64.StdEncoding.EncodeToString(b), nil
	}
	o, err := json.Marshal(msgpackOpts(opts))
	if err != nil {
		return "", err
	}
	args := p.Args.JSON()
	b := make([]byte, 0, 64+len(p.Event)+len(p.Nsp)+len(args)+len(o))
	b = append(b, `{"packet":{"type":2,"data":[`...)
	b = jsonstr.Append(b, p.Event)
	if len(args) > 2 {
		b = append(b, ',')
		b = append(b, args[1:len(args)-1]...)
	}
	b = append(b, `],"nsp":`...)
	b = jsonstr.Append(b, p.Nsp)
	b = append(b, `},"opts":`...)
	b = append(b, o...)
	return string(append(b, '}')), nil
}

// ServerCount is the number of nodes subscribed to the namespace's
// channel, this one included.
func (a *streamsAdapter) ServerCount(ctx context.Context) (int, error) {
	if !a.s.Healthy() {
		return 0, ErrUnavailable
	}
	return a.subscribers(ctx, a.channel)
}

// subscribers counts the subscribers of a channel of the flavour (on a
// Redis Cluster, as Cluster counts them).
func (a *streamsAdapter) subscribers(ctx context.Context, channel string) (int, error) {
	if a.s.opts.Sharded {
		return a.s.pubsub.shardNumSub(ctx, channel)
	}
	return a.s.pubsub.numSub(ctx, channel)
}

// Rooms lists the rooms of every node: Node's cluster protocol has no
// request for them, so they are those of the sockets FetchSockets
// describes (every socket of the namespace: as costly as that).
func (a *streamsAdapter) Rooms(ctx context.Context) ([]string, error) {
	out, _ := a.local.Rooms(ctx)
	sockets, err := a.FetchSockets(ctx, hub.BroadcastOptions{})
	for _, s := range sockets {
		out = append(out, s.Rooms...)
	}
	slices.Sort(out)
	return slices.Compact(out), err
}

// publish adds a join, a leave or a disconnect to the namespace's stream,
// in JSON.
func (a *streamsAdapter) publish(typ int, data map[string]any) error {
	b, err := json.Marshal(data)
	if err != nil {
		return err
	}
	return a.s.xadd(xaddJob{a: a, typ: typ, data: string(b)})
}

// Close stops the namespace's reading and unsubscribes its channels; the
// requests waiting end with ErrClosed.
func (a *streamsAdapter) Close() error {
	a.closeOnce.Do(func() {
		a.failPending(ErrClosed)
		a.mu.Lock()
		a.closed = true
		a.mu.Unlock()
		a.reader.remove(a)
		a.s.sessions.forget(a)
		c := a.c
		c.mu.Lock()
		for _, ch := range []string{a.channel, a.responseChannel} {
			if c.channels[ch] == member(a) {
				delete(c.channels, ch)
			}
		}
		c.mu.Unlock()
		if c.closed.Load() {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if a.s.opts.Sharded {
			_ = c.ps.SUnsubscribe(ctx, a.channel, a.responseChannel)
		} else {
			_ = c.ps.Unsubscribe(ctx, a.channel, a.responseChannel)
		}
	})
	return nil
}

var (
	_ hub.Adapter        = (*streamsAdapter)(nil)
	_ hub.SessionStore   = (*streamsAdapter)(nil)
	_ hub.SessionTracker = (*streamsAdapter)(nil)
)
