// Command bare is a yardstick, not a product: a bare gorilla/websocket server
// that speaks just enough Engine.IO v4 / Socket.IO v5 to satisfy the hubd bench
// contract, so that hubbench figures for real servers can be compared with a
// ceiling that does almost nothing beyond moving bytes.
//
// What it does:
//   - WebSocket transport only (no polling, no upgrades), namespace "/" only.
//   - Sends the Engine.IO open packet, answers "40" with `40{"sid":...}`.
//   - Pings every 25 s and closes a connection whose pong is 20 s late.
//   - join(room, ack): adds the socket to room and acks with no arguments.
//   - publish(room, payload): encodes `42["msg",payload]` once as a
//     websocket.PreparedMessage and queues it to every member of the room.
//   - echo(x, ack): acks with x.
//
// What it does not do: binary packets, other namespaces, leaving rooms other
// than by disconnecting, middlewares, CORS, or any validation beyond what the
// contract needs. A member whose outgoing queue is full is disconnected (Node
// buffers without bound instead). Frames are decoded with encoding/json on the
// slow path; only the publish payload is forwarded as raw bytes.
//
// Usage: bare [-addr 127.0.0.1:3001]
package main

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

const (
	pingInterval = 25 * time.Second
	pingTimeout  = 20 * time.Second
	maxPayload   = 1000000
	writeTimeout = 10 * time.Second
	// sendQueue bounds the frames queued for one connection.
	sendQueue = 1024
)

func main() {
	addr := flag.String("addr", "127.0.0.1:3001", "listen address")
	flag.Parse()

	srv := newServer()
	mux := http.NewServeMux()
	mux.HandleFunc("/socket.io/", srv.serveWS)

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, mux))
}

// server holds the room membership shared by all connections.
type server struct {
	upgrader websocket.Upgrader

	mu    sync.RWMutex
	rooms map[string]map[*conn]struct{}
}

func newServer() *server {
	return &server{
		upgrader: websocket.Upgrader{
			// Reuse the HTTP server's 4 KiB read buffer; share write buffers.
			WriteBufferPool: &sync.Pool{},
			CheckOrigin:     func(*http.Request) bool { return true },
		},
		rooms: make(map[string]map[*conn]struct{}),
	}
}

// conn is one Engine.IO session over one WebSocket.
type conn struct {
	ws    *websocket.Conn
	send  chan outFrame
	done  chan struct{}
	once  sync.Once
	pong  chan struct{}
	rooms []string // touched only by the reader goroutine
}

// outFrame is one queued text frame: either shared and pre-encoded (a
// broadcast) or private to this connection.
type outFrame struct {
	shared *websocket.PreparedMessage
	own    []byte
}

func (s *server) serveWS(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("EIO") != "4" || q.Get("transport") != "websocket" || !websocket.IsWebSocketUpgrade(r) {
		http.Error(w, `{"code":3,"message":"Bad request"}`, http.StatusBadRequest)
		return
	}
	ws, err := s.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	ws.SetReadLimit(maxPayload)
	c := &conn{
		ws:   ws,
		send: make(chan outFrame, sendQueue),
		done: make(chan struct{}),
		pong: make(chan struct{}, 1),
	}
	open := fmt.Sprintf(`0{"sid":"%s","upgrades":[],"pingInterval":%d,"pingTimeout":%d,"maxPayload":%d}`,
		newID(), pingInterval.Milliseconds(), pingTimeout.Milliseconds(), maxPayload)
	c.queue(outFrame{own: []byte(open)})
	go c.writeLoop()
	s.readLoop(c)
}

// readLoop handles incoming frames until the connection fails, then removes
// the connection from its rooms.
func (s *server) readLoop(c *conn) {
	defer func() {
		c.close()
		s.leaveAll(c)
	}()
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if typ != websocket.TextMessage || len(data) == 0 {
			continue
		}
		switch data[0] {
		case '3': // pong
			select {
			case c.pong <- struct{}{}:
			default:
			}
		case '1': // close
			return
		case '4':
			if !s.handleSIO(c, data[1:]) {
				return
			}
		default:
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
		c.queue(outFrame{own: []byte(`40{"sid":"` + newID() + `"}`)})
		return true
	case '1': // DISCONNECT
		return false
	case '2': // EVENT
	default:
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
			c.queue(outFrame{own: []byte("43" + string(ackID) + "[]")})
		}
	case "publish":
		var room string
		if len(args) < 2 || json.Unmarshal(args[0], &room) != nil {
			return false
		}
		frame := make([]byte, 0, len(args[1])+10)
		frame = append(frame, `42["msg",`...)
		frame = append(frame, args[1]...)
		frame = append(frame, ']')
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame)
		if err != nil {
			return false
		}
		s.publish(room, outFrame{shared: pm})
	case "echo":
		if len(ackID) == 0 {
			return true
		}
		frame := append([]byte("43"), ackID...)
		frame = append(frame, '[')
		if len(args) > 0 {
			frame = append(frame, args[0]...)
		}
		frame = append(frame, ']')
		c.queue(outFrame{own: frame})
	}
	return true
}

func (s *server) join(c *conn, room string) {
	s.mu.Lock()
	members := s.rooms[room]
	if members == nil {
		members = make(map[*conn]struct{})
		s.rooms[room] = members
	}
	if _, ok := members[c]; !ok {
		members[c] = struct{}{}
		c.rooms = append(c.rooms, room)
	}
	s.mu.Unlock()
}

func (s *server) leaveAll(c *conn) {
	s.mu.Lock()
	for _, room := range c.rooms {
		members := s.rooms[room]
		delete(members, c)
		if len(members) == 0 {
			delete(s.rooms, room)
		}
	}
	s.mu.Unlock()
}

// publish queues the pre-encoded frame to every member of room.
func (s *server) publish(room string, f outFrame) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	for m := range s.rooms[room] {
		m.queue(f)
	}
}

// queue hands a frame to the writer; a connection whose queue is full is
// closed rather than buffered without bound.
func (c *conn) queue(f outFrame) {
	select {
	case c.send <- f:
	case <-c.done:
	default:
		c.close()
	}
}

func (c *conn) close() {
	c.once.Do(func() {
		close(c.done)
		c.ws.Close()
	})
}

// writeLoop writes queued frames and drives the heartbeat.
func (c *conn) writeLoop() {
	ping := outFrame{own: []byte("2")}
	interval := time.NewTimer(pingInterval)
	defer interval.Stop()
	var timeout <-chan time.Time
	for {
		select {
		case f := <-c.send:
			if err := c.write(f); err != nil {
				c.close()
				return
			}
		case <-interval.C:
			if err := c.write(ping); err != nil {
				c.close()
				return
			}
			timeout = time.After(pingTimeout)
		case <-c.pong:
			if timeout != nil {
				timeout = nil
				interval.Reset(pingInterval)
			}
		case <-timeout:
			c.close()
			return
		case <-c.done:
			return
		}
	}
}

func (c *conn) write(f outFrame) error {
	c.ws.SetWriteDeadline(time.Now().Add(writeTimeout))
	if f.shared != nil {
		return c.ws.WritePreparedMessage(f.shared)
	}
	return c.ws.WriteMessage(websocket.TextMessage, f.own)
}

// newID returns a 20-character URL-safe random id, like Node's base64id.
func newID() string {
	var b [15]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.RawURLEncoding.EncodeToString(b[:])
}
