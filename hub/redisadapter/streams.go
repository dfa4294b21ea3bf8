package redisadapter

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/hubd/hubd/hub"
)

// StreamsOptions configure a Streams. The zero value matches the Node
// @socket.io/redis-streams-adapter's defaults; all the nodes of a cluster
// must agree on StreamName, StreamCount, ChannelPrefix, Sharded and
// SessionKeyPrefix.
type StreamsOptions struct {
	// StreamName is the Redis stream the namespaces' messages go through
	// ("socket.io"); with StreamCount above 1, the prefix of the streams.
	StreamName string
	// StreamCount spreads the namespaces over that many streams,
	// <StreamName>-<i>, each namespace on the one its name hashes to, as
	// Node does (1: a single stream).
	StreamCount int
	// ChannelPrefix is the prefix of the pub/sub channels that carry
	// requests and answers ("socket.io").
	ChannelPrefix string
	// Sharded uses sharded pub/sub (SPUBLISH, SSUBSCRIBE, Redis 7), as
	// Node's useShardedPubSub.
	Sharded bool
	// MaxLen bounds each stream, trimmed approximately (10,000 entries):
	// it bounds what a recovering client can get back.
	MaxLen int64
	// ReadCount is the number of entries one XREAD may return (256).
	ReadCount int
	// BlockTime is how long one XREAD waits for new entries (5s).
	BlockTime time.Duration
	// SessionKeyPrefix is the prefix of the keys that hold the recovery
	// sessions ("sio:session:").
	SessionKeyPrefix string
	// RequestsTimeout bounds the wait for other nodes' answers to
	// FetchSockets and ServerSideEmit with acks (5s), unless the context
	// or the broadcast's Timeout says otherwise; it also bounds a
	// recovery's replay.
	RequestsTimeout time.Duration
	// Logger receives connection state changes and dropped messages
	// (slog.Default()).
	Logger *slog.Logger
}

// maxStreamCount bounds StreamCount: the stream is chosen in 32-bit
// arithmetic, and each stream has a reader of its own.
const maxStreamCount = 1 << 10

// Validate reports every problem of the options at once; nil means
// NewStreams accepts them.
func (o StreamsOptions) Validate() error {
	var errs []error
	bad := func(format string, args ...any) {
		errs = append(errs, fmt.Errorf("redisadapter: "+format, args...))
	}
	if o.StreamCount < 0 || o.StreamCount > maxStreamCount {
		bad("StreamCount is %d: it must be between 1 and %d (0 for 1)", o.StreamCount, maxStreamCount)
	}
	if o.MaxLen < 0 {
		bad("MaxLen is %d: it must be positive (0 for 10,000)", o.MaxLen)
	}
	if o.ReadCount < 0 {
		bad("ReadCount is %d: it must be positive (0 for 256)", o.ReadCount)
	}
	if o.BlockTime < 0 || o.BlockTime > 0 && o.BlockTime < time.Millisecond {
		bad("BlockTime is %v: it must be at least a millisecond (0 for 5s)", o.BlockTime)
	}
	if o.RequestsTimeout < 0 {
		bad("RequestsTimeout is %v: it must be positive (0 for 5s)", o.RequestsTimeout)
	}
	return errors.Join(errs...)
}

func (o StreamsOptions) withDefaults() StreamsOptions {
	if o.StreamName == "" {
		o.StreamName = "socket.io"
	}
	if o.StreamCount == 0 {
		o.StreamCount = 1
	}
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "socket.io"
	}
	if o.MaxLen == 0 {
		o.MaxLen = 10_000
	}
	if o.ReadCount == 0 {
		o.ReadCount = 256
	}
	if o.BlockTime == 0 {
		o.BlockTime = 5 * time.Second
	}
	if o.SessionKeyPrefix == "" {
		o.SessionKeyPrefix = "sio:session:"
	}
	if o.RequestsTimeout == 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// xaddQueue bounds the messages waiting to be added to the streams; a
// broadcast waits for room while Redis answers.
const xaddQueue = 8192

// Streams is one node's link to Redis in the Redis Streams flavour, the
// wire format of Node's @socket.io/redis-streams-adapter 0.3: hub nodes
// and Node socket.io servers using that package on the same Redis serve
// one cluster. One Streams serves every namespace of a server:
//
//	streams, err := redisadapter.NewStreams(ctx, rdb, redisadapter.StreamsOptions{})
//	if err != nil { ... }
//	srv := hub.New(hub.Options{Adapter: streams.Adapter, ConnectionStateRecovery: &hub.RecoveryOptions{}})
//
// Broadcasts, and the joins, leaves and disconnects of remote sockets,
// are added to a stream (XADD, MAXLEN ~ MaxLen), which every node reads
// in order; requests that need answers (FetchSockets, ServerSideEmit,
// broadcasts with acks) and their answers go through pub/sub. Nodes are
// counted as Node counts them, with PUBSUB NUMSUB of the namespace's
// channel.
//
// # Order and offsets
//
// A node delivers a namespace's broadcasts to its sockets in stream
// order, its own included: it delivers its own when its reader reads them
// back, not when XADD returns, so that every socket sees the stream's
// order. A broadcast recovery covers (connection state recovery on, no
// ack, not volatile) goes to clients with its entry id as offset: a
// client that saw an offset saw everything the stream held before it.
// Broadcasts are added by one goroutine that pipelines what has queued
// up. Volatile broadcasts go through the stream too, with the volatile
// flag, as Node sends them: they keep their place in the order, carry no
// offset and are never replayed (Node servers replay them; hub does not,
// as RecoveryOptions says).
//
// # Sessions
//
// The adapters are hub.SessionStores that keep sessions in Redis, under
// <SessionKeyPrefix><private id>, in Node's format (base64 of msgpack
// {sid, pid, rooms, data}) plus a "hubd" map Node ignores: the owning
// node's id, whether the socket is still connected ("live"), its start
// position and its namespace. Node writes a session when its socket
// disconnects, so a node killed with SIGKILL loses its sockets' sessions;
// hub nodes also track connected sockets (hub.SessionTracker): one
// goroutine writes each session's latest state, pipelined, while the
// socket is connected, with a time to live of the recovery's duration
// plus a refresh period, and renews it every period. A live session is
// never taken while its node is alive (PUBSUB NUMSUB of the node's own
// channel, which Redis empties as soon as the node's connection drops);
// once its node is gone, any node takes it. Every write is a
// compare-and-set against what this node last wrote, so a node that lost
// a session to another never writes it again; taking a session replaces
// it, compare-and-set, with a record of the taker's, so that the old
// owner cannot write it back in between. A recovering client's missed
// broadcasts are read back from the stream, between two batches of the
// reader, so that every later one reaches it after them.
//
// # Redis unreachable
//
// Broadcasts never wait for Redis: while it cannot be reached (Healthy
// is false), local delivery goes on without offsets, broadcasts return
// ErrUnavailable, requests to other nodes fail at once, and messages
// queued when Redis went away are delivered locally and counted as
// Dropped. A reader that cannot read retries and resumes from the last
// entry it delivered: what other nodes added meanwhile is delivered late,
// in order, as far as the stream still holds it. Session writes wait and
// are retried, latest state first.
//
// # Decisions
//
//   - Own broadcasts are delivered when read back, at the cost of a
//     round trip before local sockets see them: delivered when XADD
//     returns, as Node does, they could reach local sockets in another
//     order than the stream's, and a client's offset would no longer
//     mean it saw everything before it. The reader does not decode them
//     again: it takes the packet the publisher kept for the entry.
//   - Taking a session replaces it with the taker's own live record
//     (compare-and-set) rather than deleting it: between the take and the
//     socket's first tracked state, a node that lost the session (alive
//     but cut off from Redis for a moment, so counted dead) could
//     otherwise write it back. A recovery that fails its checks after
//     the take deletes that record. A record that is missing, though,
//     may be written again by its owner (it expired, or Redis restarted
//     empty): the refresh finds such records and writes them again.
//   - A socket being recovered joins its own room with its other rooms,
//     when ResumeSession queues what it missed, not before: joined
//     earlier, a packet to its id could reach it live and in the replay.
//   - Rooms asks every node for its sockets (FETCH_SOCKETS, the only
//     request Node's cluster protocol has for it), as costly as
//     FetchSockets of the whole namespace.
//   - A reader starts after the stream's last entry when its first
//     namespace is made (Node starts at "$", which can miss what comes
//     before its first XREAD), and resumes after the last entry it
//     delivered after any failure; after a failure its next read does
//     not block, so that Healthy turns true as soon as Redis answers.
//   - A reader that falls more than MaxLen entries behind loses what the
//     trimming removed; it logs a warning when it finds so.
//   - Bounds on what Redis hands a node: a session record of at most 1
//     MiB and 10,000 rooms (anything else is an unknown session), a
//     replay within RecoveryOptions.MaxSessionPackets and
//     MaxSessionBytes, and a scan of at most twice MaxLen entries.
//
// It works on one Redis server, or on a Redis Cluster of several primaries
// when rdb is a *redis.ClusterClient (see NewClient): a stream and its
// reader's wake key share a slot, so each stream lives on one primary,
// the sessions spread over all of them, and nodes (and a session owner's
// liveness) are counted over the cluster as the pub/sub flavours count
// them. With StreamCount above 1, each stream has a reader of its own.
type Streams struct {
	rdb    redis.UniversalClient
	opts   StreamsOptions
	log    *slog.Logger
	pubsub *Cluster // the pub/sub half: requests, answers, node counts

	xadds  chan xaddJob
	stop   chan struct{}
	life   context.Context // ends at Close, ending the waits on Redis
	end    context.CancelFunc
	done   sync.WaitGroup
	closed atomic.Bool
	xaddOK atomic.Bool

	readFailing atomic.Int32 // readers whose last XREAD failed

	mu      sync.Mutex
	readers map[string]*streamReader // by stream name

	// Own broadcasts waiting for their reader, and whether a pipeline of
	// XADDs is out: a reader that reads one of its node's entries before
	// the pipeline's answer waits for it (see streamReader.takeOwn).
	ownMu    sync.Mutex
	ownCond  sync.Cond
	inflight bool

	sessions *sessionWriter
	dropped  atomic.Int64
}

// NewStreams connects to Redis through rdb and starts the publisher, the
// subscriber and the session writer. It fails when Redis does not answer
// within ctx; after that, the Streams rides out Redis restarts on its
// own. A namespace's stream reader starts with the namespace's adapter.
func NewStreams(ctx context.Context, rdb redis.UniversalClient, opts StreamsOptions) (*Streams, error) {
	if err := opts.Validate(); err != nil {
		return nil, err
	}
	opts = opts.withDefaults()
	pubsub, err := New(ctx, rdb, Options{
		Key:             opts.ChannelPrefix,
		RequestsTimeout: opts.RequestsTimeout,
		Logger:          opts.Logger,
		Sharded:         opts.Sharded,
	})
	if err != nil {
		return nil, err
	}
	if err := loadSessionScripts(ctx, rdb); err != nil {
		_ = pubsub.Close()
		return nil, fmt.Errorf("redisadapter: loading the session scripts: %w", err)
	}
	s := &Streams{
		rdb:     rdb,
		opts:    opts,
		log:     opts.Logger,
		pubsub:  pubsub,
		xadds:   make(chan xaddJob, xaddQueue),
		stop:    make(chan struct{}),
		readers: make(map[string]*streamReader),
	}
	s.life, s.end = context.WithCancel(context.Background())
	s.ownCond.L = &s.ownMu
	s.xaddOK.Store(true)
	s.sessions = newSessionWriter(s)
	s.done.Add(2)
	go s.publish()
	go s.sessions.run()
	return s, nil
}

// Adapter makes the adapter of a namespace; pass it as hub.Options.Adapter
// (it is a hub.AdapterFactory). It starts the reader of the namespace's
// stream if none runs yet and subscribes to the namespace's channels, and
// returns once Redis has confirmed them (within RequestsTimeout); on an
// error the hub tries again on the namespace's next connect.
func (s *Streams) Adapter(nsp *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	r, err := s.reader(streamOf(s.opts.StreamName, s.opts.StreamCount, nsp.Name()))
	if err != nil {
		return nil, err
	}
	a := newStreamsAdapter(s, r, nsp, local)
	c := s.pubsub
	c.mu.Lock()
	c.channels[a.channel] = a
	c.channels[a.responseChannel] = a
	c.mu.Unlock()
	kind := "subscribe"
	if s.opts.Sharded {
		kind = "ssubscribe"
	}
	if err := c.subscribe(subscribeGroup{kind, []string{a.channel, a.responseChannel}}); err != nil {
		_ = a.Close()
		return nil, err
	}
	r.add(a)
	return a, nil
}

// reader returns the reader of stream name, started if need be. The
// stream's last entry is read outside the lock.
func (s *Streams) reader(name string) (*streamReader, error) {
	s.mu.Lock()
	r := s.readers[name]
	s.mu.Unlock()
	if r != nil {
		return r, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), s.opts.RequestsTimeout)
	defer cancel()
	last, err := lastEntry(ctx, s.rdb, name)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return nil, ErrClosed
	}
	if r := s.readers[name]; r != nil {
		return r, nil // started meanwhile
	}
	r = startReader(s, name, last)
	s.readers[name] = r
	return r, nil
}

// Healthy reports whether Redis answers: the subscriber is connected, the
// last publish and the last stream add went through, and every reader
// and the session writer have reached it.
func (s *Streams) Healthy() bool {
	return s.pubsub.Healthy() && s.xaddOK.Load() && s.sessions.ok.Load() && s.readFailing.Load() == 0
}

// Ready reports, for a readiness probe, whether this node is linked to the
// other nodes: nil when Healthy holds and Redis answers a PING within ctx;
// otherwise an error that says which part is down, wrapping
// ErrUnavailable (ErrClosed once closed).
func (s *Streams) Ready(ctx context.Context) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if err := s.pubsub.Ready(ctx); err != nil {
		return err
	}
	down := func(what string) error {
		return fmt.Errorf("redisadapter: %s: %w", what, ErrUnavailable)
	}
	switch n := s.readFailing.Load(); {
	case !s.xaddOK.Load():
		return down("the last add to a stream failed; retrying")
	case n > 0:
		return down(fmt.Sprintf("%d stream readers cannot read; retrying", n))
	case !s.sessions.ok.Load():
		return down("the session writer cannot reach Redis; retrying")
	}
	return nil
}

// ping reports whether Redis answers a PING (every primary of a Redis
// Cluster).
func (s *Streams) ping(ctx context.Context) error { return s.pubsub.reachable(ctx) }

// Dropped is the number of messages that could not be sent because Redis
// was unreachable or the Streams was closed; each broadcast among them
// was delivered to this node's sockets only.
func (s *Streams) Dropped() int64 { return s.dropped.Load() + s.pubsub.Dropped() }

// Close stops the readers, the publisher, the subscriber and the session
// writer; what is queued (broadcasts, session writes) is written first,
// within a second or two. The namespaces' adapters stop reaching other
// nodes; the Redis client is not closed.
func (s *Streams) Close() error {
	if !s.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(s.stop)
	healthy := s.Healthy()
	s.end()
	s.mu.Lock()
	readers := make([]*streamReader, 0, len(s.readers))
	for _, r := range s.readers {
		readers = append(readers, r)
	}
	s.mu.Unlock()
	if healthy {
		// A reader blocked in XREAD returns when its wake key gets an
		// entry; one that cannot reach Redis is not blocked.
		for _, r := range readers {
			r.wake()
		}
	}
	s.done.Wait()
	if healthy {
		for _, r := range readers {
			r.cleanup()
		}
	}
	return s.pubsub.Close()
}

// hashTagged returns a key of its own in the same Redis Cluster slot as
// key (XREAD of several keys needs one slot).
func hashTagged(key, suffix string) string {
	if i := strings.IndexByte(key, '{'); i >= 0 {
		if j := strings.IndexByte(key[i+1:], '}'); j > 0 {
			return key + suffix // the key's own tag decides
		}
	}
	return "{" + key + "}" + suffix
}
