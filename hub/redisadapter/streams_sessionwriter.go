package redisadapter

import (
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
)

// The session scripts compare what is stored with what the caller last
// wrote (or read), so that a node never overwrites a session another node
// took.
var (
	// writeScript sets KEYS[1] to ARGV[2] for ARGV[3] ms if it holds
	// ARGV[1] (what this node last wrote; "" for nothing) or nothing (a
	// session that expired or went with a restarted Redis: a taken one
	// holds its taker's record).
	writeScript = redis.NewScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or (ARGV[1] ~= '' and cur == ARGV[1]) then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`)
	// swapScript sets KEYS[1] to ARGV[2] for ARGV[3] ms if it holds
	// ARGV[1]: only one of the nodes taking a session wins.
	swapScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
  return 1
end
return 0`)
	// deleteScript deletes KEYS[1] if it holds ARGV[1].
	deleteScript = redis.NewScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('DEL', KEYS[1])
end
return 0`)
)

func loadSessionScripts(ctx context.Context, rdb redis.UniversalClient) error {
	for _, s := range []*redis.Script{writeScript, swapScript, deleteScript} {
		if err := s.Load(ctx, rdb).Err(); err != nil {
			return err
		}
	}
	return nil
}

// sessionWriter writes the sessions of a Streams' adapters: one goroutine,
// each batch in one pipeline, the latest state of each session only. It
// remembers what it last wrote of each session, to compare against, and
// renews the time to live of the connected sockets' sessions every
// refresh period.
type sessionWriter struct {
	s      *Streams
	ok     atomic.Bool
	period atomic.Int64 // refresh period: the smallest of the adapters'
	wake   chan struct{}

	mu       sync.Mutex
	pending  map[string]*sessionOp // by private id, the latest wins
	inflight map[string]bool       // being written
	written  chan struct{}         // closed when a batch has been written
	owned    map[string]*ownedSession
	ended    map[string]time.Time // sessions persisted or dropped: later tracking is stale
}

type opKind int

const (
	opTrack   opKind = iota // a connected socket's state, live
	opPersist               // a disconnected socket's, not live
	opDrop                  // gone for good
	opRelease               // a session taken here that could not be recovered
)

type sessionOp struct {
	kind   opKind
	a      *streamsAdapter
	sess   *hub.Session // track, persist
	expect string       // release: the record to delete
}

// ownedSession is what this node last wrote of a session.
type ownedSession struct {
	a     *streamsAdapter
	value string
	sess  *hub.Session // the state written, nil for a record taken but not yet tracked
	live  bool         // renewed every period
	since time.Time
}

func newSessionWriter(s *Streams) *sessionWriter {
	w := &sessionWriter{
		s:        s,
		wake:     make(chan struct{}, 1),
		pending:  make(map[string]*sessionOp),
		inflight: make(map[string]bool),
		written:  make(chan struct{}),
		owned:    make(map[string]*ownedSession),
		ended:    make(map[string]time.Time),
	}
	w.ok.Store(true)
	w.period.Store(int64(15 * time.Second))
	return w
}

func (w *sessionWriter) notePeriod(p time.Duration) {
	for {
		cur := w.period.Load()
		if int64(p) >= cur || w.period.CompareAndSwap(cur, int64(p)) {
			return
		}
	}
}

func (w *sessionWriter) queue(pid string, op *sessionOp) {
	w.pending[pid] = op
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

func (w *sessionWriter) track(a *streamsAdapter, s *hub.Session) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ended := w.ended[s.PID]; ended {
		return
	}
	w.queue(s.PID, &sessionOp{kind: opTrack, a: a, sess: s})
}

func (w *sessionWriter) persist(a *streamsAdapter, s *hub.Session) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended[s.PID] = time.Now()
	w.queue(s.PID, &sessionOp{kind: opPersist, a: a, sess: s})
}

func (w *sessionWriter) drop(a *streamsAdapter, pid string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.ended[pid] = time.Now()
	w.queue(pid, &sessionOp{kind: opDrop, a: a})
}

// release deletes a record TakeSession wrote for a recovery it refused.
func (w *sessionWriter) release(a *streamsAdapter, pid, marker string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.queue(pid, &sessionOp{kind: opRelease, a: a, expect: marker})
}

// taken notes the record TakeSession wrote: the socket's tracking
// compares against it.
func (w *sessionWriter) taken(a *streamsAdapter, pid, marker string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	delete(w.ended, pid)
	w.owned[pid] = &ownedSession{a: a, value: marker, since: time.Now()}
}

// forget stops renewing the sessions of a closed adapter.
func (w *sessionWriter) forget(a *streamsAdapter) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for pid, o := range w.owned {
		if o.a == a {
			delete(w.owned, pid)
		}
	}
}

// sync waits until what this node has to write of session pid is written.
func (w *sessionWriter) sync(ctx context.Context, pid string) error {
	for {
		w.mu.Lock()
		busy := w.pending[pid] != nil || w.inflight[pid]
		ch := w.written
		w.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return ctx.Err()
		case <-w.s.stop:
			return ErrClosed
		}
	}
}

// run writes what is queued, renews the live sessions every period, and
// writes what is left at Close.
func (w *sessionWriter) run() {
	defer w.s.done.Done()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	renewed := time.Now()
	for {
		select {
		case <-w.wake:
		case now := <-tick.C:
			if now.Sub(renewed) >= time.Duration(w.period.Load()) {
				renewed = now
				w.refresh()
			}
		case <-w.s.stop:
			if w.ok.Load() {
				ctx, cancel := context.WithTimeout(context.Background(), time.Second)
				w.write(ctx)
				cancel()
			}
			return
		}
		ctx, cancel := context.WithTimeout(w.s.life, 5*time.Second)
		err := w.write(ctx)
		cancel()
		if err != nil {
			w.outage(err)
		}
	}
}

// sessionWrite is one op of a batch, ready to send.
type sessionWrite struct {
	pid   string
	op    *sessionOp
	value string // what track and persist write
	lost  bool   // a state too big to keep: the record is deleted
	cmd   *redis.Cmd
}

// write sends one batch of what is pending. Its error means Redis could
// not be reached; the batch is queued again (behind any newer state).
func (w *sessionWriter) write(ctx context.Context) error {
	w.mu.Lock()
	if len(w.pending) == 0 {
		w.mu.Unlock()
		return nil
	}
	batch := make([]sessionWrite, 0, len(w.pending))
	expect := make([]string, 0, len(w.pending))
	for pid, op := range w.pending {
		w.inflight[pid] = true
		batch = append(batch, sessionWrite{pid: pid, op: op})
		e := op.expect
		if o := w.owned[pid]; o != nil && op.kind != opRelease {
			e = o.value
		}
		expect = append(expect, e)
	}
	clear(w.pending)
	w.mu.Unlock()

	prefix := w.s.opts.SessionKeyPrefix
	pipe := w.s.rdb.Pipeline()
	for i := range batch {
		b := &batch[i]
		key := prefix + b.pid
		a := b.op.a
		switch b.op.kind {
		case opTrack, opPersist:
			live := b.op.kind == opTrack
			v, err := a.recordOf(b.op.sess, live).encode()
			if err != nil || len(v) > maxRecordBytes {
				w.s.log.Warn("redisadapter: a session is too big to keep; its client cannot recover it", "socket", b.op.sess.ID, "bytes", len(v), "err", err)
				b.lost = true
				b.cmd = deleteScript.EvalSha(ctx, pipe, []string{key}, expect[i])
				continue
			}
			b.value = v
			ttl := a.liveTTL
			if !live {
				ttl = a.restTTL
			}
			b.cmd = writeScript.EvalSha(ctx, pipe, []string{key}, expect[i], v, ttl.Milliseconds())
		default:
			if expect[i] == "" {
				continue // nothing of this node's to delete
			}
			b.cmd = deleteScript.EvalSha(ctx, pipe, []string{key}, expect[i])
		}
	}
	_, err := pipe.Exec(ctx)
	var reply redis.Error
	if err != nil && !errors.As(err, &reply) {
		w.settle(batch, true)
		return err
	}
	if w.settle(batch, false) {
		// A restarted Redis forgot the scripts: load them, write again.
		if lerr := loadSessionScripts(ctx, w.s.rdb); lerr != nil {
			return lerr
		}
		select {
		case w.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// settle records the outcome of a batch; with requeue (Redis was not
// reached) or a NOSCRIPT answer, an op is queued again unless a newer one
// is. It reports whether the scripts must be loaded again.
func (w *sessionWriter) settle(batch []sessionWrite, requeue bool) (noScript bool) {
	now := time.Now()
	w.mu.Lock()
	defer w.mu.Unlock()
	for i := range batch {
		b := &batch[i]
		delete(w.inflight, b.pid)
		again := requeue
		if !again && b.cmd != nil && b.cmd.Err() != nil {
			if strings.HasPrefix(b.cmd.Err().Error(), "NOSCRIPT") {
				again, noScript = true, true
			} else {
				w.s.log.Warn("redisadapter: writing a session", "err", b.cmd.Err())
			}
		}
		if again {
			if w.pending[b.pid] == nil {
				w.pending[b.pid] = b.op
			}
			continue
		}
		switch {
		case b.op.kind == opTrack && !b.lost && b.cmd.Val() == int64(1):
			w.owned[b.pid] = &ownedSession{a: b.op.a, value: b.value, sess: b.op.sess, live: true, since: now}
		case b.op.kind == opTrack:
			// Another node took it (or it was too big): never again.
			delete(w.owned, b.pid)
			w.ended[b.pid] = now
		default:
			delete(w.owned, b.pid)
		}
	}
	close(w.written)
	w.written = make(chan struct{})
	return noScript
}

// outage waits for Redis to answer again; what is queued meanwhile is
// written afterwards, latest state only.
func (w *sessionWriter) outage(err error) {
	if w.ok.Swap(false) {
		w.s.log.Warn("redisadapter: cannot write sessions to Redis; retrying", "err", err)
	}
	if !awaitRedis[struct{}](w.s.life, w.s.ping, nil, w.s.stop, nil) {
		return
	}
	w.ok.Store(true)
	w.s.log.Info("redisadapter: writing sessions to Redis again")
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// refresh renews the time to live of the connected sockets' sessions,
// writes again those Redis lost, and forgets what is stale.
func (w *sessionWriter) refresh() {
	type renewal struct {
		pid string
		o   *ownedSession
		cmd *redis.BoolCmd
	}
	now := time.Now()
	var list []renewal
	w.mu.Lock()
	for pid, o := range w.owned {
		switch {
		case o.live && w.pending[pid] == nil && !w.inflight[pid]:
			list = append(list, renewal{pid: pid, o: o})
		case !o.live && now.Sub(o.since) > o.a.liveTTL:
			delete(w.owned, pid) // taken here, never tracked: it has expired
		}
	}
	for pid, at := range w.ended {
		if now.Sub(at) > time.Minute {
			delete(w.ended, pid)
		}
	}
	w.mu.Unlock()
	for start := 0; start < len(list); start += 1000 {
		chunk := list[start:min(start+1000, len(list))]
		ctx, cancel := context.WithTimeout(w.s.life, 5*time.Second)
		pipe := w.s.rdb.Pipeline()
		for i := range chunk {
			chunk[i].cmd = pipe.PExpire(ctx, w.s.opts.SessionKeyPrefix+chunk[i].pid, chunk[i].o.a.liveTTL)
		}
		_, err := pipe.Exec(ctx)
		cancel()
		if err != nil {
			return // the next write or refresh finds out
		}
		w.mu.Lock()
		for _, r := range chunk {
			if !r.cmd.Val() && w.owned[r.pid] == r.o && w.pending[r.pid] == nil {
				w.queue(r.pid, &sessionOp{kind: opTrack, a: r.o.a, sess: r.o.sess})
			}
		}
		w.mu.Unlock()
	}
}
