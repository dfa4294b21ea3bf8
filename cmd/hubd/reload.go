package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/host/js"
	"github.com/hubd/hubd/host/process"
	"github.com/hubd/hubd/host/wasm"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/httpapi"
	"github.com/hubd/hubd/hub/relay"
)

// live is the part of hubd's configuration that a SIGHUP changes while
// hubd runs, without dropping a connection. Each setting is read where it
// is used (per request, per event), so a reload takes effect at once:
//
//   - namespaces: the route and echo of the namespaces hubd started with
//     (adding or removing a namespace needs a restart);
//   - socketio.allowed_origins, and socketio.cors_origins once CORS was
//     on at start;
//   - api: the key (a new key, or none, turns the API on or off) and
//     max_body;
//   - static.dir, plugins.dir and log.level.
//
// The other settings (listen, tls, http, socketio.path, ping_interval,
// ping_timeout, write_timeout, max_payload, cleanup_empty_child_namespaces,
// max_child_namespaces, log.format, metrics.enabled, adapter,
// shutdown_grace, recovery) are fixed at start: a reload that changes one
// logs that it needs a restart and keeps the old value. Recovery is among
// them because the hub gives each namespace its session store when it
// makes it, and the sessions kept so far belong to that store.
type live struct {
	srv    *hub.Server
	met    *metrics // nil when metrics are off
	logger *slog.Logger
	level  *slog.LevelVar

	// cfg is the configuration in force; only the serve loop writes it.
	cfg Config
	// relay serves the namespaces of the start; apply puts their new
	// route and echo in force with Update.
	relay *relay.Relay
	// corsOn is whether the hub was built with CORS (at start).
	corsOn bool
	// cors are the CORS origins (nil: CORS off); allowed are the origins
	// of socketio.allowed_origins (nil: not set, cors stands for them).
	cors    atomic.Pointer[originSet]
	allowed atomic.Pointer[originSet]
	api     atomic.Pointer[http.Handler] // nil: API off
	static  atomic.Pointer[http.Handler] // nil: no static files

	// plugins is the plugin host (nil without a plugin directory); the
	// serve loop swaps it, the metrics read it.
	plugins     atomic.Pointer[host.Host]
	watchCancel context.CancelFunc
	// revoker serves revocations with the plugins in force (nil without
	// plugins); it follows the plugin host.
	revoker atomic.Pointer[host.Revoker]
}

func newLive(cfg Config, srv *hub.Server, logger *slog.Logger, level *slog.LevelVar) *live {
	l := &live{srv: srv, logger: logger, level: level, cfg: cfg, corsOn: len(cfg.SocketIO.CORSOrigins) > 0}
	l.cors.Store(newOriginSet(cfg.SocketIO.CORSOrigins))
	l.allowed.Store(newOriginSet(cfg.SocketIO.AllowedOrigins))
	return l
}

// hubOptions are the hub's options from the configuration. With CORS on,
// the hub echoes the request's Origin and wrapHub hides the origins not
// (or no longer) allowed, so that the list can change while hubd runs.
func (l *live) hubOptions() hub.Options {
	s := l.cfg.SocketIO
	opts := hub.Options{
		Path:         s.Path,
		PingInterval: time.Duration(s.PingInterval),
		PingTimeout:  time.Duration(s.PingTimeout),
		WriteTimeout: time.Duration(s.WriteTimeout),
		MaxPayload:   s.MaxPayload,
		CheckOrigin:  l.checkOrigin,
		Logger:       l.logger.With("component", "hub"),

		CleanupEmptyChildNamespaces: s.CleanupEmptyChildNamespaces,
		MaxChildNamespaces:          s.MaxChildNamespaces,
		ConnectionStateRecovery:     l.cfg.Recovery.hubOptions(),
		PerMessageDeflate:           s.PerMessageDeflate.hub(),
		AllowEIO3:                   s.AllowEIO3,
	}
	opts.Parser, _ = hub.ParseParser(s.Parser) // checked by Validate
	if dir := l.cfg.SocketIO.ServeClient; dir != "" {
		// Checked by Validate; a package that went away since is logged.
		if b, err := hub.LoadClientBundle(dir); err != nil {
			l.logger.Error("socketio.serve_client: the client bundle is not served", "err", err)
		} else {
			opts.ServeClient = b
		}
	}
	if l.corsOn {
		// No Origins: echo; wrapHub hides the origins not allowed.
		opts.CORS = &hub.CORS{Credentials: true, ExposedHeaders: strings.Join(l.cfg.SocketIO.CORSExposedHeaders, ", ")}
	}
	return opts
}

// originSet is a list of origins as a set, written as browsers send them
// (lower case, no trailing slash); "*" stands for any. Entries that start
// with "^" are patterns (see SocketIOConfig.CORSOrigins).
type originSet struct {
	exact    map[string]bool
	patterns []*regexp.Regexp
}

// newOriginSet is the set of origins, nil for none. Patterns were checked
// by Validate; one that does not compile is left out.
func newOriginSet(origins []string) *originSet {
	if len(origins) == 0 {
		return nil
	}
	m := &originSet{exact: make(map[string]bool, len(origins))}
	for _, o := range origins {
		if strings.HasPrefix(o, "^") {
			if re, err := regexp.Compile(o); err == nil {
				m.patterns = append(m.patterns, re)
			}
			continue
		}
		m.exact[normOrigin(o)] = true
	}
	return m
}

func normOrigin(o string) string { return strings.ToLower(strings.TrimSuffix(o, "/")) }

func (m *originSet) has(origin string) bool {
	if m == nil {
		return false
	}
	if m.exact["*"] || m.exact[normOrigin(origin)] {
		return true
	}
	for _, re := range m.patterns {
		if re.MatchString(origin) {
			return true
		}
	}
	return false
}

// originAllowed is whether a browser at origin may connect: a request
// without Origin is not a browser's; the origins are allowed_origins when
// set, else cors_origins when CORS is on, else any (as Node's server).
func (l *live) originAllowed(origin string) bool {
	if origin == "" {
		return true
	}
	m := l.allowed.Load()
	if m == nil {
		m = l.cors.Load()
	}
	return m == nil || m.has(origin)
}

// checkOrigin vets the Origin of WebSocket connections, for the hub; a
// browser does not apply CORS to WebSocket, so the check is the server's.
// wrapHub refuses those connections first, with 403.
func (l *live) checkOrigin(r *http.Request) bool { return l.originAllowed(r.Header.Get("Origin")) }

// wrapHub vets the Origin of the requests to the Socket.IO endpoint
// before the hub sees them:
//
//   - a WebSocket request from an origin not allowed (originAllowed) is
//     refused with 403, as is any request when allowed_origins is set;
//   - with CORS on, a polling request's Origin that is not a CORS origin
//     is hidden, so that the hub (which echoes the Origin) sends no
//     Access-Control-Allow-Origin and the browser refuses the response.
func (l *live) wrapHub(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		o := r.Header.Get("Origin")
		if o == "" {
			h.ServeHTTP(w, r)
			return
		}
		ws := r.URL.Query().Get("transport") == "websocket"
		if !l.originAllowed(o) && (ws || l.allowed.Load() != nil) {
			refuseOrigin(w)
			return
		}
		if l.corsOn && !ws && !l.cors.Load().has(o) {
			r = r.Clone(r.Context())
			r.Header.Del("Origin")
		}
		h.ServeHTTP(w, r)
	})
}

// refuseOrigin answers as Engine.IO refuses a request (code 4, Forbidden),
// with what the operator may do about it.
func refuseOrigin(w http.ResponseWriter) {
	const body = `{"code":4,"message":"Forbidden: origin not allowed; list it in socketio.allowed_origins (or cors_origins)"}`
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(http.StatusForbidden)
	_, _ = io.WriteString(w, body)
}

// swapped serves with the handler p holds, or 404 when it holds none.
func swapped(p *atomic.Pointer[http.Handler]) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if h := p.Load(); h != nil {
			(*h).ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
	})
}

// setAPI builds the HTTP API for c, or turns it off when c has no key.
func (l *live) setAPI(c APIConfig) error {
	if c.Key == "" {
		l.api.Store(nil)
		return nil
	}
	api, err := httpapi.New(l.srv, httpapi.Config{Key: c.Key, MaxBody: c.MaxBody, Trace: l.trace, Revoke: l.revoke,
		Shadows: l.shadows, ShadowDivergences: l.shadowDivergences, PromoteShadow: l.promoteShadow})
	if err != nil {
		return err
	}
	var h http.Handler = api
	if l.met != nil {
		h = l.met.instrumentAPI(h)
	}
	l.api.Store(&h)
	return nil
}

func (l *live) setStatic(dir string) {
	if dir == "" {
		l.static.Store(nil)
		return
	}
	var h http.Handler = staticFiles{dir: dir}
	l.static.Store(&h)
}

// hooks are the hub's hooks: the event counter of the metrics, if on, in
// front of the plugins', if any.
func (l *live) hooks() *hub.Hooks {
	var counter, plugins *hub.Hooks
	if l.met != nil {
		counter = l.met.hooks()
	}
	if p := l.plugins.Load(); p != nil {
		plugins = p.Hooks()
	}
	return hub.ChainHooks(counter, plugins)
}

// closeRevoker stops serving revocations, if it did.
func (l *live) closeRevoker() {
	if rv := l.revoker.Swap(nil); rv != nil {
		_ = rv.Close()
	}
}

// announceLeft gives the relay's presence notice for rooms a revocation
// made s leave.
func (l *live) announceLeft(s *hub.Socket, rooms []string) {
	if l.relay != nil {
		l.relay.AnnounceLeft(s, rooms)
	}
}

// revoke carries out a revocation of the API with the plugins in force.
func (l *live) revoke(ctx context.Context, req json.RawMessage) (any, error) {
	rv := l.revoker.Load()
	if rv == nil {
		return nil, errors.New("revocations re-run the plugins' hooks: this node has no plugin directory")
	}
	return rv.RevokeJSON(ctx, req)
}

// shadowStats are the shadow plugins' counts, for /metrics and the API.
func (l *live) shadowStats() []host.ShadowStats {
	if p := l.plugins.Load(); p != nil {
		return p.ShadowStats()
	}
	return nil
}

func (l *live) shadows() any {
	if st := l.shadowStats(); st != nil {
		return st
	}
	return []host.ShadowStats{}
}

// shadowDivergences are the latest differences of the shadow plugins in
// force, for the API.
func (l *live) shadowDivergences(shadow string, limit int) any {
	if p := l.plugins.Load(); p != nil {
		return p.ShadowDivergences(shadow, limit)
	}
	return []host.ShadowDivergence{}
}

// promoteShadow makes a shadow plugin live on this node, for the API.
func (l *live) promoteShadow(name string) error {
	p := l.plugins.Load()
	if p == nil {
		return errors.New("this node has no plugin directory")
	}
	return p.PromoteShadow(name)
}

// trace is a socket's decision trace from the plugins in force, for the
// API.
func (l *live) trace(id string) (any, bool) {
	if p := l.plugins.Load(); p != nil {
		return p.Trace(id)
	}
	return nil, false
}

// pluginStats are the statistics of the plugins in force, for /metrics.
func (l *live) pluginStats() []host.HookStats {
	if p := l.plugins.Load(); p != nil {
		return p.Stats()
	}
	return nil
}

// openPlugins loads dir into a new plugin host and watches it.
func (l *live) openPlugins(ctx context.Context, dir string) error {
	h := host.New(l.logger.With("component", "host"))
	setChainBudgets(h, l.cfg.Plugins.ChainBudgets)
	if err := h.SetTrace(l.cfg.Plugins.Trace); err != nil { // checked by Validate
		l.logger.Error("plugins.trace", "err", err)
	}
	if err := h.SetTape(l.cfg.Plugins.Tape); err != nil {
		_ = h.Close()
		return fmt.Errorf("plugins.tape: %w", err)
	}
	h.Register("js", js.Runtime{})
	h.Register("wasm", wasm.New())
	h.Register("process", &process.Runtime{})
	if err := h.LoadDir(ctx, dir); err != nil {
		_ = h.Close()
		return fmt.Errorf("loading plugins from %s: %w", dir, err)
	}
	wctx, cancel := context.WithCancel(ctx)
	if err := h.Watch(wctx, dir); err != nil {
		cancel()
		_ = h.Close()
		return fmt.Errorf("watching plugin directory %s: %w", dir, err)
	}
	l.logger.Info("plugins loaded", "dir", dir, "plugins", h.Plugins())
	l.closeRevoker()
	rv, err := h.ServeRevocations(l.srv, l.cfg.Plugins.Revoke.options(l.announceLeft))
	if err != nil { // checked by Validate
		l.logger.Error("plugins.revoke: revocations are not served", "err", err)
	} else {
		l.revoker.Store(rv)
	}
	l.plugins.Store(h)
	l.watchCancel = cancel
	return nil
}

// setChainBudgets puts budgets (by hook name; a hook not named gets its
// default back) in force on h.
func setChainBudgets(h *host.Host, budgets map[string]Duration) {
	for _, hook := range host.Hooks {
		h.SetChainBudget(hook, time.Duration(budgets[string(hook)]))
	}
}

// closePlugins stops the watch and closes the plugin host, if any.
func (l *live) closePlugins() {
	l.closeRevoker()
	if l.watchCancel != nil {
		l.watchCancel()
		l.watchCancel = nil
	}
	if p := l.plugins.Swap(nil); p != nil {
		if err := p.Close(); err != nil {
			l.logger.Warn("closing plugins", "error", err)
		}
	}
}

// reload is SIGHUP: the config file (through load, which reads flags,
// environment and file as at start) and then the plugins.
func (l *live) reload(ctx context.Context, load func() (Config, error)) {
	next, err := load()
	switch {
	case err != nil:
		var ce *ConfigError
		if errors.As(err, &ce) {
			for _, p := range ce.Problems {
				l.logger.Error("SIGHUP: config problem", "problem", p)
			}
		} else {
			l.logger.Error("SIGHUP: config problem", "problem", err.Error())
		}
		l.logger.Error("SIGHUP: invalid config; keeping the one in force")
	default:
		l.apply(ctx, next)
	}
	l.reloadPlugins(ctx)
}

// apply puts next in force where it can be, and logs what needs a restart.
func (l *live) apply(ctx context.Context, next Config) {
	old := l.cfg
	cur := old // what ends up in force
	var changed []string
	restart := func(setting string, was, now any) {
		l.logger.Warn("SIGHUP: setting needs a restart; keeping the old value",
			"setting", setting, "old", fmt.Sprint(was), "new", fmt.Sprint(now))
	}

	// Fixed at start.
	for _, f := range []struct {
		name     string
		was, now any
	}{
		{"listen", old.Listen, next.Listen},
		{"tls.cert_file", old.TLS.CertFile, next.TLS.CertFile},
		{"tls.key_file", old.TLS.KeyFile, next.TLS.KeyFile},
		{"http", old.HTTP, next.HTTP},
		{"socketio.path", old.SocketIO.Path, next.SocketIO.Path},
		{"socketio.ping_interval", time.Duration(old.SocketIO.PingInterval), time.Duration(next.SocketIO.PingInterval)},
		{"socketio.ping_timeout", time.Duration(old.SocketIO.PingTimeout), time.Duration(next.SocketIO.PingTimeout)},
		{"socketio.write_timeout", time.Duration(old.SocketIO.WriteTimeout), time.Duration(next.SocketIO.WriteTimeout)},
		{"socketio.serve_client", old.SocketIO.ServeClient, next.SocketIO.ServeClient},
		{"socketio.parser", old.SocketIO.Parser, next.SocketIO.Parser},
		{"socketio.per_message_deflate", old.SocketIO.PerMessageDeflate, next.SocketIO.PerMessageDeflate},
		{"socketio.allow_eio3", old.SocketIO.AllowEIO3, next.SocketIO.AllowEIO3},
		{"socketio.cors_exposed_headers", strings.Join(old.SocketIO.CORSExposedHeaders, ", "), strings.Join(next.SocketIO.CORSExposedHeaders, ", ")},
		{"socketio.max_payload", old.SocketIO.MaxPayload, next.SocketIO.MaxPayload},
		{"socketio.cleanup_empty_child_namespaces", old.SocketIO.CleanupEmptyChildNamespaces, next.SocketIO.CleanupEmptyChildNamespaces},
		{"socketio.max_child_namespaces", old.SocketIO.MaxChildNamespaces, next.SocketIO.MaxChildNamespaces},
		{"log.format", old.Log.Format, next.Log.Format},
		{"metrics.enabled", old.Metrics.Enabled, next.Metrics.Enabled},
		{"adapter", old.Adapter, next.Adapter},
		{"admin_ui", old.AdminUI, next.AdminUI},
		{"plugins.revoke", old.Plugins.Revoke, next.Plugins.Revoke},
		{"shutdown_grace", time.Duration(old.ShutdownGrace), time.Duration(next.ShutdownGrace)},
		{"recovery", old.Recovery.String(), next.Recovery.String()},
	} {
		if f.was != f.now {
			restart(f.name, f.was, f.now)
		}
	}

	// Namespaces: the route and echo of those hubd started with, which
	// are those in force in the same order.
	nsNow := slices.Clone(old.Namespaces)
	var nsChanged []string
	byKey := make(map[string]NamespaceConfig, len(next.Namespaces))
	for _, n := range next.Namespaces {
		byKey[nsKey(n)] = n
	}
	for i, n := range old.Namespaces {
		nn, ok := byKey[nsKey(n)]
		if !ok {
			restart("namespaces", "with "+nsKey(n), "without it")
			continue
		}
		delete(byKey, nsKey(n))
		if route(nn.Route) != route(n.Route) || nn.Echo != n.Echo || nn.Presence != n.Presence {
			nsChanged = append(nsChanged, "namespaces["+nsKey(n)+"]")
			nsNow[i].Route, nsNow[i].Echo, nsNow[i].Presence = nn.Route, nn.Echo, nn.Presence
		}
	}
	for _, n := range next.Namespaces {
		if _, added := byKey[nsKey(n)]; added {
			restart("namespaces", "without "+nsKey(n), "with it")
		}
	}
	if len(nsChanged) > 0 {
		if err := l.relay.Update(l.relayConfig(nsNow)); err != nil {
			// Validated with next, and the namespaces are the start's.
			l.logger.Error("SIGHUP: namespaces: keeping the old settings", "error", err)
		} else {
			cur.Namespaces = nsNow
			changed = append(changed, nsChanged...)
		}
	}

	// Origins.
	if !slices.Equal(old.SocketIO.AllowedOrigins, next.SocketIO.AllowedOrigins) {
		l.allowed.Store(newOriginSet(next.SocketIO.AllowedOrigins))
		cur.SocketIO.AllowedOrigins = next.SocketIO.AllowedOrigins
		changed = append(changed, "socketio.allowed_origins")
	}
	if !slices.Equal(old.SocketIO.CORSOrigins, next.SocketIO.CORSOrigins) {
		if l.corsOn {
			l.cors.Store(newOriginSet(next.SocketIO.CORSOrigins))
			cur.SocketIO.CORSOrigins = next.SocketIO.CORSOrigins
			changed = append(changed, "socketio.cors_origins")
		} else {
			restart("socketio.cors_origins", "[] (CORS off)", next.SocketIO.CORSOrigins)
		}
	}

	// API.
	if next.API != old.API {
		if err := l.setAPI(next.API); err != nil {
			l.logger.Error("SIGHUP: api: keeping the old settings", "error", err)
		} else {
			cur.API = next.API
			changed = append(changed, "api")
		}
	}

	// Static files.
	if next.Static.Dir != old.Static.Dir {
		l.setStatic(next.Static.Dir)
		cur.Static = next.Static
		changed = append(changed, "static.dir")
	}

	// Log level.
	if next.Log.Level != old.Log.Level {
		lv, _ := parseLevel(next.Log.Level) // validated
		l.level.Set(lv)
		cur.Log.Level = next.Log.Level
		changed = append(changed, "log.level")
	}

	// The chain budgets, before a new plugin directory opens with them.
	if !maps.Equal(next.Plugins.ChainBudgets, old.Plugins.ChainBudgets) {
		l.cfg.Plugins.ChainBudgets = next.Plugins.ChainBudgets
		cur.Plugins.ChainBudgets = next.Plugins.ChainBudgets
		if h := l.plugins.Load(); h != nil {
			setChainBudgets(h, next.Plugins.ChainBudgets)
		}
		changed = append(changed, "plugins.chain_budgets")
	}
	if !reflect.DeepEqual(next.Plugins.Tape, old.Plugins.Tape) {
		h := l.plugins.Load()
		if h == nil {
			l.cfg.Plugins.Tape, cur.Plugins.Tape = next.Plugins.Tape, next.Plugins.Tape
			changed = append(changed, "plugins.tape")
		} else if err := h.SetTape(next.Plugins.Tape); err != nil {
			l.logger.Error("SIGHUP: plugins.tape: keeping the tape in force", "err", err)
		} else {
			l.cfg.Plugins.Tape, cur.Plugins.Tape = next.Plugins.Tape, next.Plugins.Tape
			changed = append(changed, "plugins.tape")
		}
	}
	if next.Plugins.Trace != old.Plugins.Trace {
		l.cfg.Plugins.Trace = next.Plugins.Trace
		cur.Plugins.Trace = next.Plugins.Trace
		if h := l.plugins.Load(); h != nil {
			_ = h.SetTrace(next.Plugins.Trace) // checked by Validate
		}
		changed = append(changed, "plugins.trace")
	}
	// The plugin directory (its plugins are reloaded after).
	if next.Plugins.Dir != old.Plugins.Dir {
		if l.switchPlugins(ctx, next.Plugins.Dir) {
			cur.Plugins.Dir = next.Plugins.Dir
			changed = append(changed, "plugins.dir")
		}
	}

	l.cfg = cur
	l.logger.Info("SIGHUP: config reloaded", "changed", changed)
}

// switchPlugins moves to the plugin directory dir ("" for none); it
// reports whether it did. On failure the plugins in force stay.
func (l *live) switchPlugins(ctx context.Context, dir string) bool {
	if dir == "" {
		l.closeRevoker()
		old, cancel := l.plugins.Swap(nil), l.watchCancel
		l.srv.SetHooks(l.hooks())
		if cancel != nil {
			cancel()
		}
		l.watchCancel = nil
		if old != nil {
			if err := old.Close(); err != nil {
				l.logger.Warn("closing plugins", "error", err)
			}
		}
		l.logger.Info("SIGHUP: plugins off")
		return true
	}
	prev, prevCancel := l.plugins.Load(), l.watchCancel
	if err := l.openPlugins(ctx, dir); err != nil {
		l.watchCancel = prevCancel
		l.logger.Error("SIGHUP: plugin directory not switched; the plugins in force stay", "dir", dir, "error", err)
		return false
	}
	l.srv.SetHooks(l.hooks())
	if prevCancel != nil {
		prevCancel()
	}
	if prev != nil {
		if err := prev.Close(); err != nil {
			l.logger.Warn("closing plugins", "error", err)
		}
	}
	return true
}

// reloadPlugins loads the plugin directory again.
func (l *live) reloadPlugins(ctx context.Context) {
	p, dir := l.plugins.Load(), l.cfg.Plugins.Dir
	if p == nil {
		l.logger.Info("SIGHUP: no plugin directory configured, nothing to reload")
		return
	}
	if err := p.LoadDir(ctx, dir); err != nil {
		l.logger.Error("SIGHUP: plugin reload failed; the plugins that loaded before stay", "dir", dir, "error", err)
		return
	}
	l.logger.Info("SIGHUP: plugins reloaded", "dir", dir, "plugins", p.Plugins())
}

func nsKey(n NamespaceConfig) string {
	if n.Pattern != "" {
		return "pattern " + n.Pattern
	}
	return n.Name
}

func route(r string) relay.Route {
	if r == "" {
		return relay.RouteRooms
	}
	return relay.Route(r)
}

// attachNamespaces makes the relay serve the namespaces of the
// configuration. A reload changes their route and echo (Relay.Update) for
// the next event of every socket, recovered ones too, whose middlewares do
// not run again (recovery.run_middlewares): the relay reads its settings
// at every event.
func (l *live) attachNamespaces() error {
	r, err := relay.New(l.srv, l.relayConfig(l.cfg.Namespaces))
	if err != nil {
		return err
	}
	l.relay = r
	return nil
}

// relayConfig is the relay's configuration for namespaces.
func (l *live) relayConfig(namespaces []NamespaceConfig) relay.Config {
	rc := (&Config{Namespaces: namespaces}).relayConfig()
	rc.Logger = l.logger.With("component", "relay")
	return rc
}
