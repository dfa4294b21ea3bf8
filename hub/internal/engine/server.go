package engine

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
)

// Server is an Engine.IO server. It is an http.Handler for the requests of
// its path; the caller routes them to it.
type Server struct {
	cfg  Config
	cors *CORS // from cfg.CORS; nil: off

	mu       sync.RWMutex
	sessions map[string]*Conn
	// Set by Drain, under mu (see shutdown.go).
	drainReason string
	drained     chan struct{} // closed once draining with no session left
	drainedDone bool          // drained is closed

	draining atomic.Bool   // Drain was called: handshakes are refused
	panics   atomic.Uint64 // see PanicsRecovered

	deflate *deflater // per-message compression (deflate.go); nil: off

	inline  inlineWatch   // see inline.go
	writers *writerPool   // see writers.go
	traffic serverTraffic // see Traffic
}

// readBufferSize is the WebSocket read buffer of a session. Larger frames
// are read through it in pieces.
const readBufferSize = 512

// NewServer returns a server with cfg; zero fields take their defaults.
func NewServer(cfg Config) *Server {
	cfg = cfg.withDefaults()
	s := &Server{cfg: cfg, sessions: make(map[string]*Conn), drained: make(chan struct{}), writers: newWriterPool(0)}
	if cfg.CORS != nil {
		s.cors = cfg.CORS.EngineCORS()
	}
	s.deflate = newDeflater(cfg.PerMessageDeflate)
	return s
}

// Config returns the server's configuration, defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// Len returns the number of open sessions.
func (s *Server) Len() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return len(s.sessions)
}

// SlowWrites returns how many writes of the writer pool found a client's
// socket buffer full and left the rest to a goroutine of that session's
// own (see writers.go).
func (s *Server) SlowWrites() uint64 { return s.writers.handoffs.Load() }

// PanicsRecovered returns how many panics the server has recovered on its
// sessions' goroutines, each of which closed its session (see recoverPanic).
func (s *Server) PanicsRecovered() uint64 { return s.panics.Load() }

// CloseAll closes every session from the server side.
func (s *Server) CloseAll() {
	s.mu.RLock()
	all := make([]*Conn, 0, len(s.sessions))
	for _, c := range s.sessions {
		all = append(all, c)
	}
	s.mu.RUnlock()
	for _, c := range all {
		c.Close()
	}
}

func (s *Server) lookup(id string) *Conn {
	s.mu.RLock()
	c := s.sessions[id]
	s.mu.RUnlock()
	return c
}

func (s *Server) remove(c *Conn) {
	s.mu.Lock()
	if s.sessions[c.id] == c {
		delete(s.sessions, c.id)
	}
	s.noteDrainedLocked()
	s.mu.Unlock()
}

// ServeHTTP serves one Engine.IO request, checking it in the reference
// server's order: CORS, transport, session, method, upgrade, AllowRequest,
// version.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// The reference runs CORS as a middleware before any check, so a
	// preflight is answered whatever its query and error answers carry the
	// headers too (a browser can read them).
	if s.cors != nil {
		if s.applyCORS(w, r) {
			return
		}
	}
	q := r.URL.Query()
	if s.draining.Load() && q.Get("sid") == "" {
		s.refuseDraining(w, r)
		return
	}
	transport := q.Get("transport")
	switch {
	case transport == "polling" && !s.cfg.DisablePolling:
	case transport == "websocket" && !s.cfg.DisableWebSocket:
	default:
		s.refuse(w, r, codeUnknownTransport, "", map[string]any{"transport": transport})
		return
	}
	isUpgrade := isWebSocketUpgrade(r)
	if sid := q.Get("sid"); sid != "" {
		c := s.lookup(sid)
		if c == nil {
			s.refuse(w, r, codeUnknownSID, "", map[string]any{"sid": sid})
			return
		}
		if (q.Get("EIO") == "4") != (c.v3 == nil) {
			// A session keeps its protocol revision (the reference's
			// PROTOCOL_MISMATCH).
			s.refuse(w, r, codeBadRequest, "", map[string]any{"name": "PROTOCOL_MISMATCH"})
			return
		}
		if transport == "websocket" {
			if !isUpgrade {
				s.refuse(w, r, codeBadRequest, "", transportMismatch(transport, c))
				return
			}
			s.serveUpgrade(c, w, r)
			return
		}
		if c.Transport() != "polling" {
			s.refuse(w, r, codeBadRequest, "", transportMismatch(transport, c))
			return
		}
		defer c.recoverRequest()
		switch r.Method {
		case http.MethodGet:
			c.serveGet(w, r)
		case http.MethodPost:
			c.servePost(w, r)
		default:
			w.WriteHeader(http.StatusInternalServerError)
		}
		return
	}
	if r.Method != http.MethodGet {
		s.refuse(w, r, codeBadHandshakeMethod, "", map[string]any{"method": r.Method})
		return
	}
	if transport == "websocket" && !isUpgrade {
		s.refuse(w, r, codeBadRequest, "", map[string]any{"name": "TRANSPORT_HANDSHAKE_ERROR"})
		return
	}
	if s.cfg.AllowRequest != nil {
		if err := s.cfg.AllowRequest(r); err != nil {
			s.refuse(w, r, codeForbidden, err.Error(), map[string]any{"message": err.Error()})
			return
		}
	}
	var v3 *eio3
	if q.Get("EIO") != "4" {
		// The reference takes any revision but 4 for 3, which it refuses
		// unless allowEIO3 is set.
		if !s.cfg.AllowEIO3 {
			s.refuse(w, r, codeUnsupportedVersion, "", map[string]any{"protocol": 3})
			return
		}
		// The reference reads any non-empty b64 as set.
		v3 = &eio3{b64: q.Get("b64") != ""}
	}
	if transport == "websocket" {
		s.serveWebSocket(w, r, v3)
		return
	}
	s.servePollingHandshake(w, r, v3)
}

// newConn makes a session with its open packet queued. It is not yet in
// the server's table: publish puts it there once it is fully set up, so
// that nothing (CloseAll, a request naming its id) reaches a half-built
// session.
func (s *Server) newConn(upgrades bool, v3 *eio3) *Conn {
	c := &Conn{srv: s, v3: v3}
	s.mu.RLock()
	for {
		// 120 random bits: the check against live sessions is a formality.
		c.id = NewID()
		if _, taken := s.sessions[c.id]; !taken {
			break
		}
	}
	s.mu.RUnlock()
	c.queue = append(c.queue, s.openFrame(c.id, upgrades))
	return c
}

// publish adds a set-up session to the server's table, unless it already
// ended (OnConnection may close it). A session whose handshake began before
// Drain and ends after it is closed like the others, once its open packet
// is out.
func (s *Server) publish(c *Conn) {
	c.mu.Lock()
	if c.state == stateClosed {
		c.mu.Unlock()
		return
	}
	s.mu.Lock()
	s.sessions[c.id] = c
	draining := s.draining.Load()
	s.mu.Unlock()
	c.mu.Unlock()
	s.traffic.opened.Add(1)
	if draining {
		c.Close()
	}
}

func (s *Server) openFrame(id string, upgrades bool) Frame {
	b := make([]byte, 0, 128)
	b = append(b, `0{"sid":"`...)
	b = append(b, id...)
	if upgrades {
		b = append(b, `","upgrades":["websocket"],"pingInterval":`...)
	} else {
		b = append(b, `","upgrades":[],"pingInterval":`...)
	}
	b = strconv.AppendInt(b, s.cfg.PingInterval.Milliseconds(), 10)
	b = append(b, `,"pingTimeout":`...)
	b = strconv.AppendInt(b, s.cfg.PingTimeout.Milliseconds(), 10)
	b = append(b, `,"maxPayload":`...)
	b = strconv.AppendInt(b, s.cfg.MaxPayload, 10)
	b = append(b, '}')
	return Frame{Data: b}
}

func (s *Server) servePollingHandshake(w http.ResponseWriter, r *http.Request, v3 *eio3) {
	upgrades := !s.cfg.DisableUpgrades && !s.cfg.DisableWebSocket
	c := s.newConn(upgrades, v3)
	defer c.recoverRequest()
	if s.cfg.OnConnection != nil {
		s.cfg.OnConnection(c, r)
	}
	s.publish(c)
	c.startHeartbeat()
	if s.cfg.InitialHeaders != nil {
		// Before the response's own headers (set by serveGet, then
		// Headers), as the reference emits initial_headers before headers.
		s.cfg.InitialHeaders(w.Header(), r)
	}
	c.serveGet(w, r)
}

// applyCORS sets the CORS headers; it reports whether the request was a
// preflight and has been answered.
func (s *Server) applyCORS(w http.ResponseWriter, r *http.Request) bool {
	cors := s.cors
	origin := r.Header.Get("Origin")
	h := w.Header()
	allowed := ""
	switch {
	case len(cors.Origins) == 0 && len(cors.OriginPatterns) == 0 && cors.AllowOrigin == nil:
		allowed = origin
	default:
		for _, o := range cors.Origins {
			if o == "*" {
				allowed = "*"
				if cors.Credentials && origin != "" {
					allowed = origin
				}
				break
			}
			if o == origin {
				allowed = origin
				break
			}
		}
		if allowed == "" && origin != "" {
			for _, re := range cors.OriginPatterns {
				if re.MatchString(origin) {
					allowed = origin
					break
				}
			}
		}
		if allowed == "" && origin != "" && cors.AllowOrigin != nil && cors.AllowOrigin(origin) {
			allowed = origin
		}
	}
	if allowed != "" {
		h.Set("Access-Control-Allow-Origin", allowed)
	}
	if allowed != "*" {
		h.Add("Vary", "Origin")
	}
	if cors.Credentials {
		h.Set("Access-Control-Allow-Credentials", "true")
	}
	if cors.ExposedHeaders != "" {
		h.Set("Access-Control-Expose-Headers", cors.ExposedHeaders)
	}
	if r.Method != http.MethodOptions {
		return false
	}
	methods := cors.Methods
	if methods == "" {
		methods = "GET,HEAD,PUT,PATCH,POST,DELETE"
	}
	h.Set("Access-Control-Allow-Methods", methods)
	headers := cors.Headers
	if headers == "" {
		headers = r.Header.Get("Access-Control-Request-Headers")
		h.Add("Vary", "Access-Control-Request-Headers")
	}
	if headers != "" {
		h.Set("Access-Control-Allow-Headers", headers)
	}
	if cors.MaxAge > 0 {
		h.Set("Access-Control-Max-Age", strconv.Itoa(cors.MaxAge))
	}
	h.Set("Content-Length", "0")
	w.WriteHeader(http.StatusNoContent)
	return true
}
