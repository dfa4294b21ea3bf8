package adminui

import (
	"context"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/hub"
)

// The features the UI is told of in "config" (the Node package's Feature
// enumeration).
const (
	featureEmit             = "EMIT"
	featureJoin             = "JOIN"
	featureLeave            = "LEAVE"
	featureDisconnect       = "DISCONNECT"
	featureMJoin            = "MJOIN"
	featureMLeave           = "MLEAVE"
	featureMDisconnect      = "MDISCONNECT"
	featureAggregatedEvents = "AGGREGATED_EVENTS"
	featureAllEvents        = "ALL_EVENTS"
)

// requestTimeout bounds what a UI's connection waits for: the sockets of
// every node (FetchSockets), a session store.
const requestTimeout = 5 * time.Second

// processStart stands for the process's start, which server_stats's
// uptime counts from.
var processStart = time.Now()

// Admin is a server instrumented for the admin UI. Close stops it.
type Admin struct {
	srv      *hub.Server
	opts     Options
	nsp      *hub.Namespace
	cluster  bool // the admin namespace's adapter reaches other nodes
	features []string
	sessions SessionStore
	bcrypt   chan struct{} // slots for password checks, which cost CPU

	uis      atomic.Int64 // this node's UI sockets
	watching atomic.Bool  // the live updates are reported (see watch)
	closed   atomic.Bool

	mu      sync.Mutex
	sockets map[*hub.Socket]*watchedSocket // under mu
	rooms   map[*hub.Namespace]func()      // room listeners' removers, under mu

	stats    statsState
	stop     chan struct{}
	done     chan struct{}
	stopOnce sync.Once
}

// Instrument serves the admin UI's namespace on srv, as the Node package's
// instrument(io, options): call it once per server, after the server's
// adapter is set (hub.Options.Adapter) and before clients connect, so that
// the admin namespace is made with it. Options that cannot be used are
// reported together, in an error wrapping ErrOptions.
func Instrument(srv *hub.Server, opts Options) (*Admin, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	if opts.ServerID == "" {
		opts.ServerID, _ = os.Hostname()
	}
	a := &Admin{
		srv:      srv,
		opts:     opts,
		sessions: opts.Sessions,
		bcrypt:   make(chan struct{}, max(1, runtime.GOMAXPROCS(0)/2)),
		sockets:  make(map[*hub.Socket]*watchedSocket),
		rooms:    make(map[*hub.Namespace]func()),
		stop:     make(chan struct{}),
		done:     make(chan struct{}),
		stats:    statsState{wake: make(chan struct{}, 1)},
	}
	if a.sessions == nil {
		a.sessions = &MemorySessions{}
	}
	a.nsp = srv.Of(opts.Namespace)
	_, memory := a.nsp.Adapter().(*hub.MemoryAdapter)
	a.cluster = !memory
	if !opts.ReadOnly {
		a.features = append(a.features, featureEmit, featureJoin, featureLeave, featureDisconnect,
			featureMJoin, featureMLeave, featureMDisconnect)
	}
	a.features = append(a.features, featureAggregatedEvents)
	if opts.Mode == Development {
		a.features = append(a.features, featureAllEvents)
	}
	if opts.Auth != nil {
		a.nsp.Use(a.authenticate)
	}
	if opts.Mode == Development {
		// With a cluster adapter no node knows whether a UI watches on
		// another: it reports all the time, as the Node package does.
		a.reconcile()
		// Before the admin namespace's own listener, so that a UI hears
		// of a socket before anything else about it, as in Node.
		srv.OnNamespace(a.instrumentNamespace)
		srv.SetDataView(adminData)
	}
	a.nsp.OnConnection(a.onUI)
	go a.runStats()
	return a, nil
}

// Namespace returns the admin namespace.
func (a *Admin) Namespace() *hub.Namespace { return a.nsp }

// Close stops the statistics and the live updates; the UIs connected stay
// connected, and the admin namespace stays. It returns once the
// statistics' goroutine has ended.
func (a *Admin) Close() error {
	a.stopOnce.Do(func() {
		a.closed.Store(true)
		close(a.stop)
		<-a.done
		a.reconcile()
	})
	return nil
}

// onUI sets up a UI's socket: its actions, the config, and in
// development mode the sockets there are.
func (a *Admin) onUI(s *hub.Socket) {
	if sess, ok := s.Data().(*uiSession); ok && sess.fresh != "" {
		_ = s.Emit("session", sess.fresh)
	}
	if !a.opts.ReadOnly {
		a.registerActions(s)
	}
	a.uis.Add(1)
	a.reconcile()
	s.OnDisconnect(func(hub.DisconnectReason) {
		a.uis.Add(-1)
		a.reconcile()
	})
	_ = s.Emit("config", map[string]any{"supportedFeatures": a.features})
	if a.opts.Mode == Development {
		ctx, cancel := context.WithTimeout(s.Context(), requestTimeout)
		sockets := a.allSockets(ctx)
		cancel()
		_ = s.Emit("all_sockets", sockets)
	}
	a.wakeStats()
}

// active reports whether anything is to be reported: a UI watches here,
// or may on another node.
func (a *Admin) active() bool {
	return !a.closed.Load() && (a.cluster || a.uis.Load() > 0)
}
