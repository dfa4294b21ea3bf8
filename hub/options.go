package hub

import (
	"log/slog"
	"net/http"
	"regexp"
	"time"

	"github.com/hubd/hubd/hub/internal/engine"
)

// CORS holds the cross-origin (CORS) settings, as the reference's cors
// option: the headers go on every answer under Options.Path, error
// answers included, and preflights are answered. CORS is off unless
// Options.CORS is set. It matters to long-polling: browsers do not apply
// CORS to WebSocket (see Options.CheckOrigin for that).
type CORS struct {
	// Origins lists the origins allowed, such as "https://chat.example";
	// "*" allows any (answered as "*", or as the request's Origin when
	// Credentials is set, since browsers refuse "*" with credentials).
	// With none of Origins, OriginPatterns and AllowOrigin set, any origin
	// is allowed: answered "*" as Node does, or, with Credentials, the
	// request's Origin echoed.
	// A request from an origin not allowed (by Origins, OriginPatterns or
	// AllowOrigin) gets no Access-Control-Allow-Origin, and the browser
	// blocks its answer.
	Origins []string
	// OriginPatterns allow every origin they match, anywhere in the
	// Origin header as a JavaScript RegExp's test does: anchor them
	// (`^https://[a-z0-9-]+\.example\.com$`) to mean a whole origin.
	OriginPatterns []*regexp.Regexp
	// AllowOrigin, when set, allows the origins for which it returns true
	// (Node's origin function). It runs for every cross-origin request, on
	// many goroutines at once.
	AllowOrigin func(origin string) bool
	// ExposedHeaders lists, comma-separated, the response headers a page's
	// script may read (Access-Control-Expose-Headers; none by default).
	ExposedHeaders string
	// Methods is what a preflight is told may be used, comma-separated
	// ("GET,HEAD,PUT,PATCH,POST,DELETE").
	Methods string
	// Headers is what a preflight is told may be sent, comma-separated.
	// Empty: the preflight's Access-Control-Request-Headers is echoed.
	Headers string
	// Credentials sends Access-Control-Allow-Credentials: true, letting
	// browsers send cookies and HTTP authentication (false).
	Credentials bool
	// MaxAge is how long, in seconds, a browser may reuse a preflight's
	// answer (0: Access-Control-Max-Age is not sent).
	MaxAge int
}

// EngineCORS is for the hub's own use: it gives c in the form the
// server's engine takes. Applications have no use for it.
func (c *CORS) EngineCORS() *engine.CORS {
	if c == nil {
		return nil
	}
	e := engine.CORS(*c)
	if len(e.Origins) == 0 && len(e.OriginPatterns) == 0 && e.AllowOrigin == nil && !e.Credentials {
		e.Origins = []string{"*"} // Node's default origin
	}
	return &e
}

// Options configure a Server. The zero value serves the reference server's
// defaults, noted on each field.
type Options struct {
	// Path is where the server answers ("/socket.io/").
	Path string
	// PingInterval is how often the server pings a connection (25s).
	PingInterval time.Duration
	// PingTimeout is how long a ping may go unanswered (20s).
	PingTimeout time.Duration
	// UpgradeTimeout bounds an unfinished upgrade to WebSocket (10s).
	UpgradeTimeout time.Duration
	// ConnectTimeout closes a connection that joins no namespace (45s).
	ConnectTimeout time.Duration
	// MaxPayload is the largest message or polling body a client may send,
	// in bytes (1,000,000).
	MaxPayload int64
	// MaxAttachments bounds the binary attachments of one packet (10);
	// with ParserMsgpack, the binary values of one packet.
	MaxAttachments int
	// Parser is how packets are written on the wire, for every client of
	// the server: ParserJSON (the default) or ParserMsgpack. A value that
	// is neither serves JSON, with a warning logged. ParserMsgpack turns
	// AllowEIO3 off (with a warning): 2.x clients' msgpack differs.
	Parser Parser
	// MaxBufferedBytes bounds what may wait to be written to one client; a
	// client further behind is disconnected (16 MiB).
	MaxBufferedBytes int
	// ServeClient, when set, serves the browser bundles of a
	// socket.io-client package under Path, as Node's serveClient (see
	// LoadClientBundle). Nil (the default): not served.
	ServeClient *ClientBundle
	// WriteTimeout bounds a write to a client whose socket buffer is full
	// (it reads slower than it is sent to): one that does not finish in
	// time disconnects the client (10s). Other clients never wait for it.
	WriteTimeout time.Duration
	// HTTPCompressionThreshold is the size from which long-polling
	// responses are compressed (gzip, else deflate) for clients that accept
	// it (1024 bytes, as the reference's httpCompression); negative turns
	// compression off. WebSocket messages: see PerMessageDeflate.
	HTTPCompressionThreshold int
	// PerMessageDeflate, when set, compresses WebSocket messages for the
	// clients that offer it (see PerMessageDeflate); nil (the default):
	// off, as in Node.
	PerMessageDeflate *PerMessageDeflate
	// DisablePolling and DisableWebSocket turn a transport off;
	// DisableUpgrades keeps polling clients on polling.
	DisablePolling   bool
	DisableWebSocket bool
	DisableUpgrades  bool
	// AllowEIO3 lets socket.io-client 2.x connect too (Engine.IO revision
	// 3), as Node's allowEIO3; off by default, when such a client is
	// refused with HTTP 400 "Unsupported protocol version". Such a client
	// joins the main namespace on connecting, sends its auth for other
	// namespaces as the query of the namespace's name, and gets a refused
	// connect as an "error" event. The default JSON parser only.
	AllowEIO3 bool
	// CORS, when set, answers cross-origin polling requests.
	CORS *CORS
	// AllowRequest vets each new connection's first request; an error
	// refuses it with HTTP 403 and the error's text.
	AllowRequest func(r *http.Request) error
	// CheckOrigin vets the Origin of WebSocket connections (all allowed).
	CheckOrigin func(r *http.Request) bool
	// OnConnectionError, when set, is told of every request refused
	// before it reaches a connection: an unknown transport or session id,
	// a malformed handshake, a refusal by AllowRequest or CheckOrigin, a
	// handshake during Shutdown (Node's engine connection_error event; see
	// the Code constants). It runs on the request's goroutine before the
	// answer is written, so it must not block.
	OnConnectionError func(ConnectionError)
	// InitialHeaders, when set, may add headers to the response that
	// opens a connection: the polling handshake's and the WebSocket
	// handshake's 101 (Node's engine initial_headers event), such as a
	// cookie.
	InitialHeaders func(h http.Header, r *http.Request)
	// Headers, when set, may add headers to every response of a
	// connection, after InitialHeaders: its polling GETs and POSTs and
	// its WebSocket 101s, the handshake's and an upgrade's (Node's engine
	// headers event). Error answers do not go through it.
	Headers func(h http.Header, r *http.Request)
	// Adapter makes each namespace's adapter (see AdapterFactory); nil
	// gives every namespace the in-memory adapter. When it fails for a
	// dynamic child, the client's CONNECT gets a connect_error
	// ("Namespace unavailable, try again later"), the error is logged, no
	// child is made, and a later CONNECT tries again; for Server.Of (and
	// the main namespace, made by New) see Of.
	Adapter AdapterFactory
	// ConnectBurst and ConnectRate bound the namespace CONNECT packets one
	// connection may send: ConnectBurst at once, then ConnectRate more a
	// second (100 and 10). A connection over the bound is closed. No
	// client connects to namespaces that fast, and every CONNECT may cost a
	// namespace, the middlewares and a plugin call: without the bound, one
	// polling POST of 5,000 CONNECTs keeps the server busy for seconds. A
	// negative ConnectBurst removes the bound.
	ConnectBurst int
	ConnectRate  float64
	// Logger receives what the server reports on its own, such as a panic
	// recovered on a connection's goroutine (slog.Default()).
	Logger *slog.Logger
	// CleanupEmptyChildNamespaces drops a dynamic namespace's child when
	// its last socket leaves, or when a refused connect leaves it empty
	// (off, as in the reference). Either way, a child that no socket ever
	// joined is dropped as soon as the connect that made it is refused.
	CleanupEmptyChildNamespaces bool
	// MaxChildNamespaces bounds the dynamic namespaces' children that exist
	// at once, over all parents; when it is reached, a client asking for a
	// new child gets the reference's "Invalid namespace" error (10,000;
	// negative for no bound).
	MaxChildNamespaces int
	// MaxChildNamespaceName is the longest name, in bytes, a new child may
	// have; a longer one gets "Invalid namespace" without its matcher
	// being run (256; negative for no bound).
	MaxChildNamespaceName int
	// ConnectionStateRecovery, when set, lets a client that lost its
	// connection come back to the same socket and get what it missed
	// (see RecoveryOptions); off by default, as in the reference.
	ConnectionStateRecovery *RecoveryOptions
}

// Defaults of the Options fields that bound what clients may create.
const (
	DefaultMaxChildNamespaces    = 10_000
	DefaultMaxChildNamespaceName = 256
)

func (o Options) withDefaults() Options {
	if o.Path == "" {
		o.Path = "/socket.io/"
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = 45 * time.Second
	}
	if o.ConnectBurst == 0 {
		o.ConnectBurst = 100
	}
	if o.ConnectRate <= 0 {
		o.ConnectRate = 10
	}
	if o.MaxAttachments <= 0 {
		o.MaxAttachments = 10
	}
	if o.Parser > ParserMsgpack {
		o.Logger.Warn("hub: unknown parser, serving json", "parser", o.Parser.String())
		o.Parser = ParserJSON
	}
	if o.Parser == ParserMsgpack && o.AllowEIO3 {
		// socket.io-client 2.x's msgpack parser writes another format.
		o.Logger.Warn("hub: AllowEIO3 is off with the msgpack parser: socket.io-client 2.x is served with the json parser only")
		o.AllowEIO3 = false
	}
	if o.MaxChildNamespaces == 0 {
		o.MaxChildNamespaces = DefaultMaxChildNamespaces
	}
	if o.MaxChildNamespaceName == 0 {
		o.MaxChildNamespaceName = DefaultMaxChildNamespaceName
	}
	if r := o.ConnectionStateRecovery; r != nil {
		maxBuffered := o.MaxBufferedBytes
		if maxBuffered <= 0 {
			maxBuffered = 16 << 20 // the engine's default
		}
		d := r.withDefaults(maxBuffered)
		o.ConnectionStateRecovery = &d
	}
	return o
}
