package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Client is one Socket.IO client on namespace "/" over a WebSocket-only
// Engine.IO session. After Dial and optional Join calls (synchronous, before
// Start), one reader goroutine per client answers pings and hands every
// Socket.IO event and ack frame to the handler. Writes may come from any
// goroutine.
type Client struct {
	conn      *websocket.Conn
	timeout   time.Duration
	joinEvent string // event Join emits: "join" (bench contract) or "hub:join"

	wmu sync.Mutex // serialises writes: gorilla allows one writer at a time

	buf     []byte // reused read buffer, owned by the reading goroutine
	started bool
	closing atomic.Bool
	cut     atomic.Bool // the sending side is shut: pings go unanswered
	done    chan struct{}
	err     error // why the reader stopped; valid after done is closed
	dropped bool  // the reader stopped before Close; valid after done

	reply       []byte    // payload of the server's CONNECT reply
	connectSent time.Time // when the CONNECT packet was written
}

// Handler receives every Socket.IO frame (Engine.IO message, starting with
// "4") other than a DISCONNECT: in practice events "42…" and acks "43…". It
// runs on the client's reader goroutine and must not retain frame.
type Handler func(frame []byte)

// Dialer opens clients against one server.
type Dialer struct {
	url     string
	timeout time.Duration
	ws      websocket.Dialer

	// auth is the JSON object sent in the Socket.IO CONNECT packet
	// (`40{...}`); nil sends a bare `40`.
	auth []byte
	// joinEvent is the event Client.Join emits ("join" when empty).
	joinEvent string
	// tap records what each client reads (see tapConn) when set.
	tap bool
}

// newDialer returns a Dialer for the Engine.IO endpoint wsURL. timeout bounds
// the TCP connect, the WebSocket handshake, the Socket.IO connect, each join,
// and each write.
func newDialer(wsURL string, timeout time.Duration) *Dialer {
	return &Dialer{
		url:     wsURL,
		timeout: timeout,
		ws: websocket.Dialer{
			NetDialContext:   (&net.Dialer{Timeout: timeout}).DialContext,
			HandshakeTimeout: timeout,
			ReadBufferSize:   4096,
			WriteBufferSize:  4096,
			WriteBufferPool:  &sync.Pool{},
		},
	}
}

// Dial opens a WebSocket, reads the Engine.IO open packet, connects to
// namespace "/" (with the auth payload, if any) and waits for the CONNECT
// reply.
func (d *Dialer) Dial(ctx context.Context) (*Client, error) {
	return d.DialWith(ctx, d.auth, nil)
}

// DialWith is Dial with the CONNECT auth given here (nil sends a bare `40`)
// instead of the dialer's, and with early, when not nil, called on the
// dialing goroutine for every event frame that arrives before the CONNECT
// reply (a recovering server may send what the client missed first).
func (d *Dialer) DialWith(ctx context.Context, auth []byte, early Handler) (*Client, error) {
	ws := d.ws
	if d.tap {
		dial := ws.NetDialContext
		ws.NetDialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
			c, err := dial(ctx, network, addr)
			if err != nil {
				return nil, err
			}
			return &tapConn{Conn: c}, nil
		}
	}
	conn, resp, err := ws.DialContext(ctx, d.url, nil)
	if err != nil {
		if resp != nil {
			err = fmt.Errorf("websocket handshake refused: HTTP %d", resp.StatusCode)
		}
		return nil, inStage("dial", err)
	}
	joinEvent := d.joinEvent
	if joinEvent == "" {
		joinEvent = "join"
	}
	c := &Client{conn: conn, timeout: d.timeout, joinEvent: joinEvent, done: make(chan struct{})}
	conn.SetReadDeadline(time.Now().Add(d.timeout))
	open, err := c.read()
	if err == nil && (len(open) == 0 || open[0] != eioOpen) {
		err = fmt.Errorf("unexpected frame %q", clip(open))
	}
	if err != nil {
		conn.Close()
		return nil, inStage("open", err)
	}
	c.connectSent = time.Now()
	err = c.Write(appendConnect(nil, auth))
	var reply []byte
	if err == nil {
		reply, err = c.await(func(f []byte) bool {
			if sioType(f) == sioConnect {
				return true
			}
			if early != nil && sioType(f) == sioEvent {
				early(f)
			}
			return false
		})
	}
	if err != nil {
		conn.Close()
		return nil, inStage("connect", err)
	}
	c.reply = bytes.Clone(reply[2:])
	conn.SetReadDeadline(time.Time{})
	return c, nil
}

// ConnectReply returns the payload of the server's CONNECT reply, e.g.
// `{"sid":"..."}`, or `{"sid":"...","pid":"..."}` from a server with
// connection state recovery.
func (c *Client) ConnectReply() []byte { return c.reply }

// ConnectSent returns when the client wrote its CONNECT packet.
func (c *Client) ConnectSent() time.Time { return c.connectSent }

// Join emits join(room) (or hub:join(room) under the hubd contract) with
// ack id 0 and waits for the ack, whatever its arguments. It must be called
// before Start.
func (c *Client) Join(room string) error {
	frame := appendEmit(nil, 0, c.joinEvent)
	frame = append(appendString(frame, room), ']')
	if err := c.Call(frame, 0); err != nil {
		return inStage("join", err)
	}
	return nil
}

// Call writes frame, an emit asking for ack id, and waits up to the
// client's timeout for that ack, whatever its arguments. Like Join, it must
// be called before Start.
func (c *Client) Call(frame []byte, id uint64) error {
	c.conn.SetReadDeadline(time.Now().Add(c.timeout))
	defer c.conn.SetReadDeadline(time.Time{})
	if err := c.Write(frame); err != nil {
		return err
	}
	_, err := c.await(func(f []byte) bool {
		got, _, ok := parseAck(f)
		return ok && got == id
	})
	return err
}

// await reads frames, answering pings, until match accepts one. A CONNECT
// error or a close from the server ends the wait with an error.
func (c *Client) await(match func([]byte) bool) ([]byte, error) {
	for {
		f, err := c.read()
		if err != nil {
			return nil, err
		}
		switch {
		case match(f):
			return f, nil
		case len(f) == 1 && f[0] == eioPing:
			if err := c.Write([]byte{eioPong}); err != nil {
				return nil, err
			}
		case sioType(f) == sioConnectError:
			return nil, fmt.Errorf("refused: %q", clip(f))
		case len(f) > 0 && f[0] == eioClose, sioType(f) == sioDisconnect:
			return nil, errors.New("closed by server")
		}
	}
}

// Start launches the reader goroutine. h may be nil when the caller expects
// no events; pings are answered either way.
func (c *Client) Start(h Handler) {
	c.started = true
	go c.readLoop(h)
}

func (c *Client) readLoop(h Handler) {
	defer func() {
		c.dropped = !c.closing.Load()
		close(c.done)
	}()
	for {
		f, err := c.read()
		if err != nil {
			c.err = err
			return
		}
		switch {
		case len(f) == 0:
		case f[0] == eioPing:
			if c.cut.Load() {
				continue // the sending side is shut
			}
			if err := c.Write([]byte{eioPong}); err != nil {
				c.err = err
				return
			}
		case f[0] == eioClose, sioType(f) == sioDisconnect:
			c.err = errors.New("closed by server")
			return
		case h != nil && f[0] == eioMessage:
			h(f)
		}
	}
}

// read returns the next text frame in the reused buffer; binary frames are
// skipped (the bench contract never sends any).
func (c *Client) read() ([]byte, error) {
	for {
		typ, r, err := c.conn.NextReader()
		if err != nil {
			return nil, err
		}
		if typ != websocket.TextMessage {
			if _, err := io.Copy(io.Discard, r); err != nil {
				return nil, err
			}
			continue
		}
		c.buf = c.buf[:0]
		for {
			if len(c.buf) == cap(c.buf) {
				c.buf = append(c.buf, 0)[:len(c.buf)]
			}
			n, err := r.Read(c.buf[len(c.buf):cap(c.buf)])
			c.buf = c.buf[:len(c.buf)+n]
			if err == io.EOF {
				return c.buf, nil
			}
			if err != nil {
				return nil, err
			}
		}
	}
}

// Write sends one text frame, bounded by the client's timeout.
func (c *Client) Write(frame []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.conn.SetWriteDeadline(time.Now().Add(c.timeout))
	return c.conn.WriteMessage(websocket.TextMessage, frame)
}

// Close closes the connection and, when the reader was started, waits for
// it to stop.
func (c *Client) Close() {
	c.closing.Store(true)
	c.conn.Close()
	if c.started {
		<-c.done
	}
}

// Cut ends the connection as a network failure the peer notices would: it
// shuts the sending side of the TCP connection (the FIN that close(2)
// sends) with no WebSocket close frame and no Engine.IO close packet, so
// that the server sees the transport end without a goodbye. Then it waits,
// up to the client's timeout, for the server to close its side, which it
// does once it has seen the end, and closes the client. It reports whether
// the server closed within the timeout. The reader must have been started.
func (c *Client) Cut() bool {
	c.closing.Store(true)
	c.cut.Store(true)
	defer c.Close()
	hc, ok := c.conn.NetConn().(interface{ CloseWrite() error })
	if !ok || hc.CloseWrite() != nil {
		return false
	}
	t := time.NewTimer(c.timeout)
	defer t.Stop()
	select {
	case <-c.done:
		return true
	case <-t.C:
		return false
	}
}

// Done is closed when the reader goroutine stops.
func (c *Client) Done() <-chan struct{} { return c.done }

// Dropped reports whether the reader stopped before Close was called, i.e.
// the server or the network ended the session. Call it after Done.
func (c *Client) Dropped() bool { return c.dropped }

// Err is the reason the reader stopped; valid after Done is closed.
func (c *Client) Err() error { return c.err }

// clip shortens a frame for an error message.
func clip(f []byte) []byte {
	const n = 60
	if len(f) > n {
		return append(bytes.Clone(f[:n]), "..."...)
	}
	return f
}
