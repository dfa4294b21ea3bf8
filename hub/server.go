package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/hub/internal/engine"
)

// Server is a Socket.IO server and an http.Handler: mount it on any mux at
// Options.Path. Its methods without a namespace act on the main namespace
// "/".
type Server struct {
	opts   Options
	engine *engine.Server
	hooks  atomic.Pointer[Hooks]

	mu          sync.RWMutex
	nsps        map[string]*Namespace
	children    int // dynamic children in nsps
	parents     []*ParentNamespace
	middlewares []func(*Socket) error
	main        *Namespace

	stats counters // see Stats
}

// New returns a server with opts.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{opts: opts, nsps: make(map[string]*Namespace)}
	s.engine = engine.NewServer(engine.Config{
		PingInterval:      opts.PingInterval,
		PingTimeout:       opts.PingTimeout,
		UpgradeTimeout:    opts.UpgradeTimeout,
		MaxPayload:        opts.MaxPayload,
		MaxBufferedBytes:  opts.MaxBufferedBytes,
		CompressThreshold: opts.HTTPCompressionThreshold,
		DisablePolling:    opts.DisablePolling,
		DisableWebSocket:  opts.DisableWebSocket,
		DisableUpgrades:   opts.DisableUpgrades,
		CORS:              opts.CORS,
		AllowRequest:      opts.AllowRequest,
		CheckOrigin:       opts.CheckOrigin,
		Logger:            opts.Logger,
		OnConnection: func(c *engine.Conn, r *http.Request) {
			c.SetHandler(newClient(s, c, r))
		},
	})
	s.main = s.Of("/")
	return s
}

// ServeHTTP serves the Socket.IO requests under Options.Path and answers
// 404 to anything else.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !strings.HasPrefix(r.URL.Path, s.opts.Path) {
		http.NotFound(w, r)
		return
	}
	s.engine.ServeHTTP(w, r)
}

// Options returns the server's options, defaults filled in.
func (s *Server) Options() Options { return s.opts }

// SetHooks installs the hooks (nil removes them); connections in flight see
// the new set from their next hook call on.
func (s *Server) SetHooks(h *Hooks) { s.hooks.Store(h) }

// Of returns the namespace name, creating it if needed. A missing leading
// slash is added.
func (s *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if n := s.Namespace(name); n != nil {
		return n
	}
	// Built outside the lock: a cluster adapter may subscribe over the
	// network.
	fresh := newNamespace(s, name, nil)
	s.mu.Lock()
	n := s.nsps[name]
	if n == nil {
		n = fresh
		s.nsps[name] = n
	}
	s.mu.Unlock()
	if n != fresh {
		_ = fresh.adapter.Close()
	}
	return n
}

// Namespace returns the namespace name if it exists now, else nil; unlike
// Of it never creates one.
func (s *Server) Namespace(name string) *Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.nsps[name]
}

// OfFunc adds a dynamic namespace: a client asking for a namespace that
// does not exist gets a new child of the returned parent when match accepts
// the name and the client's auth. Matchers are tried in the order added.
func (s *Server) OfFunc(match func(name string, auth json.RawMessage) bool) *ParentNamespace {
	p := &ParentNamespace{srv: s, match: match, children: make(map[string]*Namespace)}
	s.mu.Lock()
	s.parents = append(s.parents, p)
	s.mu.Unlock()
	return p
}

// OfPattern adds a dynamic namespace for the names re matches.
func (s *Server) OfPattern(re *regexp.Regexp) *ParentNamespace {
	return s.OfFunc(func(name string, _ json.RawMessage) bool { return re.MatchString(name) })
}

// Namespaces returns the namespaces that exist now, children included.
func (s *Server) Namespaces() []*Namespace {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		out = append(out, n)
	}
	slices.SortFunc(out, func(a, b *Namespace) int { return strings.Compare(a.name, b.name) })
	return out
}

// resolve finds or creates the namespace a client asked for, counting the
// client as pending in it; nil means it does not exist and may not be
// created. An error means it could not be created (its adapter failed).
func (s *Server) resolve(name string, auth json.RawMessage) (*Namespace, error) {
	s.mu.RLock()
	n := s.nsps[name]
	if n != nil {
		// Counted while the lock is held, so that an empty child is not
		// dropped under a socket on its way in.
		n.pending.Add(1)
	}
	parents := s.parents
	full := s.childrenFullLocked()
	s.mu.RUnlock()
	if n != nil {
		return n, nil
	}
	if full || (s.opts.MaxChildNamespaceName > 0 && len(name) > s.opts.MaxChildNamespaceName) {
		return nil, nil
	}
	for _, p := range parents {
		if p.match(name, auth) {
			return s.addChild(p, name), nil
		}
	}
	return nil, nil
}

func (s *Server) childrenFullLocked() bool {
	return s.opts.MaxChildNamespaces > 0 && s.children >= s.opts.MaxChildNamespaces
}

// addChild creates the child name of p, counting a pending client in it,
// unless another client created it meanwhile (then that one is used) or
// the children are at their bound (nil).
func (s *Server) addChild(p *ParentNamespace, name string) *Namespace {
	// Built outside the lock: a cluster adapter may subscribe over the
	// network.
	fresh := newNamespace(s, name, p)
	s.mu.Lock()
	n := s.nsps[name]
	if n == nil && !s.childrenFullLocked() {
		n = fresh
		s.nsps[name] = n
		s.children++
		p.mu.Lock()
		p.children[name] = n
		p.mu.Unlock()
	}
	if n != nil {
		n.pending.Add(1)
	}
	s.mu.Unlock()
	if n != fresh {
		_ = fresh.adapter.Close()
	}
	return n
}

// dropChild removes a child that has no socket and no client on its way
// in, then closes its adapter (outside the lock: a cluster adapter may
// unsubscribe over the network).
func (s *Server) dropChild(n *Namespace) {
	s.mu.Lock()
	drop := s.nsps[n.name] == n && n.count.Load() == 0 && n.pending.Load() == 0
	if drop {
		delete(s.nsps, n.name)
		s.children--
		n.parent.mu.Lock()
		delete(n.parent.children, n.name)
		n.parent.mu.Unlock()
	}
	s.mu.Unlock()
	if drop {
		_ = n.adapter.Close()
	}
}

// Use adds a middleware run for every socket connecting to any namespace,
// before the namespace's own middlewares. (In Node, io.use is the main
// namespace's; here that is Of("/").Use.)
func (s *Server) Use(fn func(*Socket) error) {
	s.mu.Lock()
	s.middlewares = append(slices.Clip(s.middlewares), fn)
	s.mu.Unlock()
}

func (s *Server) middlewareList() []func(*Socket) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.middlewares
}

// OnConnection adds a connection listener to the main namespace.
func (s *Server) OnConnection(fn func(*Socket)) { s.main.OnConnection(fn) }

// To targets rooms of the main namespace.
func (s *Server) To(rooms ...string) BroadcastOperator { return s.main.To(rooms...) }

// In is To.
func (s *Server) In(rooms ...string) BroadcastOperator { return s.main.In(rooms...) }

// Except targets every socket of the main namespace but those in rooms.
func (s *Server) Except(rooms ...string) BroadcastOperator { return s.main.Except(rooms...) }

// Volatile targets the main namespace with the volatile flag.
func (s *Server) Volatile() BroadcastOperator { return s.main.Volatile() }

// Local targets the main namespace on this node.
func (s *Server) Local() BroadcastOperator { return s.main.Local() }

// Compress targets the main namespace with the compress flag.
func (s *Server) Compress(on bool) BroadcastOperator { return s.main.Compress(on) }

// Timeout targets the main namespace, waiting at most d for acks.
func (s *Server) Timeout(d time.Duration) BroadcastOperator { return s.main.Timeout(d) }

// Emit sends an event to every socket of the main namespace.
func (s *Server) Emit(event string, args ...any) error { return s.main.Emit(event, args...) }

// EmitWithAck sends to the main namespace and collects the acks.
func (s *Server) EmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return s.main.EmitWithAck(ctx, event, args...)
}

// FetchSockets describes the main namespace's sockets on every node.
func (s *Server) FetchSockets(ctx context.Context) ([]*RemoteSocket, error) {
	return s.main.FetchSockets(ctx)
}

// SocketsJoin makes every socket of the main namespace join rooms.
func (s *Server) SocketsJoin(rooms ...string) error { return s.main.SocketsJoin(rooms...) }

// SocketsLeave makes every socket of the main namespace leave rooms.
func (s *Server) SocketsLeave(rooms ...string) error { return s.main.SocketsLeave(rooms...) }

// DisconnectSockets disconnects every socket of the main namespace.
func (s *Server) DisconnectSockets(close bool) error { return s.main.DisconnectSockets(close) }

// ServerSideEmit sends an event to the main namespace of every other node.
func (s *Server) ServerSideEmit(event string, args ...any) error {
	return s.main.ServerSideEmit(event, args...)
}

// ServerSideEmitWithAck sends to every other node and collects answers.
func (s *Server) ServerSideEmitWithAck(ctx context.Context, event string, args ...any) ([]Args, error) {
	return s.main.ServerSideEmitWithAck(ctx, event, args...)
}

// OnServerSideEmit sets the main namespace's listener of an event from
// another node.
func (s *Server) OnServerSideEmit(event string, fn func(*ServerEvent)) {
	s.main.OnServerSideEmit(event, fn)
}

// Connections returns the number of open Engine.IO connections.
func (s *Server) Connections() int { return s.engine.Len() }
