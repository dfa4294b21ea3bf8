package hub

import (
	"bytes"
	"context"
	"encoding/json"
	"hash/maphash"
	"slices"
	"sync"
	"time"

	"github.com/hubd/hubd/hub/internal/engine"
)

// shardCount spreads rooms over locks so that joins and broadcasts to
// unrelated rooms do not contend.
const shardCount = 32

type shard struct {
	mu      sync.RWMutex
	rooms   map[string]*roomSet
	sockets map[string]*Socket // by id, for the sockets whose id hashes here
	// joined keeps, for the sockets whose id hashes here, their rooms in
	// the order they joined them (Socket.rooms is a set): DelAll leaves
	// them in that order, as the reference's delAll walks its Set.
	joined map[*Socket][]string
	_      [32]byte // keep shards on separate cache lines
}

// MemoryAdapter is the in-memory adapter, a namespace's adapter unless
// Options.Adapter says otherwise: the rooms of one node's sockets. Cluster
// adapters wrap it (they receive it as a LocalAdapter) for local delivery.
// Namespace.Adapter returns it when the namespace has no cluster adapter.
type MemoryAdapter struct {
	nsp    *Namespace
	seed   maphash.Seed
	shards [shardCount]shard

	eventsMu sync.RWMutex
	events   RoomEvents
	added    []*RoomEvents // by Namespace.AddRoomEvents; copied, never changed

	// store keeps the packets and sessions of connection state recovery
	// when this adapter is the namespace's (nil otherwise).
	store *memoryStore

	// The broadcasts with acks whose targets may still answer, by packet
	// (see BroadcastWithAck).
	acksMu        sync.Mutex
	ackBroadcasts map[*Packet][]*ackBroadcast
}

// RoomEvents are the adapter's listeners, called after the change, outside
// the adapter's locks. CreateRoom fires before the first JoinRoom of a room
// and DeleteRoom after its last LeaveRoom; a socket's own room counts.
type RoomEvents struct {
	CreateRoom func(room string)
	DeleteRoom func(room string)
	JoinRoom   func(room, id string)
	LeaveRoom  func(room, id string)
}

// newMemoryAdapter returns the in-memory adapter of nsp.
func newMemoryAdapter(nsp *Namespace) *MemoryAdapter {
	a := &MemoryAdapter{nsp: nsp, seed: maphash.MakeSeed()}
	for i := range a.shards {
		a.shards[i].rooms = make(map[string]*roomSet)
		a.shards[i].sockets = make(map[string]*Socket)
		a.shards[i].joined = make(map[*Socket][]string)
	}
	return a
}

// setRoomEvents replaces the adapter's listeners.
func (a *MemoryAdapter) setRoomEvents(ev RoomEvents) {
	a.eventsMu.Lock()
	a.events = ev
	a.eventsMu.Unlock()
}

func (a *MemoryAdapter) shardOf(key string) *shard {
	return &a.shards[maphash.String(a.seed, key)%shardCount]
}

// roomChange is one membership change to report to the listeners.
type roomChange struct {
	room string
	join bool
	edge bool // the room was created or deleted
}

func (a *MemoryAdapter) report(id string, changes []roomChange) {
	if len(changes) == 0 {
		return
	}
	a.eventsMu.RLock()
	ev := a.events
	added := a.added
	a.eventsMu.RUnlock()
	ev.report(id, changes)
	for _, more := range added {
		more.report(id, changes)
	}
}

// report calls the listeners of ev for changes.
func (ev *RoomEvents) report(id string, changes []roomChange) {
	for _, c := range changes {
		if c.join {
			if c.edge && ev.CreateRoom != nil {
				ev.CreateRoom(c.room)
			}
			if ev.JoinRoom != nil {
				ev.JoinRoom(c.room, id)
			}
		} else {
			if ev.LeaveRoom != nil {
				ev.LeaveRoom(c.room, id)
			}
			if c.edge && ev.DeleteRoom != nil {
				ev.DeleteRoom(c.room)
			}
		}
	}
}

func (a *MemoryAdapter) hasListeners() bool {
	a.eventsMu.RLock()
	defer a.eventsMu.RUnlock()
	ev := a.events
	return ev.CreateRoom != nil || ev.DeleteRoom != nil || ev.JoinRoom != nil || ev.LeaveRoom != nil || len(a.added) > 0
}

// addRoomEvents adds listeners beside those setRoomEvents sets; the
// returned function removes them.
func (a *MemoryAdapter) addRoomEvents(ev RoomEvents) func() {
	p := &ev
	a.eventsMu.Lock()
	a.added = append(slices.Clip(a.added), p)
	a.eventsMu.Unlock()
	return func() {
		a.eventsMu.Lock()
		if i := slices.Index(a.added, p); i >= 0 {
			a.added = slices.Delete(slices.Clone(a.added), i, i+1)
		}
		a.eventsMu.Unlock()
	}
}

// register makes a socket known by id.
func (a *MemoryAdapter) register(s *Socket) {
	sh := a.shardOf(s.id)
	sh.mu.Lock()
	sh.sockets[s.id] = s
	sh.mu.Unlock()
}

// roomSet is the members of one room: a slice to go through, in which
// each member's connection sits beside it, so that a broadcast to a big
// room reads the slice in order and touches each member's connection only,
// and an index to take a member out (by moving the last one to its place).
type roomSet struct {
	members []roomMember
	index   map[*Socket]int
}

type roomMember struct {
	s    *Socket
	conn *engine.Conn
}

func (set *roomSet) add(s *Socket) {
	if _, in := set.index[s]; !in {
		set.index[s] = len(set.members)
		set.members = append(set.members, roomMember{s: s, conn: s.client.conn})
	}
}

// remove takes s out and reports whether the set is empty.
func (set *roomSet) remove(s *Socket) bool {
	i, in := set.index[s]
	if !in {
		return len(set.members) == 0
	}
	last := len(set.members) - 1
	if i != last {
		set.members[i] = set.members[last]
		set.index[set.members[i].s] = i
	}
	set.members[last] = roomMember{}
	set.members = set.members[:last]
	delete(set.index, s)
	if cap(set.members) > 64 && len(set.members) < cap(set.members)/4 {
		set.members = slices.Clip(slices.Clone(set.members))
	}
	return len(set.members) == 0
}

// each calls fn for every member of room r; sh is r's shard, read-locked.
func (sh *shard) each(r string, fn func(*Socket)) {
	if set := sh.rooms[r]; set != nil {
		for i := range set.members {
			fn(set.members[i].s)
		}
	}
	// Sockets and rooms hash to shards alike, so a socket's own room is
	// found in the same shard.
	if s := sh.sockets[r]; s != nil && s.ownRoom.Load() {
		fn(s)
	}
}

// lookup returns the local socket with id, or nil.
func (a *MemoryAdapter) lookup(id string) *Socket {
	sh := a.shardOf(id)
	sh.mu.RLock()
	s := sh.sockets[id]
	sh.mu.RUnlock()
	return s
}

// hasRoom reports whether a local socket is in room (a socket's id names
// its own room); see LocalAdapter.HasRoom.
func (a *MemoryAdapter) hasRoom(room string) bool {
	sh := a.shardOf(room)
	sh.mu.RLock()
	defer sh.mu.RUnlock()
	if sh.rooms[room] != nil {
		return true
	}
	s := sh.sockets[room]
	return s != nil && s.ownRoom.Load()
}

// AddAll adds s to rooms.
func (a *MemoryAdapter) AddAll(s *Socket, rooms []string) {
	var changes []roomChange
	track := a.hasListeners()
	s.mu.Lock()
	if s.gone {
		s.mu.Unlock()
		return
	}
	if s.rooms == nil {
		s.rooms = make(map[string]struct{}, len(rooms))
	}
	var added []string
	for _, r := range rooms {
		if _, in := s.rooms[r]; in {
			continue
		}
		s.rooms[r] = struct{}{}
		s.joinedList = nil
		added = append(added, r)
		created := true
		if r == s.id {
			// A socket's own room is implicit: its entry in the shard's
			// socket table, not a set of one.
			s.ownRoom.Store(true)
		} else {
			sh := a.shardOf(r)
			sh.mu.Lock()
			set := sh.rooms[r]
			created = set == nil
			if created {
				set = &roomSet{index: make(map[*Socket]int, 1)}
				sh.rooms[r] = set
			}
			set.add(s)
			sh.mu.Unlock()
		}
		if track {
			changes = append(changes, roomChange{room: r, join: true, edge: created})
		}
	}
	if len(added) > 0 {
		own := a.shardOf(s.id)
		own.mu.Lock()
		own.joined[s] = append(own.joined[s], added...)
		own.mu.Unlock()
	}
	s.mu.Unlock()
	a.report(s.id, changes)
	if len(added) > 0 {
		a.nsp.track(s)
	}
}

// Del removes s from room.
func (a *MemoryAdapter) Del(s *Socket, room string) {
	s.mu.Lock()
	if _, in := s.rooms[room]; !in {
		s.mu.Unlock()
		return
	}
	delete(s.rooms, room)
	s.joinedList = nil
	deleted := a.removeMember(s, room)
	own := a.shardOf(s.id)
	own.mu.Lock()
	if order := own.joined[s]; len(order) > 0 {
		own.joined[s] = slices.DeleteFunc(order, func(r string) bool { return r == room })
	}
	own.mu.Unlock()
	s.mu.Unlock()
	if a.hasListeners() {
		a.report(s.id, []roomChange{{room: room, edge: deleted}})
	}
	a.nsp.track(s)
}

// removeMember takes s out of room's member set; s.mu is held.
func (a *MemoryAdapter) removeMember(s *Socket, room string) (deleted bool) {
	if room == s.id {
		s.ownRoom.Store(false)
		return true
	}
	sh := a.shardOf(room)
	sh.mu.Lock()
	if set := sh.rooms[room]; set != nil && set.remove(s) {
		delete(sh.rooms, room)
		deleted = true
	}
	sh.mu.Unlock()
	return deleted
}

// DelAll removes s from every room, in the order it joined them (its own
// room first, joined on connect), and forgets it.
func (a *MemoryAdapter) DelAll(s *Socket) {
	var changes []roomChange
	track := a.hasListeners()
	own := a.shardOf(s.id)
	s.mu.Lock()
	s.gone = true
	s.setOutgoingLocked(s.outgoing.Load()) // a gone socket counts no more
	own.mu.Lock()
	order := own.joined[s]
	delete(own.joined, s)
	own.mu.Unlock()
	// As the reference's delAll: the rooms in join order, each left
	// (leave-room, then delete-room if it was the last member).
	for _, r := range order {
		if _, in := s.rooms[r]; !in {
			continue
		}
		delete(s.rooms, r)
		deleted := a.removeMember(s, r)
		if track {
			changes = append(changes, roomChange{room: r, edge: deleted})
		}
	}
	s.rooms, s.joinedList = nil, nil
	s.mu.Unlock()
	own.mu.Lock()
	if own.sockets[s.id] == s {
		delete(own.sockets, s.id)
	}
	own.mu.Unlock()
	a.report(s.id, changes)
}

// apply calls fn for every local socket opts targets, each once. fn runs
// under a read lock of the adapter and must not change memberships.
func (a *MemoryAdapter) apply(opts BroadcastOptions, fn func(*Socket)) {
	var except map[*Socket]struct{}
	if len(opts.Except) > 0 {
		except = make(map[*Socket]struct{})
		for _, r := range opts.Except {
			sh := a.shardOf(r)
			sh.mu.RLock()
			sh.each(r, func(s *Socket) { except[s] = struct{}{} })
			sh.mu.RUnlock()
		}
	}
	switch len(opts.Rooms) {
	case 0:
		for i := range a.shards {
			sh := &a.shards[i]
			sh.mu.RLock()
			for _, s := range sh.sockets {
				if _, skip := except[s]; !skip {
					fn(s)
				}
			}
			sh.mu.RUnlock()
		}
	case 1:
		sh := a.shardOf(opts.Rooms[0])
		sh.mu.RLock()
		sh.each(opts.Rooms[0], func(s *Socket) {
			if _, skip := except[s]; !skip {
				fn(s)
			}
		})
		sh.mu.RUnlock()
	default:
		seen := make(map[*Socket]struct{})
		for _, r := range opts.Rooms {
			sh := a.shardOf(r)
			sh.mu.RLock()
			sh.each(r, func(s *Socket) {
				if _, skip := except[s]; skip {
					return
				}
				if _, dup := seen[s]; dup {
					return
				}
				seen[s] = struct{}{}
				fn(s)
			})
			sh.mu.RUnlock()
		}
	}
}

// targets returns the local sockets opts targets.
func (a *MemoryAdapter) targets(opts BroadcastOptions) []*Socket {
	var out []*Socket
	a.apply(opts, func(s *Socket) { out = append(out, s) })
	return out
}

// Broadcast delivers p to the local sockets opts targets. The outgoing
// listeners of the targets (Socket.OnAnyOutgoing) see it once it has been
// queued for all of them, on the caller's goroutine. When the adapter
// keeps the namespace's recovery store, a packet recovery covers is given
// its offset and kept first.
func (a *MemoryAdapter) Broadcast(p *Packet, opts BroadcastOptions) error {
	var notify []*Socket
	if st := a.store; st != nil && recoverable(p, opts) {
		st.broadcast(p, opts, func() { notify = a.deliver(p, opts) })
	} else {
		notify = a.deliver(p, opts)
	}
	notifyOutgoing(notify, p)
	return nil
}

// deliver queues p for the local sockets opts targets and returns those
// with outgoing listeners.
func (a *MemoryAdapter) deliver(p *Packet, opts BroadcastOptions) []*Socket {
	frames, z := p.shared(a.nsp.srv.opts.Parser, a.nsp.srv.opts.PerMessageDeflate != nil)
	// Compressed (once) before the room's lock is taken, not under it.
	a.nsp.srv.engine.Deflate(frames, z)
	volatile := opts.Flags.Volatile
	// Counted here and added once: the loop stays free of atomics.
	sent, failed := 0, 0
	if len(opts.Rooms) == 1 && len(opts.Except) == 0 && a.nsp.outgoingSockets.Load() == 0 {
		// One room and no outgoing listener anywhere in the namespace
		// (the common broadcast): the member slice alone, each member's
		// connection read from it, no socket touched.
		r := opts.Rooms[0]
		sh := a.shardOf(r)
		sh.mu.RLock()
		if set := sh.rooms[r]; set != nil {
			for i := range set.members {
				if set.members[i].conn.SendShared(frames, z, volatile) {
					sent++
				} else {
					failed++
				}
			}
		}
		if s := sh.sockets[r]; s != nil && s.ownRoom.Load() {
			if s.client.conn.SendShared(frames, z, volatile) {
				sent++
			} else {
				failed++
			}
		}
		sh.mu.RUnlock()
		a.nsp.srv.stats.add(sent, failed, volatile)
		return nil
	}
	var notify []*Socket
	a.apply(opts, func(s *Socket) {
		if s.client.conn.SendShared(frames, z, volatile) {
			sent++
		} else {
			failed++
		}
		if s.hasOutgoing() {
			notify = append(notify, s)
		}
	})
	a.nsp.srv.stats.add(sent, failed, volatile)
	return notify
}

// notifyOutgoing runs the outgoing listeners of the sockets a broadcast of
// p reached, as the reference's adapter does for each target. It is called
// once the adapter's locks are released: a listener may join or leave
// rooms, or broadcast.
func notifyOutgoing(sockets []*Socket, p *Packet) {
	for _, s := range sockets {
		s.notifyOutgoing(p.Event, p.Args)
	}
}

// BroadcastWithAck delivers p to the local sockets opts targets, each asked
// for an ack, and reports their count. A socket that disconnects before it
// answers is reported to ack with an error wrapping ErrDisconnected (and
// naming the socket), so that every counted socket is answered for.
//
// The targets keep the ack in their ack tables until they answer or go,
// until opts.Flags.Timeout passes, or until the broadcast of p is ended
// (a BroadcastOperator ends its own when it times out or its EmitWithAck's
// context ends): a later answer is then dropped. A cluster adapter that
// hands this method the packet its BroadcastWithAck was given lets the
// operator end the local waits.
func (a *MemoryAdapter) BroadcastWithAck(p *Packet, opts BroadcastOptions, clientCount func(int), ack func(Args, error)) error {
	id := a.nsp.nextAckID()
	frames := p.encode(a.nsp.srv.opts.Parser, id)
	var z *engine.Deflated // compressed once for all targets
	if a.nsp.srv.opts.PerMessageDeflate != nil {
		z = new(engine.Deflated)
		a.nsp.srv.engine.Deflate(frames, z)
	}
	volatile := opts.Flags.Volatile
	b := &ackBroadcast{a: a, p: p, id: id}
	a.addAckBroadcast(b)
	var targets []*Socket
	sent, failed := 0, 0
	var notify []*Socket
	a.apply(opts, func(s *Socket) {
		if s.hasOutgoing() {
			notify = append(notify, s)
		}
		sid := s.id
		fn := func(args Args, err error) {
			b.settle()
			if err != nil {
				// The reference forgets a broadcast's target that goes
				// away, and its callback ends only on its timer (which
				// Node always sets); here the target's slot is answered
				// with the error at once, so that a broadcast with no
				// timeout still ends.
				ack(Args{}, &unansweredError{id: sid, err: err})
				return
			}
			ack(args, nil)
		}
		if !s.addAck(id, fn) {
			// Gone: fn has been called, the socket answered for.
			targets = append(targets, s)
			return
		}
		if s.client.conn.SendShared(frames, z, volatile) {
			sent++
		} else {
			failed++
			if s.takeAck(id) != nil {
				return // not a target
			}
			// The socket went meanwhile, and fn answered for it.
		}
		targets = append(targets, s)
	})
	a.nsp.srv.stats.add(sent, failed, volatile)
	b.counted(targets, opts.Flags.Timeout)
	notifyOutgoing(notify, p)
	clientCount(len(targets))
	return nil
}

// ackBroadcast is one BroadcastWithAck of the memory adapter while its
// targets may still answer: the sockets whose ack tables hold its ack id.
type ackBroadcast struct {
	a  *MemoryAdapter
	p  *Packet
	id int64

	mu      sync.Mutex
	targets []*Socket // set once counted
	isSet   bool      // targets is set
	settled int       // targets that answered or went
	ended   bool      // the remaining entries were taken out, or all settled
	timer   *time.Timer
}

// settle counts a target that answered or went; the last one ends the
// broadcast's bookkeeping.
func (b *ackBroadcast) settle() {
	b.mu.Lock()
	b.settled++
	last := b.isSet && !b.ended && b.settled >= len(b.targets)
	if last {
		b.ended = true
	}
	timer := b.timer
	b.mu.Unlock()
	if last {
		if timer != nil {
			timer.Stop()
		}
		b.a.removeAckBroadcast(b)
	}
}

// counted records the targets once the packet is sent to all of them and
// starts the timer of timeout (none when 0). When the broadcast was ended
// meanwhile, it takes the targets' entries out now.
func (b *ackBroadcast) counted(targets []*Socket, timeout time.Duration) {
	b.mu.Lock()
	b.targets, b.isSet = targets, true
	switch {
	case b.ended:
		b.mu.Unlock()
		b.takeAll(targets)
		return
	case b.settled >= len(targets):
		b.ended = true
		b.mu.Unlock()
		b.a.removeAckBroadcast(b)
		return
	}
	if timeout > 0 {
		b.timer = time.AfterFunc(timeout, b.end)
	}
	b.mu.Unlock()
}

// end takes the ack out of the tables of the targets that have not
// answered: their answers are dropped, their callbacks not called.
func (b *ackBroadcast) end() {
	b.mu.Lock()
	if b.ended {
		b.mu.Unlock()
		return
	}
	b.ended = true
	targets, timer := b.targets, b.timer
	b.mu.Unlock()
	if timer != nil {
		timer.Stop()
	}
	b.a.removeAckBroadcast(b)
	b.takeAll(targets)
}

func (b *ackBroadcast) takeAll(targets []*Socket) {
	for _, s := range targets {
		s.takeAck(b.id)
	}
}

func (a *MemoryAdapter) addAckBroadcast(b *ackBroadcast) {
	a.acksMu.Lock()
	if a.ackBroadcasts == nil {
		a.ackBroadcasts = make(map[*Packet][]*ackBroadcast)
	}
	a.ackBroadcasts[b.p] = append(a.ackBroadcasts[b.p], b)
	a.acksMu.Unlock()
}

func (a *MemoryAdapter) removeAckBroadcast(b *ackBroadcast) {
	a.acksMu.Lock()
	list := slices.DeleteFunc(a.ackBroadcasts[b.p], func(x *ackBroadcast) bool { return x == b })
	if len(list) == 0 {
		delete(a.ackBroadcasts, b.p)
	} else {
		a.ackBroadcasts[b.p] = list
	}
	a.acksMu.Unlock()
}

// endAcks ends this node's waits for the acks of the broadcasts of p (see
// BroadcastWithAck): the broadcast they belong to is over.
func (a *MemoryAdapter) endAcks(p *Packet) {
	a.acksMu.Lock()
	list := slices.Clone(a.ackBroadcasts[p])
	a.acksMu.Unlock()
	for _, b := range list {
		b.end()
	}
}

// ServerCount is 1: the memory adapter knows only this node.
func (a *MemoryAdapter) ServerCount(context.Context) (int, error) { return 1, nil }

// unansweredError is the ack slot of a broadcast's target that
// disconnected before it answered.
type unansweredError struct {
	id  string
	err error // ErrDisconnected
}

func (e *unansweredError) Error() string {
	return "hub: socket " + e.id + " disconnected before answering"
}

func (e *unansweredError) Unwrap() error { return e.err }

// FetchSockets describes the local sockets opts targets.
func (a *MemoryAdapter) FetchSockets(_ context.Context, opts BroadcastOptions) ([]*RemoteSocket, error) {
	sockets := a.targets(opts)
	out := make([]*RemoteSocket, 0, len(sockets))
	for _, s := range sockets {
		out = append(out, s.describe())
	}
	return out, nil
}

// AddSockets makes the local sockets opts targets join rooms.
func (a *MemoryAdapter) AddSockets(opts BroadcastOptions, rooms []string) error {
	for _, s := range a.targets(opts) {
		a.AddAll(s, rooms)
	}
	return nil
}

// DelSockets makes the local sockets opts targets leave rooms.
func (a *MemoryAdapter) DelSockets(opts BroadcastOptions, rooms []string) error {
	for _, s := range a.targets(opts) {
		for _, r := range rooms {
			a.Del(s, r)
		}
	}
	return nil
}

// DisconnectSockets disconnects the local sockets opts targets.
func (a *MemoryAdapter) DisconnectSockets(opts BroadcastOptions, close bool) error {
	for _, s := range a.targets(opts) {
		s.Disconnect(close)
	}
	return nil
}

// Rooms lists the local rooms, sockets' own rooms included.
func (a *MemoryAdapter) Rooms(context.Context) ([]string, error) {
	var out []string
	for i := range a.shards {
		sh := &a.shards[i]
		sh.mu.RLock()
		for r := range sh.rooms {
			out = append(out, r)
		}
		for id, s := range sh.sockets {
			if s.ownRoom.Load() {
				out = append(out, id)
			}
		}
		sh.mu.RUnlock()
	}
	slices.Sort(out)
	return out, nil
}

// ServerSideEmit has no other node to reach.
func (a *MemoryAdapter) ServerSideEmit(context.Context, string, Args, bool) ([]Args, error) {
	return nil, nil
}

// Close does nothing: the memory adapter holds no outside resource.
func (a *MemoryAdapter) Close() error { return nil }

// socketRooms returns a socket's rooms.
func socketRooms(s *Socket) []string {
	s.mu.Lock()
	out := make([]string, 0, len(s.rooms))
	for r := range s.rooms {
		out = append(out, r)
	}
	s.mu.Unlock()
	slices.Sort(out)
	return out
}

func marshalData(v any) json.RawMessage {
	if v == nil {
		// Node's socket.data starts as {}, and Node tools (the admin UI
		// among them) read it as an object.
		return json.RawMessage(`{}`)
	}
	if raw, ok := v.(json.RawMessage); ok {
		if len(raw) == 0 {
			return json.RawMessage(`{}`)
		}
		return validUTF8JSON(raw)
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return json.RawMessage(`{}`) // as for no data: readers expect an object
	}
	return validUTF8JSON(bytes.TrimRight(buf.Bytes(), "\n"))
}
