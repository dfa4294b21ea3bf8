package redisadapter

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
)

// shardedAdapter is a namespace's adapter in the sharded flavour of the
// ClusterAdapter protocol (cluster.go): every message goes to the
// namespace's main channel (or, in the dynamic modes, a one-room
// broadcast to that room's channel), answers to the requesting node's own
// channel; messages are JSON, or msgpack when they carry binary.
type shardedAdapter struct {
	clusterAdapter

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
	base.uid = newHexID()
	base.responseChannel = base.channel + base.uid + "#"
	base.requestChannel = base.channel // requests go to the main channel
	s := &shardedAdapter{
		clusterAdapter: clusterAdapter{adapter: base},
		subscribed:     make(map[string]bool),
		dirty:          make(map[string]bool),
		wake:           make(chan struct{}, 1),
		stop:           make(chan struct{}),
		done:           make(chan struct{}),
	}
	s.wire = s
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

// handle routes a message from one of the namespace's channels: only
// answers are taken from this node's own.
func (s *shardedAdapter) handle(m *redis.Message) {
	msg, ok := s.decodeMessage(m)
	if !ok || m.Channel == s.responseChannel && !msg.isResponse() {
		return
	}
	s.onClusterMessage(msg)
}

// encode returns {uid, nsp, type, data}: JSON, or msgpack when data holds
// binary (as Node's encode does).
func (s *shardedAdapter) encode(typ int, data map[string]any, binary bool) ([]byte, error) {
	if binary {
		return appendValue(nil, map[string]any{"uid": s.uid, "nsp": s.nsp.Name(), "type": int64(typ), "data": data})
	}
	return json.Marshal(map[string]any{"uid": s.uid, "nsp": s.nsp.Name(), "type": typ, "data": data})
}

// publishMessage sends an encoded message to channel.
func (s *shardedAdapter) publishMessage(channel string, typ int, data map[string]any, binary bool) error {
	msg, err := s.encode(typ, data, binary)
	if err != nil {
		return err
	}
	return s.c.send(channel, msg)
}

// packet is a packet's form inside a message: JSON values as they are,
// or msgpack when it carries binary.
func (s *shardedAdapter) packet(p *hub.Packet) (v any, binary bool, err error) {
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
	pd, binary, err := s.packet(p)
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

// ServerCount is the number of nodes on the namespace's main channel.
func (s *shardedAdapter) ServerCount(ctx context.Context) (int, error) {
	if !s.c.Healthy() {
		return 0, ErrUnavailable
	}
	return s.c.shardNumSub(ctx, s.channel)
}

// Rooms lists this node's rooms: the Node sharded adapter has no request
// for the rooms of other nodes.
func (s *shardedAdapter) Rooms(ctx context.Context) ([]string, error) {
	return s.local.Rooms(ctx)
}

func (s *shardedAdapter) healthy() bool { return s.c.Healthy() }

// targets is the opts of a request: rooms and except, in JSON.
func (s *shardedAdapter) targets(opts hub.BroadcastOptions) any { return toWireOpts(opts) }

// eventPacket is [event, ...args] as Go values: JSON, or msgpack when
// they hold binary.
func (s *shardedAdapter) eventPacket(event string, args hub.Args) (any, bool, error) {
	values, err := args.Values()
	if err != nil {
		return nil, false, err
	}
	return append([]any{event}, values...), len(args.Attachments()) > 0, nil
}

// publish sends a join, a leave or a disconnect on the main channel, in
// JSON.
func (s *shardedAdapter) publish(typ int, data map[string]any) error {
	return s.publishMessage(s.channel, typ, data, false)
}

// roomsChanged has the room channels follow the rooms' local members.
func (s *shardedAdapter) roomsChanged(rooms []string) { s.touch(rooms...) }

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

var _ hub.Adapter = (*shardedAdapter)(nil)
