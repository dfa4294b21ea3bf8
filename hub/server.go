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
	children    int                 // dynamic children in nsps
	busy        map[string]*nspWork // names whose adapter is being made or closed
	parents     []*ParentNamespace
	middlewares []func(*Socket) error
	main        *Namespace
	onNamespace []func(*Namespace) // copied, never changed (see OnNamespace)

	dataView atomic.Pointer[func(*Socket, json.RawMessage) json.RawMessage] // see SetDataView

	stats    counters         // see Stats
	recovery recoveryCounters // see RecoveryStats
}

// New returns a server with opts.
func New(opts Options) *Server {
	opts = opts.withDefaults()
	s := &Server{opts: opts, nsps: make(map[string]*Namespace), busy: make(map[string]*nspWork)}
	s.engine = engine.NewServer(engine.Config{
		PingInterval:      opts.PingInterval,
		PingTimeout:       opts.PingTimeout,
		UpgradeTimeout:    opts.UpgradeTimeout,
		MaxPayload:        opts.MaxPayload,
		MaxBufferedBytes:  opts.MaxBufferedBytes,
		WriteTimeout:      opts.WriteTimeout,
		CompressThreshold: opts.HTTPCompressionThreshold,
		PerMessageDeflate: opts.PerMessageDeflate.engine(),
		DisablePolling:    opts.DisablePolling,
		DisableWebSocket:  opts.DisableWebSocket,
		DisableUpgrades:   opts.DisableUpgrades,
		AllowEIO3:         opts.AllowEIO3,
		CORS:              opts.CORS,
		AllowRequest:      opts.AllowRequest,
		CheckOrigin:       opts.CheckOrigin,
		OnConnectionError: engineConnectionError(opts.OnConnectionError),
		InitialHeaders:    opts.InitialHeaders,
		Headers:           opts.Headers,
		Logger:            opts.Logger,
		OnConnection: func(c *engine.Conn, r *http.Request) {
			cl := newClient(s, c, r)
			c.SetHandler(cl)
			cl.opened()
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
	if b := s.opts.ServeClient; b != nil && b.serve(w, r, r.URL.Path[len(s.opts.Path):]) {
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
//
// Creating a namespace makes its adapter (Options.Adapter), which may take
// a network round trip; Of waits for it. Should the factory fail, the
// error is logged (Options.Logger) and the namespace is made with the
// in-memory adapter: it then serves this node's sockets only. (The
// reference, likewise, only logs an adapter's failed init.) A dynamic
// child whose factory fails is not made at all: see Options.Adapter.
func (s *Server) Of(name string) *Namespace {
	if !strings.HasPrefix(name, "/") {
		name = "/" + name
	}
	if n := s.Namespace(name); n != nil {
		return n
	}
	n, err := s.build(name, nil, false, false)
	if err != nil {
		s.opts.Logger.Error("hub: the namespace's adapter could not be made; it serves this node's sockets only",
			"namespace", name, "err", err)
		n, _ = s.build(name, nil, false, true)
	}
	return n
}

// nspWork is a namespace name whose adapter is being made or closed: the
// callers that want the name meanwhile wait for done, then look again.
type nspWork struct {
	done chan struct{}
	err  error // the factory's, for those who waited on a failed making
}

// build returns the namespace name, made with parent p (nil for a named
// namespace) if it does not exist; with pending, a client on its way in is
// counted in it. The adapter is made outside s.mu, by one caller at a
// time per name, so that a slow factory holds up only the connects to its
// own namespace, and never while the adapter of a dropped namespace of the
// same name is still closing (a cluster adapter's unsubscribe must not
// undo the new one's subscribe). A failed factory's error goes to every
// caller that waited for it; the next caller tries again. A child is not
// made (nil, nil) when the children are at their bound.
func (s *Server) build(name string, p *ParentNamespace, pending, memoryOnly bool) (*Namespace, error) {
	for {
		s.mu.Lock()
		if n := s.nsps[name]; n != nil {
			if pending {
				n.pending.Add(1)
			}
			s.mu.Unlock()
			return n, nil
		}
		if p != nil && s.childrenFullLocked() {
			s.mu.Unlock()
			return nil, nil
		}
		if w := s.busy[name]; w != nil {
			s.mu.Unlock()
			<-w.done
			if w.err != nil {
				return nil, w.err
			}
			continue
		}
		w := &nspWork{done: make(chan struct{})}
		s.busy[name] = w
		s.mu.Unlock()

		n, err := newNamespace(s, name, p, memoryOnly)
		full := false
		var listeners []func(*Namespace)
		s.mu.Lock()
		delete(s.busy, name)
		switch {
		case err != nil:
			w.err = err
		case p != nil && s.childrenFullLocked():
			full = true // other children were made meanwhile
		default:
			s.nsps[name] = n
			listeners = s.onNamespace
			if p != nil {
				s.children++
				p.mu.Lock()
				p.children[name] = n
				p.mu.Unlock()
			}
			if pending {
				n.pending.Add(1)
			}
		}
		s.mu.Unlock()
		close(w.done)
		if full {
			_ = n.adapter.Close()
			return nil, nil
		}
		for _, fn := range listeners {
			fn(n)
		}
		return n, err
	}
}

// OnNamespace calls fn for every namespace that exists now and for every
// one made later (Of, a dynamic namespace's child), once each (Node's
// new_namespace event, with the namespaces already there): for a library
// that watches every namespace, such as an admin UI's server side. A new
// namespace is handed to fn as soon as it exists, on the goroutine that
// made it, before the CONNECT that made a dynamic child goes on; fn must
// not wait, nor call Of.
func (s *Server) OnNamespace(fn func(*Namespace)) {
	s.mu.Lock()
	s.onNamespace = append(slices.Clip(s.onNamespace), fn)
	existing := make([]*Namespace, 0, len(s.nsps))
	for _, n := range s.nsps {
		existing = append(existing, n)
	}
	s.mu.Unlock()
	slices.SortFunc(existing, func(a, b *Namespace) int { return strings.Compare(a.name, b.name) })
	for _, n := range existing {
		fn(n)
	}
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
// created. An error means it could not be created (its adapter factory
// failed): the error, logged here, is not the client's to read, so the
// client is told the namespace is unavailable.
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
			n, err := s.build(name, p, true, false)
			if err != nil {
				s.opts.Logger.Error("hub: connect refused: the namespace's adapter could not be made",
					"namespace", name, "err", err)
				return nil, errNamespaceUnavailable
			}
			return n, nil
		}
	}
	return nil, nil
}

// errNamespaceUnavailable is the connect_error of a client whose namespace
// could not be made; a later connect tries again.
var errNamespaceUnavailable = &ConnectError{Message: "Namespace unavailable, try again later"}

func (s *Server) childrenFullLocked() bool {
	return s.opts.MaxChildNamespaces > 0 && s.children >= s.opts.MaxChildNamespaces
}

// dropChild removes a child that has no socket and no client on its way
// in, then closes its adapter (outside the lock: a cluster adapter may
// unsubscribe over the network). Until it is closed, the name is busy: a
// client asking for it meanwhile waits, then gets a new child.
func (s *Server) dropChild(n *Namespace) {
	s.mu.Lock()
	drop := s.nsps[n.name] == n && n.count.Load() == 0 && n.pending.Load() == 0 && s.busy[n.name] == nil
	var w *nspWork
	if drop {
		delete(s.nsps, n.name)
		s.children--
		n.parent.mu.Lock()
		delete(n.parent.children, n.name)
		n.parent.mu.Unlock()
		w = &nspWork{done: make(chan struct{})}
		s.busy[n.name] = w
	}
	s.mu.Unlock()
	if drop {
		_ = n.adapter.Close()
		s.mu.Lock()
		delete(s.busy, n.name)
		s.mu.Unlock()
		close(w.done)
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
