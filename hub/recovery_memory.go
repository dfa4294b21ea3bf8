package hub

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/hubd/hubd/hub/internal/engine"
)

// memoryStore is the SessionStore of a namespace served by the in-memory
// adapter: the packets it delivered that recovery covers, in a queue
// bounded by count, bytes and age, and the sessions of disconnected
// sockets, bounded by count and age.
//
// Offsets are the store's random prefix and the packet's sequence number
// in base 36: an offset from another namespace, another process or a
// client's own string never names a packet here.
//
// Packets are given their offset and delivered under mu, so sockets get
// them in offset order, and a resumed socket joins its rooms and gets what
// it missed under mu too, before any later packet.
type memoryStore struct {
	opts   RecoveryOptions
	prefix string
	parser Parser // the server's: the kept packets are in its wire form

	mu      sync.Mutex
	queue   []storedPacket // queue[head:] are kept, oldest first
	head    int
	first   uint64 // sequence number of queue[head]
	next    uint64 // sequence number of the next packet
	bytes   int64
	byPID   map[string]*storedSession
	persist []*storedSession // in the order they were persisted
}

// storedPacket is a kept packet: its wire form (offset included), which is
// all a replay sends, and its targets.
type storedPacket struct {
	frames []engine.Frame
	rooms  []string
	except []string
	at     int64 // unix nanoseconds
	size   int
}

type storedSession struct {
	s  *Session
	at int64 // when it was persisted, unix nanoseconds
}

func newMemoryStore(opts RecoveryOptions) *memoryStore {
	return &memoryStore{
		opts:   opts,
		prefix: engine.NewID()[:8] + ".",
		first:  1,
		next:   1,
		byPID:  make(map[string]*storedSession),
	}
}

// offset is the offset of sequence number seq.
func (m *memoryStore) offset(seq uint64) string {
	return m.prefix + strconv.FormatUint(seq, 36)
}

// seqOf returns the sequence number of an offset this store issued.
func (m *memoryStore) seqOf(offset string) (uint64, bool) {
	rest, ok := strings.CutPrefix(offset, m.prefix)
	if !ok || rest == "" || len(rest) > 13 {
		return 0, false
	}
	seq, err := strconv.ParseUint(rest, 36, 64)
	return seq, err == nil && seq < m.next
}

// Position returns the offset of the last packet kept (the store's first
// sequence number minus one when none was).
func (m *memoryStore) Position() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.offset(m.next - 1)
}

// recoverable reports whether a packet broadcast with opts is covered:
// neither volatile nor waiting for acks (broadcasts with acks never reach
// Broadcast), nor already given an offset by another store.
func recoverable(p *Packet, opts BroadcastOptions) bool {
	return !opts.Flags.Volatile && p.Offset == ""
}

// broadcast gives p its offset, keeps it, and calls deliver, all under mu.
func (m *memoryStore) broadcast(p *Packet, opts BroadcastOptions, deliver func()) {
	now := time.Now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	seq := m.next
	m.next++
	p.Offset = m.offset(seq)
	frames := p.wire(m.parser)
	size := framesSize(frames) + stringsSize(opts.Rooms) + stringsSize(opts.Except)
	m.queue = append(m.queue, storedPacket{frames: frames, rooms: opts.Rooms, except: opts.Except, at: now, size: size})
	m.bytes += int64(size)
	m.trimLocked(now)
	deliver()
}

// trimLocked drops the packets past the bounds, oldest first.
func (m *memoryStore) trimLocked(now int64) {
	oldest := now - int64(m.opts.MaxDisconnectionDuration)
	for n := len(m.queue) - m.head; n > 0; n-- {
		sp := &m.queue[m.head]
		if n <= m.opts.MaxPackets && m.bytes <= m.opts.MaxBytes && sp.at >= oldest {
			break
		}
		m.bytes -= int64(sp.size)
		*sp = storedPacket{}
		m.head++
		m.first++
	}
	// Compact once the dropped half outweighs the kept one.
	if m.head > 1024 && m.head*2 > len(m.queue) {
		n := copy(m.queue, m.queue[m.head:])
		clear(m.queue[n:])
		m.queue = m.queue[:n]
		m.head = 0
	}
}

// framesSize is what a kept packet costs, roughly: its bytes and their
// bookkeeping.
func framesSize(frames []engine.Frame) int {
	n := 96
	for _, f := range frames {
		n += len(f.Data) + 32
	}
	return n
}

// replayPacket makes a packet of kept frames for a replay.
func replayPacket(frames []engine.Frame, pr Parser) *Packet {
	p := &Packet{frames: frames, framesFor: pr}
	p.once.Do(func() {})
	return p
}

func stringsSize(list []string) int {
	n := 16 * len(list)
	for _, s := range list {
		n += len(s)
	}
	return n
}

// PersistSession keeps s; past MaxSessions the oldest session goes.
func (m *memoryStore) PersistSession(s *Session) {
	now := time.Now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireSessionsLocked(now)
	ss := &storedSession{s: s, at: now}
	m.byPID[s.PID] = ss
	m.persist = append(m.persist, ss)
	for len(m.byPID) > m.opts.MaxSessions {
		m.popSessionLocked()
	}
}

// expireSessionsLocked forgets the sessions older than the duration.
func (m *memoryStore) expireSessionsLocked(now int64) {
	oldest := now - int64(m.opts.MaxDisconnectionDuration)
	for len(m.persist) > 0 && m.persist[0].at < oldest {
		m.popSessionLocked()
	}
}

// popSessionLocked forgets the oldest persisted session, if it is still
// there (it may have been taken or persisted again).
func (m *memoryStore) popSessionLocked() {
	ss := m.persist[0]
	m.persist[0] = nil
	m.persist = m.persist[1:]
	if m.byPID[ss.s.PID] == ss {
		delete(m.byPID, ss.s.PID)
	}
	if len(m.persist) == 0 {
		m.persist = nil // let the backing array go
	}
}

// DropSession does nothing: the memory store keeps no connected
// socket's session.
func (m *memoryStore) DropSession(string) {}

// TakeSession removes the session pid and checks what its client missed.
func (m *memoryStore) TakeSession(_ context.Context, pid, offset string) (*Session, error) {
	now := time.Now().UnixNano()
	m.mu.Lock()
	defer m.mu.Unlock()
	m.expireSessionsLocked(now)
	ss := m.byPID[pid]
	if ss == nil {
		return nil, ErrSessionUnknown
	}
	delete(m.byPID, pid) // taken once, whatever follows
	s := ss.s
	if offset == "" {
		offset = s.Start
	}
	s.Offset = offset
	if _, _, err := m.missedLocked(s, nil); err != nil {
		return nil, err
	}
	return s, nil
}

// ResumeSession calls attach with what s missed, under mu.
func (m *memoryStore) ResumeSession(_ context.Context, s *Session, attach func([]*Packet)) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var missed []*Packet
	_, _, err := m.missedLocked(s, func(p *Packet) { missed = append(missed, p) })
	if err != nil {
		return err
	}
	attach(missed)
	return nil
}

// missedLocked walks the packets s's rooms were sent after s.Offset,
// calling fn (when not nil) for each, within the bounds of one recovery.
func (m *memoryStore) missedLocked(s *Session, fn func(*Packet)) (count, bytes int, err error) {
	seq, ok := m.seqOf(s.Offset)
	if !ok {
		return 0, 0, ErrOffsetUnknown
	}
	if seq+1 < m.first {
		return 0, 0, ErrOffsetExpired
	}
	in := NewSessionRooms(s.Rooms)
	for i := m.head + int(seq+1-m.first); i < len(m.queue); i++ {
		sp := &m.queue[i]
		if !in.Reaches(sp.rooms, sp.except) {
			continue
		}
		count++
		bytes += sp.size
		if count > m.opts.MaxSessionPackets || bytes > m.opts.MaxSessionBytes {
			return 0, 0, ErrTooManyMissed
		}
		if fn != nil {
			fn(replayPacket(sp.frames, m.parser))
		}
	}
	return count, bytes, nil
}

// SessionRooms are a session's rooms, to test broadcasts against: what a
// SessionStore uses to pick the packets a session missed.
type SessionRooms struct {
	list []string
	set  map[string]struct{} // for long lists
}

// NewSessionRooms returns the rooms to test broadcasts against (a
// session's own room among them).
func NewSessionRooms(rooms []string) SessionRooms {
	rs := SessionRooms{list: rooms}
	if len(rooms) > 8 {
		rs.set = make(map[string]struct{}, len(rooms))
		for _, r := range rooms {
			rs.set[r] = struct{}{}
		}
	}
	return rs
}

func (rs SessionRooms) has(r string) bool {
	if rs.set != nil {
		_, ok := rs.set[r]
		return ok
	}
	for _, x := range rs.list {
		if x == r {
			return true
		}
	}
	return false
}

// Reaches reports whether a broadcast to rooms (all, when empty), except
// the sockets in except, reaches a socket in these rooms, as the
// reference's shouldIncludePacket.
func (rs SessionRooms) Reaches(rooms, except []string) bool {
	for _, r := range except {
		if rs.has(r) {
			return false
		}
	}
	if len(rooms) == 0 {
		return true
	}
	for _, r := range rooms {
		if rs.has(r) {
			return true
		}
	}
	return false
}
