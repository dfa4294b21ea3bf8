// Command hubd is the Socket.IO-compatible real-time hub as a daemon: the
// hub with hubd's client contract (hub/relay), the HTTP publish API
// (hub/httpapi) when a key is set, the plugin host (JavaScript, WebAssembly
// and process plugins) when a plugin directory is set, health and readiness
// endpoints, optional static files, structured logs, graceful shutdown,
// with adapter redis or redis-streams, rooms shared with the other nodes
// (hubd or Node socket.io) through Redis or a Redis Cluster
// (hub/redisadapter), with adapter nats through NATS (hub/natsadapter),
// and the Socket.IO admin UI's server side (hub/adminui) when asked.
//
// Usage:
//
//	hubd [-config hubd.json] [-listen :3000] [-api-key KEY] [-plugins DIR]
//	     [-static DIR] [-log-format text|json] [-log-level info]
//	     [-path /socket.io/] [-tls-cert FILE -tls-key FILE]
//	     [-adapter memory|redis|redis-streams|nats] [-redis-url redis://127.0.0.1:6379]
//	     [-nats-url nats://127.0.0.1:4222] [-recovery 2m] [-parser json|msgpack]
//	     [-admin-ui]
//	hubd replay -tape FILE -plugins DIR [-v]
//
// hubd replay runs a tape recorded with plugins.tape through the plugins
// of DIR, prints each decision that differs from the recorded one, and
// exits 0 when none does, 1 when one does, 2 when the tape or the plugins
// cannot be read.
//
// See Config for the config file (JSON) and the environment variables.
//
// Endpoints: Socket.IO at socketio.path, the API under /api/, GET /healthz
// (200 "ok" while the process runs), GET /readyz (200 "ready" once listening
// with the plugins loaded, 503 before and while shutting down), GET /metrics
// (Prometheus metrics, unless metrics.enabled is false; no key is asked, so
// restrict it at the reverse proxy), static files at "/" (regular files
// only: no dotfile, no directory listing, no link out of the directory; a
// directory is served as its index.html).
//
// Origins: a browser's WebSocket is not subject to CORS, so hubd checks
// the Origin header itself. socketio.allowed_origins lists the origins
// browsers may connect from, on every transport (403 otherwise); without
// it, cors_origins, when set, restricts WebSocket connections too; with
// neither, any origin may connect, as with Node's server. A client that
// sends no Origin (not a browser) is always let in.
//
// HTTP limits (the http block of the config file; see HTTPConfig): a new
// connection must send its headers within read_header_timeout (10s), a
// request's body must arrive within read_timeout (30s; 408 otherwise), a
// keep-alive connection idle for idle_timeout (30s) is closed, headers are
// at most max_header_bytes (64 KiB), and max_conns_per_ip caps the
// connections open at once from one address (off by default; keep it off
// behind a reverse proxy, where every client has the proxy's address).
// WebSocket connections and long-polling requests are bounded by the
// ping interval and timeout, not by these.
//
// Signals: SIGTERM and SIGINT shut down gracefully, within shutdown_grace
// (10 s): new Socket.IO connections get 503, every client gets what was
// emitted to it before the signal and then sees its transport close, so
// that it reconnects elsewhere; then the listener closes, HTTP requests in
// flight finish, and the plugins close. Connections or requests still
// there when the grace ends are cut; a second signal cuts them at once.
// SIGHUP reloads the configuration
// (flags, environment and file, validated as at start) and the plugin
// directory without dropping connections. What can change while hubd runs
// (namespaces' route and echo, CORS and allowed origins, the API key, static and
// plugin directories, log level) takes effect at once; a change to a
// setting fixed at start (listen, TLS, path, ...) is logged as needing a
// restart and the old value stays; an invalid file is logged, every
// problem, and the configuration in force stays. See live.
//
// Connection state recovery (the recovery block, or -recovery 2m): a
// client whose connection drops and that reconnects within the duration
// gets its socket back, with its id, rooms and data, and the events it
// missed meanwhile, in order; past a bound it gets a fresh socket and
// knows it (socket.recovered is false). It needs an adapter that keeps
// sessions: memory (one node) or redis-streams (any node of the cluster).
//
// Exit codes: 0 after a graceful shutdown, 1 for a runtime failure (a plugin
// that fails to load at start, a port in use), 2 for an invalid
// configuration (every problem is listed on stderr).
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/signal"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
	"github.com/hubd/hubd/hub/natsadapter"
	"github.com/hubd/hubd/hub/redisadapter"
)

// Exit codes.
const (
	exitOK      = 0
	exitRuntime = 1
	exitConfig  = 2
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "replay" {
		os.Exit(runReplay(os.Args[2:]))
	}
	os.Exit(run(os.Args[1:], os.Getenv, os.Stderr))
}

// run is hubd from the parsed command line to the exit code.
func run(args []string, getenv func(string) string, stderr io.Writer) int {
	cfg, err := Load(args, getenv, stderr)
	if err != nil {
		if errors.Is(err, errHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "hubd: %v\n", err)
		return exitConfig
	}
	level := new(slog.LevelVar)
	logger := newLogger(cfg.Log, level, stderr)
	reload := func() (Config, error) { return Load(args, getenv, io.Discard) }
	if err := serve(cfg, logger, level, nil, reload); err != nil {
		logger.Error("hubd failed", "error", err)
		fmt.Fprintf(stderr, "hubd: %v\n", err)
		return exitRuntime
	}
	return exitOK
}

var errHelp = errors.New("help requested")

func parseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(s) {
	case "debug":
		return slog.LevelDebug, true
	case "info", "":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return 0, false
}

// newLogger returns the logger c describes; level is set to c's level and
// may change later (SIGHUP).
func newLogger(c LogConfig, level *slog.LevelVar, w io.Writer) *slog.Logger {
	lv, _ := parseLevel(c.Level)
	level.Set(lv)
	opts := &slog.HandlerOptions{Level: level}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// serve runs hubd until a SIGTERM or SIGINT (or stop, when not nil, is
// closed) and shuts it down gracefully. It returns an error for what keeps
// hubd from starting. On SIGHUP it reloads the configuration with load
// (nil: the plugins only; see live) and the plugins. level is the logger's
// level, which a reload may change.
func serve(cfg Config, logger *slog.Logger, level *slog.LevelVar, stop <-chan struct{}, load func() (Config, error)) error {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	var ready atomic.Bool

	// Signals first, so that a SIGTERM during the start is not fatal.
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGHUP)
	defer signal.Stop(sigs)

	// The hub, with what a reload may change kept in l.
	if level == nil {
		level = new(slog.LevelVar)
	}
	l := newLive(cfg, nil, logger, level)
	opts := l.hubOptions()

	// The cluster adapter, before the hub makes its namespaces.
	cl, closeCluster, err := openAdapter(ctx, cfg.Adapter, logger)
	if err != nil {
		return err
	}
	defer closeCluster()
	if cl != nil {
		opts.Adapter = cl.Adapter
	}
	srv := hub.New(opts)
	l.srv = srv
	if r := cfg.Recovery; r != nil {
		logger.Info("connection state recovery", "duration", time.Duration(r.Duration).String(),
			"run_middlewares", r.RunMiddlewares)
	}

	// Plugins.
	if cfg.Plugins.Dir != "" {
		if err := l.openPlugins(ctx, cfg.Plugins.Dir); err != nil {
			_ = srv.Close()
			return err
		}
	}
	if cfg.Metrics.Enabled {
		l.met = newMetrics(srv, l.pluginStats, newNamespaceLabels(cfg.Namespaces))
		l.met.reg.MustRegister(&shadowCollector{stats: l.shadowStats})
		if cl != nil {
			l.met.reg.MustRegister(&adapterCollector{cluster: cl})
		}
		if cfg.Recovery != nil {
			l.met.reg.MustRegister(&recoveryCollector{srv: srv})
		}
	}
	// The event counter runs before the plugins' Event hook.
	if hooks := l.hooks(); hooks != nil {
		srv.SetHooks(hooks)
	}
	if err := l.attachNamespaces(); err != nil {
		_ = srv.Close()
		l.closePlugins()
		return fmt.Errorf("namespaces: %w", err)
	}

	// Routes.
	mux := http.NewServeMux()
	mux.Handle(cfg.SocketIO.Path, l.wrapHub(srv))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, "ok")
	})
	link := &adapterLink{cl: cl}
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if !ready.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
			_, _ = io.WriteString(w, "not ready")
			return
		}
		if cl == nil {
			_, _ = io.WriteString(w, "ready")
			return
		}
		// The adapter's link: reported, and required when configured so.
		state := "adapter: up"
		if err := link.check(); err != nil {
			state = "adapter: down (broadcasts reach this node only): " + err.Error()
			if cfg.Adapter.Readiness == "require" {
				w.WriteHeader(http.StatusServiceUnavailable)
				_, _ = io.WriteString(w, "not ready\n"+state)
				return
			}
		}
		_, _ = io.WriteString(w, "ready\n"+state)
	})
	if err := l.setAPI(cfg.API); err != nil {
		_ = srv.Close()
		l.closePlugins()
		return fmt.Errorf("api: %w", err)
	}
	mux.Handle(httpapi.DefaultPrefix, swapped(&l.api))
	closeAdmin, err := openAdminUI(srv, mux, cfg.AdminUI, cfg.Adapter)
	if err != nil {
		_ = srv.Close()
		l.closePlugins()
		return fmt.Errorf("admin_ui: %w", err)
	}
	defer closeAdmin()
	if l.met != nil {
		mux.Handle("GET "+metricsPath, l.met.handler())
	}
	l.setStatic(cfg.Static.Dir)
	mux.Handle("/", swapped(&l.static))

	// TLS: the pair is loaded before listening, so that a bad one stops
	// hubd before it says it is ready.
	var tlsConf *tls.Config
	if cfg.TLS.CertFile != "" {
		pair, err := tls.LoadX509KeyPair(cfg.TLS.CertFile, cfg.TLS.KeyFile)
		if err != nil {
			_ = srv.Close()
			l.closePlugins()
			return fmt.Errorf("tls: %w", err)
		}
		tlsConf = &tls.Config{Certificates: []tls.Certificate{pair}, MinVersion: tls.VersionTLS12}
	}

	// Listen.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		_ = srv.Close()
		l.closePlugins()
		if errors.Is(err, syscall.EADDRINUSE) {
			return fmt.Errorf("listen %s: address already in use", cfg.Listen)
		}
		return fmt.Errorf("listen %s: %w", cfg.Listen, unwrapOp(err))
	}
	if cfg.HTTP.MaxConnsPerIP > 0 {
		capped := newCapListener(ln, cfg.HTTP.MaxConnsPerIP, logger)
		ln = capped
		if l.met != nil {
			l.met.reg.MustRegister(&capCollector{ln: capped})
		}
	}
	httpSrv := &http.Server{
		Handler:           bodyTimeout(mux, time.Duration(cfg.HTTP.ReadTimeout)),
		ReadHeaderTimeout: time.Duration(cfg.HTTP.ReadHeaderTimeout),
		IdleTimeout:       time.Duration(cfg.HTTP.IdleTimeout),
		MaxHeaderBytes:    cfg.HTTP.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
		TLSConfig:         tlsConf,
	}
	served := make(chan error, 1)
	tlsOn := tlsConf != nil
	go func() {
		if tlsOn {
			served <- httpSrv.ServeTLS(ln, "", "")
		} else {
			served <- httpSrv.Serve(ln)
		}
	}()
	ready.Store(true)
	logger.Info("listening", "addr", ln.Addr().String(), "tls", tlsOn, "path", cfg.SocketIO.Path,
		"api", cfg.API.Key != "", "plugins", cfg.Plugins.Dir, "static", cfg.Static.Dir, "metrics", cfg.Metrics.Enabled)

	// Run until told to stop.
	var serveErr error
loop:
	for {
		select {
		case sig := <-sigs:
			if sig == syscall.SIGHUP {
				if load != nil {
					l.reload(ctx, load)
				} else {
					l.reloadPlugins(ctx)
				}
				continue
			}
			logger.Info("shutting down", "signal", sig.String())
			break loop
		case <-stop:
			logger.Info("shutting down")
			break loop
		case err := <-served:
			serveErr = err
			break loop
		}
	}

	// Graceful shutdown, within the grace; a second signal ends it.
	ready.Store(false)
	grace := time.Duration(cfg.ShutdownGrace)
	shutCtx, shutCancel := context.WithTimeout(context.Background(), grace)
	defer shutCancel()
	go func() {
		select {
		case sig := <-sigs:
			if sig != syscall.SIGHUP {
				logger.Warn("second signal: cutting the shutdown short", "signal", sig.String())
				shutCancel()
			}
		case <-shutCtx.Done():
		}
	}()
	// The hub first, while the listener still serves: handshakes get 503,
	// and the clients still polling come for their last packets and the
	// close. It returns once every connection has flushed and closed.
	if err := srv.Shutdown(shutCtx); err != nil {
		logger.Warn("hub shutdown", "error", err, "grace", grace.String())
	}
	// Then HTTP: the listener closes and the requests in flight (the API)
	// finish, within what is left of the grace.
	if err := httpSrv.Shutdown(shutCtx); err != nil {
		logger.Warn("http shutdown", "error", err)
		_ = httpSrv.Close()
	}
	cancel() // stops Watch
	// The plugins' counters are logged once too (they are also at
	// /metrics while hubd runs).
	for _, st := range l.pluginStats() {
		logger.Info("plugin stats", "plugin", st.Plugin, "runtime", st.Runtime, "hook", string(st.Hook),
			"outcomes", st.Outcomes, "time", st.Sum.String())
	}
	l.closePlugins()
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return fmt.Errorf("serving: %w", serveErr)
	}
	logger.Info("stopped")
	return nil
}

// cluster is what hubd uses of a cluster adapter, of any kind
// (redisadapter.Cluster, redisadapter.Streams, natsadapter.Cluster).
type cluster interface {
	// Adapter makes a namespace's adapter (a hub.AdapterFactory).
	Adapter(nsp *hub.Namespace, local hub.LocalAdapter) (hub.Adapter, error)
	// Healthy reports whether Redis or NATS answers.
	Healthy() bool
	Close() error
}

// readier is a cluster that can check its link end to end (the Redis
// adapters ping every primary of a Redis Cluster).
type readier interface {
	Ready(ctx context.Context) error
}

// adapterLink answers /readyz about the adapter's link. A check that
// reaches Redis is made at most once a second, however often /readyz is
// asked (it needs no key), and bounded by a second.
type adapterLink struct {
	cl   cluster
	mu   sync.Mutex
	at   time.Time
	last error
}

func (a *adapterLink) check() error {
	r, ok := a.cl.(readier)
	if !ok {
		if !a.cl.Healthy() {
			return errors.New("not connected")
		}
		return nil
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if time.Since(a.at) < time.Second {
		return a.last
	}
	// Not the request's context: a prober that hangs up must not leave
	// "down" in the cache for the next one.
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	a.last, a.at = r.Ready(ctx), time.Now()
	return a.last
}

// dropper is a cluster that counts the messages for other nodes lost to
// an outage (the Redis adapters; NATS buffers them while it reconnects).
type dropper interface {
	Dropped() int64
}

// openAdapter connects to the cluster adapter's Redis or NATS when c asks
// for it; nil when hubd runs alone. The close function is always safe to
// call.
func openAdapter(ctx context.Context, c AdapterConfig, logger *slog.Logger) (cluster, func(), error) {
	if c.Type == "nats" {
		return openNATS(ctx, c, logger)
	}
	if c.Type != "redis" && c.Type != "redis-streams" {
		return nil, func() {}, nil
	}
	rdb, err := redisadapter.NewClient(c.URL)
	if err != nil {
		return nil, func() {}, fmt.Errorf("adapter: %w", err)
	}
	pingCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	log := logger.With("component", "adapter")
	var cl cluster
	if c.Type == "redis-streams" {
		so := c.streamsOptions()
		so.Logger = log
		var s *redisadapter.Streams
		if s, err = redisadapter.NewStreams(pingCtx, rdb, so); err == nil {
			cl = s
		}
	} else {
		var p *redisadapter.Cluster
		if p, err = redisadapter.New(pingCtx, rdb, redisadapter.Options{
			Key:              c.Key,
			RequestsTimeout:  time.Duration(c.RequestsTimeout),
			Sharded:          c.Sharded,
			SubscriptionMode: c.SubscriptionMode,
			Logger:           log,
		}); err == nil {
			cl = p
		}
	}
	if err != nil {
		_ = rdb.Close()
		return nil, func() {}, fmt.Errorf("adapter: %s: %w", redactURL(c.URL), err)
	}
	attrs := []any{"type", c.Type, "url", redactURL(c.URL), "key", c.Key, "sharded", c.Sharded}
	if c.Type == "redis-streams" {
		attrs = append(attrs, "stream_name", c.StreamName, "stream_count", c.StreamCount, "max_len", c.MaxLen)
	}
	logger.Info("cluster adapter", attrs...)
	return cl, func() {
		_ = cl.Close()
		_ = rdb.Close()
	}, nil
}

// openNATS connects the nats adapter.
func openNATS(ctx context.Context, c AdapterConfig, logger *slog.Logger) (cluster, func(), error) {
	o := c.natsOptions()
	o.Logger = logger.With("component", "adapter")
	connCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	cl, err := natsadapter.New(connCtx, o)
	if err != nil {
		return nil, func() {}, fmt.Errorf("adapter: %w", err)
	}
	urls := make([]string, len(o.URLs))
	for i, u := range o.URLs {
		urls[i] = redactURL(u)
	}
	logger.Info("cluster adapter", "type", "nats", "url", strings.Join(urls, ","), "subject_prefix", c.Key)
	return cl, func() { _ = cl.Close() }, nil
}

// redactURL hides a password in a Redis or NATS URL, for logs and errors.
func redactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	return u.Redacted()
}

// unwrapOp drops the "listen tcp addr:" prefix of a *net.OpError, which
// the caller's message already states.
func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}
