// Command ceiling is a yardstick, not a product: the least a server can do to
// fan a broadcast out to a big room over Engine.IO v4 / Socket.IO v5, so that
// hubbench figures for real servers (hubd, Node) can be read against it.
//
// What makes it a ceiling:
//   - Each broadcast is encoded once, as a complete WebSocket frame. Server
//     frames are not masked, so the bytes are the same for every member.
//   - Per connection there is a byte queue. Broadcasting appends the shared
//     frame to each member's queue under that member's lock: no channel, no
//     per-member allocation, no per-member encoding.
//   - One writer goroutine per connection takes everything queued and sends
//     it with one Write (one write(2) unless the socket buffer fills), however
//     many frames wait. The queue and the buffer being written swap, so
//     appends go on while the writer is in the kernel.
//
// The writer is one of two kinds (-writer):
//   - "persistent" (the default): a goroutine per connection for its whole
//     life, parked on a channel while the queue is empty; a broadcast wakes
//     it, never starts one. This is the yardstick: per connection a byte
//     queue and a writer goroutine.
//   - "on-demand": the writer exits as soon as the queue is empty and the
//     next append starts a new one, so an idle connection holds no writer
//     goroutine (and no stack) and no write buffer (both buffers go back to
//     a shared pool). A broadcast to a big room then starts a goroutine per
//     member, which is what it costs that this mode measures.
//   - "pool": a few writer goroutines (-pool-workers, 2) for all
//     connections, taking connections with bytes queued in first-in,
//     first-out order and writing each one's queue with one non-blocking
//     write(2); a connection whose socket buffer is full gets a goroutine of
//     its own for the rest (see pool.go). This is the strategy hubd's engine
//     took for big rooms; here it shows what it is worth without the rest
//     of a server.
//
// The rest is kept as small: the WebSocket handshake (RFC 6455) is done by
// hand on a hijacked net/http connection, and the handler returns at once,
// so neither net/http's per-connection buffers nor its goroutine outlive the
// upgrade. The heartbeat is a time.AfterFunc timer rather than a goroutine.
// There are no write deadlines: a connection that stops reading is closed by
// the heartbeat (its pong goes missing) or when its queue passes maxQueue,
// and closing unblocks its writer.
//
// Protocol: WebSocket transport only (no polling, no upgrades), namespace "/"
// only, text frames only; the bench contract of bench/README.md:
//   - the Engine.IO open packet on connect; a ping every 25 s, closing a
//     connection whose pong is 20 s late;
//   - "40" → `40{"sid":...}`;
//   - join(room, ack): joins room, acks with no arguments;
//   - publish(room, payload): broadcasts `42["msg",payload]` to room;
//   - echo(x, ack): acks with x.
//
// Anything else (binary packets, other namespaces, leaving a room other than
// by disconnecting, validation beyond what the contract needs) is left out.
//
// Usage: ceiling [-addr 127.0.0.1:3001]
package main

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"
)

const (
	pingInterval = 25 * time.Second
	pingTimeout  = 20 * time.Second
	maxPayload   = 1000000
	// maxQueue bounds the bytes queued for one connection; a member that
	// falls further behind is disconnected (Node buffers without bound).
	maxQueue = 8 << 20
	// readBufMin is the read buffer of a connection; it grows while a
	// connection sends faster than one buffer per read, up to readBufBusy,
	// or to the size of one frame.
	readBufMin  = 512
	readBufBusy = 16 << 10
	// poolMax is the largest write buffer returned to the pool.
	poolMax = 64 << 10
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "listen address")
	writer := flag.String("writer", "persistent", `"persistent": a writer goroutine per connection for its life; "on-demand": one started when the queue gets bytes; "pool": a few writers for all connections`)
	workers := flag.Int("pool-workers", 2, "writer goroutines with -writer pool")
	flag.Parse()
	if *writer != "persistent" && *writer != "on-demand" && *writer != "pool" {
		log.Fatalf("-writer %q: use persistent, on-demand or pool", *writer)
	}

	srv := &server{rooms: make(map[string]*room), persistent: *writer == "persistent"}
	if *writer == "pool" {
		srv.pool = newPool(*workers)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io/", srv.serveWS)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

// server holds the rooms shared by all connections.
type server struct {
	mu         sync.RWMutex
	rooms      map[string]*room
	persistent bool // each connection keeps its writer goroutine (-writer)
	pool       *pool
}

// room is a member list that iterates as a slice; index gives each member's
// position for removal by swapping with the last.
type room struct {
	members []*conn
	index   map[*conn]int
}

// conn is one Engine.IO session over one WebSocket.
type conn struct {
	nc  net.Conn
	srv *server

	mu         sync.Mutex
	out        []byte        // queued, not yet taken by the writer
	spare      []byte        // the writer's previous buffer, to swap in as out
	writing    bool          // a writer goroutine is running (persistent: is writing)
	wake       chan struct{} // the persistent writer's signal; nil on demand
	closed     bool
	closeAfter bool // close once the queue is written (close handshake)
	awaitPong  bool
	heartbeat  *time.Timer

	rooms []string // touched only by the reader goroutine
}

// bufPool holds write buffers of idle connections.
var bufPool sync.Pool

func getBuf() []byte {
	if b, ok := bufPool.Get().(*[]byte); ok {
		return (*b)[:0]
	}
	return make([]byte, 0, 1024)
}

func putBuf(b []byte) {
	if cap(b) == 0 || cap(b) > poolMax {
		return
	}
	b = b[:0]
	bufPool.Put(&b)
}

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	key := r.Header.Get("Sec-WebSocket-Key")
	if q.Get("EIO") != "4" || q.Get("transport") != "websocket" || r.Method != http.MethodGet ||
		!headerHas(r.Header, "Connection", "upgrade") || !headerHas(r.Header, "Upgrade", "websocket") ||
		r.Header.Get("Sec-WebSocket-Version") != "13" || key == "" {
		http.Error(w, `{"code":3,"message":"Bad request"}`, http.StatusBadRequest)
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		http.Error(w, "cannot hijack", http.StatusInternalServerError)
		return
	}
	nc, brw, err := hj.Hijack()
	if err != nil {
		return
	}
	// Bytes the client sent after its request (it should wait for the 101,
	// but may not) are already in net/http's reader: keep them, drop it.
	rd := reader{buf: make([]byte, readBufMin)}
	if n := brw.Reader.Buffered(); n > 0 {
		if n > len(rd.buf) {
			rd.buf = make([]byte, n)
		}
		rd.w, _ = brw.Reader.Read(rd.buf[:n])
	}

	sum := sha1.Sum([]byte(key + wsGUID))
	resp := make([]byte, 0, 256)
	resp = append(resp, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	resp = base64.StdEncoding.AppendEncode(resp, sum[:])
	resp = append(resp, "\r\n\r\n"...)
	open := fmt.Sprintf(`0{"sid":"%s","upgrades":[],"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		newID(), pingInterval.Milliseconds(), pingTimeout.Milliseconds(), maxPayload)
	resp = appendFrame(resp, opText, []byte(open))

	c := &conn{nc: nc, srv: s}
	if s.persistent {
		c.wake = make(chan struct{}, 1)
		go c.persistentWriter()
	}
	c.heartbeat = time.AfterFunc(pingInterval, c.ping)
	c.enqueueRaw(resp)
	rd.nc = nc
	// The reader runs in a goroutine of its own so that this one, with
	// net/http's state and its grown stack, ends here.
	go s.readLoop(c, &rd)
}

// headerHas reports whether a comma-separated header contains token, in any
// case.
func headerHas(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for _, t := range strings.Split(v, ",") {
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// WebSocket opcodes.
const (
	opContinuation = 0x0
	opText         = 0x1
	opBinary       = 0x2
	opClose        = 0x8
	opPing         = 0x9
	opPong         = 0xA
)

// appendFrame appends one unmasked, final server frame.
func appendFrame(dst []byte, op byte, payload []byte) []byte {
	n := len(payload)
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		dst = append(dst, byte(n))
	case n <= 0xFFFF:
		dst = append(dst, 126, byte(n>>8), byte(n))
	default:
		dst = append(dst, 127)
		dst = binary.BigEndian.AppendUint64(dst, uint64(n))
	}
	return append(dst, payload...)
}

// reader reads client frames from a buffer that holds buf[r:w] unread.
type reader struct {
	nc   net.Conn
	buf  []byte
	r, w int
	msg  []byte // a fragmented message being assembled
}

// fill makes at least n bytes readable.
func (rd *reader) fill(n int) error {
	if rd.w-rd.r >= n {
		return nil
	}
	if rd.r+n > len(rd.buf) {
		size := len(rd.buf)
		for size < n {
			size *= 2
		}
		if size != len(rd.buf) {
			b := make([]byte, size)
			rd.w = copy(b, rd.buf[rd.r:rd.w])
			rd.buf = b
		} else {
			rd.w = copy(rd.buf, rd.buf[rd.r:rd.w])
		}
		rd.r = 0
	}
	for rd.w-rd.r < n {
		m, err := rd.nc.Read(rd.buf[rd.w:])
		rd.w += m
		if err != nil {
			return err
		}
		// A read that fills the buffer suggests more is waiting: let a
		// busy sender (the publisher) get more per read(2).
		if rd.w == len(rd.buf) && len(rd.buf) < readBufBusy && rd.w-rd.r >= n {
			b := make([]byte, 2*len(rd.buf))
			rd.w = copy(b, rd.buf[rd.r:rd.w])
			rd.buf, rd.r = b, 0
		}
	}
	return nil
}

// next returns the next complete text message, answering control frames on
// the way. The message is valid until the next call.
func (rd *reader) next(c *conn) ([]byte, error) {
	for {
		if rd.r == rd.w {
			rd.r, rd.w = 0, 0
			if len(rd.buf) > readBufBusy {
				rd.buf = make([]byte, readBufMin)
			}
		}
		if err := rd.fill(2); err != nil {
			return nil, err
		}
		b0, b1 := rd.buf[rd.r], rd.buf[rd.r+1]
		if b1&0x80 == 0 || b0&0x70 != 0 { // unmasked client frame, or RSV bits
			return nil, errProtocol
		}
		hdr, n := 2, int(b1&0x7F)
		switch n {
		case 126:
			hdr = 4
		case 127:
			hdr = 10
		}
		if err := rd.fill(hdr + 4); err != nil {
			return nil, err
		}
		switch n {
		case 126:
			n = int(binary.BigEndian.Uint16(rd.buf[rd.r+2:]))
		case 127:
			l := binary.BigEndian.Uint64(rd.buf[rd.r+2:])
			if l > maxPayload {
				return nil, errProtocol
			}
			n = int(l)
		}
		if n > maxPayload || len(rd.msg)+n > maxPayload {
			return nil, errProtocol
		}
		if err := rd.fill(hdr + 4 + n); err != nil {
			return nil, err
		}
		mask := rd.buf[rd.r+hdr : rd.r+hdr+4]
		p := rd.buf[rd.r+hdr+4 : rd.r+hdr+4+n]
		for i := range p {
			p[i] ^= mask[i&3]
		}
		rd.r += hdr + 4 + n
		fin, op := b0&0x80 != 0, b0&0x0F
		switch op {
		case opText, opBinary, opContinuation:
			if op == opContinuation && rd.msg == nil || op != opContinuation && rd.msg != nil {
				return nil, errProtocol
			}
			if op == opBinary { // not part of the contract
				return nil, errProtocol
			}
			if fin && rd.msg == nil {
				return p, nil
			}
			if rd.msg == nil {
				rd.msg = make([]byte, 0, 2*len(p))
			}
			rd.msg = append(rd.msg, p...)
			if fin {
				m := rd.msg
				rd.msg = nil
				return m, nil
			}
		case opPing:
			c.enqueue(opPong, p)
		case opPong:
		case opClose:
			c.mu.Lock()
			c.closeAfter = true
			c.mu.Unlock()
			if len(p) > 2 {
				p = p[:2]
			}
			c.enqueue(opClose, p)
			return nil, errClosed
		default:
			return nil, errProtocol
		}
	}
}

type protocolError string

func (e protocolError) Error() string { return string(e) }

const (
	errProtocol = protocolError("protocol error")
	errClosed   = protocolError("closed by peer")
)

// readLoop handles incoming packets until the connection fails, then removes
// the connection from its rooms.
func (s *server) readLoop(c *conn, rd *reader) {
	defer func() {
		s.leaveAll(c)
		c.mu.Lock()
		after := c.closeAfter && c.writing
		c.mu.Unlock()
		if !after { // else the writer closes once the close frame is out
			c.close()
		}
	}()
	for {
		data, err := rd.next(c)
		if err != nil || len(data) == 0 {
			return
		}
		switch data[0] {
		case '3': // pong
			c.mu.Lock()
			if c.awaitPong {
				c.awaitPong = false
				c.heartbeat.Reset(pingInterval)
			}
			c.mu.Unlock()
		case '4':
			if !s.handleSIO(c, data[1:]) {
				return
			}
		case '6': // noop
		default: // '1' close, or anything unexpected
			return
		}
	}
}

// handleSIO handles one Socket.IO packet; it reports false when the
// connection must be closed.
func (s *server) handleSIO(c *conn, p []byte) bool {
	if len(p) == 0 {
		return false
	}
	switch p[0] {
	case '0': // CONNECT to "/"
		if len(p) > 1 && p[1] == '/' {
			return false
		}
		c.enqueue(opText, []byte(`40{"sid":"`+newID()+`"}`))
		return true
	case '2': // EVENT
	default: // '1' DISCONNECT, or anything else
		return false
	}
	p = p[1:]
	i := 0
	for i < len(p) && p[i] >= '0' && p[i] <= '9' {
		i++
	}
	ackID, body := p[:i], p[i:]
	var args []json.RawMessage
	if err := json.Unmarshal(body, &args); err != nil || len(args) == 0 {
		return false
	}
	var name string
	if err := json.Unmarshal(args[0], &name); err != nil {
		return false
	}
	args = args[1:]
	switch name {
	case "join":
		var room string
		if len(args) < 1 || json.Unmarshal(args[0], &room) != nil {
			return false
		}
		s.join(c, room)
		if len(ackID) > 0 {
			c.enqueue(opText, append(append([]byte("43"), ackID...), "[]"...))
		}
	case "publish":
		var room string
		if len(args) < 2 || json.Unmarshal(args[0], &room) != nil {
			return false
		}
		msg := make([]byte, 0, len(args[1])+10)
		msg = append(msg, `42["msg",`...)
		msg = append(msg, args[1]...)
		msg = append(msg, ']')
		s.publish(room, appendFrame(make([]byte, 0, len(msg)+10), opText, msg))
	case "echo":
		if len(ackID) == 0 {
			return true
		}
		msg := append([]byte("43"), ackID...)
		msg = append(msg, '[')
		if len(args) > 0 {
			msg = append(msg, args[0]...)
		}
		msg = append(msg, ']')
		c.enqueue(opText, msg)
	}
	return true
}

func (s *server) join(c *conn, name string) {
	s.mu.Lock()
	r := s.rooms[name]
	if r == nil {
		r = &room{index: make(map[*conn]int)}
		s.rooms[name] = r
	}
	if _, ok := r.index[c]; !ok {
		r.index[c] = len(r.members)
		r.members = append(r.members, c)
		c.rooms = append(c.rooms, name)
	}
	s.mu.Unlock()
}

func (s *server) leaveAll(c *conn) {
	s.mu.Lock()
	for _, name := range c.rooms {
		r := s.rooms[name]
		i := r.index[c]
		last := len(r.members) - 1
		r.members[i] = r.members[last]
		r.index[r.members[i]] = i
		r.members[last] = nil
		r.members = r.members[:last]
		delete(r.index, c)
		if len(r.members) == 0 {
			delete(s.rooms, name)
		}
	}
	s.mu.Unlock()
}

// publish appends one encoded frame to the queue of every member of room.
func (s *server) publish(name string, frame []byte) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if r := s.rooms[name]; r != nil {
		for _, m := range r.members {
			m.enqueueRaw(frame)
		}
	}
}

// enqueue queues one frame private to this connection.
func (c *conn) enqueue(op byte, payload []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.out == nil {
		c.out = getBuf()
	}
	c.out = appendFrame(c.out, op, payload)
	c.wakeLocked()
}

// enqueueRaw queues bytes that are already one or more complete frames.
func (c *conn) enqueueRaw(frames []byte) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.out == nil {
		c.out = getBuf()
	}
	c.out = append(c.out, frames...)
	c.wakeLocked()
}

// wakeLocked starts the writer, or closes a connection that fell too far
// behind. c.mu is held.
func (c *conn) wakeLocked() {
	if len(c.out) > maxQueue {
		c.closeLocked()
		return
	}
	if !c.writing {
		c.writing = true
		if c.wake != nil {
			c.wake <- struct{}{} // buffered: the writer is parked or about to be
			return
		}
		if c.srv.pool != nil {
			c.srv.pool.push(c)
			return
		}
		go c.writeLoop()
	}
}

// persistentWriter is the writer of a connection in persistent mode: it
// drains the queue on each wake-up and exits when the connection closes.
func (c *conn) persistentWriter() {
	for range c.wake {
		if !c.drain(false) {
			return
		}
	}
}

// writeLoop is the on-demand writer: it sends everything queued and exits
// when the queue is empty, giving its buffers back to the pool.
func (c *conn) writeLoop() { c.drain(true) }

// drain sends what is queued, one Write per turn, until the queue is empty;
// with release, the buffers go back to the pool then. It reports whether
// the connection is still open.
func (c *conn) drain(release bool) bool {
	var buf []byte
	for {
		c.mu.Lock()
		if buf != nil {
			c.spare = buf[:0]
		}
		if len(c.out) == 0 || c.closed {
			c.writing = false
			if release {
				putBuf(c.out)
				putBuf(c.spare)
				c.out, c.spare = nil, nil
			}
			if c.closeAfter && !c.closed {
				c.closeLocked()
			}
			open := !c.closed
			c.mu.Unlock()
			return open
		}
		buf, c.out, c.spare = c.out, c.spare, nil
		c.mu.Unlock()
		if _, err := c.nc.Write(buf); err != nil {
			c.close()
			return false
		}
	}
}

// ping runs on the heartbeat timer: it sends a ping, or closes the
// connection when the previous ping went unanswered.
func (c *conn) ping() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	if c.awaitPong {
		c.closeLocked()
		return
	}
	c.awaitPong = true
	c.heartbeat.Reset(pingTimeout)
	if c.out == nil {
		c.out = getBuf()
	}
	c.out = appendFrame(c.out, opText, []byte("2"))
	c.wakeLocked()
}

func (c *conn) close() {
	c.mu.Lock()
	c.closeLocked()
	c.mu.Unlock()
}

// closeLocked closes the socket once; a writer blocked in Write returns. The
// queued bytes stay with the writer, which drops them. c.mu is held.
func (c *conn) closeLocked() {
	if c.closed {
		return
	}
	c.closed = true
	c.heartbeat.Stop()
	c.nc.Close()
	if c.wake != nil {
		close(c.wake) // the persistent writer exits
	}
}

// newID returns a 20-character URL-safe random id, like Node's base64id.
func newID() string {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
