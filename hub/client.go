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
	sockets      map[string]*Socket // by namespace name
	closed       bool
	connectTimer *time.Timer
}

func newClient(srv *Server, conn *engine.Conn, r *http.Request) *client {
	c := &client{srv: srv, conn: conn, handshake: newHandshake(r)}
	c.connectTimer = time.AfterFunc(srv.opts.ConnectTimeout, c.onConnectTimeout)
	return c
}

// onConnectTimeout closes a connection that joined no namespace in time.
func (c *client) onConnectTimeout() {
	c.mu.Lock()
	idle := len(c.sockets) == 0 && !c.closed
	c.mu.Unlock()
	if idle {
		c.conn.Close()
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
	out := make([]*Socket, 0, len(c.sockets))
	for _, s := range c.sockets {
		out = append(out, s)
	}
	return out
}

func (c *client) dispatch(p *sio.Packet, atts [][]byte) {
	c.mu.Lock()
	s := c.sockets[p.Nsp]
	c.mu.Unlock()
	switch p.Type {
	case sio.Connect:
		if s != nil {
			c.fail()
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

var invalidNamespace = []byte(`{"message":"Invalid namespace"}`)

func (c *client) connect(name string, auth []byte) {
	if auth == nil {
		auth = []byte("{}")
	} else {
		auth = append([]byte(nil), auth...)
	}
	nsp := c.srv.resolve(name, auth)
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
	if c.sockets == nil {
		c.sockets = make(map[string]*Socket, 1)
	}
	c.sockets[s.nsp.name] = s
	if c.connectTimer != nil {
		c.connectTimer.Stop()
		c.connectTimer = nil
	}
	return true
}

func (c *client) remove(s *Socket) {
	c.mu.Lock()
	if c.sockets[s.nsp.name] == s {
		delete(c.sockets, s.nsp.name)
	}
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
