// Package natsadapter links hub servers into a cluster over NATS: a
// broadcast made on one node reaches the matching sockets of every node,
// and room operations, FetchSockets, Rooms, ServerSideEmit and broadcasts
// with acks cover the whole cluster.
//
// Each namespace has one subject, <prefix>.<namespace>, which every node
// with that namespace subscribes to (see RATIONALE.md, "NATS subjects"):
// broadcasts, room operations, requests and the nodes' heartbeats all go
// there, and each node applies what it receives to its own sockets.
// Requests are NATS requests with many responders: the asking node
// publishes with a reply inbox of its own, and every other node answers
// on it. Nodes count each other by their heartbeats, so a request knows
// how many answers to wait for.
//
// No Node.js NATS adapter exists to speak with: the message format is this
// package's own (wire.go). All nodes of a cluster must use this package.
//
// A node's NATS user needs to publish and subscribe on <prefix>.> and on
// the reply inboxes, _INBOX.> (or the prefix given with
// nats.CustomInboxPrefix in Options.NATSOptions). Messages are bounded by
// the servers' max_payload (1 MB unless configured): a larger broadcast
// fails with ErrTooLarge after its local delivery.
//
// Delivery is NATS core's, at most once: a broadcast published while a
// node is cut from the NATS server waits in the client's reconnect buffer
// and is sent when it reconnects, but what the server was carrying when it
// went down, and what others published before the node's subscriptions
// were restored, is lost.
package natsadapter

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/hubd/hubd/hub"
)

// ErrUnavailable reports that the NATS server cannot be reached: what was
// asked of the other nodes was not sent (local delivery still happened).
// It wraps hub.ErrUnavailable.
var ErrUnavailable = fmt.Errorf("natsadapter: NATS is unreachable: %w", hub.ErrUnavailable)

// ErrClosed reports use of a closed Cluster, and ends the requests and
// broadcasts with acks pending when it closes.
var ErrClosed = errors.New("natsadapter: cluster closed")

// ErrTooLarge reports a message larger than the NATS server takes (its
// max_payload); raise max_payload in the server's configuration to carry
// it.
var ErrTooLarge = errors.New("natsadapter: message larger than the NATS server's max_payload")

// Options configure a Cluster. The zero value connects to
// nats://127.0.0.1:4222 with the defaults below.
type Options struct {
	// URLs are the NATS servers to connect to (nats.DefaultURL); the
	// client picks one and fails over to the others.
	URLs []string
	// CredentialsFile, when set, is a NATS credentials file (a user JWT
	// and its NKey seed, nats.UserCredentials).
	CredentialsFile string
	// SubjectPrefix starts every subject ("socket.io"); all nodes of a
	// cluster must use the same, and clusters sharing a NATS server
	// must use different ones. Dot-separated tokens, without spaces or
	// wildcards.
	SubjectPrefix string
	// RequestsTimeout bounds the wait for other nodes' answers to
	// FetchSockets, Rooms and ServerSideEmit with acks (5s), unless the
	// context or the broadcast's Timeout says otherwise.
	RequestsTimeout time.Duration
	// HeartbeatInterval is how often a node tells the others it is alive
	// (5s); HeartbeatTimeout is how long they count it without hearing
	// from it (10s). A node that closes says so at once.
	HeartbeatInterval time.Duration
	HeartbeatTimeout  time.Duration
	// Name is the connection's name on the NATS server, for its
	// monitoring ("hubd").
	Name string
	// Logger receives connection state changes and dropped messages
	// (slog.Default()).
	Logger *slog.Logger
	// NATSOptions are applied after the package's own connect options:
	// TLS, a token, other authentication, reconnect tuning.
	NATSOptions []nats.Option
}

// Defaults.
const (
	DefaultSubjectPrefix     = "socket.io"
	DefaultRequestsTimeout   = 5 * time.Second
	DefaultHeartbeatInterval = 5 * time.Second
	DefaultHeartbeatTimeout  = 10 * time.Second
)

func (o Options) withDefaults() Options {
	if len(o.URLs) == 0 {
		o.URLs = []string{nats.DefaultURL}
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = DefaultSubjectPrefix
	}
	if o.RequestsTimeout <= 0 {
		o.RequestsTimeout = DefaultRequestsTimeout
	}
	if o.HeartbeatInterval <= 0 {
		o.HeartbeatInterval = DefaultHeartbeatInterval
	}
	if o.HeartbeatTimeout <= 0 {
		o.HeartbeatTimeout = DefaultHeartbeatTimeout
	}
	if o.Name == "" {
		o.Name = "hubd"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Validate reports every problem of o at once.
func (o Options) Validate() error {
	var errs []error
	for _, u := range o.URLs {
		if strings.TrimSpace(u) == "" {
			errs = append(errs, errors.New("natsadapter: an empty URL"))
		}
	}
	if o.SubjectPrefix != "" && !validPrefix(o.SubjectPrefix) {
		errs = append(errs, fmt.Errorf("natsadapter: subject prefix %q: want dot-separated tokens without spaces, '*' or '>'", o.SubjectPrefix))
	}
	if o.HeartbeatInterval > 0 && o.HeartbeatTimeout > 0 && o.HeartbeatTimeout <= o.HeartbeatInterval {
		errs = append(errs, fmt.Errorf("natsadapter: heartbeat timeout %v must be longer than the interval %v", o.HeartbeatTimeout, o.HeartbeatInterval))
	}
	return errors.Join(errs...)
}

// validPrefix reports whether p is a subject of literal tokens.
func validPrefix(p string) bool {
	for tok := range strings.SplitSeq(p, ".") {
		if tok == "" || tok == "*" || tok == ">" || strings.ContainsAny(tok, " \t\r\n*>") {
			return false
		}
	}
	return true
}

// Cluster is a node's connection to NATS, shared by its namespaces'
// adapters. Use its Adapter method as hub.Options.Adapter.
type Cluster struct {
	nc   *nats.Conn
	opts Options
	uid  string
	log  *slog.Logger

	ctx    context.Context // ends when the cluster closes
	cancel context.CancelFunc
	done   chan struct{} // the heartbeat loop has ended

	mu       sync.Mutex
	adapters map[*adapter]struct{}
	closed   bool
}

// New connects to NATS with o and returns the node's Cluster. It fails
// when no server answers within ctx (or the client's connect timeout).
func New(ctx context.Context, o Options) (*Cluster, error) {
	if err := o.Validate(); err != nil {
		return nil, err
	}
	o = o.withDefaults()
	c := &Cluster{opts: o, uid: newUID(), log: o.Logger, adapters: map[*adapter]struct{}{}, done: make(chan struct{})}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	nopts := []nats.Option{
		nats.Name(o.Name),
		// A node never hears its own messages: it serves its own
		// sockets directly.
		nats.NoEcho(),
		nats.MaxReconnects(-1),
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			if err != nil {
				c.log.Warn("natsadapter: disconnected from NATS", "err", err)
			}
		}),
		nats.ReconnectHandler(func(nc *nats.Conn) {
			c.log.Info("natsadapter: reconnected to NATS", "url", nc.ConnectedUrlRedacted())
			c.reconnected()
		}),
		nats.ErrorHandler(func(_ *nats.Conn, sub *nats.Subscription, err error) {
			subject := ""
			if sub != nil {
				subject = sub.Subject
			}
			c.log.Warn("natsadapter: NATS error", "subject", subject, "err", err)
		}),
	}
	if o.CredentialsFile != "" {
		nopts = append(nopts, nats.UserCredentials(o.CredentialsFile))
	}
	nopts = append(nopts, o.NATSOptions...)
	type result struct {
		nc  *nats.Conn
		err error
	}
	ch := make(chan result, 1)
	go func() {
		nc, err := nats.Connect(strings.Join(o.URLs, ","), nopts...)
		ch <- result{nc, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			c.cancel()
			return nil, fmt.Errorf("natsadapter: connecting to %s: %w", strings.Join(o.URLs, ","), r.err)
		}
		c.nc = r.nc
	case <-ctx.Done():
		c.cancel()
		go func() {
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("natsadapter: connecting to %s: %w", strings.Join(o.URLs, ","), ctx.Err())
	}
	go c.heartbeats()
	return c, nil
}

// Adapter makes the cluster adapter of nsp; it is a hub.AdapterFactory.
// It subscribes to the namespace's subject and waits until the NATS server
// has the subscription, so that the namespace hears the other nodes from
// its first connection on.
func (c *Cluster) Adapter(nsp *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error) {
	a := &adapter{c: c, nsp: nsp, local: local, subject: c.subject(nsp.Name()), members: map[string]time.Time{}}
	a.ctx, a.cancel = context.WithCancel(c.ctx)
	sub, err := c.nc.Subscribe(a.subject, a.handle)
	if err != nil {
		return nil, fmt.Errorf("natsadapter: subscribing to %s: %w", a.subject, err)
	}
	// The node's messages are bounded by max_payload; a namespace that
	// falls this far behind drops what comes after (logged).
	_ = sub.SetPendingLimits(1<<16, 256<<20)
	a.sub = sub
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		_ = sub.Unsubscribe()
		a.cancel()
		return nil, ErrClosed
	}
	c.adapters[a] = struct{}{}
	c.mu.Unlock()
	a.publish(newMessage(msgHello, c.uid))
	if !c.nc.IsConnected() {
		// Cut off: the subscription and the hello go out on reconnect;
		// the namespace does not wait for that.
		return a, nil
	}
	if err := c.nc.FlushTimeout(c.opts.RequestsTimeout); err != nil {
		c.log.Warn("natsadapter: NATS did not confirm a namespace's subscription", "nsp", nsp.Name(), "err", err)
	}
	return a, nil
}

// subject is the subject of namespace nsp. A namespace name may hold any
// character, so it is written in unpadded URL-safe base64: one token,
// never a wildcard.
func (c *Cluster) subject(nsp string) string {
	return c.opts.SubjectPrefix + "." + base64.RawURLEncoding.EncodeToString([]byte(nsp))
}

// Healthy reports whether the connection to NATS is up.
func (c *Cluster) Healthy() bool { return c.nc.IsConnected() }

// Close says goodbye in every namespace, ends the pending requests and
// broadcasts with acks with ErrClosed, and closes the connection. It is
// safe to call more than once.
func (c *Cluster) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	adapters := make([]*adapter, 0, len(c.adapters))
	for a := range c.adapters {
		adapters = append(adapters, a)
	}
	c.mu.Unlock()
	for _, a := range adapters {
		a.leave()
	}
	c.cancel()
	_ = c.nc.FlushTimeout(time.Second)
	c.nc.Close()
	<-c.done
	return nil
}

// forget drops a closed adapter.
func (c *Cluster) forget(a *adapter) {
	c.mu.Lock()
	delete(c.adapters, a)
	c.mu.Unlock()
}

// each calls f for every open adapter, outside the lock.
func (c *Cluster) each(f func(*adapter)) {
	c.mu.Lock()
	adapters := make([]*adapter, 0, len(c.adapters))
	for a := range c.adapters {
		adapters = append(adapters, a)
	}
	c.mu.Unlock()
	for _, a := range adapters {
		f(a)
	}
}

// heartbeats tells the other nodes, every HeartbeatInterval, that this one
// is alive, and forgets those not heard from for HeartbeatTimeout.
func (c *Cluster) heartbeats() {
	defer close(c.done)
	t := time.NewTicker(c.opts.HeartbeatInterval)
	defer t.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-t.C:
			c.each(func(a *adapter) {
				a.publish(newMessage(msgHeartbeat, c.uid))
				a.expire(time.Now().Add(-c.opts.HeartbeatTimeout))
			})
		}
	}
}

// reconnected greets every namespace again after a reconnect: the other
// nodes may have forgotten this one, and this one them. The client has
// already restored the subscriptions, ahead of anything published.
func (c *Cluster) reconnected() {
	c.each(func(a *adapter) { a.publish(newMessage(msgHello, c.uid)) })
}

// newUID returns a node's id, unique in practice.
func newUID() string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}
