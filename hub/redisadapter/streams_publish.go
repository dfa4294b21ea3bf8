package redisadapter

import (
	"context"
	"errors"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
)

// xaddJob is a message on its way to a namespace's stream: the fields
// Node reads (uid, nsp, type, data) and, for a broadcast, the packet this
// node delivers when its reader reads the entry back.
type xaddJob struct {
	a    *streamsAdapter
	typ  int
	data string
	p    *hub.Packet // nil unless a broadcast
	opts hub.BroadcastOptions
}

// xadd queues a message for its stream. It fails at once while Redis is
// known to be unreachable, and waits for room in the queue otherwise. A
// broadcast that is not queued is delivered to this node's sockets.
func (s *Streams) xadd(j xaddJob) error {
	if s.closed.Load() {
		s.dropJob(j)
		return ErrClosed
	}
	if !s.Healthy() {
		s.dropJob(j)
		return ErrUnavailable
	}
	select {
	case s.xadds <- j:
		return nil
	case <-s.stop:
		s.dropJob(j)
		return ErrClosed
	}
}

// dropJob counts a message that will not reach the stream and delivers
// it here if it is a broadcast (without an offset: no entry holds it).
func (s *Streams) dropJob(j xaddJob) {
	s.dropped.Add(1)
	if j.p != nil {
		_ = j.a.local.Broadcast(j.p, j.opts)
	}
}

// publish adds the queued messages to their streams in order, each batch
// in one pipeline. While Redis fails, it delivers locally (and counts) what
// is queued and pings until Redis answers.
func (s *Streams) publish() {
	defer s.done.Done()
	publishBatches(s.xadds, s.stop, 512, s.writeXAdds, s.flushXAdds)
}

// flushXAdds adds what was left in the queue at Close, within a second.
func (s *Streams) flushXAdds(batch []xaddJob) {
	if len(batch) == 0 || !s.xaddOK.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	_, _ = s.pipelineXAdds(ctx, batch)
}

// pipelineXAdds sends one XADD per job and returns their commands.
func (s *Streams) pipelineXAdds(ctx context.Context, batch []xaddJob) ([]*redis.StringCmd, error) {
	pipe := s.rdb.Pipeline()
	cmds := make([]*redis.StringCmd, len(batch))
	for i, j := range batch {
		cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: j.a.reader.name,
			MaxLen: s.opts.MaxLen,
			Approx: true,
			ID:     "*",
			Values: []string{"uid", j.a.uid, "nsp", j.a.nsp.Name(), "type", strconv.Itoa(j.typ), "data", j.data},
		})
	}
	_, err := pipe.Exec(ctx)
	return cmds, err
}

// writeXAdds adds a batch. The broadcasts that made it wait for their
// reader (streamReader.takeOwn); the others are delivered here.
func (s *Streams) writeXAdds(batch []xaddJob) {
	s.ownMu.Lock()
	s.inflight = true
	s.ownMu.Unlock()
	ctx, cancel := context.WithTimeout(s.life, 5*time.Second)
	cmds, err := s.pipelineXAdds(ctx, batch)
	cancel()
	var failed []xaddJob
	s.ownMu.Lock()
	for i, j := range batch {
		id, cerr := cmds[i].Result()
		if cerr != nil {
			failed = append(failed, j)
			continue
		}
		if j.p == nil {
			continue
		}
		if sid, ok := parseStreamID(id); ok {
			j.a.reader.own = append(j.a.reader.own, ownEntry{id: sid, p: j.p, opts: j.opts})
		}
	}
	s.inflight = false
	s.ownCond.Broadcast()
	s.ownMu.Unlock()
	for _, j := range failed {
		s.dropJob(j)
	}
	var reply redis.Error
	if err == nil || errors.As(err, &reply) {
		return // Redis answered, if only with an error
	}
	s.setXAdd(false, err)
	// Deliver here what queues meanwhile and wait for Redis to answer.
	if awaitRedis(s.life, s.ping, s.xadds, s.stop, s.dropJob) {
		s.setXAdd(true, nil)
	}
}

func (s *Streams) setXAdd(ok bool, err error) {
	setHealth(s.log, &s.xaddOK, ok, err, "redisadapter: adding to the Redis streams again",
		"redisadapter: cannot add to the Redis streams; broadcasts stay local")
}
