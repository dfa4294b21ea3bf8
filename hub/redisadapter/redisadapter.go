// Package redisadapter lets hub servers on several machines share their
// namespaces through Redis pub/sub. It speaks the wire format of the Node
// @socket.io/redis-adapter 8.x (createAdapter), so hub nodes and Node
// socket.io servers can serve one cluster: a broadcast from either reaches
// the clients of both, and FetchSockets, SocketsJoin, SocketsLeave,
// DisconnectSockets, ServerSideEmit and broadcasts with acks work across
// all of them.
//
// One Cluster serves every namespace of a server:
//
//	rdb := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	cluster, err := redisadapter.New(ctx, rdb, redisadapter.Options{})
//	if err != nil { ... }
//	srv := hub.New(hub.Options{Adapter: cluster.Adapter})
//
// Each namespace's adapter subscribes, on the Cluster's one subscriber
// connection, to the pattern <key>#<nsp>#* (broadcasts) and to the channels
// <key>-request#<nsp># and <key>-response#<nsp># (plus a response channel
// of its own); nodes are counted as Node counts them, with PUBSUB NUMSUB
// of the request channel. Cluster.Adapter returns once Redis has confirmed
// those subscriptions, or fails: the hub then refuses the connect that
// wanted the namespace, and the next one tries again.
//
// Broadcasts are published in order by one goroutine that pipelines what
// has queued up, and never wait for Redis: while Redis is unreachable,
// local delivery goes on, broadcasts reach this node's clients only (and
// return ErrUnavailable), requests to other nodes fail at once with
// ErrUnavailable, and the subscriber reconnects and subscribes again on its
// own.
//
// NewStreams makes the Redis Streams flavour instead, the format of Node's
// @socket.io/redis-streams-adapter 0.3: broadcasts go through a stream
// that every node reads in order, and its adapters keep connection state
// recovery sessions in Redis, so that a client recovers on any node, even
// after the one that served it died (see Streams).
//
// # Redis Cluster
//
// Both pub/sub flavours work on a Redis Cluster of several primaries when
// rdb is a *redis.ClusterClient (see NewClient). The classic flavour
// subscribes on one node (PUBLISH reaches every node of a cluster),
// publishes through the primary that owns the slot of Options.Key, so
// that its broadcasts keep their order, and counts nodes with PUBSUB
// NUMSUB summed over every node that answers (a node that does not has
// no subscriber left on it). The sharded flavour subscribes to each
// channel on the primary that owns the channel's slot, one connection
// per primary, and follows the slots when they move: a failover, a
// resharding, a MOVED answer. While a primary is
// down, and until its replica has taken over, what is published through
// it is lost: broadcasts still reach this node's sockets, requests whose
// answers may be lost fail with ErrUnavailable, and every flavour
// resumes on its own once the cluster is whole again. The streams flavour
// (NewStreams) works on a Redis Cluster too (see Streams).
package redisadapter

import (
	"context"
	"crypto/rand"
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

// ErrUnavailable reports that Redis cannot be reached: what was asked of
// the other nodes was not sent (local delivery still happened). It wraps
// hub.ErrUnavailable.
var ErrUnavailable = fmt.Errorf("redisadapter: Redis is unreachable: %w", hub.ErrUnavailable)

// ErrClosed reports use of a closed adapter.
var ErrClosed = errors.New("redisadapter: adapter closed")

// Options configure a Cluster. The zero value matches the Node adapter's
// defaults.
type Options struct {
	// Key is the prefix of every channel ("socket.io"); all nodes of a
	// cluster must use the same.
	Key string
	// RequestsTimeout bounds the wait for other nodes' answers to
	// FetchSockets, Rooms and ServerSideEmit with acks (5s), unless the
	// context or the broadcast's Timeout says otherwise.
	RequestsTimeout time.Duration
	// PublishOnSpecificResponseChannel sends answers to the requesting
	// node's own response channel instead of the shared one, as the Node
	// option of the same name.
	PublishOnSpecificResponseChannel bool
	// QueueSize bounds the messages waiting to be published (8192); a
	// broadcast waits for room in the queue while Redis answers.
	QueueSize int
	// Logger receives connection state changes and dropped messages
	// (slog.Default()).
	Logger *slog.Logger

	// Sharded speaks the Node sharded adapter's format instead
	// (createShardedAdapter: Redis 7 SPUBLISH/SSUBSCRIBE, one main channel
	// per namespace). Nodes of a cluster must all use the same flavour.
	Sharded bool
	// SubscriptionMode, for the sharded flavour, is "dynamic" (default: a
	// broadcast to one public room goes to that room's channel, which only
	// nodes with members subscribe to), "dynamic-private" (socket ids
	// too) or "static" (everything on the main channel).
	SubscriptionMode string
}

// Subscription modes of the sharded flavour.
const (
	ModeStatic         = "static"
	ModeDynamic        = "dynamic"
	ModeDynamicPrivate = "dynamic-private"
)

func (o Options) withDefaults() Options {
	if o.Key == "" {
		o.Key = "socket.io"
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = 5 * time.Second
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 8192
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.SubscriptionMode == "" {
		o.SubscriptionMode = ModeDynamic
	}
	return o
}

// member is a namespace's adapter, as the Cluster sees it.
type member interface {
	handle(m *redis.Message)
	failPending(err error)
}

// Cluster is one node's link to Redis: a subscriber connection shared by
// the namespaces' adapters (one per primary, in the sharded flavour on a
// Redis Cluster) and a publisher.
type Cluster struct {
	rdb  redis.UniversalClient
	opts Options
	log  *slog.Logger

	cc     *redis.ClusterClient // rdb, on a Redis Cluster; nil otherwise
	ps     subscriptions
	shards *shardSubscriber // ps, in the sharded flavour on a Redis Cluster
	// startReceiver starts reading ps, if it is one go-redis PubSub.
	startReceiver func()
	queue         chan outgoing
	stop          chan struct{}
	done          sync.WaitGroup
	closed        atomic.Bool

	subOK atomic.Bool // the subscriber connection is up
	pubOK atomic.Bool // the last publish went through

	mu       sync.RWMutex
	patterns map[string]member // broadcast pattern → adapter
	channels map[string]member // every other channel subscribed → adapter

	confirms confirmations // subscriptions awaiting Redis's confirmation

	dropped atomic.Int64
}

type outgoing struct {
	channel string
	payload []byte
}

// New connects to Redis through rdb and starts the subscriber and the
// publisher. It fails when Redis does not answer a PING within ctx; after
// that, the Cluster rides out Redis restarts on its own.
func New(ctx context.Context, rdb redis.UniversalClient, opts Options) (*Cluster, error) {
	switch opts.SubscriptionMode {
	case "", ModeStatic, ModeDynamic, ModeDynamicPrivate:
	default:
		return nil, fmt.Errorf("redisadapter: unknown subscription mode %q (static, dynamic or dynamic-private)", opts.SubscriptionMode)
	}
	c := &Cluster{
		rdb:      rdb,
		opts:     opts.withDefaults(),
		queue:    make(chan outgoing, opts.withDefaults().QueueSize),
		stop:     make(chan struct{}),
		patterns: make(map[string]member),
		channels: make(map[string]member),
	}
	c.cc, _ = rdb.(*redis.ClusterClient)
	if err := c.reachable(ctx); err != nil {
		return nil, fmt.Errorf("redisadapter: cannot reach Redis: %w", err)
	}
	c.log = c.opts.Logger
	c.subOK.Store(true)
	c.pubOK.Store(true)
	if c.cc != nil && c.opts.Sharded {
		c.shards = newShardSubscriber(c, c.cc)
		c.ps = c.shards
	} else {
		ps := rdb.Subscribe(ctx)
		c.ps = ps
		c.startReceiver = sync.OnceFunc(func() {
			c.done.Add(1)
			go func() {
				defer c.done.Done()
				c.receive(ps, c.stop, receiver{up: c.subscriberUp, subscription: c.confirms.confirm, refused: c.refused})
			}()
		})
		if c.cc == nil {
			c.startReceiver()
		}
		// On a Redis Cluster, the reader starts with the first
		// subscription, so that go-redis opens the connection on the
		// primary of its channel's slot rather than on any node: Node's
		// adapter counts the subscribers of primaries only.
	}
	c.done.Add(1)
	go c.publish()
	return c, nil
}

// subscriberUp records the state of the subscriber connection; on a
// Redis Cluster, a failure has go-redis read the slots' owners again, so
// that it reconnects to a live primary.
func (c *Cluster) subscriberUp(ok bool, err error) {
	c.setSub(ok, err)
	if !ok && c.cc != nil {
		c.cc.ReloadState(context.Background())
	}
}

// subscriptions is what a Cluster subscribes through: one go-redis
// PubSub, or in the sharded flavour on a Redis Cluster a shardSubscriber.
type subscriptions interface {
	Subscribe(ctx context.Context, channels ...string) error
	PSubscribe(ctx context.Context, patterns ...string) error
	SSubscribe(ctx context.Context, channels ...string) error
	Unsubscribe(ctx context.Context, channels ...string) error
	PUnsubscribe(ctx context.Context, patterns ...string) error
	SUnsubscribe(ctx context.Context, channels ...string) error
	Close() error
}

// reachable reports whether Redis answers a PING: on a Redis Cluster,
// every primary, after the slots' owners have been read again (a replica
// may have taken over).
func (c *Cluster) reachable(ctx context.Context) error {
	if c.cc == nil {
		return c.rdb.Ping(ctx).Err()
	}
	return c.cc.ForEachMaster(ctx, func(ctx context.Context, node *redis.Client) error {
		if err := node.Ping(ctx).Err(); err != nil {
			return fmt.Errorf("primary %s: %w", node.Options().Addr, err)
		}
		return nil
	})
}

// Adapter makes the adapter of a namespace; pass it as hub.Options.Adapter
// (it is a hub.AdapterFactory). It subscribes to the namespace's channels
// and returns once Redis has confirmed them (within
// Options.RequestsTimeout), so that the namespace hears the other nodes
// from its first socket on; if Redis is unreachable or does not confirm in
// time it returns the error, unsubscribed, and the hub tries again on the
// namespace's next connect.
func (c *Cluster) Adapter(nsp *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
	if c.closed.Load() {
		return nil, ErrClosed
	}
	if c.opts.Sharded {
		return newShardedAdapter(c, nsp, local)
	}
	a := newAdapter(c, nsp, local)
	c.mu.Lock()
	c.patterns[a.pattern] = a
	c.channels[a.requestChannel] = a
	c.channels[a.responseChannel] = a
	c.channels[a.specificResponseChannel] = a
	c.mu.Unlock()
	err := c.subscribe(
		subscribeGroup{"psubscribe", []string{a.pattern}},
		subscribeGroup{"subscribe", []string{a.requestChannel, a.responseChannel, a.specificResponseChannel}},
	)
	if err != nil {
		_ = a.Close()
		return nil, err
	}
	return a, nil
}

// forget unsubscribes a closed adapter's channels.
func (c *Cluster) forget(a *adapter) {
	c.mu.Lock()
	drop := func(m map[string]member, ch string) {
		if m[ch] == member(a) {
			delete(m, ch)
		}
	}
	drop(c.patterns, a.pattern)
	drop(c.channels, a.requestChannel)
	drop(c.channels, a.responseChannel)
	drop(c.channels, a.specificResponseChannel)
	c.mu.Unlock()
	if c.closed.Load() {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_ = c.ps.PUnsubscribe(ctx, a.pattern)
	_ = c.ps.Unsubscribe(ctx, a.requestChannel, a.responseChannel, a.specificResponseChannel)
}

// Healthy reports whether Redis answers: the subscriber is connected and
// the last publish went through.
func (c *Cluster) Healthy() bool { return c.subOK.Load() && c.pubOK.Load() }

// canPublish reports whether what publish sends can go through: in the
// classic flavour on a Redis Cluster, whether the primary it publishes
// through answers (the others may be down); otherwise whether Redis
// answers (every primary).
func (c *Cluster) canPublish(ctx context.Context) error {
	if c.cc == nil || c.opts.Sharded {
		return c.reachable(ctx)
	}
	// ForEachMaster reads the slots' owners again before it calls.
	_ = c.cc.ForEachMaster(ctx, func(context.Context, *redis.Client) error { return nil })
	node, err := c.cc.MasterForKey(ctx, c.opts.Key)
	if err != nil {
		return err
	}
	return node.Ping(ctx).Err()
}

// Ready reports, for a readiness probe, whether this node is linked to the
// other nodes: nil when its subscriptions are up, its last publish went
// through and Redis (every primary of a Redis Cluster) answers a PING
// within ctx; otherwise an error that says which part is down, wrapping
// ErrUnavailable (ErrClosed once closed).
func (c *Cluster) Ready(ctx context.Context) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if c.shards != nil {
		if err := c.shards.ready(); err != nil {
			return err
		}
	}
	if !c.subOK.Load() {
		return fmt.Errorf("redisadapter: the subscriber lost Redis and is reconnecting: %w", ErrUnavailable)
	}
	if !c.pubOK.Load() {
		return fmt.Errorf("redisadapter: the last publish to Redis failed; retrying: %w", ErrUnavailable)
	}
	if err := c.reachable(ctx); err != nil {
		return fmt.Errorf("redisadapter: Redis does not answer (%v): %w", err, ErrUnavailable)
	}
	return nil
}

// Dropped is the number of messages that could not be published because
// Redis was unreachable or the queue was closed.
func (c *Cluster) Dropped() int64 { return c.dropped.Load() }

// Close stops the subscriber and the publisher (what is queued is
// published first, within a second). The namespaces' adapters stop
// reaching other nodes; the Redis client is not closed.
func (c *Cluster) Close() error {
	if !c.closed.CompareAndSwap(false, true) {
		return nil
	}
	close(c.stop)
	err := c.ps.Close()
	c.done.Wait()
	for _, a := range c.members() {
		a.failPending(ErrClosed)
	}
	return err
}

// members returns the namespaces' adapters.
func (c *Cluster) members() []member {
	c.mu.RLock()
	defer c.mu.RUnlock()
	seen := make(map[member]bool)
	var out []member
	for _, m := range c.channels {
		if !seen[m] {
			seen[m] = true
			out = append(out, m)
		}
	}
	return out
}

// send queues a message for publishing. It fails at once while Redis is
// known to be unreachable, and waits for room in the queue otherwise.
func (c *Cluster) send(channel string, payload []byte) error {
	if c.closed.Load() {
		return ErrClosed
	}
	if !c.Healthy() {
		c.dropped.Add(1)
		return ErrUnavailable
	}
	select {
	case c.queue <- outgoing{channel, payload}:
		return nil
	case <-c.stop:
		c.dropped.Add(1)
		return ErrClosed
	}
}

// publish sends the queued messages in order, each batch in one pipeline.
// While Redis fails, it drops what is queued and pings until it answers.
func (c *Cluster) publish() {
	defer c.done.Done()
	publishBatches(c.queue, c.stop, 256, c.write, c.flush)
}

// flush publishes what was left in the queue at Close, within a second.
func (c *Cluster) flush(batch []outgoing) {
	if len(batch) > 0 && c.pubOK.Load() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		_, _ = c.pipeline(ctx, batch)
	}
}

func (c *Cluster) pipeline(ctx context.Context, batch []outgoing) ([]redis.Cmder, error) {
	rdb := c.rdb
	if c.cc != nil && !c.opts.Sharded {
		// One node for every PUBLISH, so that they reach the others in
		// the order they were sent (go-redis would spread them).
		node, err := c.cc.MasterForKey(ctx, c.opts.Key)
		if err != nil {
			return nil, err
		}
		rdb = node
	}
	if len(batch) == 1 {
		if c.opts.Sharded {
			return nil, rdb.SPublish(ctx, batch[0].channel, batch[0].payload).Err()
		}
		return nil, rdb.Publish(ctx, batch[0].channel, batch[0].payload).Err()
	}
	pipe := rdb.Pipeline()
	for _, m := range batch {
		if c.opts.Sharded {
			pipe.SPublish(ctx, m.channel, m.payload)
		} else {
			pipe.Publish(ctx, m.channel, m.payload)
		}
	}
	return pipe.Exec(ctx)
}

func (c *Cluster) write(batch []outgoing) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	_, err := c.pipeline(ctx, batch)
	cancel()
	if err == nil {
		return
	}
	c.dropped.Add(int64(len(batch)))
	c.setPub(false, err)
	// Drop what queues meanwhile and wait for Redis to answer again.
	if awaitRedis(context.Background(), c.canPublish, c.queue, c.stop, func(outgoing) { c.dropped.Add(1) }) {
		c.setPub(true, nil)
	}
}

func (c *Cluster) setPub(ok bool, err error) {
	setHealth(c.log, &c.pubOK, ok, err, "redisadapter: publishing to Redis again",
		"redisadapter: cannot publish to Redis; broadcasts stay local")
}

func (c *Cluster) setSub(ok bool, err error) {
	if !setHealth(c.log, &c.subOK, ok, err, "redisadapter: subscribed to Redis again",
		"redisadapter: lost the Redis subscription; reconnecting") || ok {
		return
	}
	// Answers can no longer arrive: end what waits for them.
	for _, a := range c.members() {
		a.failPending(ErrUnavailable)
	}
}

// setHealth records in v whether one kind of call to Redis goes through
// and logs a change: up as information, down as a warning with err (both
// with attrs). It reports whether v changed.
func setHealth(log *slog.Logger, v *atomic.Bool, ok bool, err error, up, down string, attrs ...any) bool {
	if v.Swap(ok) == ok {
		return false
	}
	if ok {
		log.Info(up, attrs...)
	} else {
		log.Warn(down, append(attrs, "err", err)...)
	}
	return true
}

// receiver is what a subscriber connection's reader tells.
type receiver struct {
	up           func(ok bool, err error)    // the connection is up, or failed with err
	subscription func(m *redis.Subscription) // Redis confirmed a (un)subscription
	refused      func(err error)             // Redis answered err, the connection is fine
}

// receive reads a subscriber connection until stop closes and hands each
// message to its namespace's adapter, in order. go-redis reconnects and
// subscribes again on the next read after an error.
func (c *Cluster) receive(ps *redis.PubSub, stop <-chan struct{}, r receiver) {
	ctx := context.Background()
	backoff := 50 * time.Millisecond
	idle := false
	for {
		msg, err := ps.ReceiveTimeout(ctx, 5*time.Second)
		select {
		case <-stop:
			return
		default:
		}
		if err != nil {
			var ne interface{ Timeout() bool }
			timeout := errors.As(err, &ne) && ne.Timeout()
			if timeout && !idle {
				// Quiet for a while: make sure the connection is alive.
				idle = true
				if perr := ps.Ping(ctx); perr == nil {
					continue
				}
			}
			var rerr redis.Error
			if !timeout && errors.As(err, &rerr) {
				r.refused(err)
				continue
			}
			r.up(false, err)
			select {
			case <-stop:
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, c.maxBackoff())
			continue
		}
		idle = false
		backoff = 50 * time.Millisecond
		r.up(true, nil)
		switch m := msg.(type) {
		case *redis.Message:
			c.dispatch(m)
		case *redis.Subscription:
			r.subscription(m)
		}
	}
}

// maxBackoff bounds the wait between a subscriber's reconnections: a
// second, or 250ms on a Redis Cluster, where a replica takes over within
// seconds and a reconnection tries the live primaries.
func (c *Cluster) maxBackoff() time.Duration {
	if c.cc != nil {
		return 250 * time.Millisecond
	}
	return time.Second
}

// refused handles an error Redis answered on the subscriber connection
// (such as CLUSTERDOWN while a Redis Cluster fails over): the connection
// stays, and a subscription Redis refused is not confirmed, so that the
// adapter that asked for it fails.
func (c *Cluster) refused(err error) {
	c.log.Warn("redisadapter: Redis refused a subscription", "err", err)
	if c.cc != nil {
		c.cc.ReloadState(context.Background())
	}
}

func (c *Cluster) dispatch(m *redis.Message) {
	c.mu.RLock()
	var a member
	if m.Pattern != "" {
		a = c.patterns[m.Pattern]
	} else {
		a = c.channels[m.Channel]
	}
	c.mu.RUnlock()
	if a != nil {
		a.handle(m)
	}
}

// uidChars are those of the Node uid2 package.
const uidChars = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// newUID returns a random id of n characters, like uid2(n).
func newUID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = uidChars[int(b[i])%len(uidChars)]
	}
	return string(b)
}

// escapeGlob quotes the characters Redis patterns give a meaning to, so a
// namespace's pattern matches its own channels only.
func escapeGlob(s string) string {
	if !strings.ContainsAny(s, `*?[]\`) {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if strings.ContainsRune(`*?[]\`, r) {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}
