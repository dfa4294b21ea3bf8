package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
)

// shardSubscriber holds the sharded flavour's subscriptions on a Redis
// Cluster. A shard channel lives in the slot its name hashes to, and
// SSUBSCRIBE must reach the primary that owns that slot (any other node
// answers MOVED); go-redis's ClusterClient.SSubscribe puts every channel
// on the connection of the first one's primary. So channels are spread
// over one connection per primary, and one goroutine (run) places them
// and moves them when their slot does:
//
//   - a primary's connection fails (it died, and its replica will take
//     over): the slots' owners are read again until the channels have a
//     live primary;
//   - Redis moves a slot (resharding) and unsubscribes the slot's
//     channels itself, or answers MOVED to an SSUBSCRIBE sent on stale
//     slots: the owners are read again and the channels moved;
//   - every second, without reading the slots again, the channels are
//     checked against go-redis's view of them, which it refreshes on its
//     own.
//
// SSubscribe and SUnsubscribe only say what is wanted and return; the
// Cluster waits for Redis's confirmations (Cluster.subscribe) where the
// caller needs them. What is published to a channel while it moves is
// lost.
type shardSubscriber struct {
	c  *Cluster
	cc *redis.ClusterClient

	mu    sync.Mutex
	want  map[string]bool       // the channels subscribed to
	at    map[string]*shardConn // where each channel is subscribed
	conns map[string]*shardConn // by primary address
	stale bool                  // the slots' owners must be read again
	err   error                 // why the last placement failed, if it did

	wake    chan struct{}
	stop    chan struct{}
	placed  chan struct{}  // closed when run returns
	done    sync.WaitGroup // the connections' readers
	stopped atomic.Bool
}

// shardConn is a subscriber connection to one primary.
type shardConn struct {
	addr string
	ps   *redis.PubSub
	stop chan struct{}
	ok   atomic.Bool
	// Guarded by shardSubscriber.mu:
	leaving map[string]int  // unsubscriptions sent and not yet confirmed
	lost    map[string]bool // channels Redis unsubscribed on its own
	recheck bool            // Redis refused a subscription: send them all again
	moving  map[string]bool // channels placed again, not yet confirmed
}

func newShardSubscriber(c *Cluster, cc *redis.ClusterClient) *shardSubscriber {
	s := &shardSubscriber{
		c: c, cc: cc,
		want:   make(map[string]bool),
		at:     make(map[string]*shardConn),
		conns:  make(map[string]*shardConn),
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		placed: make(chan struct{}),
	}
	go s.run()
	return s
}

// SSubscribe has channels subscribed to, each on its slot's primary.
func (s *shardSubscriber) SSubscribe(_ context.Context, channels ...string) error {
	if s.stopped.Load() {
		return ErrClosed
	}
	s.mu.Lock()
	for _, ch := range channels {
		s.want[ch] = true
	}
	s.mu.Unlock()
	s.poke()
	return nil
}

// SUnsubscribe has channels unsubscribed from.
func (s *shardSubscriber) SUnsubscribe(_ context.Context, channels ...string) error {
	s.mu.Lock()
	for _, ch := range channels {
		delete(s.want, ch)
	}
	s.mu.Unlock()
	s.poke()
	return nil
}

var errNotSharded = errors.New("redisadapter: the sharded flavour on a Redis Cluster has shard channels only")

func (s *shardSubscriber) Subscribe(context.Context, ...string) error    { return errNotSharded }
func (s *shardSubscriber) PSubscribe(context.Context, ...string) error   { return errNotSharded }
func (s *shardSubscriber) Unsubscribe(context.Context, ...string) error  { return errNotSharded }
func (s *shardSubscriber) PUnsubscribe(context.Context, ...string) error { return errNotSharded }

// Close stops the placing and closes every connection.
func (s *shardSubscriber) Close() error {
	if !s.stopped.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stop)
	<-s.placed
	s.mu.Lock()
	conns := make([]*shardConn, 0, len(s.conns))
	for _, sc := range s.conns {
		conns = append(conns, sc)
	}
	s.mu.Unlock()
	var err error
	for _, sc := range conns {
		close(sc.stop)
		err = errors.Join(err, sc.ps.Close())
	}
	s.done.Wait()
	return err
}

// poke wakes the placing goroutine.
func (s *shardSubscriber) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// markStale has the slots' owners read again before the next placement.
func (s *shardSubscriber) markStale() {
	s.mu.Lock()
	s.stale = true
	s.mu.Unlock()
	s.poke()
}

// run places the channels whenever something changed, and every second;
// while a placement fails or a connection is down, every 200ms.
func (s *shardSubscriber) run() {
	defer close(s.placed)
	t := time.NewTicker(time.Second)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-s.wake:
		case <-t.C:
		}
		pause := 50 * time.Millisecond // at most 20 placements a second
		if s.place() != nil {
			pause = 200 * time.Millisecond
			s.poke()
		}
		select {
		case <-s.stop:
			return
		case <-time.After(pause):
		}
	}
}

// place subscribes every wanted channel on its slot's primary and
// unsubscribes it elsewhere, and returns what is still wrong (see ready);
// the network calls are made without s.mu.
func (s *shardSubscriber) place() error {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s.mu.Lock()
	reload := s.stale
	s.stale = false
	for _, sc := range s.conns {
		reload = reload || !sc.ok.Load()
	}
	s.mu.Unlock()
	var err error
	if reload {
		// ForEachMaster reads the slots' owners again before it calls.
		err = s.cc.ForEachMaster(ctx, func(context.Context, *redis.Client) error { return nil })
	}

	s.mu.Lock()
	subs := make(map[*shardConn][]string)
	unsubs := make(map[*shardConn][]string)
	for ch := range s.want {
		node, nerr := s.cc.MasterForKey(ctx, ch)
		if nerr != nil {
			err = nerr
			continue
		}
		cur := s.at[ch]
		addr := node.Options().Addr
		if cur != nil && cur.addr == addr {
			if cur.lost[ch] || cur.recheck {
				// Subscribing again where it is costs no gap.
				delete(cur.lost, ch)
				cur.moving[ch] = true
				subs[cur] = append(subs[cur], ch)
			}
			continue
		}
		sc := s.conns[addr]
		if sc == nil {
			sc = s.connect(addr, node)
		}
		if cur != nil {
			unsubs[cur] = append(unsubs[cur], ch)
			delete(cur.moving, ch)
			sc.moving[ch] = true
		}
		subs[sc] = append(subs[sc], ch)
		s.at[ch] = sc
	}
	for ch, cur := range s.at {
		if !s.want[ch] {
			unsubs[cur] = append(unsubs[cur], ch)
			delete(s.at, ch)
		}
	}
	for _, sc := range s.conns {
		sc.recheck = false
	}
	for sc, chs := range unsubs {
		for _, ch := range chs {
			sc.leaving[ch]++
			delete(sc.lost, ch)
		}
	}
	s.mu.Unlock()

	// One channel a call: the channels of one SSUBSCRIBE must share a
	// slot.
	for sc, chs := range unsubs {
		for _, ch := range chs {
			_ = sc.ps.SUnsubscribe(ctx, ch) // a dead primary's channels are gone anyway
		}
	}
	for sc, chs := range subs {
		sort.Strings(chs)
		for _, ch := range chs {
			if serr := sc.ps.SSubscribe(ctx, ch); serr != nil {
				// go-redis keeps it and subscribes again when it
				// reconnects; the slots are read again meanwhile.
				err = fmt.Errorf("subscribing on %s: %w", sc.addr, serr)
			}
		}
	}
	s.closeIdle()

	s.mu.Lock()
	s.err = err
	if err != nil {
		s.stale = true
	}
	s.mu.Unlock()
	return s.report()
}

// connect starts a subscriber connection to the primary at addr (node is
// go-redis's client of it); s.mu is held.
func (s *shardSubscriber) connect(addr string, node *redis.Client) *shardConn {
	sc := &shardConn{
		addr:    addr,
		ps:      node.SSubscribe(context.Background()),
		stop:    make(chan struct{}),
		leaving: make(map[string]int),
		lost:    make(map[string]bool),
		moving:  make(map[string]bool),
	}
	sc.ok.Store(true)
	s.conns[addr] = sc
	s.done.Add(1)
	go func() {
		defer s.done.Done()
		s.c.receive(sc.ps, sc.stop, receiver{
			up: func(ok bool, err error) {
				if sc.ok.Swap(ok) != ok {
					if !ok {
						s.c.log.Warn("redisadapter: lost a Redis Cluster primary's subscriber connection", "addr", addr, "err", err)
						s.markStale()
					}
					s.report()
				}
			},
			subscription: func(m *redis.Subscription) { s.confirmed(sc, m) },
			refused: func(err error) {
				// MOVED: the slots moved since they were read. Which
				// channel Redis refused is not said: all are checked.
				s.c.log.Info("redisadapter: a Redis Cluster primary refused a subscription", "addr", addr, "err", err)
				s.mu.Lock()
				sc.recheck = true
				s.mu.Unlock()
				s.markStale()
			},
		})
	}()
	return sc
}

// confirmed handles Redis's (un)subscription messages on sc. An
// unsubscription this node did not ask for is Redis moving the channel's
// slot away: the channel is placed again.
func (s *shardSubscriber) confirmed(sc *shardConn, m *redis.Subscription) {
	if m.Kind != "sunsubscribe" {
		s.mu.Lock()
		moved := sc.moving[m.Channel]
		delete(sc.moving, m.Channel)
		s.mu.Unlock()
		s.c.confirms.confirm(m)
		if moved {
			s.report()
		}
		return
	}
	s.mu.Lock()
	ours := sc.leaving[m.Channel] > 0
	if ours {
		if sc.leaving[m.Channel]--; sc.leaving[m.Channel] == 0 {
			delete(sc.leaving, m.Channel)
		}
	} else if s.at[m.Channel] == sc {
		sc.lost[m.Channel] = true
		s.stale = true
	}
	s.mu.Unlock()
	if !ours {
		s.poke()
	}
}

// closeIdle closes the connections that hold no channel any more.
func (s *shardSubscriber) closeIdle() {
	s.mu.Lock()
	used := make(map[*shardConn]bool)
	for _, sc := range s.at {
		used[sc] = true
	}
	var idle []*shardConn
	for addr, sc := range s.conns {
		if !used[sc] {
			delete(s.conns, addr)
			idle = append(idle, sc)
		}
	}
	s.mu.Unlock()
	for _, sc := range idle {
		close(sc.stop)
		_ = sc.ps.Close()
	}
}

// ready says whether the last placement went through and every channel
// placed is on a live connection to its primary, those that moved
// confirmed there (new channels are on their way, and not waited for).
func (s *shardSubscriber) ready() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err != nil {
		return fmt.Errorf("redisadapter: placing shard channels on the Redis Cluster's primaries: %w (%w)", s.err, ErrUnavailable)
	}
	for ch, sc := range s.at {
		switch {
		case sc.lost[ch] || sc.moving[ch]:
			return fmt.Errorf("redisadapter: following channel %s to the Redis Cluster primary that owns it now: %w", ch, ErrUnavailable)
		case !sc.ok.Load():
			return fmt.Errorf("redisadapter: the subscriber connection to Redis Cluster primary %s is down: %w", sc.addr, ErrUnavailable)
		}
	}
	return nil
}

// report passes the subscriptions' state on to the Cluster, and returns
// it.
func (s *shardSubscriber) report() error {
	err := s.ready()
	if !s.stopped.Load() {
		s.c.setSub(err == nil, err)
	}
	return err
}
