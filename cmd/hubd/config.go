package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"net"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hubd/hubd/host"
	"github.com/hubd/hubd/hub"
	"github.com/hubd/hubd/hub/natsadapter"
	"github.com/hubd/hubd/hub/redisadapter"
	"github.com/hubd/hubd/hub/relay"
)

// Config is hubd's whole configuration: one struct per scope, each field
// with its default noted.
//
// The config file is JSON, decoded with DisallowUnknownFields so that a
// misspelt key is an error rather than a silently ignored setting. JSON keeps
// hubd at zero new dependencies (encoding/json is in the standard library),
// where YAML or TOML would need a third-party module.
//
// Sources, highest precedence first: flags, environment variables
// (HUBD_LISTEN, HUBD_API_KEY, HUBD_PLUGINS, HUBD_STATIC, HUBD_LOG_FORMAT,
// HUBD_ADAPTER, HUBD_REDIS_URL, HUBD_RECOVERY), the config file
// (-config), the defaults.
type Config struct {
	// Listen is the address to listen on (":3000").
	Listen string `json:"listen"`
	// TLS, when both files are set, serves HTTPS and WSS (off).
	TLS TLSConfig `json:"tls"`
	// HTTP bounds what one HTTP client may hold: time to send a request,
	// idle connections, header size, connections per address.
	HTTP HTTPConfig `json:"http"`
	// SocketIO tunes the Socket.IO endpoint.
	SocketIO SocketIOConfig `json:"socketio"`
	// Namespaces are the namespaces clients may connect to ([{"name": "/"}]).
	Namespaces []NamespaceConfig `json:"namespaces"`
	// Plugins is the plugin directory (none).
	Plugins PluginsConfig `json:"plugins"`
	// API is the HTTP publish API under /api/ (off unless a key is set).
	API APIConfig `json:"api"`
	// Static serves a directory of files at "/" (off).
	Static StaticConfig `json:"static"`
	// Log configures the structured logs on stderr.
	Log LogConfig `json:"log"`
	// Metrics serves Prometheus metrics at /metrics (on).
	Metrics MetricsConfig `json:"metrics"`
	// AdminUI serves the Socket.IO admin UI's namespace, and optionally
	// its page (off).
	AdminUI AdminUIConfig `json:"admin_ui"`
	// Adapter shares rooms with other nodes through Redis (pub/sub, on one
	// server or a Redis Cluster, or Streams) or NATS (off: this node alone,
	// no external service).
	Adapter AdapterConfig `json:"adapter"`
	// ShutdownGrace bounds a graceful shutdown (SIGTERM, SIGINT): new
	// Socket.IO connections get 503 at once while every client gets what
	// was emitted to it before the signal, then its transport closes and
	// it reconnects (elsewhere); past the grace, the connections left are
	// cut, and so are HTTP requests still running ("10s"). It is fixed at
	// start.
	ShutdownGrace Duration `json:"shutdown_grace"`
	// Recovery turns on connection state recovery (nil: off, the
	// default). It is fixed at start.
	Recovery *RecoveryConfig `json:"recovery"`
}

// RecoveryConfig is connection state recovery (hub.RecoveryOptions): a
// client whose connection drops and that comes back within Duration gets
// its socket back (same id, rooms and data) and the events it missed
// meanwhile, in order. Writing the block turns recovery on; a key left
// out keeps its default. It needs an adapter that keeps sessions: memory
// (one node) or redis-streams. With redis the configuration is refused:
// the hub would turn recovery off in every namespace, and an operator
// who asked for it should hear so at start, not from clients.
//
// max_packets, max_bytes and max_sessions bound what the memory adapter
// keeps per namespace; with redis-streams the stream's max_len bounds
// the events kept instead. Past any bound the client gets a fresh socket
// (socket.recovered false), never part of what it missed as if it were
// all of it.
type RecoveryConfig struct {
	// Duration is how long a disconnected client's socket and the events
	// it misses are kept ("2m").
	Duration Duration `json:"duration"`
	// RunMiddlewares runs the connect hook of the plugins for a
	// recovered socket too (false: skipped, as Node's skipMiddlewares;
	// the socket passed it when it first connected).
	RunMiddlewares bool `json:"run_middlewares"`
	// MaxPackets is the most events a namespace keeps for recovery
	// (100000); past it the oldest go first.
	MaxPackets int `json:"max_packets"`
	// MaxBytes is the most bytes of events a namespace keeps for
	// recovery (67108864, 64 MiB); past it the oldest go first.
	MaxBytes int64 `json:"max_bytes"`
	// MaxSessions is the most disconnected sockets a namespace keeps
	// (100000); past it the oldest go first.
	MaxSessions int `json:"max_sessions"`
	// MaxSessionPackets is the most events one recovery replays (10000).
	MaxSessionPackets int `json:"max_session_packets"`
	// MaxSessionBytes is the most bytes one recovery replays (4194304,
	// 4 MiB; at most 8388608, half of what may be queued for a client).
	MaxSessionBytes int `json:"max_session_bytes"`
}

// defaultRecovery is the recovery block's defaults, the hub's.
func defaultRecovery() RecoveryConfig {
	return RecoveryConfig{
		Duration:          Duration(hub.DefaultMaxDisconnectionDuration),
		MaxPackets:        hub.DefaultRecoveryMaxPackets,
		MaxBytes:          hub.DefaultRecoveryMaxBytes,
		MaxSessions:       hub.DefaultRecoveryMaxSessions,
		MaxSessionPackets: hub.DefaultRecoveryMaxSessionPkts,
		MaxSessionBytes:   hub.DefaultRecoveryMaxSessionBytes,
	}
}

// maxRecoverySessionBytes bounds recovery.max_session_bytes: the hub
// never replays more than half of what it lets wait for one client (16
// MiB, which hubd does not change), so that a replay cannot close the
// connection it is for.
const maxRecoverySessionBytes = 8 << 20

// UnmarshalJSON reads the block over the defaults, so that a key left
// out keeps its default; an unknown key is an error, as elsewhere in the
// file.
func (r *RecoveryConfig) UnmarshalJSON(b []byte) error {
	var keys map[string]json.RawMessage
	if json.Unmarshal(b, &keys) != nil {
		return fmt.Errorf("recovery: an object such as {\"duration\": \"2m\"}, not %s", b)
	}
	if raw, ok := keys["duration"]; ok {
		var d Duration
		if err := d.UnmarshalJSON(raw); err != nil {
			return fmt.Errorf("recovery.duration: %w", err)
		}
	}
	type recovery RecoveryConfig // without this method
	v := recovery(defaultRecovery())
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil {
		return fmt.Errorf("recovery: %w", err)
	}
	*r = RecoveryConfig(v)
	return nil
}

// hubOptions are the hub's recovery options; nil when r is (recovery off).
func (r *RecoveryConfig) hubOptions() *hub.RecoveryOptions {
	if r == nil {
		return nil
	}
	return &hub.RecoveryOptions{
		MaxDisconnectionDuration: time.Duration(r.Duration),
		RunMiddlewares:           r.RunMiddlewares,
		MaxPackets:               r.MaxPackets,
		MaxBytes:                 r.MaxBytes,
		MaxSessions:              r.MaxSessions,
		MaxSessionPackets:        r.MaxSessionPackets,
		MaxSessionBytes:          r.MaxSessionBytes,
	}
}

// String is the block as logs show it ("off" when nil).
func (r *RecoveryConfig) String() string {
	if r == nil {
		return "off"
	}
	return fmt.Sprintf("duration=%v run_middlewares=%v max_packets=%d max_bytes=%d max_sessions=%d max_session_packets=%d max_session_bytes=%d",
		time.Duration(r.Duration), r.RunMiddlewares, r.MaxPackets, r.MaxBytes, r.MaxSessions, r.MaxSessionPackets, r.MaxSessionBytes)
}

// AdapterConfig connects hubd nodes, and Node socket.io servers using
// @socket.io/redis-adapter (type redis) or
// @socket.io/redis-streams-adapter (type redis-streams), into one cluster
// (see hub/redisadapter), or hubd nodes through NATS (type nats, see
// hub/natsadapter). All the nodes of a cluster must agree on every
// setting but the URLs, the credentials and requests_timeout.
type AdapterConfig struct {
	// Type is "memory" (default: this node alone), "redis" (pub/sub),
	// "redis-streams" (broadcasts go through Redis streams, which every
	// node reads in order, and the sessions of connection state recovery
	// are kept in Redis, so that a client may recover on any node) or
	// "nats" (NATS core pub/sub and request/reply; no recovery across
	// nodes).
	Type string `json:"type"`
	// URL is the Redis server, redis://[user:password@]host:port[/db] or
	// rediss:// for TLS ("redis://127.0.0.1:6379"), or a Redis Cluster:
	// redis-cluster://host:port (one seed node is enough), or
	// redis://host1:port1?addr=host2:port2&addr=host3:port3 with several
	// seed nodes (rediss for TLS). Types redis and redis-streams.
	URL string `json:"url"`
	// NATSURL is the NATS server of type nats, or several,
	// comma-separated, to fail over ("nats://127.0.0.1:4222").
	NATSURL string `json:"nats_url"`
	// NATSCredentialsFile, when set, is a NATS credentials file (a user
	// JWT and its NKey seed). The user needs publish and subscribe rights
	// on "<key>.>" and "_INBOX.>".
	NATSCredentialsFile string `json:"nats_credentials_file"`
	// Key is the channel prefix every node of the cluster shares
	// ("socket.io", as the Node adapters' default; Node's channelPrefix
	// for redis-streams); with nats, the subject prefix (dot-separated
	// tokens).
	Key string `json:"key"`
	// Readiness says what the adapter's link does to /readyz: "report"
	// (the default: /readyz answers 200 and says "adapter: down" while
	// broadcasts stay on this node, so that an outage of Redis or NATS
	// does not take every node out of the load balancer) or "require"
	// (503 while the link is down).
	Readiness string `json:"readiness"`
	// Sharded uses Redis 7 sharded pub/sub, as Node's createShardedAdapter
	// or, for redis-streams, useShardedPubSub (false: classic pub/sub).
	Sharded bool `json:"sharded"`
	// SubscriptionMode of the sharded redis flavour: "dynamic" (default),
	// "dynamic-private" or "static".
	SubscriptionMode string `json:"subscription_mode"`
	// RequestsTimeout bounds waits for the other nodes' answers ("5s");
	// with redis-streams, a recovery's replay too.
	RequestsTimeout Duration `json:"requests_timeout"`
	// StreamName is the stream of redis-streams ("socket.io"), or the
	// prefix of the streams when StreamCount is above 1.
	StreamName string `json:"stream_name"`
	// StreamCount spreads the namespaces over that many streams,
	// <stream_name>-<i>, by a hash of their name, as Node's streamCount
	// (1: one stream; at most 1024).
	StreamCount int `json:"stream_count"`
	// MaxLen bounds each stream of redis-streams, trimmed approximately
	// (10000 entries). With recovery on it bounds what a client can get
	// back: one that missed more gets a fresh socket.
	MaxLen int64 `json:"max_len"`
	// SessionKeyPrefix is the prefix of the Redis keys that hold
	// redis-streams' recovery sessions ("sio:session:").
	SessionKeyPrefix string `json:"session_key_prefix"`
}

// streamsOptions are the redis-streams adapter's options from c.
func (c AdapterConfig) streamsOptions() redisadapter.StreamsOptions {
	return redisadapter.StreamsOptions{
		StreamName:       c.StreamName,
		StreamCount:      c.StreamCount,
		ChannelPrefix:    c.Key,
		Sharded:          c.Sharded,
		MaxLen:           c.MaxLen,
		SessionKeyPrefix: c.SessionKeyPrefix,
		RequestsTimeout:  time.Duration(c.RequestsTimeout),
	}
}

// natsOptions are the nats adapter's options from c.
func (c AdapterConfig) natsOptions() natsadapter.Options {
	var urls []string
	for u := range strings.SplitSeq(c.NATSURL, ",") {
		urls = append(urls, strings.TrimSpace(u))
	}
	return natsadapter.Options{
		URLs:            urls,
		CredentialsFile: c.NATSCredentialsFile,
		SubjectPrefix:   c.Key,
		RequestsTimeout: time.Duration(c.RequestsTimeout),
	}
}

// maxStreamCount bounds adapter.stream_count, as the redis-streams
// adapter does (each stream has a reader goroutine and connection).
const maxStreamCount = 1 << 10

// TLSConfig names the certificate and key files (PEM). Both or neither.
type TLSConfig struct {
	// CertFile is the certificate chain file ("").
	CertFile string `json:"cert_file"`
	// KeyFile is the private key file ("").
	KeyFile string `json:"key_file"`
}

// HTTPConfig bounds what one client may hold of hubd's HTTP server. It is
// fixed at start (a SIGHUP that changes it logs that it needs a restart).
//
// None of these cuts a WebSocket connection or a long-polling request
// waiting for data: those are bounded by socketio.ping_interval and
// ping_timeout instead.
type HTTPConfig struct {
	// ReadHeaderTimeout bounds the time to send a request's headers, and
	// the time a new connection may stay silent ("10s").
	ReadHeaderTimeout Duration `json:"read_header_timeout"`
	// ReadTimeout bounds the time to send a request's body once its
	// headers are read, on every path (the API, long-polling POSTs); a
	// body still coming after it gets 408 and the connection is closed
	// ("30s").
	ReadTimeout Duration `json:"read_timeout"`
	// IdleTimeout closes a keep-alive connection that waits this long for
	// its next request ("30s"). Behind a proxy that keeps connections to
	// hubd open, set it above the proxy's own idle timeout (60s for AWS
	// load balancers and nginx upstream keepalive), so that hubd never
	// closes a connection the proxy is about to reuse.
	IdleTimeout Duration `json:"idle_timeout"`
	// MaxHeaderBytes is the largest request header block, in bytes
	// (65536); a larger one gets 431.
	MaxHeaderBytes int `json:"max_header_bytes"`
	// MaxConnsPerIP caps the connections open at once from one client
	// address (0: no cap, the default). IPv6 clients are counted by /64,
	// the block one host usually holds. A connection over the cap is
	// closed as soon as it is accepted and counted in /metrics
	// (hubd_http_connections_refused_total). The address is the TCP
	// peer's: behind a reverse proxy every client has the proxy's, so
	// leave the cap off there (or above what the proxy opens) and cap
	// clients at the proxy; X-Forwarded-For is not trusted, since any
	// client can send it.
	MaxConnsPerIP int `json:"max_conns_per_ip"`
}

// SocketIOConfig tunes the Socket.IO endpoint.
type SocketIOConfig struct {
	// Path is where Socket.IO is served ("/socket.io/").
	Path string `json:"path"`
	// CORSOrigins lists the origins allowed for cross-origin polling
	// requests; "*" allows any. When set, a WebSocket connection whose
	// Origin header is not listed is refused too, with 403 (one without
	// Origin, a non-browser client, is allowed), unless AllowedOrigins
	// is set. An entry that starts with "^" is a regular expression (Go
	// syntax) that allows every origin it matches, e.g.
	// "^https://[a-z0-9-]+\\.chat\\.example$". Empty: CORS off.
	CORSOrigins []string `json:"cors_origins"`
	// ServeClient, when set, is the folder of an installed socket.io-client
	// package (e.g. "node_modules/socket.io-client", relative to hubd's
	// working directory) whose browser bundles hubd serves under the
	// Socket.IO path, as Node's serveClient: socket.io.js, .min.js,
	// .msgpack.min.js, .esm.min.js and their maps, with the package's
	// version as ETag. Fixed at start.
	ServeClient string `json:"serve_client"`
	// CORSExposedHeaders lists the response headers a page's script may
	// read (Access-Control-Expose-Headers), with CORS on. Fixed at start.
	CORSExposedHeaders []string `json:"cors_exposed_headers"`
	// Parser is the packet parser of every client: "json" (the default,
	// Socket.IO's own) or "msgpack" (clients created with
	// socket.io-msgpack-parser; JSON clients are then refused). Fixed at
	// start.
	Parser string `json:"parser"`
	// PerMessageDeflate compresses WebSocket messages for the clients
	// that offer it (RFC 7692), as Node's perMessageDeflate: false (the
	// default), true (messages from 1024 bytes), or {"threshold": N} for
	// messages from N bytes. Costs CPU on every compressed message. Fixed
	// at start.
	PerMessageDeflate DeflateConfig `json:"per_message_deflate"`
	// AllowEIO3 lets socket.io-client 2.x (Engine.IO revision 3) connect,
	// as Node's allowEIO3 (false). Fixed at start.
	AllowEIO3 bool `json:"allow_eio3"`
	// AllowedOrigins lists the origins browsers may connect from, on
	// every transport, whether CORS is on or not, e.g.
	// ["https://chat.example"]: a request whose Origin header is not
	// listed gets 403. A client that sends no Origin (a server, a native
	// app) is not a browser and is let in. "*" allows any. Empty (the
	// default): the cors_origins when set, else any origin, as Node's
	// server, which leaves a WebSocket from any web page's script
	// connected with the user's cookies. Set it when hubd relies on
	// cookies or on the client's network position.
	AllowedOrigins []string `json:"allowed_origins"`
	// PingInterval is how often a connection is pinged ("25s").
	PingInterval Duration `json:"ping_interval"`
	// PingTimeout is how long a ping may go unanswered ("20s").
	PingTimeout Duration `json:"ping_timeout"`
	// WriteTimeout bounds a write to a client whose socket buffer is
	// full (it reads slower than it is sent to); a client whose write
	// does not finish in time is disconnected ("10s"). Other clients never
	// wait for it.
	WriteTimeout Duration `json:"write_timeout"`
	// MaxPayload is the largest message a client may send, in bytes
	// (1000000).
	MaxPayload int64 `json:"max_payload"`
	// CleanupEmptyChildNamespaces removes a namespace made for a pattern
	// of the namespaces list once its last socket leaves, as Node's
	// cleanupEmptyChildNamespaces (true; Node's default is false). Off,
	// every child a client made stays until hubd stops.
	CleanupEmptyChildNamespaces bool `json:"cleanup_empty_child_namespaces"`
	// MaxChildNamespaces bounds the namespaces made for the patterns of the
	// namespaces list that exist at once, all patterns together; past it
	// a client asking for a new one gets "Invalid namespace" (10000).
	MaxChildNamespaces int `json:"max_child_namespaces"`
}

// NamespaceConfig is one namespace, or a family of namespaces by pattern.
// Exactly one of Name and Pattern is set.
type NamespaceConfig struct {
	// Name is a namespace name, e.g. "/chat".
	Name string `json:"name,omitempty"`
	// Pattern is an RE2 expression matching whole namespace names.
	Pattern string `json:"pattern,omitempty"`
	// Route is "rooms" (default), "namespace" or "none".
	Route string `json:"route,omitempty"`
	// Echo sends a client's event back to it too (false).
	Echo bool `json:"echo,omitempty"`
	// Presence announces joins and leaves to the room's other members:
	// hub:joined and hub:left with {room, id, data} (false).
	Presence bool `json:"presence,omitempty"`
}

// PluginsConfig is the plugin directory and the bounds of its calls.
type PluginsConfig struct {
	// Dir holds the plugins (*.js, *.wasm, folders with plugin.json); it
	// must exist when set. It is watched for changes and reloaded on
	// SIGHUP. Empty: no plugins.
	Dir string `json:"dir"`
	// ChainBudgets bound, by hook name (connect, join, leave, event,
	// disconnect), the total time of one hook's calls into all the
	// plugins: a call gets the smaller of its manifest timeout and what
	// is left. A hook not named keeps its default: connect and join 1s,
	// leave and disconnect 500ms, event 250ms. Applied again on SIGHUP.
	ChainBudgets map[string]Duration `json:"chain_budgets,omitempty"`
	// Trace is the decision trace: what each plugin decided at each hook
	// of a socket, kept per socket and served by the API at GET
	// /api/sockets/{id}/trace. per_socket (32; negative: off) and
	// closed_sockets (1000; negative: none) bound what is kept, sample
	// (0 to 1; 0) logs that share of the decisions with every step, and
	// connect_error (false) puts a refused connect's trace in the client's
	// connect_error data. Applied again on SIGHUP.
	Trace host.TraceOptions `json:"trace"`
	// Tape records the hook calls the plugins see, and their decisions,
	// to a file (JSON lines) that `hubd replay -tape FILE -plugins DIR`
	// runs through another plugin directory: file (empty: off), hooks
	// (all), sample (every call), redact {auth, headers, args} (the
	// authorization and cookie headers by default), max_bytes (recording
	// stops there), queue. Applied again on SIGHUP; the same settings
	// keep the tape going.
	Tape host.TapeOptions `json:"tape"`
	// Revoke bounds the revocations this node serves (POST /api/revoke,
	// and plugins with the "revoke" capability): node (its name in the
	// answers; the host name and a suffix), concurrency (sockets
	// re-decided at once, 32), timeout (for the other nodes' answers,
	// "5s"), queue (plugins' revocations waiting, 64), rate and burst
	// (per plugin: 1 a second, 10 at once). Fixed at start.
	Revoke RevokeConfig `json:"revoke"`
}

// RevokeConfig is plugins.revoke.
type RevokeConfig struct {
	Node        string   `json:"node"`
	Concurrency int      `json:"concurrency"`
	Timeout     Duration `json:"timeout"`
	Queue       int      `json:"queue"`
	Rate        float64  `json:"rate"`
	Burst       int      `json:"burst"`
}

// options are the host's revocation options from c; left announces the
// rooms a revocation made a socket leave.
func (c RevokeConfig) options(left func(*hub.Socket, []string)) host.RevokeOptions {
	return host.RevokeOptions{Node: c.Node, Concurrency: c.Concurrency, Timeout: time.Duration(c.Timeout),
		Queue: c.Queue, Rate: c.Rate, Burst: c.Burst, Left: left}
}

// APIConfig is the HTTP publish API.
type APIConfig struct {
	// Key is the bearer key callers send; empty turns the API off.
	Key string `json:"key"`
	// MaxBody is the largest request body, in bytes (1 MiB).
	MaxBody int64 `json:"max_body"`
}

// StaticConfig serves files at "/": the regular files of Dir, a
// directory as its index.html. Not found (404): a path with a part that
// starts with a dot (.env, .git/), a symbolic link leading out of Dir, a
// directory without index.html (none is listed).
type StaticConfig struct {
	// Dir is the directory served; it must exist when set. Empty: off.
	Dir string `json:"dir"`
}

// LogConfig configures the logs.
type LogConfig struct {
	// Format is "text" (default) or "json".
	Format string `json:"format"`
	// Level is "debug", "info" (default), "warn" or "error".
	Level string `json:"level"`
}

// MetricsConfig is the Prometheus endpoint, GET /metrics on hubd's
// listener (see the metrics type for the list).
//
// /metrics asks for no API key: it is read-only and tells no message
// content, but it does tell plugin names, namespace names and load.
// Operators who expose hubd directly should restrict /metrics at their
// reverse proxy (or turn it off here) so that only the Prometheus
// server reaches it.
type MetricsConfig struct {
	// Enabled serves /metrics (true). Set it to false to turn the
	// endpoint, and the per-event counter behind it, off.
	Enabled bool `json:"enabled"`
}

// Duration is a time.Duration written in JSON as a string ("25s", "1m").
type Duration time.Duration

// DeflateConfig is socketio.per_message_deflate: off, or on with a
// threshold.
type DeflateConfig struct {
	On        bool `json:"-"`
	Threshold int  `json:"threshold"`
}

// UnmarshalJSON reads false, true or {"threshold": N}.
func (d *DeflateConfig) UnmarshalJSON(b []byte) error {
	var on bool
	if json.Unmarshal(b, &on) == nil {
		*d = DeflateConfig{On: on}
		return nil
	}
	var v struct {
		Threshold *int `json:"threshold"`
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&v); err != nil || v.Threshold == nil {
		return fmt.Errorf("socketio.per_message_deflate: true, false or {\"threshold\": 1024}, not %s", b)
	}
	if *v.Threshold < 1 {
		return fmt.Errorf("socketio.per_message_deflate.threshold %d: it must be 1 or more", *v.Threshold)
	}
	*d = DeflateConfig{On: true, Threshold: *v.Threshold}
	return nil
}

// MarshalJSON writes what UnmarshalJSON reads.
func (d DeflateConfig) MarshalJSON() ([]byte, error) {
	if !d.On || d.Threshold == 0 {
		return json.Marshal(d.On)
	}
	return json.Marshal(map[string]int{"threshold": d.Threshold})
}

// hub is the hub's option, nil when off.
func (d DeflateConfig) hub() *hub.PerMessageDeflate {
	if !d.On {
		return nil
	}
	return &hub.PerMessageDeflate{Threshold: d.Threshold}
}

// UnmarshalJSON reads "25s"-style strings.
func (d *Duration) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("a duration is a string such as \"25s\", not %s", b)
	}
	v, err := time.ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// MarshalJSON writes the duration as a string.
func (d Duration) MarshalJSON() ([]byte, error) {
	return json.Marshal(time.Duration(d).String())
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Listen: ":3000",
		SocketIO: SocketIOConfig{
			Path:         "/socket.io/",
			Parser:       "json",
			PingInterval: Duration(25 * time.Second),
			PingTimeout:  Duration(20 * time.Second),
			WriteTimeout: Duration(10 * time.Second),
			MaxPayload:   1_000_000,

			CleanupEmptyChildNamespaces: true,
			MaxChildNamespaces:          hub.DefaultMaxChildNamespaces,
		},
		HTTP: HTTPConfig{
			ReadHeaderTimeout: Duration(10 * time.Second),
			ReadTimeout:       Duration(30 * time.Second),
			IdleTimeout:       Duration(30 * time.Second),
			MaxHeaderBytes:    64 << 10,
		},
		Namespaces: []NamespaceConfig{{Name: "/"}},
		API:        APIConfig{MaxBody: 1 << 20},
		Log:        LogConfig{Format: "text", Level: "info"},
		Metrics:    MetricsConfig{Enabled: true},
		Adapter: AdapterConfig{Type: "memory", URL: "redis://127.0.0.1:6379", NATSURL: "nats://127.0.0.1:4222", Key: "socket.io",
			Readiness: "report", RequestsTimeout: Duration(5 * time.Second),
			StreamName: "socket.io", StreamCount: 1, MaxLen: 10_000, SessionKeyPrefix: "sio:session:"},

		AdminUI: AdminUIConfig{Namespace: "/admin", Mode: "development", StatsInterval: Duration(2 * time.Second),
			Sessions: "memory", UIPath: "/admin/"},

		ShutdownGrace: Duration(10 * time.Second),
	}
}

// The bounds of http.max_header_bytes: a browser's headers with a few
// cookies need some kilobytes; more than a megabyte is never needed.
const (
	minHeaderBytes = 4 << 10
	maxHeaderBytes = 1 << 20
)

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	Problems []string
}

func (e *ConfigError) Error() string {
	return "invalid configuration:\n  - " + strings.Join(e.Problems, "\n  - ")
}

// Load builds the configuration from the command line, the environment
// (getenv) and the config file named by -config, then validates it. A
// *ConfigError lists every problem at once.
func Load(args []string, getenv func(string) string, stderr io.Writer) (Config, error) {
	fs := flag.NewFlagSet("hubd", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "Usage: hubd [flags]\n       hubd replay -tape FILE -plugins DIR [-v]   (a recorded tape through other plugins)\nFlags:")
		fs.PrintDefaults()
	}
	var (
		configFile = fs.String("config", "", "config file (JSON)")
		listen     = fs.String("listen", "", "address to listen on (default \":3000\"; env HUBD_LISTEN)")
		apiKey     = fs.String("api-key", "", "bearer key of the HTTP API; empty turns it off (env HUBD_API_KEY)")
		plugins    = fs.String("plugins", "", "plugin directory (env HUBD_PLUGINS)")
		static     = fs.String("static", "", "directory served at / (env HUBD_STATIC)")
		logFormat  = fs.String("log-format", "", "log format: text or json (env HUBD_LOG_FORMAT)")
		logLevel   = fs.String("log-level", "", "log level: debug, info, warn, error")
		path       = fs.String("path", "", "Socket.IO path (default \"/socket.io/\")")
		tlsCert    = fs.String("tls-cert", "", "TLS certificate file")
		tlsKey     = fs.String("tls-key", "", "TLS key file")
		adapter    = fs.String("adapter", "", "memory (this node alone), redis, redis-streams or nats (env HUBD_ADAPTER)")
		redisURL   = fs.String("redis-url", "", "Redis (or Redis Cluster: redis-cluster://host:port) of the redis and redis-streams adapters (default redis://127.0.0.1:6379; env HUBD_REDIS_URL)")
		recovery   = fs.String("recovery", "", "connection state recovery: how long a disconnected client's state is kept, e.g. 2m; 0 turns it off (env HUBD_RECOVERY)")
		natsURL    = fs.String("nats-url", "", "NATS of the nats adapter, comma-separated for several (default nats://127.0.0.1:4222; env HUBD_NATS_URL)")
		adminUI    = fs.Bool("admin-ui", false, "serve the Socket.IO admin UI's namespace (its login and the rest: config block admin_ui)")
		parser     = fs.String("parser", "", "packet parser of every client: json (default) or msgpack (socket.io-msgpack-parser)")
	)
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return Config{}, errHelp
		}
		return Config{}, &ConfigError{Problems: []string{err.Error()}}
	}
	if fs.NArg() > 0 {
		return Config{}, &ConfigError{Problems: []string{fmt.Sprintf("unexpected arguments: %q", fs.Args())}}
	}

	cfg := Defaults()
	if *configFile != "" {
		if err := readFile(*configFile, &cfg); err != nil {
			var ce *ConfigError
			if errors.As(err, &ce) {
				return Config{}, ce
			}
			return Config{}, &ConfigError{Problems: []string{err.Error()}}
		}
	}

	// Environment over the file.
	for _, e := range []struct {
		name string
		dst  *string
	}{
		{"HUBD_LISTEN", &cfg.Listen},
		{"HUBD_API_KEY", &cfg.API.Key},
		{"HUBD_PLUGINS", &cfg.Plugins.Dir},
		{"HUBD_STATIC", &cfg.Static.Dir},
		{"HUBD_LOG_FORMAT", &cfg.Log.Format},
		{"HUBD_ADAPTER", &cfg.Adapter.Type},
		{"HUBD_REDIS_URL", &cfg.Adapter.URL},
		{"HUBD_NATS_URL", &cfg.Adapter.NATSURL},
	} {
		if v := getenv(e.name); v != "" {
			*e.dst = v
		}
	}

	// Recovery's duration: the flag over the environment over the file.
	recoveryFrom, recoveryVal := "HUBD_RECOVERY", getenv("HUBD_RECOVERY")
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "recovery" {
			recoveryFrom, recoveryVal = "-recovery", *recovery
		}
	})
	var problems []string
	if recoveryFrom == "-recovery" || recoveryVal != "" {
		if err := setRecovery(&cfg, recoveryVal); err != nil {
			problems = append(problems, fmt.Sprintf("%s %q: %v", recoveryFrom, recoveryVal, err))
		}
	}

	// Flags over everything, when given.
	set := map[string]*string{
		"listen": &cfg.Listen, "api-key": &cfg.API.Key, "plugins": &cfg.Plugins.Dir,
		"static": &cfg.Static.Dir, "log-format": &cfg.Log.Format, "log-level": &cfg.Log.Level,
		"path": &cfg.SocketIO.Path, "tls-cert": &cfg.TLS.CertFile, "tls-key": &cfg.TLS.KeyFile,
		"adapter": &cfg.Adapter.Type, "redis-url": &cfg.Adapter.URL, "parser": &cfg.SocketIO.Parser,
		"nats-url": &cfg.Adapter.NATSURL,
	}
	vals := map[string]*string{
		"listen": listen, "api-key": apiKey, "plugins": plugins, "static": static,
		"log-format": logFormat, "log-level": logLevel, "path": path, "tls-cert": tlsCert, "tls-key": tlsKey,
		"adapter": adapter, "redis-url": redisURL, "parser": parser, "nats-url": natsURL,
	}
	fs.Visit(func(f *flag.Flag) {
		if dst, ok := set[f.Name]; ok {
			*dst = *vals[f.Name]
		}
		if f.Name == "admin-ui" {
			cfg.AdminUI.Enabled = *adminUI
		}
	})

	if err := cfg.Validate(); err != nil {
		var ce *ConfigError
		if errors.As(err, &ce) {
			problems = append(problems, ce.Problems...)
		} else {
			problems = append(problems, err.Error())
		}
	}
	if len(problems) > 0 {
		return Config{}, &ConfigError{Problems: problems}
	}
	return cfg, nil
}

// setRecovery applies -recovery (or HUBD_RECOVERY) to cfg: 0 turns
// recovery off, whatever the file says; a positive duration turns it on,
// with the file's other recovery settings if it has the block.
func setRecovery(cfg *Config, v string) error {
	d, err := time.ParseDuration(v)
	switch {
	case err != nil:
		return fmt.Errorf("not a duration; write one such as \"2m\", or 0 to turn recovery off")
	case d < 0:
		return fmt.Errorf("it must be 0 (off) or positive, e.g. \"2m\"")
	case d == 0:
		cfg.Recovery = nil
		return nil
	}
	if cfg.Recovery == nil {
		r := defaultRecovery()
		cfg.Recovery = &r
	}
	cfg.Recovery.Duration = Duration(d)
	return nil
}

func readFile(name string, cfg *Config) error {
	raw, err := os.ReadFile(name)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("config file %s does not exist", name)
		}
		return fmt.Errorf("config file: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(cfg); err != nil {
		if !json.Valid(raw) {
			return fmt.Errorf("config file %s: %w", name, err)
		}
		// Well-formed JSON that does not fit: say everything that does
		// not, not only the first thing encoding/json met.
		problems := jsonProblems(raw, cfg)
		if len(problems) == 0 {
			problems = []string{err.Error()}
		}
		for i, p := range problems {
			problems[i] = "config file " + name + ": " + p
		}
		return &ConfigError{Problems: problems}
	}
	if dec.More() {
		return fmt.Errorf("config file %s: extra data after the JSON object", name)
	}
	return nil
}

// Validate reports every problem of the configuration at once, as a
// *ConfigError, or nil.
func (c *Config) Validate() error {
	var p []string
	bad := func(format string, args ...any) { p = append(p, fmt.Sprintf(format, args...)) }

	if c.Listen == "" {
		bad("listen: empty; give an address such as \":3000\"")
	} else if _, port, err := net.SplitHostPort(c.Listen); err != nil {
		bad("listen %q: %v", c.Listen, err)
	} else if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		bad("listen %q: port %q is not a number from 0 to 65535", c.Listen, port)
	}

	if (c.TLS.CertFile == "") != (c.TLS.KeyFile == "") {
		bad("tls: set both cert_file and key_file, or neither")
	}
	for _, f := range []struct{ what, name string }{{"tls.cert_file", c.TLS.CertFile}, {"tls.key_file", c.TLS.KeyFile}} {
		if f.name == "" {
			continue
		}
		if st, err := os.Stat(f.name); err != nil {
			bad("%s %s: %v", f.what, f.name, errText(err))
		} else if st.IsDir() {
			bad("%s %s: is a directory", f.what, f.name)
		}
	}

	h := c.HTTP
	for _, d := range []struct {
		name string
		v    Duration
	}{{"read_header_timeout", h.ReadHeaderTimeout}, {"read_timeout", h.ReadTimeout}, {"idle_timeout", h.IdleTimeout}} {
		if d.v <= 0 {
			bad("http.%s %v: it must be positive, e.g. \"30s\"", d.name, time.Duration(d.v))
		}
	}
	if h.MaxHeaderBytes < minHeaderBytes || h.MaxHeaderBytes > maxHeaderBytes {
		bad("http.max_header_bytes %d: it must be from %d to %d", h.MaxHeaderBytes, minHeaderBytes, maxHeaderBytes)
	}
	if h.MaxConnsPerIP < 0 {
		bad("http.max_conns_per_ip %d: it must be 0 (no cap) or positive", h.MaxConnsPerIP)
	}

	s := c.SocketIO
	switch {
	case !strings.HasPrefix(s.Path, "/") || !strings.HasSuffix(s.Path, "/") || len(s.Path) < 2:
		bad("socketio.path %q: it must start and end with a slash, e.g. \"/socket.io/\"", s.Path)
	case s.Path == "/api/" || s.Path == "/healthz/" || s.Path == "/readyz/" || s.Path == metricsPath+"/":
		bad("socketio.path %q: reserved by hubd", s.Path)
	}
	if s.PingInterval <= 0 {
		bad("socketio.ping_interval %v: it must be positive", time.Duration(s.PingInterval))
	}
	if s.PingTimeout <= 0 {
		bad("socketio.ping_timeout %v: it must be positive", time.Duration(s.PingTimeout))
	}
	if s.WriteTimeout <= 0 {
		bad("socketio.write_timeout %v: it must be positive", time.Duration(s.WriteTimeout))
	}
	if s.MaxPayload <= 0 {
		bad("socketio.max_payload %d: it must be positive", s.MaxPayload)
	}
	for i, o := range s.CORSOrigins {
		if o == "" {
			bad("socketio.cors_origins[%d]: empty", i)
		} else if strings.HasPrefix(o, "^") {
			if _, err := regexp.Compile(o); err != nil {
				bad("socketio.cors_origins[%d] %q: not a regular expression: %v", i, o, err)
			}
		}
	}
	if p, err := hub.ParseParser(s.Parser); err != nil {
		bad("socketio.parser %q: json or msgpack", s.Parser)
	} else if p == hub.ParserMsgpack && s.AllowEIO3 {
		bad("socketio.allow_eio3 with socketio.parser \"msgpack\": socket.io-client 2.x speaks another msgpack; use the json parser for 2.x clients")
	}
	if s.ServeClient != "" {
		if _, err := hub.LoadClientBundle(s.ServeClient); err != nil {
			bad("socketio.serve_client %q: %v", s.ServeClient, err)
		}
	}
	for i, h := range s.CORSExposedHeaders {
		if h == "" || strings.ContainsAny(h, ", \t\r\n") {
			bad("socketio.cors_exposed_headers[%d] %q: a header name, such as \"X-Request-Id\"", i, h)
		}
	}
	if s.MaxChildNamespaces <= 0 {
		bad("socketio.max_child_namespaces %d: it must be positive", s.MaxChildNamespaces)
	}
	for i, o := range s.AllowedOrigins {
		if !validOrigin(o) {
			bad("socketio.allowed_origins[%d] %q: write an origin as browsers send it, scheme://host[:port] such as \"https://chat.example\", or \"*\"", i, o)
		}
	}

	if len(c.Namespaces) == 0 {
		bad("namespaces: empty; list at least one, e.g. [{\"name\": \"/\"}]")
	}
	if err := c.relayConfig().Validate(); err != nil {
		for _, e := range unjoin(err) {
			bad("%s", strings.TrimPrefix(e.Error(), "relay: "))
		}
	}

	if c.Plugins.Dir != "" {
		checkDir(bad, "plugin directory", c.Plugins.Dir)
	}
	if err := c.Plugins.Revoke.options(nil).Validate(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			bad("plugins.%s", e)
		}
	}
	if err := c.Plugins.Tape.Validate(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			bad("plugins.%s", e)
		}
	}
	if err := c.Plugins.Trace.Validate(); err != nil {
		for _, e := range strings.Split(err.Error(), "\n") {
			bad("plugins.%s", e)
		}
	}
	for _, name := range slices.Sorted(maps.Keys(c.Plugins.ChainBudgets)) {
		if !knownHook(name) {
			bad("plugins.chain_budgets: unknown hook %q; use connect, join, leave, event or disconnect", name)
		} else if d := c.Plugins.ChainBudgets[name]; d <= 0 {
			bad("plugins.chain_budgets.%s %v: it must be positive, e.g. \"1s\"", name, time.Duration(d))
		}
	}
	if c.Static.Dir != "" {
		checkDir(bad, "static directory", c.Static.Dir)
	}
	if c.API.MaxBody <= 0 {
		bad("api.max_body %d: it must be positive", c.API.MaxBody)
	}

	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format %q: it must be text or json", c.Log.Format)
	}
	if _, ok := parseLevel(c.Log.Level); !ok {
		bad("log.level %q: it must be debug, info, warn or error", c.Log.Level)
	}

	validateAdapter(bad, c.Adapter)
	validateAdminUI(bad, c.AdminUI, c.Adapter)

	if c.ShutdownGrace <= 0 {
		bad("shutdown_grace %v: it must be positive, e.g. \"10s\"", time.Duration(c.ShutdownGrace))
	}
	if r := c.Recovery; r != nil {
		validateRecovery(bad, r)
		if c.Adapter.Type == "redis" || c.Adapter.Type == "nats" {
			bad("recovery: adapter %s keeps no sessions, so no client would recover; use adapter redis-streams (or memory, on one node), or leave recovery out", c.Adapter.Type)
		}
	}

	if len(p) > 0 {
		return &ConfigError{Problems: p}
	}
	return nil
}

// validateAdapter reports the problems of the adapter block.
func validateAdapter(report func(string, ...any), a AdapterConfig) {
	problems := 0
	bad := func(format string, args ...any) {
		problems++
		report(format, args...)
	}
	switch a.Readiness {
	case "report", "require":
	default:
		bad("adapter.readiness %q: report or require", a.Readiness)
	}
	switch a.Type {
	case "memory", "":
	case "nats":
		if err := a.natsOptions().Validate(); err != nil {
			bad("adapter: %v", err)
		}
		if a.Sharded || a.SubscriptionMode != "" {
			bad("adapter.sharded and adapter.subscription_mode are for type redis; leave them out with nats")
		}
	case "redis", "redis-streams":
		if rdb, err := redisadapter.NewClient(a.URL); err != nil {
			bad("adapter.url %q: %v (e.g. \"redis://127.0.0.1:6379\", or \"redis-cluster://127.0.0.1:7000\" for a Redis Cluster)", redactURL(a.URL), err)
		} else {
			_ = rdb.Close()
		}
		if a.Key == "" {
			bad("adapter.key: empty; every node of a cluster shares one prefix (Node's default is \"socket.io\")")
		}
		if a.RequestsTimeout <= 0 {
			bad("adapter.requests_timeout %v: it must be positive", time.Duration(a.RequestsTimeout))
		}
		switch a.SubscriptionMode {
		case "", redisadapter.ModeDynamic, redisadapter.ModeDynamicPrivate, redisadapter.ModeStatic:
		default:
			bad("adapter.subscription_mode %q: it must be dynamic, dynamic-private or static", a.SubscriptionMode)
		}
		switch {
		case a.SubscriptionMode != "" && a.Type == "redis-streams":
			bad("adapter.subscription_mode is for type redis: redis-streams subscribes to each namespace's channels; leave it out")
		case a.SubscriptionMode != "" && !a.Sharded:
			bad("adapter.subscription_mode is for the sharded flavour: set \"sharded\": true or leave it out")
		}
	default:
		bad("adapter.type %q: it must be memory, redis, redis-streams or nats", a.Type)
	}

	d := Defaults().Adapter
	if a.Type != "redis-streams" {
		var set []string
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"stream_name", a.StreamName != d.StreamName}, {"stream_count", a.StreamCount != d.StreamCount},
			{"max_len", a.MaxLen != d.MaxLen}, {"session_key_prefix", a.SessionKeyPrefix != d.SessionKeyPrefix},
		} {
			if f.set {
				set = append(set, f.name)
			}
		}
		if len(set) > 0 {
			bad("adapter.%s: for type redis-streams only; set \"type\": \"redis-streams\" or leave it out", strings.Join(set, ", "))
		}
		return
	}
	if a.StreamName == "" {
		bad("adapter.stream_name: empty; every node of a cluster shares one stream (Node's default is \"socket.io\")")
	}
	if a.StreamCount < 1 || a.StreamCount > maxStreamCount {
		bad("adapter.stream_count %d: it must be from 1 to %d", a.StreamCount, maxStreamCount)
	}
	if a.MaxLen <= 0 {
		bad("adapter.max_len %d: it must be positive, e.g. 10000", a.MaxLen)
	}
	if a.SessionKeyPrefix == "" {
		bad("adapter.session_key_prefix: empty; give the prefix of the sessions' keys (Node's default is \"sio:session:\")")
	}
	// Whatever the adapter itself refuses that the checks above let by.
	if err := a.streamsOptions().Validate(); err != nil && problems == 0 {
		for _, e := range unjoin(err) {
			bad("adapter: %v", e)
		}
	}
}

// validateRecovery reports the problems of the recovery block.
func validateRecovery(bad func(string, ...any), r *RecoveryConfig) {
	if r.Duration <= 0 {
		bad("recovery.duration %v: it must be positive, e.g. \"2m\"; to turn recovery off, leave the recovery block out (or give -recovery 0)",
			time.Duration(r.Duration))
	}
	for _, b := range []struct {
		name string
		v    int64
	}{
		{"max_packets", int64(r.MaxPackets)}, {"max_bytes", r.MaxBytes}, {"max_sessions", int64(r.MaxSessions)},
		{"max_session_packets", int64(r.MaxSessionPackets)}, {"max_session_bytes", int64(r.MaxSessionBytes)},
	} {
		if b.v <= 0 {
			bad("recovery.%s %d: it must be positive (leave it out for the default)", b.name, b.v)
		}
	}
	if r.MaxSessionBytes > maxRecoverySessionBytes {
		bad("recovery.max_session_bytes %d: at most %d, half of what may be queued for one client", r.MaxSessionBytes, maxRecoverySessionBytes)
	}
}

// validOrigin is whether o is "*", "null" (what sandboxed pages send) or
// a scheme://host[:port] origin without path, query or user.
func validOrigin(o string) bool {
	if o == "*" || o == "null" {
		return true
	}
	u, err := url.Parse(strings.TrimSuffix(o, "/"))
	return err == nil && u.Scheme != "" && u.Host != "" && u.Path == "" && u.RawQuery == "" &&
		u.Fragment == "" && u.User == nil && u.Opaque == ""
}

func checkDir(bad func(string, ...any), what, dir string) {
	st, err := os.Stat(dir)
	switch {
	case errors.Is(err, os.ErrNotExist):
		bad("%s %s does not exist", what, dir)
	case err != nil:
		bad("%s %s: %v", what, dir, errText(err))
	case !st.IsDir():
		bad("%s %s is not a directory", what, dir)
	}
}

func errText(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func unjoin(err error) []error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		return j.Unwrap()
	}
	return []error{err}
}

// relayConfig is the namespaces part of the configuration, for relay.Attach.
func (c *Config) relayConfig() relay.Config {
	var rc relay.Config
	for _, n := range c.Namespaces {
		rc.Namespaces = append(rc.Namespaces, relay.Namespace{
			Name: n.Name, Pattern: n.Pattern, Route: relay.Route(n.Route), Echo: n.Echo,
			Presence: n.Presence,
		})
	}
	return rc
}

// knownHook reports whether name is a hook's name.
func knownHook(name string) bool {
	for _, h := range host.Hooks {
		if string(h) == name {
			return true
		}
	}
	return false
}
