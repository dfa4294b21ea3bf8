// Package testclient is a minimal Socket.IO v5 (Engine.IO v4) client for
// tests, written apart from the server's codecs so that it checks them
// rather than mirrors them.
//
// A Client speaks WebSocket (the default) or long-polling, answers the
// server's pings (unless told not to) and keeps every Socket.IO packet it
// receives, binary attachments included, in an inbox that tests read with
// Next, NextEvent and Wait, each bounded by a timeout. Packets that a Wait
// does not match stay in the inbox, in order.
//
//	c, err := testclient.Dial(srv.URL, "/socket.io/")
//	sid, err := c.Connect("/", map[string]any{"token": "x"})
//	err = c.Emit("/", "chat", "hi", []byte{1, 2})
//	p, err := c.NextEvent("/", time.Second)
//	c.Close()
//
// It is a test tool: no reconnection, no upgrade from polling.
package testclient

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"
)

// Socket.IO packet types.
const (
	Connect      = 0
	Disconnect   = 1
	Event        = 2
	Ack          = 3
	ConnectError = 4
	BinaryEvent  = 5
	BinaryAck    = 6
)

// NoID is the ID of a packet that carries no ack id.
const NoID = -1

// DefaultTimeout bounds Connect and EmitWithAck (and the dial and Close);
// no test waits it out, so it is long enough for a loaded machine.
const DefaultTimeout = 20 * time.Second

// Errors returned by the client.
var (
	// ErrTimeout reports that nothing matching arrived in time.
	ErrTimeout = errors.New("testclient: timeout")
	// ErrClosed reports that the connection ended (the inbox holds nothing
	// matching).
	ErrClosed = errors.New("testclient: connection closed")
)

// Packet is one Socket.IO packet received from the server.
type Packet struct {
	Type int
	Nsp  string // "/" when absent
	ID   int64  // NoID when absent
	// Data is the JSON payload (nil when there is none).
	Data json.RawMessage
	// Event is the event name of an EVENT or BINARY_EVENT (a numeric name
	// in its JSON form).
	Event string
	// Args are the event's arguments after the name, or an ack's arguments.
	Args []json.RawMessage
	// Attachments are the binary messages that followed the packet.
	Attachments [][]byte
	// Text is the Engine.IO message as received, "4" prefix included
	// (e.g. `42["hi"]`, `44/x,{"message":"Invalid namespace"}`).
	Text string
}

// Arg decodes argument i into dst with encoding/json; a *[]byte receives
// the attachment of a binary placeholder.
func (p *Packet) Arg(i int, dst any) error {
	if i < 0 || i >= len(p.Args) {
		return fmt.Errorf("testclient: no argument %d in %s", i, p.Text)
	}
	if b, ok := dst.(*[]byte); ok {
		var ph struct {
			Placeholder bool `json:"_placeholder"`
			Num         int  `json:"num"`
		}
		if json.Unmarshal(p.Args[i], &ph) == nil && ph.Placeholder {
			if ph.Num < 0 || ph.Num >= len(p.Attachments) {
				return fmt.Errorf("testclient: placeholder %d out of range", ph.Num)
			}
			*b = p.Attachments[ph.Num]
			return nil
		}
	}
	return json.Unmarshal(p.Args[i], dst)
}

// Str returns argument i decoded as a string ("" when it is not one).
func (p *Packet) Str(i int) string {
	var s string
	_ = p.Arg(i, &s)
	return s
}

// ConnectRefused is the server's refusal of a namespace (CONNECT_ERROR).
type ConnectRefused struct {
	Payload json.RawMessage // the whole payload, as sent
	Message string
	Data    json.RawMessage // nil when absent
}

func (e *ConnectRefused) Error() string { return "connect_error: " + string(e.Payload) }

// Open is the server's Engine.IO handshake.
type Open struct {
	SID          string   `json:"sid"`
	Upgrades     []string `json:"upgrades"`
	PingInterval int      `json:"pingInterval"`
	PingTimeout  int      `json:"pingTimeout"`
	MaxPayload   int      `json:"maxPayload"`
}

// Options change how Dial connects.
type Options struct {
	// Polling uses HTTP long-polling instead of WebSocket.
	Polling bool
	// NoPong leaves the server's pings unanswered.
	NoPong bool
	// Query is added to the handshake's query string.
	Query url.Values
	// Header is sent with the handshake request.
	Header http.Header
}

// Client is one Engine.IO connection and its Socket.IO packets. Its methods
// are safe for concurrent use.
type Client struct {
	open Open
	opts Options
	tr   transport

	sendMu sync.Mutex
	ackMu  sync.Mutex
	nextID int64
	pings  atomic.Int64

	mu      sync.Mutex
	inbox   []*Packet
	changed chan struct{} // closed and replaced on every change
	partial *Packet       // a binary packet waiting for attachments
	missing int
	err     error // why the connection ended

	done     chan struct{} // closed once the connection ended
	doneOnce sync.Once
	readDone chan struct{} // closed when the reading goroutine returned
}

// transport carries Engine.IO packets.
type transport interface {
	// send writes Engine.IO packets together, in order.
	send(pkts []eioPacket) error
	// read returns the next batch of received packets.
	read() ([]eioPacket, error)
	// close ends the connection from the client side.
	close() error
}

type eioPacket struct {
	binary bool
	data   []byte // text: type digit and data; binary: the raw message
}

// Dial connects to the server at baseURL (http://host:port) under path
// (e.g. "/socket.io/") over WebSocket.
func Dial(baseURL, path string) (*Client, error) { return DialOptions(baseURL, path, Options{}) }

// DialOptions connects with options.
func DialOptions(baseURL, path string, o Options) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, err
	}
	u.Path = path
	q := url.Values{}
	for k, v := range o.Query {
		q[k] = v
	}
	q.Set("EIO", "4")
	c := &Client{opts: o, changed: make(chan struct{}), done: make(chan struct{}), readDone: make(chan struct{})}
	var first eioPacket
	if o.Polling {
		q.Set("transport", "polling")
		u.RawQuery = q.Encode()
		c.tr, first, err = dialPolling(u, o.Header)
	} else {
		q.Set("transport", "websocket")
		u.RawQuery = q.Encode()
		switch u.Scheme {
		case "http":
			u.Scheme = "ws"
		case "https":
			u.Scheme = "wss"
		}
		c.tr, first, err = dialWebSocket(u.String(), o.Header)
	}
	if err != nil {
		return nil, err
	}
	if first.binary || len(first.data) == 0 || first.data[0] != '0' {
		c.tr.close()
		return nil, fmt.Errorf("testclient: expected an open packet, got %q", first.data)
	}
	if err := json.Unmarshal(first.data[1:], &c.open); err != nil {
		c.tr.close()
		return nil, fmt.Errorf("testclient: open packet: %w", err)
	}
	if p, ok := c.tr.(*pollingTransport); ok {
		p.sid = c.open.SID
	}
	go c.readLoop()
	return c, nil
}

// Open returns the Engine.IO handshake.
func (c *Client) Open() Open { return c.open }

// Pings returns how many pings the server has sent so far.
func (c *Client) Pings() int64 { return c.pings.Load() }

// SID returns the Engine.IO session id.
func (c *Client) SID() string { return c.open.SID }

func (c *Client) readLoop() {
	defer close(c.readDone)
	for {
		pkts, err := c.tr.read()
		for _, p := range pkts {
			if !c.handle(p) {
				c.finish(nil)
				return
			}
		}
		if err != nil {
			c.finish(err)
			return
		}
	}
}

// handle processes one Engine.IO packet; false ends the connection.
func (c *Client) handle(p eioPacket) bool {
	if p.binary {
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.partial == nil {
			c.err = errors.New("testclient: unexpected binary message")
			return false
		}
		c.partial.Attachments = append(c.partial.Attachments, p.data)
		if c.missing--; c.missing == 0 {
			c.pushLocked(c.partial)
			c.partial = nil
		}
		return true
	}
	if len(p.data) == 0 {
		return true
	}
	switch p.data[0] {
	case '1': // close
		return false
	case '2': // ping
		c.pings.Add(1)
		if !c.opts.NoPong {
			_ = c.send([]eioPacket{{data: append([]byte("3"), p.data[1:]...)}})
		}
		return true
	case '4':
		pkt, err := parsePacket(string(p.data))
		c.mu.Lock()
		defer c.mu.Unlock()
		if err != nil {
			c.err = err
			return false
		}
		if n := len(pkt.Attachments); n > 0 {
			c.partial, c.missing = pkt, n
			pkt.Attachments = pkt.Attachments[:0]
			return true
		}
		c.pushLocked(pkt)
	}
	return true
}

func (c *Client) pushLocked(p *Packet) {
	c.inbox = append(c.inbox, p)
	close(c.changed)
	c.changed = make(chan struct{})
}

func (c *Client) finish(err error) {
	if errors.Is(err, io.EOF) {
		err = nil
	}
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.doneOnce.Do(func() { close(c.done) })
}

// Done is closed when the connection has ended (closed by either side).
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, nil for a clean close or while it
// is open.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// WaitClosed waits until the connection has ended.
func (c *Client) WaitClosed(timeout time.Duration) error {
	select {
	case <-c.done:
		return nil
	case <-time.After(timeout):
		return fmt.Errorf("testclient: connection still open after %v", timeout)
	}
}

// Wait removes and returns the first packet of the inbox that match
// accepts, waiting up to timeout for one to arrive. Other packets stay.
func (c *Client) Wait(timeout time.Duration, match func(*Packet) bool) (*Packet, error) {
	timer := time.NewTimer(timeout)
	defer timer.Stop()
	for {
		c.mu.Lock()
		for i, p := range c.inbox {
			if match(p) {
				c.inbox = slices.Delete(c.inbox, i, i+1)
				c.mu.Unlock()
				return p, nil
			}
		}
		changed := c.changed
		c.mu.Unlock()
		select {
		case <-changed:
		case <-c.done:
			// Look once more: packets read before the end count.
			c.mu.Lock()
			for i, p := range c.inbox {
				if match(p) {
					c.inbox = slices.Delete(c.inbox, i, i+1)
					c.mu.Unlock()
					return p, nil
				}
			}
			c.mu.Unlock()
			return nil, ErrClosed
		case <-timer.C:
			return nil, ErrTimeout
		}
	}
}

// Next returns the next packet, whatever it is.
func (c *Client) Next(timeout time.Duration) (*Packet, error) {
	return c.Wait(timeout, func(*Packet) bool { return true })
}

// NextEvent returns the next event (EVENT or BINARY_EVENT) of namespace
// nsp.
func (c *Client) NextEvent(nsp string, timeout time.Duration) (*Packet, error) {
	return c.Wait(timeout, func(p *Packet) bool {
		return (p.Type == Event || p.Type == BinaryEvent) && p.Nsp == nsp
	})
}

// WaitEvent returns the next event named event of namespace nsp, leaving
// the others in the inbox.
func (c *Client) WaitEvent(nsp, event string, timeout time.Duration) (*Packet, error) {
	return c.Wait(timeout, func(p *Packet) bool {
		return (p.Type == Event || p.Type == BinaryEvent) && p.Nsp == nsp && p.Event == event
	})
}

// Pending returns a copy of the packets in the inbox.
func (c *Client) Pending() []*Packet {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.inbox)
}

func (c *Client) send(pkts []eioPacket) error {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	return c.tr.send(pkts)
}

// SendText sends a raw Engine.IO text packet, e.g. `42["x"]` or `2`.
func (c *Client) SendText(s string) error { return c.send([]eioPacket{{data: []byte(s)}}) }

// SendBinary sends a raw binary message.
func (c *Client) SendBinary(b []byte) error {
	return c.send([]eioPacket{{binary: true, data: b}})
}

// sendPacket sends a Socket.IO packet of type t (the binary type is chosen
// when args hold []byte) with its attachments.
func (c *Client) sendPacket(t int, nsp string, id int64, payload []byte, atts [][]byte) error {
	var b strings.Builder
	b.WriteByte('4')
	if len(atts) > 0 {
		if t == Event {
			t = BinaryEvent
		} else if t == Ack {
			t = BinaryAck
		}
		b.WriteByte(byte('0' + t))
		b.WriteString(strconv.Itoa(len(atts)))
		b.WriteByte('-')
	} else {
		b.WriteByte(byte('0' + t))
	}
	if nsp != "" && nsp != "/" {
		b.WriteString(nsp)
		b.WriteByte(',')
	}
	if id >= 0 {
		b.WriteString(strconv.FormatInt(id, 10))
	}
	b.Write(payload)
	pkts := []eioPacket{{data: []byte(b.String())}}
	for _, a := range atts {
		pkts = append(pkts, eioPacket{binary: true, data: a})
	}
	return c.send(pkts)
}

// Connect joins namespace nsp with auth (nil for none) and returns the
// socket id from the server's CONNECT reply. A refusal is a *ConnectRefused.
func (c *Client) Connect(nsp string, auth any) (string, error) {
	r, err := c.ConnectReply(nsp, auth)
	return r.SID, err
}

// Reply is a CONNECT reply: the socket id and, when the server offers
// connection state recovery, the session's private id.
type Reply struct {
	SID string `json:"sid"`
	PID string `json:"pid"`
}

// ConnectReply is Connect returning the whole reply.
func (c *Client) ConnectReply(nsp string, auth any) (Reply, error) {
	var payload []byte
	if auth != nil {
		var err error
		if payload, err = marshal(auth); err != nil {
			return Reply{}, err
		}
	}
	if err := c.sendPacket(Connect, nsp, NoID, payload, nil); err != nil {
		return Reply{}, err
	}
	p, err := c.Wait(DefaultTimeout, func(p *Packet) bool {
		return (p.Type == Connect || p.Type == ConnectError) && p.Nsp == nsp
	})
	if err != nil {
		return Reply{}, err
	}
	if p.Type == ConnectError {
		ce := &ConnectRefused{Payload: p.Data}
		var body struct {
			Message string          `json:"message"`
			Data    json.RawMessage `json:"data"`
		}
		if err := json.Unmarshal(p.Data, &body); err == nil {
			ce.Message, ce.Data = body.Message, body.Data
		}
		return Reply{}, ce
	}
	var reply Reply
	if err := json.Unmarshal(p.Data, &reply); err != nil || reply.SID == "" {
		return Reply{}, fmt.Errorf("testclient: bad CONNECT reply %q", p.Text)
	}
	return reply, nil
}

// Disconnect leaves namespace nsp (DISCONNECT).
func (c *Client) Disconnect(nsp string) error {
	return c.sendPacket(Disconnect, nsp, NoID, nil, nil)
}

// Emit sends an event. []byte arguments, also inside []any and
// map[string]any, travel as binary attachments; json.RawMessage goes as
// it is.
func (c *Client) Emit(nsp, event string, args ...any) error {
	payload, atts, err := EncodeArgs(append([]any{event}, args...)...)
	if err != nil {
		return err
	}
	return c.sendPacket(Event, nsp, NoID, payload, atts)
}

// EmitID sends an event asking for an ack and returns the ack id.
func (c *Client) EmitID(nsp, event string, args ...any) (int64, error) {
	payload, atts, err := EncodeArgs(append([]any{event}, args...)...)
	if err != nil {
		return 0, err
	}
	c.ackMu.Lock()
	id := c.nextID
	c.nextID++
	c.ackMu.Unlock()
	return id, c.sendPacket(Event, nsp, id, payload, atts)
}

// EmitWithAck sends an event asking for an ack and waits (DefaultTimeout)
// for the server's ACK.
func (c *Client) EmitWithAck(nsp, event string, args ...any) (*Packet, error) {
	id, err := c.EmitID(nsp, event, args...)
	if err != nil {
		return nil, err
	}
	return c.WaitAck(nsp, id, DefaultTimeout)
}

// WaitAck waits for the ACK with id in namespace nsp.
func (c *Client) WaitAck(nsp string, id int64, timeout time.Duration) (*Packet, error) {
	return c.Wait(timeout, func(p *Packet) bool {
		return (p.Type == Ack || p.Type == BinaryAck) && p.Nsp == nsp && p.ID == id
	})
}

// Ack answers the server's event with ack id id.
func (c *Client) Ack(nsp string, id int64, args ...any) error {
	payload, atts, err := EncodeArgs(args...)
	if err != nil {
		return err
	}
	return c.sendPacket(Ack, nsp, id, payload, atts)
}

// Close ends the connection from the client side (a WebSocket close frame,
// or a close packet over polling) and waits for the reading goroutine.
func (c *Client) Close() error {
	err := c.tr.close()
	select {
	case <-c.readDone:
	case <-time.After(DefaultTimeout):
		return errors.New("testclient: reader did not stop")
	}
	c.finish(nil)
	if p, ok := c.tr.(*pollingTransport); ok {
		p.http.CloseIdleConnections()
	}
	return err
}

// EncodeArgs encodes values as a JSON array the way socket.io-client
// does: []byte values (also inside []any and map[string]any, depth first,
// map keys sorted) become placeholders numbered in order.
func EncodeArgs(values ...any) ([]byte, [][]byte, error) {
	var atts [][]byte
	v := replaceBinary(values, &atts)
	b, err := marshal(v)
	return b, atts, err
}

func replaceBinary(v any, atts *[][]byte) any {
	switch x := v.(type) {
	case []byte:
		*atts = append(*atts, x)
		return json.RawMessage(`{"_placeholder":true,"num":` + strconv.Itoa(len(*atts)-1) + `}`)
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			out[i] = replaceBinary(e, atts)
		}
		return out
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		out := make(map[string]any, len(x))
		for _, k := range keys {
			out[k] = replaceBinary(x[k], atts)
		}
		return out
	}
	return v
}

func marshal(v any) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimRight(buf.Bytes(), "\n"), nil
}

// parsePacket decodes an Engine.IO message "4<socket.io packet>". The
// Attachments of a binary packet come back with the expected count as
// length (nil entries) for the caller to fill.
func parsePacket(text string) (*Packet, error) {
	bad := func(why string) (*Packet, error) {
		return nil, fmt.Errorf("testclient: bad packet %q: %s", text, why)
	}
	s := text[1:]
	if s == "" || s[0] < '0' || s[0] > '6' {
		return bad("type")
	}
	p := &Packet{Type: int(s[0] - '0'), Nsp: "/", ID: NoID, Text: text}
	i := 1
	if p.Type == BinaryEvent || p.Type == BinaryAck {
		j := strings.IndexByte(s[i:], '-')
		if j < 1 {
			return bad("attachments")
		}
		n, err := strconv.Atoi(s[i : i+j])
		if err != nil || n < 0 {
			return bad("attachments")
		}
		p.Attachments = make([][]byte, n)
		i += j + 1
	}
	if i < len(s) && s[i] == '/' {
		j := strings.IndexByte(s[i:], ',')
		if j < 0 {
			p.Nsp, i = s[i:], len(s)
		} else {
			p.Nsp, i = s[i:i+j], i+j+1
		}
	}
	j := i
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	if j > i {
		id, err := strconv.ParseInt(s[i:j], 10, 64)
		if err != nil {
			return bad("id")
		}
		p.ID, i = id, j
	}
	if i < len(s) {
		p.Data = json.RawMessage(s[i:])
		if !json.Valid(p.Data) {
			return bad("payload")
		}
	}
	switch p.Type {
	case Event, BinaryEvent, Ack, BinaryAck:
		var list []json.RawMessage
		if err := json.Unmarshal(p.Data, &list); err != nil {
			return bad("payload is not an array")
		}
		if p.Type == Ack || p.Type == BinaryAck {
			p.Args = list
			break
		}
		if len(list) == 0 {
			return bad("no event name")
		}
		if err := json.Unmarshal(list[0], &p.Event); err != nil {
			p.Event = string(list[0]) // a numeric name
		}
		p.Args = list[1:]
	}
	return p, nil
}

// webSocketTransport carries Engine.IO over one WebSocket.
type webSocketTransport struct {
	ws *websocket.Conn
}

var dialer = websocket.Dialer{HandshakeTimeout: DefaultTimeout}

func dialWebSocket(u string, h http.Header) (transport, eioPacket, error) {
	ws, resp, err := dialer.Dial(u, h)
	if err != nil {
		if resp != nil {
			return nil, eioPacket{}, fmt.Errorf("testclient: dial: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, eioPacket{}, fmt.Errorf("testclient: dial: %w", err)
	}
	t := &webSocketTransport{ws: ws}
	_ = ws.SetReadDeadline(time.Now().Add(DefaultTimeout))
	pkts, err := t.read()
	_ = ws.SetReadDeadline(time.Time{})
	if err != nil {
		ws.Close()
		return nil, eioPacket{}, err
	}
	return t, pkts[0], nil
}

func (t *webSocketTransport) send(pkts []eioPacket) error {
	for _, p := range pkts {
		mt := websocket.TextMessage
		if p.binary {
			mt = websocket.BinaryMessage
		}
		if err := t.ws.WriteMessage(mt, p.data); err != nil {
			return err
		}
	}
	return nil
}

func (t *webSocketTransport) read() ([]eioPacket, error) {
	mt, data, err := t.ws.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) && (ce.Code == websocket.CloseNormalClosure || ce.Code == websocket.CloseNoStatusReceived) {
			return nil, io.EOF
		}
		return nil, err
	}
	return []eioPacket{{binary: mt == websocket.BinaryMessage, data: data}}, nil
}

func (t *webSocketTransport) close() error {
	msg := websocket.FormatCloseMessage(websocket.CloseNormalClosure, "")
	_ = t.ws.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	return t.ws.Close()
}

// pollingTransport carries Engine.IO over HTTP long-polling: one GET at a
// time reads, one POST at a time writes.
type pollingTransport struct {
	http    *http.Client
	base    *url.URL
	sid     string
	header  http.Header
	closing chan struct{}
	once    sync.Once
}

func dialPolling(u *url.URL, h http.Header) (transport, eioPacket, error) {
	t := &pollingTransport{
		http:    &http.Client{Transport: &http.Transport{}, Timeout: 0},
		base:    u,
		header:  h,
		closing: make(chan struct{}),
	}
	pkts, err := t.get(u.String())
	if err != nil {
		t.http.CloseIdleConnections()
		return nil, eioPacket{}, err
	}
	return t, pkts[0], nil
}

func (t *pollingTransport) url() string {
	u := *t.base
	q := u.Query()
	q.Set("sid", t.sid)
	u.RawQuery = q.Encode()
	return u.String()
}

func (t *pollingTransport) get(u string) ([]eioPacket, error) {
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range t.header {
		req.Header[k] = v
	}
	resp, err := t.http.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("testclient: GET: HTTP %d %s", resp.StatusCode, body)
	}
	var out []eioPacket
	for _, part := range bytes.Split(body, []byte{0x1e}) {
		if len(part) > 0 && part[0] == 'b' {
			raw, err := base64.StdEncoding.DecodeString(string(part[1:]))
			if err != nil {
				return nil, fmt.Errorf("testclient: bad base64 packet: %w", err)
			}
			out = append(out, eioPacket{binary: true, data: raw})
			continue
		}
		out = append(out, eioPacket{data: part})
	}
	return out, nil
}

func (t *pollingTransport) send(pkts []eioPacket) error {
	var body []byte
	for i, p := range pkts {
		if i > 0 {
			body = append(body, 0x1e)
		}
		if p.binary {
			body = append(body, 'b')
			body = base64.StdEncoding.AppendEncode(body, p.data)
		} else {
			body = append(body, p.data...)
		}
	}
	req, err := http.NewRequest(http.MethodPost, t.url(), bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "text/plain;charset=UTF-8")
	resp, err := t.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	reply, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("testclient: POST: HTTP %d %s", resp.StatusCode, reply)
	}
	return nil
}

func (t *pollingTransport) read() ([]eioPacket, error) {
	select {
	case <-t.closing:
		return nil, io.EOF
	default:
	}
	pkts, err := t.get(t.url())
	select {
	case <-t.closing:
		// Whatever answered the last GET, the client is gone.
		return pkts, io.EOF
	default:
	}
	return pkts, err
}

func (t *pollingTransport) close() error {
	var err error
	t.once.Do(func() {
		close(t.closing)
		err = t.send([]eioPacket{{data: []byte("1")}})
	})
	return err
}
