package hub

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
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
	v2        bool // a socket.io-client 2.x connection (see v2client.go)

	// Touched only by the connection's reading goroutine.
	pending     *sio.Packet
	pendingSize int // bytes of pending and its attachments so far
	attachments [][]byte

	mu           sync.Mutex
	sockets      socketSet
	joining      []joining // CONNECTs under way (see connect)
	closed       bool
	connectTimer *time.Timer

	// The CONNECT packets the connection may still send now, and when
	// that was counted (Options.ConnectBurst, ConnectRate).
	connectTokens float64
	connectAt     time.Time
}

func newClient(srv *Server, conn *engine.Conn, r *http.Request) *client {
	c := &client{srv: srv, conn: conn, handshake: newHandshake(r), connectTokens: float64(srv.opts.ConnectBurst)}
	c.v2 = conn.Protocol() == 3
	c.connectTimer = time.AfterFunc(srv.opts.ConnectTimeout, c.onConnectTimeout)
	return c
}

// opened starts what a new connection does before the client speaks: a
// 2.x client is connected to the main namespace at once.
func (c *client) opened() {
	if c.v2 {
		c.startConnect("/", nil)
	}
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

// joining is a socket whose CONNECT is under way, and the namespace it
// asked for.
type joining struct {
	nsp string
	s   *Socket
}

// OnMessage decodes one Engine.IO message into a Socket.IO packet, with
// binary attachments collected from the messages that follow it. It runs
// on the goroutine that reads the connection, and runs no application
// code but ack callbacks (see dispatch.go).
func (c *client) OnMessage(data []byte, binary bool) {
	if c.srv.opts.Parser == ParserMsgpack {
		c.decodeMsgpack(data, binary)
		return
	}
	if binary {
		if c.pending == nil {
			c.fail()
			return
		}
		c.attachments = append(c.attachments, data)
		c.pendingSize += len(data)
		if len(c.attachments) == c.pending.Attachments {
			p, atts, size := c.pending, c.attachments, c.pendingSize
			c.pending, c.attachments, c.pendingSize = nil, nil, 0
			c.dispatch(p, atts, size)
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
	if c.v2 {
		v2Packet(&p)
	}
	if (p.Type == sio.BinaryEvent || p.Type == sio.BinaryAck) && p.Attachments > 0 {
		pending := p // only a binary packet outlives this call: p stays on the stack
		c.pending, c.pendingSize = &pending, len(data)
		return
	}
	c.dispatch(&p, nil, len(data))
}

// fail ends the connection after a malformed packet, as the reference does.
func (c *client) fail() {
	c.mu.Lock()
	sockets := c.socketList()
	c.mu.Unlock()
	for _, s := range sockets {
		// After what the socket's runner has to do first (see later).
		if !s.later(func() { s.emitError(errMalformed) }) {
			s.emitError(errMalformed)
		}
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

func (c *client) dispatch(p *sio.Packet, atts [][]byte, size int) {
	c.mu.Lock()
	s := c.sockets.get(p.Nsp)
	busy := s != nil || c.joiningLocked(p.Nsp) >= 0
	c.mu.Unlock()
	switch p.Type {
	case sio.Connect:
		if busy {
			// The namespace is connected, or connecting.
			c.fail()
			return
		}
		if !c.mayConnect() {
			c.conn.Expire() // a polling flood must not keep its session 30 s
			return
		}
		c.startConnect(p.Nsp, p.Data)
	case sio.ConnectError:
		c.fail()
	default:
		if s == nil {
			// As the reference: a packet for a namespace the client is
			// not (yet) in ends the connection.
			c.fail()
			return
		}
		s.onPacket(p, atts, size)
	}
}

// joiningLocked returns the index of nsp's CONNECT under way, or -1.
func (c *client) joiningLocked(nsp string) int {
	for i, j := range c.joining {
		if j.nsp == nsp {
			return i
		}
	}
	return -1
}

// leaveJoining forgets the CONNECT under way of s.
func (c *client) leaveJoining(s *Socket) {
	c.mu.Lock()
	c.joining = slices.DeleteFunc(c.joining, func(j joining) bool { return j.s == s })
	c.mu.Unlock()
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

// startConnect begins a CONNECT to namespace name: the socket it makes
// runs it as its first task, off the reading goroutine, since the
// namespace lookup, the middlewares and the connect hook may wait (for a
// cluster adapter, a database, a plugin). Its later tasks — the events the
// client sends once told it is connected — wait behind it, so they find
// the listeners the connection listeners set. Meanwhile the connection is
// still read: acks and packets for its other namespaces, as in the
// reference, where the middlewares are asynchronous. A packet for name
// itself before the CONNECT reply ends the connection, as there.
func (c *client) startConnect(name string, auth []byte) {
	if auth == nil {
		auth = []byte("{}")
	} else {
		auth = append([]byte(nil), auth...)
	}
	s := &Socket{id: engine.NewID(), client: c, handshake: c.handshake}
	if c.v2 {
		s.id = v2SocketID(name, c.conn.ID())
	}
	s.handshake.Auth = json.RawMessage(auth)
	c.mu.Lock()
	c.joining = append(c.joining, joining{nsp: name, s: s})
	c.mu.Unlock()
	s.enqueue(task{fn: func() { c.connect(s, name) }})
}

// connect runs the CONNECT of s to namespace name, on the socket's runner.
func (c *client) connect(s *Socket, name string) {
	defer c.leaveJoining(s)
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		// Gone while this waited: its middlewares and hooks would run for
		// nobody (a flood of CONNECTs ends with the connection closed).
		s.endContext(errors.New("hub: connect abandoned: connection closed"))
		return
	}
	nsp, err := c.srv.resolve(name, s.handshake.Auth)
	if err == nil && nsp == nil {
		err = errInvalidNamespace
	}
	if err == nil {
		s.nsp = nsp
		nsp.prepareRecovery(s)
		err = nsp.add(s)
	}
	if err == nil {
		return
	}
	s.endContext(fmt.Errorf("hub: connect refused: %w", err))
	s.tasks.close()
	// Forgotten before the client hears the refusal: a client that tries
	// again at once must not find this CONNECT still under way.
	c.leaveJoining(s)
	payload := invalidNamespace
	switch {
	case err == errInvalidNamespace:
	case c.v2:
		payload = v2ConnectErrorPayload(err)
	default:
		payload = connectErrorPayload(err)
	}
	c.conn.Send(encodeControl(c.srv.opts.Parser, sio.ConnectError, name, payload), false)
}

var errInvalidNamespace = errors.New("hub: invalid namespace")

// attach records a socket that completed its connection; it fails when the
// connection closed meanwhile.
func (c *client) attach(s *Socket) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	// From joining to connected in one step: no packet for the namespace
	// finds it in neither.
	c.joining = slices.DeleteFunc(c.joining, func(j joining) bool { return j.s == s })
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
// The contexts of sockets still connecting end too, so that a connect hook
// waiting on their behalf gives up; their connect then fails (attach).
func (c *client) OnClose(reason string) {
	c.mu.Lock()
	c.closed = true
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	sockets := c.socketList()
	var connecting []*Socket
	for _, j := range c.joining {
		connecting = append(connecting, j.s)
	}
	c.mu.Unlock()
	for _, s := range connecting {
		s.endContext(disconnected(DisconnectReason(reason)))
	}
	for _, s := range sockets {
		s.onClose(DisconnectReason(reason))
	}
}
