package engine

import (
	"log/slog"
	"math"
	"net/http"
	"regexp"
	"time"
)

// Config is an immutable Engine.IO server configuration. Zero fields take the
// defaults of the reference server, noted on each field.
type Config struct {
	// PingInterval is how often the server pings (25s).
	PingInterval time.Duration
	// PingTimeout is how long a ping may go unanswered (20s).
	PingTimeout time.Duration
	// UpgradeTimeout bounds an unfinished upgrade to WebSocket (10s).
	UpgradeTimeout time.Duration
	// MaxPayload is the largest polling body or WebSocket message accepted,
	// in bytes, and is advertised to clients (1,000,000).
	MaxPayload int64
	// MaxBufferedBytes bounds a session's queue of outgoing frames; a session
	// that falls further behind is closed (16 MiB).
	MaxBufferedBytes int
	// WriteTimeout bounds one write to a client (10s).
	WriteTimeout time.Duration
	// CompressThreshold is the size from which long-polling responses are
	// compressed with gzip or deflate, when the client accepts one (1024
	// bytes, the reference's default); negative turns compression off.
	CompressThreshold int
	// PerMessageDeflate, when set, compresses WebSocket messages for the
	// clients that offer permessage-deflate (RFC 7692); nil: off, as in
	// the reference.
	PerMessageDeflate *Deflate
	// DisablePolling and DisableWebSocket turn a transport off.
	DisablePolling   bool
	DisableWebSocket bool
	// DisableUpgrades stops polling sessions from moving to WebSocket.
	DisableUpgrades bool
	// AllowEIO3 serves clients of revision 3 of the protocol
	// (socket.io-client 2.x) too (false: they are refused with 400
	// "Unsupported protocol version", as the reference's allowEIO3).
	AllowEIO3 bool
	// CORS, when set to settings that are not nil, answers cross-origin
	// polling requests.
	CORS CORSSource
	// AllowRequest, when set, vets every handshake; a non-nil error refuses
	// it with 403 and the error's text.
	AllowRequest func(r *http.Request) error
	// CheckOrigin vets the Origin of WebSocket handshakes (all allowed).
	CheckOrigin func(r *http.Request) bool
	// Logger receives what the engine reports on its own: a panic on a
	// session's goroutine, with its stack, at error level (slog.Default()).
	Logger *slog.Logger
	// OnConnectionError, when set, is told of every request refused
	// before it reaches a session: an unknown transport or session, a bad
	// handshake, a refusal by AllowRequest or CheckOrigin, a handshake
	// during a shutdown (the reference's connection_error event). It runs
	// on the request's goroutine, before the answer is written.
	OnConnectionError func(ConnectionError)
	// InitialHeaders, when set, may add headers to the response that
	// opens a session: the polling handshake's and the WebSocket
	// handshake's 101 (the reference's initial_headers event).
	InitialHeaders func(h http.Header, r *http.Request)
	// Headers, when set, may add headers to every response of a session:
	// its polling GETs and POSTs and its WebSocket 101s, the handshake's
	// and an upgrade's, after InitialHeaders (the reference's headers
	// event). Error answers do not go through it.
	Headers func(h http.Header, r *http.Request)
	// OnConnection is called for every new session, before any of its
	// messages are delivered. It must set the session's handler.
	OnConnection func(c *Conn, r *http.Request)

	// testPollWoken, tests only, runs when a parked GET wakes, before it
	// takes the session's lock again.
	testPollWoken func(c *Conn)
	// testLinger, tests only, replaces lingerTime when positive.
	testLinger time.Duration
}

// CORSSource gives the CORS settings (nil: CORS off). *CORS gives itself;
// the hub's public CORS type gives its conversion, so that the hub's
// options are handed over as they are.
type CORSSource interface{ EngineCORS() *CORS }

// EngineCORS returns c.
func (c *CORS) EngineCORS() *CORS { return c }

// CORS holds the cross-origin settings applied to polling requests.
type CORS struct {
	// Origins lists the allowed origins; "*" allows any. With Origins,
	// OriginPatterns and AllowOrigin all empty the request's origin is
	// echoed.
	Origins []string
	// OriginPatterns allow the origins they match (anywhere in the
	// Origin, as a JavaScript RegExp's test).
	OriginPatterns []*regexp.Regexp
	// AllowOrigin, when set, allows the origins for which it returns true.
	AllowOrigin func(origin string) bool
	// ExposedHeaders lists the response headers a page's script may read.
	ExposedHeaders string
	// Methods answered to preflights (GET,HEAD,PUT,PATCH,POST,DELETE).
	Methods string
	// Headers allowed in requests (the preflight's request headers).
	Headers string
	// Credentials allows cookies and authorization headers.
	Credentials bool
	// MaxAge of a preflight answer, in seconds (0: not sent).
	MaxAge int
}

func (c Config) withDefaults() Config {
	if c.PingInterval <= 0 {
		c.PingInterval = 25 * time.Second
	}
	if c.PingTimeout <= 0 {
		c.PingTimeout = 20 * time.Second
	}
	if c.UpgradeTimeout <= 0 {
		c.UpgradeTimeout = 10 * time.Second
	}
	if c.MaxPayload <= 0 {
		c.MaxPayload = 1_000_000
	}
	// A message's length must fit an int, with room to grow its buffer.
	c.MaxPayload = min(c.MaxPayload, math.MaxInt/2)
	if c.MaxBufferedBytes <= 0 {
		c.MaxBufferedBytes = 16 << 20
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.CompressThreshold == 0 {
		c.CompressThreshold = 1024
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.CheckOrigin == nil {
		c.CheckOrigin = func(*http.Request) bool { return true }
	}
	return c
}
