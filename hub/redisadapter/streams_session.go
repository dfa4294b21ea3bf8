package redisadapter

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/internal/msgpack"
	"github.com/redis/go-redis/v9"
)

// Bounds on a session record, which comes from Redis, where any node (or
// anyone with access) may have written it, and on the work of a
// recovery.
const (
	maxRecordBytes  = 1 << 20 // a record's stored (base64) form
	maxSessionRooms = 10_000
	maxSessionID    = 256 // bytes of a socket or private id
	replayPage      = 100 // entries per XRANGE of a recovery: bounds what a page of large entries holds
)

// sessionRecord is a session as Redis keeps it: Node's {sid, pid, rooms,
// data} and hubd's fields, absent (zero) from a record Node wrote.
type sessionRecord struct {
	sid, pid string
	rooms    []string
	data     json.RawMessage // nil when absent

	owner string // the uid of the adapter that wrote it
	live  bool   // its socket is connected
	start string // the store's position when the socket first connected
	nsp   string
}

// encode returns the record's stored form: base64 of msgpack, as Node's
// persistSession writes it.
func (r *sessionRecord) encode() (string, error) {
	data := rawMsgpack{0xc0}
	if len(r.data) > 0 {
		b, err := msgpack.AppendJSON(nil, r.data, nil, maxDepth)
		if err != nil {
			return "", err
		}
		data = b
	}
	b, err := appendValue(nil, map[string]any{
		"sid": r.sid, "pid": r.pid, "rooms": nonNil(r.rooms), "data": data,
		"hubd": map[string]any{"owner": r.owner, "live": r.live, "start": r.start, "nsp": r.nsp},
	})
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(b), nil
}

var errBadRecord = errors.New("redisadapter: malformed session record")

// decodeRecord reads a stored record, Node's or hubd's, within the
// bounds above.
func decodeRecord(val string) (*sessionRecord, error) {
	if len(val) > maxRecordBytes {
		return nil, fmt.Errorf("%w: %d bytes", errBadRecord, len(val))
	}
	raw, err := base64.StdEncoding.DecodeString(val)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	v, err := decodeMsgpack(raw)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errBadRecord, err)
	}
	m, _ := v.(map[string]any)
	if m == nil {
		return nil, fmt.Errorf("%w: not a map", errBadRecord)
	}
	r := &sessionRecord{}
	r.sid, _ = m["sid"].(string)
	r.pid, _ = m["pid"].(string)
	if r.sid == "" || r.pid == "" || len(r.sid) > maxSessionID || len(r.pid) > maxSessionID {
		return nil, fmt.Errorf("%w: no valid sid and pid", errBadRecord)
	}
	rooms, ok := m["rooms"].([]any)
	if !ok && m["rooms"] != nil || len(rooms) > maxSessionRooms {
		return nil, fmt.Errorf("%w: rooms", errBadRecord)
	}
	r.rooms = stringList(rooms)
	if d, has := m["data"]; has {
		if r.data, err = json.Marshal(jsonSafe(d)); err != nil {
			return nil, fmt.Errorf("%w: data: %w", errBadRecord, err)
		}
	}
	if h, _ := m["hubd"].(map[string]any); h != nil {
		r.owner, _ = h["owner"].(string)
		r.live, _ = h["live"].(bool)
		r.start, _ = h["start"].(string)
		r.nsp, _ = h["nsp"].(string)
	}
	return r, nil
}

// recordOf is the record of a session of this adapter's.
func (a *streamsAdapter) recordOf(s *hub.Session, live bool) *sessionRecord {
	r := &sessionRecord{sid: s.ID, pid: s.PID, rooms: s.Rooms, owner: a.uid, live: live, start: s.Start, nsp: a.nsp.Name()}
	switch d := s.Data.(type) {
	case nil:
	case json.RawMessage:
		r.data = d
	default:
		b, err := json.Marshal(d)
		if err != nil {
			a.s.log.Debug("redisadapter: a socket's data cannot be kept in its session", "socket", s.ID, "err", err)
			break
		}
		r.data = b
	}
	return r
}

// refreshPeriod is how often the owner of a connected socket's session
// renews its time to live, which is the recovery's duration plus this.
func refreshPeriod(d time.Duration) time.Duration {
	return min(max(d/4, time.Second), 15*time.Second)
}

// Position returns the last entry the namespace's reader delivered
// ("0-0" when the stream was empty and nothing came since).
func (a *streamsAdapter) Position() string { return a.reader.position() }

// TrackSession writes the latest state of a connected socket's session
// (by the session writer: coalesced, pipelined).
func (a *streamsAdapter) TrackSession(s *hub.Session) { a.s.sessions.track(a, s) }

// PersistSession writes the session of a socket that disconnected, no
// longer live, for the recovery's duration.
func (a *streamsAdapter) PersistSession(s *hub.Session) { a.s.sessions.persist(a, s) }

// DropSession deletes a session, if it is still the one this node wrote.
func (a *streamsAdapter) DropSession(pid string) { a.s.sessions.drop(a, pid) }

// TakeSession takes the session pid for a client that came back with
// offset, and checks what it missed. A live session whose node is alive
// is never taken; a record that is not one (or too big) is an unknown
// session.
func (a *streamsAdapter) TakeSession(ctx context.Context, pid, offset string) (*hub.Session, error) {
	if a.recovery == nil || pid == "" || len(pid) > maxSessionID {
		return nil, hub.ErrSessionUnknown
	}
	ctx, cancel := context.WithTimeout(ctx, a.s.opts.RequestsTimeout)
	defer cancel()
	// This node's own writes of the session first (a socket that has
	// just disconnected).
	if err := a.s.sessions.sync(ctx, pid); err != nil {
		return nil, err
	}
	key := a.s.opts.SessionKeyPrefix + pid
	pipe := a.s.rdb.Pipeline()
	get := pipe.GetRange(ctx, key, 0, maxRecordBytes)
	var pre *offsetReads
	if id, ok := parseStreamID(offset); ok && id != (streamID{}) {
		pre = a.queueOffsetReads(pipe, offset, id)
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return nil, fmt.Errorf("redisadapter: reading a session: %w", err)
	}
	val := get.Val()
	if val == "" {
		return nil, hub.ErrSessionUnknown
	}
	rec, err := decodeRecord(val)
	if err != nil {
		a.s.log.Debug("redisadapter: a session record that is not one", "key", key, "err", err)
		return nil, hub.ErrSessionUnknown
	}
	if rec.pid != pid || rec.nsp != "" && rec.nsp != a.nsp.Name() {
		return nil, hub.ErrSessionUnknown
	}
	if rec.live {
		n, err := a.subscribers(ctx, a.channel+rec.owner+"#")
		if err != nil {
			return nil, err
		}
		if n > 0 {
			return nil, hub.ErrSessionUnknown // its socket is still connected
		}
	}
	// Only one taker wins: the record is replaced, if it is still the one
	// read, by one of this node's, live, which the socket's tracking goes
	// on from.
	taken := *rec
	taken.owner, taken.live, taken.nsp = a.uid, true, a.nsp.Name()
	if !slices.Contains(taken.rooms, taken.sid) {
		taken.rooms = append(slices.Clip(taken.rooms), taken.sid)
	}
	marker, err := taken.encode()
	if err != nil {
		return nil, hub.ErrSessionUnknown
	}
	won, err := swapScript.Run(ctx, a.s.rdb, []string{key}, val, marker, a.liveTTL.Milliseconds()).Int()
	if err != nil {
		return nil, fmt.Errorf("redisadapter: taking a session: %w", err)
	}
	if won == 0 {
		return nil, hub.ErrSessionUnknown
	}
	sess := &hub.Session{ID: taken.sid, PID: pid, Rooms: taken.rooms, Start: taken.start}
	if taken.data != nil {
		sess.Data = taken.data
	}
	if sess.Offset = offset; offset == "" {
		sess.Offset = taken.start
	}
	if err := a.checkMissed(ctx, sess, pre); err != nil {
		a.s.sessions.release(a, pid, marker)
		return nil, err
	}
	if sess.Start == "" {
		sess.Start = sess.Offset // a session Node wrote
	}
	a.s.sessions.taken(a, pid, marker)
	return sess, nil
}

// checkMissed checks that the stream still holds what s missed after
// s.Offset and that it is within the bounds of one recovery.
func (a *streamsAdapter) checkMissed(ctx context.Context, s *hub.Session, pre *offsetReads) error {
	id, ok := parseStreamID(s.Offset)
	if !ok {
		return hub.ErrOffsetUnknown
	}
	rdb, stream := a.s.rdb, a.reader.name
	if id == (streamID{}) {
		// The stream was empty when the socket connected: everything
		// since is still there unless entries were trimmed (Redis 7
		// tells; an older one does not, and the entries are assumed
		// kept).
		info, err := rdb.XInfoStream(ctx, stream).Result()
		switch {
		case err != nil && strings.Contains(err.Error(), "no such key"):
			return nil
		case err != nil:
			return fmt.Errorf("redisadapter: reading the stream: %w", err)
		case info.EntriesAdded > info.Length:
			return hub.ErrOffsetExpired
		}
		return a.readReplay(ctx, id.next(), "+", newMissedBy(a, s, id, false).add)
	}
	if pre == nil || pre.offset != s.Offset {
		pre = a.queueOffsetReads(rdb.Pipeline(), s.Offset, id)
		if _, err := pre.pipe.Exec(ctx); err != nil {
			return fmt.Errorf("redisadapter: reading the stream: %w", err)
		}
	}
	if len(pre.at.Val()) == 0 {
		if f := pre.first.Val(); len(f) == 1 {
			if fid, ok := parseStreamID(f[0].ID); ok && id.less(fid) {
				return hub.ErrOffsetExpired
			}
		}
		return hub.ErrOffsetUnknown
	}
	within, err := a.boundMissed(ctx, id, pre.page.Val())
	if err != nil || within {
		return err
	}
	return a.readReplayFrom(ctx, id.next(), "+", pre.page.Val(), newMissedBy(a, s, id, false).add)
}

// boundMissed reports whether every broadcast of the namespace after id
// put together stays within the bounds of one recovery: then whatever
// part of them a session missed does too, and nothing needs decoding.
// Clients come back together after a cut, and decoding what each missed
// only to count it was most of a recovery's cost.
func (a *streamsAdapter) boundMissed(ctx context.Context, id streamID, pre []redis.XMessage) (bool, error) {
	name := a.nsp.Name()
	count, bytes := 0, 0
	from := id.next()
	for {
		msgs := pre
		if pre == nil {
			var err error
			msgs, err = a.s.rdb.XRangeN(ctx, a.reader.name, from.String(), "+", replayPage).Result()
			if err != nil {
				return false, fmt.Errorf("redisadapter: reading missed packets: %w", err)
			}
		}
		pre = nil
		for i := range msgs {
			e, ok := readEntry(&msgs[i])
			if !ok || e.nsp != name || e.typ != msgBroadcast {
				continue
			}
			count++
			bytes += len(e.data)
			if count > a.recovery.MaxSessionPackets || bytes > a.recovery.MaxSessionBytes {
				return false, nil
			}
		}
		if len(msgs) < replayPage {
			return true, nil
		}
		last, ok := parseStreamID(msgs[len(msgs)-1].ID)
		if !ok {
			return false, fmt.Errorf("redisadapter: an entry id %q", msgs[len(msgs)-1].ID)
		}
		from = last.next()
	}
}

// offsetReads are the reads that check a client's offset: the entry it
// names, the stream's first entry, and the first page after the offset.
// A take queues them with its read of the session, so that a recovery
// costs two round trips to Redis, not four: clients come back together,
// and each round trip waits for one of the pool's connections.
type offsetReads struct {
	pipe            redis.Pipeliner
	offset          string
	at, first, page *redis.XMessageSliceCmd
}

func (a *streamsAdapter) queueOffsetReads(pipe redis.Pipeliner, offset string, id streamID) *offsetReads {
	ctx, stream := context.Background(), a.reader.name
	return &offsetReads{
		pipe:   pipe,
		offset: offset,
		at:     pipe.XRange(ctx, stream, offset, offset),
		first:  pipe.XRangeN(ctx, stream, "-", "+", 1),
		page:   pipe.XRangeN(ctx, stream, id.next().String(), "+", replayPage),
	}
}

// replayed is a broadcast read back from the stream for a recovery.
type replayed struct {
	id   streamID
	p    *hub.Packet // its Offset set
	opts hub.BroadcastOptions
	size int
}

// readReplay calls fn, in order, for each broadcast of the namespace in
// its stream from from to to (inclusive) that a recovery may replay (no
// ack asked, not volatile). It reads at most the stream's length: past
// it, or when fn says so, it fails with hub.ErrTooManyMissed.
func (a *streamsAdapter) readReplay(ctx context.Context, from streamID, to string, fn func(replayed) error) error {
	return a.readReplayFrom(ctx, from, to, nil, fn)
}

// readReplayFrom is readReplay whose first page (XRANGE from to COUNT
// replayPage) was read already, when pre is not nil.
func (a *streamsAdapter) readReplayFrom(ctx context.Context, from streamID, to string, pre []redis.XMessage, fn func(replayed) error) error {
	name := a.nsp.Name()
	maxScan := 2*a.s.opts.MaxLen + 1000 // the stream's length, trimming being approximate
	for scanned := int64(0); ; {
		msgs := pre
		if pre == nil {
			var err error
			msgs, err = a.s.rdb.XRangeN(ctx, a.reader.name, from.String(), to, replayPage).Result()
			if err != nil {
				return fmt.Errorf("redisadapter: reading missed packets: %w", err)
			}
		}
		pre = nil
		for i := range msgs {
			e, ok := readEntry(&msgs[i])
			if !ok || e.nsp != name || e.typ != msgBroadcast {
				continue
			}
			id, ok := parseStreamID(e.id)
			if !ok {
				continue
			}
			p, opts, requestID, ok := decodeBroadcastEntry(name, e.data)
			if !ok || requestID != "" || opts.Flags.Volatile {
				continue
			}
			p.Offset = e.id
			if err := fn(replayed{id: id, p: p, opts: opts, size: len(e.data)}); err != nil {
				return err
			}
		}
		if scanned += int64(len(msgs)); scanned > maxScan {
			return hub.ErrTooManyMissed
		}
		if len(msgs) < replayPage {
			return nil
		}
		last, ok := parseStreamID(msgs[len(msgs)-1].ID)
		if !ok {
			return fmt.Errorf("redisadapter: an entry id %q", msgs[len(msgs)-1].ID)
		}
		from = last.next()
	}
}

// missedBy selects, from broadcasts in stream order, those after offset
// that s's rooms were sent, within the bounds of one recovery (else
// hub.ErrTooManyMissed). keep says whether to keep them or only count.
type missedBy struct {
	a      *streamsAdapter
	in     hub.SessionRooms
	offset streamID
	keep   bool
	out    []*hub.Packet
	count  int
	bytes  int
}

func newMissedBy(a *streamsAdapter, s *hub.Session, offset streamID, keep bool) *missedBy {
	return &missedBy{a: a, in: hub.NewSessionRooms(s.Rooms), offset: offset, keep: keep}
}

func (m *missedBy) add(r replayed) error {
	if !m.offset.less(r.id) || !m.in.Reaches(r.opts.Rooms, r.opts.Except) {
		return nil
	}
	m.count++
	m.bytes += r.size
	if m.count > m.a.recovery.MaxSessionPackets || m.bytes > m.a.recovery.MaxSessionBytes {
		return hub.ErrTooManyMissed
	}
	if m.keep {
		m.out = append(m.out, r.p)
	}
	return nil
}

// ResumeSession queues what s missed and joins its rooms, on the stream
// reader's deliverer between two batches: once the reader has delivered
// the client's offset, the entries after it up to the last delivered are
// read back and handed to attach, and every later entry reaches the
// socket live.
func (a *streamsAdapter) ResumeSession(ctx context.Context, s *hub.Session, attach func([]*hub.Packet)) error {
	off, ok := parseStreamID(s.Offset)
	if !ok {
		return hub.ErrOffsetUnknown
	}
	ctx, cancel := context.WithTimeout(ctx, a.s.opts.RequestsTimeout)
	defer cancel()
	req := &resumeRequest{a: a, sess: s, offset: off, attach: attach, done: make(chan error, 1)}
	select {
	case a.reader.resumes <- req:
	case <-a.s.stop:
		return ErrClosed
	case <-ctx.Done():
		return fmt.Errorf("redisadapter: the stream reader did not take the recovery: %w", ctx.Err())
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		if req.state.CompareAndSwap(resumeWaiting, resumeAbandoned) {
			return fmt.Errorf("redisadapter: the stream reader did not reach the client's offset: %w", ctx.Err())
		}
		return <-req.done // running: it ends soon
	}
}

// resumeRequest is a ResumeSession waiting for the deliverer.
type resumeRequest struct {
	a      *streamsAdapter
	sess   *hub.Session
	offset streamID
	attach func([]*hub.Packet)
	state  atomic.Int32
	done   chan error // buffered
}

const (
	resumeWaiting = iota
	resumeRunning
	resumeAbandoned
)

func (req *resumeRequest) finish(err error) {
	select {
	case req.done <- err:
	default:
	}
}

// serve runs, on the deliverer, the recoveries whose offset the reader
// has delivered, and returns those still waiting for it.
func (r *streamReader) serve(waiting []*resumeRequest) []*resumeRequest {
	if len(waiting) == 0 {
		return waiting
	}
	pos := r.position()
	last, _ := parseStreamID(pos)
	kept := waiting[:0]
	var ready []*resumeRequest
	for _, req := range waiting {
		switch {
		case req.state.Load() == resumeAbandoned:
		case last.less(req.offset):
			kept = append(kept, req) // the client saw what this node has not delivered yet
		case req.state.CompareAndSwap(resumeWaiting, resumeRunning):
			ready = append(ready, req)
		}
	}
	clear(waiting[len(kept):])
	// One read of the stream serves every recovery of a namespace that
	// waits at this point: after a network cut, clients come back
	// together, at nearly the same offsets.
	for len(ready) > 0 {
		a := ready[0].a
		var group []*missedBy
		from := ready[0].offset
		rest := ready[:0]
		var reqs []*resumeRequest
		for _, req := range ready {
			if req.a != a {
				rest = append(rest, req)
				continue
			}
			reqs = append(reqs, req)
			group = append(group, newMissedBy(a, req.sess, req.offset, true))
			if req.offset.less(from) {
				from = req.offset
			}
		}
		ready = rest
		errs := make([]error, len(group))
		var err error
		if from.less(last) {
			ctx, cancel := context.WithTimeout(r.s.life, r.s.opts.RequestsTimeout)
			err = a.readReplay(ctx, from.next(), pos, func(rp replayed) error {
				for i, m := range group {
					if errs[i] == nil {
						errs[i] = m.add(rp)
					}
				}
				return nil
			})
			cancel()
		}
		for i, req := range reqs {
			e := err
			if e == nil {
				e = errs[i]
			}
			if e == nil {
				req.attach(group[i].out)
			}
			req.finish(e)
		}
	}
	return kept
}
