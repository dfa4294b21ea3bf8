package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
)

// streamReader reads one stream for the namespaces that use it: a fetcher
// goroutine runs XREAD from the last entry fetched, and a deliverer
// goroutine hands each entry to its namespace's adapter, in order, and
// between two batches serves the recoveries waiting (ResumeSession), so
// that no entry is being delivered while a recovered socket joins its
// rooms.
type streamReader struct {
	s    *Streams
	name string
	wk   string // a key of this reader's own: an entry there ends a blocked XREAD at Close
	ok   atomic.Bool

	last atomic.Pointer[string] // the last entry delivered ("0-0" before any)

	mu       sync.RWMutex
	adapters map[string][]*streamsAdapter // by namespace

	own []ownEntry // this node's broadcasts added, oldest first; under s.ownMu

	batches chan []redis.XMessage
	resumes chan *resumeRequest
}

// ownEntry is a broadcast of this node and the entry that holds it.
type ownEntry struct {
	id   streamID
	p    *hub.Packet
	opts hub.BroadcastOptions
}

// lastEntry reads the id of a stream's last entry, the position its
// reader starts after ("0-0" when there is none).
func lastEntry(ctx context.Context, rdb redis.UniversalClient, name string) (string, error) {
	msgs, err := rdb.XRevRangeN(ctx, name, "+", "-", 1).Result()
	if err != nil {
		return "", fmt.Errorf("redisadapter: reading stream %s: %w", name, errors.Join(err, ErrUnavailable))
	}
	if len(msgs) == 1 {
		return msgs[0].ID, nil
	}
	return "0-0", nil
}

// startReader starts the reader of stream name after entry last.
func startReader(s *Streams, name, last string) *streamReader {
	r := &streamReader{
		s:        s,
		name:     name,
		wk:       hashTagged(name, "#hubd-wake#"+newHexID()),
		adapters: make(map[string][]*streamsAdapter),
		batches:  make(chan []redis.XMessage),
		resumes:  make(chan *resumeRequest),
	}
	r.last.Store(&last)
	r.ok.Store(true)
	s.done.Add(2)
	go r.fetch(last)
	go r.deliverLoop()
	return r
}

// position is the last entry delivered.
func (r *streamReader) position() string { return *r.last.Load() }

func (r *streamReader) add(a *streamsAdapter) {
	r.mu.Lock()
	r.adapters[a.nsp.Name()] = append(r.adapters[a.nsp.Name()], a)
	r.mu.Unlock()
}

func (r *streamReader) remove(a *streamsAdapter) {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := r.adapters[a.nsp.Name()]
	for i, x := range list {
		if x == a {
			list = append(list[:i:i], list[i+1:]...)
			break
		}
	}
	if len(list) == 0 {
		delete(r.adapters, a.nsp.Name())
	} else {
		r.adapters[a.nsp.Name()] = list
	}
}

func (r *streamReader) adaptersOf(nsp string) []*streamsAdapter {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.adapters[nsp]
}

// wake ends a blocked XREAD (at Close): it reads the wake key too.
func (r *streamReader) wake() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = r.s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: r.wk, MaxLen: 1, Values: []string{"wake", "1"}}).Err()
}

// cleanup removes the wake key once the reader has stopped.
func (r *streamReader) cleanup() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_ = r.s.rdb.Del(ctx, r.wk).Err()
}

// fetch reads the stream from after id on, one batch at a time, and hands
// the batches to the deliverer. After an error it tries again from the
// same place.
func (r *streamReader) fetch(id string) {
	defer r.s.done.Done()
	ctx := r.s.life
	backoff := 50 * time.Millisecond
	for {
		select {
		case <-r.s.stop:
			return
		default:
		}
		// After a failure, a read that does not block: Healthy should
		// not wait BlockTime to learn that Redis answers again.
		block := r.s.opts.BlockTime
		if !r.ok.Load() {
			block = -1
		}
		res, err := r.s.rdb.XRead(ctx, &redis.XReadArgs{
			Streams: []string{r.name, r.wk, id, "0-0"},
			Count:   int64(r.s.opts.ReadCount),
			Block:   block,
		}).Result()
		if err != nil && !errors.Is(err, redis.Nil) {
			r.setOK(false, err)
			select {
			case <-r.s.stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, time.Second)
			continue
		}
		backoff = 50 * time.Millisecond
		r.setOK(true, nil)
		for _, st := range res {
			if st.Stream != r.name {
				return // the wake key: Close
			}
			if len(st.Messages) == 0 {
				continue
			}
			if len(st.Messages) == r.s.opts.ReadCount {
				r.checkLag(ctx, id)
			}
			id = st.Messages[len(st.Messages)-1].ID
			select {
			case r.batches <- st.Messages:
			case <-r.s.stop:
				return
			}
		}
	}
}

// checkLag warns when the reader, behind (its batches are full), finds
// that the stream was trimmed past its position: entries after it were
// dropped before it could read them, and its sockets missed them.
func (r *streamReader) checkLag(ctx context.Context, pos string) {
	at, ok := parseStreamID(pos)
	if !ok {
		return
	}
	first, err := r.s.rdb.XRangeN(ctx, r.name, "-", "+", 1).Result()
	if err != nil || len(first) == 0 {
		return
	}
	if f, ok := parseStreamID(first[0].ID); ok && at.next().less(f) {
		r.s.log.Warn("redisadapter: a stream reader fell more than MaxLen entries behind; entries were trimmed before it read them",
			"stream", r.name, "after", pos, "first", first[0].ID)
	}
}

func (r *streamReader) setOK(ok bool, err error) {
	if !setHealth(r.s.log, &r.ok, ok, err, "redisadapter: reading the Redis stream again",
		"redisadapter: cannot read the Redis stream; retrying from the last entry", "stream", r.name) {
		return
	}
	if ok {
		r.s.readFailing.Add(-1)
	} else {
		r.s.readFailing.Add(1)
	}
}

// deliverLoop delivers the batches the fetcher reads and, between two,
// serves the recoveries that wait.
func (r *streamReader) deliverLoop() {
	defer r.s.done.Done()
	var waiting []*resumeRequest
	for {
		select {
		case b := <-r.batches:
			r.deliver(b)
		case req := <-r.resumes:
			waiting = append(waiting, req)
			// And every other one already at the door: served together,
			// they cost one read of the stream (see serve).
			for more := true; more; {
				select {
				case req := <-r.resumes:
					waiting = append(waiting, req)
				default:
					more = false
				}
			}
		case <-r.s.stop:
			for _, req := range waiting {
				req.finish(ErrClosed)
			}
			return
		}
		waiting = r.serve(waiting)
	}
}

// deliver hands each entry of a batch to the adapters of its namespace.
func (r *streamReader) deliver(batch []redis.XMessage) {
	for i := range batch {
		m := &batch[i]
		if e, ok := readEntry(m); ok {
			for _, a := range r.adaptersOf(e.nsp) {
				a.onEntry(e)
			}
		}
		id := m.ID
		r.last.Store(&id)
	}
}

// streamEntry is an entry of a stream as Node writes them: {uid, nsp,
// type, data}, data being JSON or, when it holds binary, base64 msgpack.
type streamEntry struct {
	id   string
	uid  string
	nsp  string
	typ  int
	data string

	// Decoded once for every adapter of the namespace.
	decoded   bool
	p         *hub.Packet
	opts      hub.BroadcastOptions
	requestID string
	okPkt     bool
}

// readEntry reads an entry's fields; ok is false for an entry Node would
// skip too (no namespace) or one without a numeric type.
func readEntry(m *redis.XMessage) (*streamEntry, bool) {
	str := func(k string) string { v, _ := m.Values[k].(string); return v }
	e := &streamEntry{id: m.ID, uid: str("uid"), nsp: str("nsp"), data: str("data")}
	if e.nsp == "" {
		return nil, false
	}
	t, err := strconv.Atoi(str("type"))
	if err != nil {
		return nil, false
	}
	e.typ = t
	return e, true
}

// takeOwn returns the broadcast this node added as entry id, if it still
// has it. An entry read back before the pipeline that added it has
// answered is waited for: the answer is on its way.
func (r *streamReader) takeOwn(id streamID) (ownEntry, bool) {
	s := r.s
	s.ownMu.Lock()
	defer s.ownMu.Unlock()
	for {
		for len(r.own) > 0 && r.own[0].id.less(id) {
			r.popOwn() // its entry is gone from the stream
		}
		if len(r.own) > 0 {
			if r.own[0].id == id {
				e := r.own[0]
				r.popOwn()
				return e, true
			}
			return ownEntry{}, false
		}
		if !s.inflight {
			return ownEntry{}, false
		}
		s.ownCond.Wait()
	}
}

func (r *streamReader) popOwn() {
	r.own[0] = ownEntry{}
	r.own = r.own[1:]
	if len(r.own) == 0 {
		r.own = nil
	}
}
