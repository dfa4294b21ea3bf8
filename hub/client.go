package hub

import (
	"encoding/json"
	"net/http"
	"sync"
	"time"

	"github.com/hubd/hubd/hub/internal/engine"
	"github.com/hubd/hubd/hub/internal/sio"
)

// client is one Engine.IO connection and the sockets it opened, one per
// namespace.
type client struct {
	srv       *Server
	conn      *engine.Conn
	handshake Handshake

	// Touched only by the connection's reading goroutine.
	pending     *sio.Packet
	attachments [][]byte

	mu           sync.Mutex
	sockets      socketSet
	closed       bool
	connectTimer *time.Timer

	// The CONNECT packets the connection may still send now, and when
	// that was counted (Options.ConnectBurst, ConnectRate).
	connectTokens float64
	connectAt     time.Time
}

func newClient(srv *Server, conn *engine.Conn, r *http.Request) *client {
	c := &client{srv: srv, conn: conn, handshake: newHandshake(r), connectTokens: float64(srv.opts.ConnectBurst)}
	c.connectTimer = time.AfterFunc(srv.opts.ConnectTimeout, c.onConnectTimeout)
	return c
}

// onConnectTimeout closes a connection that joined no namespace in time.
func (c *client) onConnectTimeout() {
	defer c.srv.recoverPanic("the connect timer", c)
	c.mu.Lock()
	idle := c.sockets.len() == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.conn.Expire()
	}
}

// OnMessage decodes one Engine.IO message into a Socket.IO packet, with
// binary attachments collected from the messages that follow it.
func (c *client) OnMessage(data []byte, binary bool) {
	if binary {
		if c.pending == nil {
			c.fail()
			return
		}
		c.attachments = append(c.attachments, data)
		if len(c.attachments) == c.pending.Attachments {
			p, atts := c.pending, c.attachments
			c.pending, c.attachments = nil, nil
			c.dispatch(p, atts)
		}
		return
	}
	if c.pending != nil {
		c.fail()
		return
	}
	p, err := sio.Decode(data, c.srv.opts.MaxAttachments)
	if err != nil {
		c.fail()
		return
	}
	if (p.Type == sio.BinaryEvent || p.Type == sio.BinaryAck) && p.Attachments > 0 {
		c.pending = &p
		return
	}
	c.dispatch(&p, nil)
}

// fail ends the connection after a malformed packet, as the reference does.
func (c *client) fail() {
	c.mu.Lock()
	sockets := c.socketList()
	c.mu.Unlock()
	for _, s := range sockets {
		s.emitError(errMalformed)
	}
	c.conn.Close()
}

var errMalformed = &malformedError{}

type malformedError struct{}

func (*malformedError) Error() string { return "hub: malformed packet, connection closed" }

func (c *client) socketList() []*Socket {
	out := make([]*Socket, 0, c.sockets.len())
	if c.sockets.one != nil {
		out = append(out, c.sockets.one)
	}
	for _, s := range c.sockets.more {
		out = append(out, s)
	}
	return out
}

// socketSet is a connection's sockets by namespace name. Most connections
// use one namespace, which then costs no map.
type socketSet struct {
	one  *Socket
	more map[string]*Socket
}

func (ss *socketSet) get(nsp string) *Socket {
	if ss.one != nil && ss.one.nsp.name == nsp {
		return ss.one
	}
	return ss.more[nsp]
}

// put adds s, replacing a socket of the same namespace.
func (ss *socketSet) put(s *Socket) {
	name := s.nsp.name
	switch {
	case ss.one != nil && ss.one.nsp.name == name:
		ss.one = s
	case ss.one == nil && ss.more[name] == nil:
		ss.one = s
	default:
		if ss.more == nil {
			ss.more = make(map[string]*Socket, 1)
		}
		ss.more[name] = s
	}
}

// del removes s if it is the socket of its namespace.
func (ss *socketSet) del(s *Socket) {
	if ss.one == s {
		ss.one = nil
		return
	}
	if ss.more[s.nsp.name] == s {
		delete(ss.more, s.nsp.name)
	}
}

func (ss *socketSet) len() int {
	n := len(ss.more)
	if ss.one != nil {
		n++
	}
	return n
}

func (c *client) dispatch(p *sio.Packet, atts [][]byte) {
	c.mu.Lock()
	s := c.sockets.get(p.Nsp)
	c.mu.Unlock()
	switch p.Type {
	case sio.Connect:
		if s != nil {
			c.fail()
			return
		}
		if !c.mayConnect() {
			c.conn.Expire() // a polling flood must not keep its session 30 s
			return
		}
		c.connect(p.Nsp, p.Data)
	case sio.ConnectError:
		c.fail()
	default:
		if s == nil {
			c.fail()
			return
		}
		s.onPacket(p, atts)
	}
}

// mayConnect takes one CONNECT from the connection's allowance: a token
// bucket of Options.ConnectBurst tokens refilled at ConnectRate a second.
func (c *client) mayConnect() bool {
	burst := float64(c.srv.opts.ConnectBurst)
	if burst < 0 {
		return true
	}
	now := time.Now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.connectAt.IsZero() {
		c.connectTokens = min(burst, c.connectTokens+now.Sub(c.connectAt).Seconds()*c.srv.opts.ConnectRate)
	}
	c.connectAt = now
	if c.connectTokens < 1 {
		return false
	}
	c.connectTokens--
	return true
}

var invalidNamespace = []byte(`{"message":"Invalid namespace"}`)

func (c *client) connect(name string, auth []byte) {
	if auth == nil {
		auth = []byte("{}")
	} else {
		auth = append([]byte(nil), auth...)
	}
	nsp, err := c.srv.resolve(name, auth)
	if err != nil {
		c.conn.Send(encodeControl(sio.ConnectError, name, connectErrorPayload(err)), false)
		return
	}
	if nsp == nil {
		c.conn.Send(encodeControl(sio.ConnectError, name, invalidNamespace), false)
		return
	}
	s := &Socket{id: engine.NewID(), nsp: nsp, client: c, handshake: c.handshake}
	s.handshake.Auth = json.RawMessage(auth)
	if err := nsp.add(s); err != nil {
		c.conn.Send(encodeControl(sio.ConnectError, name, connectErrorPayload(err)), false)
	}
}

// attach records a socket that completed its connection; it fails when the
// connection closed meanwhile.
func (c *client) attach(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.sockets.put(s)
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	return true
}

func (c *client) remove(s *Socket) {
	c.mu.Lock()
	c.sockets.del(s)
	c.mu.Unlock()
}

// disconnectAll disconnects every socket, telling the client, then closes
// the connection.
func (c *client) disconnectAll() {
	c.mu.Lock()
	sockets := c.socketList()
	c.mu.Unlock()
	for _, s := range sockets {
		s.Disconnect(false)
	}
	c.conn.Close()
}

// OnClose ends every socket of the connection with the engine's reason.
func (c *client) OnClose(reason string) {
	c.mu.Lock()
	c.closed = true
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	sockets := c.socketList()
	c.mu.Unlock()
	for _, s := range sockets {
		s.onClose(DisconnectReason(reason))
	}
}
